// Block, tx, evidence and certificate validation (levels explained in validation.hpp).
#include "fedchain/ledger/validation.hpp"

#include <algorithm>
#include <cmath>

#include "fedchain/crypto/ed25519.hpp"
#include "fedchain/ledger/committee.hpp"

namespace fedchain::ledger {

Status check_tx(const Tx& tx) {
  if (tx.height() == 0) return reject("bad-tx-height", "rank {}: a tx for height 0", tx.rank());
  if (tx.weight() == 0) return reject("bad-tx-weight", "rank {}: tx weight is 0", tx.rank());
  if (!std::isfinite(tx.loss())) {
    return reject("bad-tx-loss", "rank {}: training loss {} is not finite", tx.rank(), tx.loss());
  }
  return {};
}

Status check_evidence(const Evidence& e) {
  if (!e.first().conflicts_with(e.second())) {
    return reject("not-conflicting", "evidence against validator {}: the votes do not conflict",
                  e.validator());
  }
  return {};
}

Status check_block(const Block& block) {
  const auto& h = block.header();
  if (h.height == 0) return reject("bad-height", "a block at height 0 (genesis is not a block)");
  if (block.computed_tx_root() != h.tx_root) {
    return reject("bad-tx-root", "height {}: tx root does not match the block's txs", h.height);
  }
  if (block.computed_evidence_root() != h.evidence_root) {
    return reject("bad-evidence-root", "height {}: evidence root does not match its evidence",
                  h.height);
  }
  const auto& txs = block.txs();
  for (std::size_t i = 0; i < txs.size(); ++i) {
    if (i > 0 && txs[i].client() <= txs[i - 1].client()) {
      return reject("bad-tx-order",
                    "height {}: txs must be one per client in ascending client order", h.height);
    }
    if (auto st = check_tx(txs[i]); !st) return st;
  }
  for (auto client : h.rejected_clients) {
    // txs are ascending by client (checked above).
    const auto at = std::lower_bound(txs.begin(), txs.end(), client,
                                     [](const Tx& tx, std::uint32_t c) { return tx.client() < c; });
    const bool has_tx = at != txs.end() && at->client() == client;
    if (!has_tx) {
      return reject("bad-rejected-client", "height {}: client {} is marked rejected but has no tx",
                    h.height, client);
    }
  }
  const auto& evidence = block.evidence();
  for (std::size_t i = 0; i < evidence.size(); ++i) {
    if (i > 0 && !(evidence[i - 1].hash() < evidence[i].hash())) {
      return reject("bad-evidence-order", "height {}: evidence must be unique, ascending by hash",
                    h.height);
    }
    if (auto st = check_evidence(evidence[i]); !st) return st;
  }
  return {};
}

Status check_certificate(const CommitCertificate& c) {
  const auto& sigs = c.signatures();
  if (sigs.empty()) return reject("empty-certificate", "height {}: no signatures", c.height());
  for (std::size_t i = 1; i < sigs.size(); ++i) {
    if (sigs[i].validator <= sigs[i - 1].validator) {
      return reject("non-canonical", "height {}: certificate signers must be strictly ascending",
                    c.height());
    }
  }
  return {};
}

Status validate_tx(const Tx& tx, std::uint64_t height, const Genesis& genesis,
                   const ChainState& state, TxSignature signature) {
  if (tx.chain_id() != genesis.chain_id()) {
    return reject("wrong-chain", "rank {}: tx for chain {}, this chain is {}", tx.rank(),
                  tx.chain_id().short_hex(), genesis.chain_id().short_hex());
  }
  if (tx.height() != height) {
    return reject("wrong-tx-height", "rank {}: tx for height {} in block {}", tx.rank(),
                  tx.height(), height);
  }
  if (tx.rank() >= state.validators().size()) {
    return reject("unknown-validator", "tx from rank {}: the chain has {} validators", tx.rank(),
                  state.validators().size());
  }
  if (!state.is_active(tx.rank())) {
    return reject("jailed-validator", "tx from rank {}, which is jailed", tx.rank());
  }
  const auto& shards = genesis.fields().shards;
  if (tx.client() >= shards.size()) {
    return reject("unknown-client", "rank {}: tx for client {}, the chain has {} clients",
                  tx.rank(), tx.client(), shards.size());
  }
  if (host_rank(tx.client(), genesis.validator_count()) != tx.rank()) {
    return reject("wrong-host", "rank {} signed client {}'s tx; rank {} hosts it", tx.rank(),
                  tx.client(), host_rank(tx.client(), genesis.validator_count()));
  }
  const auto& cohort = state.cohort();
  if (!std::binary_search(cohort.begin(), cohort.end(), tx.client())) {
    return reject("not-in-cohort", "client {} (rank {}) is not in height {}'s cohort", tx.client(),
                  tx.rank(), height);
  }
  const auto expected_weight = shards[tx.client()].samples;
  if (tx.weight() != expected_weight) {
    return reject("wrong-weight",
                  "client {} (rank {}): tx weight {} but its genesis shard holds {} samples",
                  tx.client(), tx.rank(), tx.weight(), expected_weight);
  }
  if (signature == TxSignature::kVerify && !tx.signature_valid(state.validators()[tx.rank()].key)) {
    return reject("bad-tx-signature", "rank {}: tx signature does not verify", tx.rank());
  }
  return {};
}

Status validate_evidence(const Evidence& e, std::uint64_t height, const Genesis& genesis,
                         const ChainState& state) {
  const std::uint32_t who = e.validator();
  if (who >= state.validators().size()) {
    return reject("unknown-validator", "evidence against validator {}: the chain has {}", who,
                  state.validators().size());
  }
  if (e.first().chain_id != genesis.chain_id()) {
    return reject("wrong-chain", "evidence against validator {} is from another chain", who);
  }
  if (e.height() == 0 || e.height() > height) {
    return reject("evidence-from-future", "evidence of height {} in block {}", e.height(), height);
  }
  const auto& key = state.validators()[who].key;
  for (const Vote* v : {&e.first(), &e.second()}) {
    if (!crypto::verify(key, v->sign_bytes(), v->signature)) {
      return reject("bad-evidence-signature",
                    "evidence against validator {}: a vote signature "
                    "does not verify",
                    who);
    }
  }
  return {};
}

Status validate_block(const Block& block, const Genesis& genesis, const ChainState& state,
                      BlockTxs txs) {
  if (auto st = check_block(block); !st) return st;
  const auto& h = block.header();
  if (h.chain_id != genesis.chain_id()) {
    return reject("wrong-chain", "block chain id {} is not this chain's {}", h.chain_id.short_hex(),
                  genesis.chain_id().short_hex());
  }
  if (h.height != state.height() + 1) {
    return reject("bad-height", "block height {} follows height {}", h.height, state.height());
  }
  if (h.prev_hash != state.last_block_hash()) {
    return reject("bad-prev-hash", "prev hash {} is not the hash of height {} ({})",
                  h.prev_hash.short_hex(), state.height(), state.last_block_hash().short_hex());
  }
  if (h.time_ms < state.last_time_ms()) {
    return reject("time-goes-back", "block time {} ms is before the previous block's {} ms",
                  h.time_ms, state.last_time_ms());
  }
  if (h.chain_state_hash != state.hash()) {
    return reject("bad-chain-state-hash", "header chain-state hash {} but the state is {}",
                  h.chain_state_hash.short_hex(), state.hash().short_hex());
  }
  if (!state.can_vote(h.proposer)) {
    return reject("bad-proposer", "proposer {} is not an active member of the committee",
                  h.proposer);
  }
  if (h.committee_hash != committee_hash(state.committee())) {
    return reject("wrong-committee", "header committee hash {} is not the elected committee's {}",
                  h.committee_hash.short_hex(), committee_hash(state.committee()).short_hex());
  }
  const bool lists_committee = starts_epoch(h.height, genesis.fields().committee.epoch);
  if (h.committee != (lists_committee ? state.committee() : std::vector<std::uint32_t>{})) {
    return reject("wrong-committee",
                  "block {} must list {} committee members (the epoch's first block lists them, "
                  "no other)",
                  h.height, lists_committee ? state.committee().size() : 0);
  }
  if (h.rule != genesis.fields().rule) {
    return reject("wrong-rule", "block aggregation rule '{}' is not genesis's '{}'", h.rule.name,
                  genesis.fields().rule.name);
  }
  if (txs == BlockTxs::kValidate) {
    for (const auto& tx : block.txs()) {
      if (auto st = validate_tx(tx, h.height, genesis, state); !st) return st;
    }
  }
  for (const auto& e : block.evidence()) {
    if (auto st = validate_evidence(e, h.height, genesis, state); !st) return st;
  }
  return {};
}

Status validate_certificate(const CommitCertificate& c, const Block& block, const Genesis& genesis,
                            const ChainState& state) {
  if (auto st = check_certificate(c); !st) return st;
  if (c.height() != block.height()) {
    return reject("wrong-certificate-height", "certificate for height {} on block {}", c.height(),
                  block.height());
  }
  if (c.block_hash() != block.hash()) {
    return reject("wrong-certificate-block", "certificate for block {}, not this block {}",
                  c.block_hash().short_hex(), block.hash().short_hex());
  }
  std::uint64_t power = 0;
  for (const Vote& vote : c.votes(genesis.chain_id())) {
    if (!state.can_vote(vote.validator)) {
      return reject("inactive-signer",
                    "precommit by validator {}, which is unknown, jailed or not on the committee",
                    vote.validator);
    }
    if (!crypto::verify(state.validators()[vote.validator].key, vote.sign_bytes(),
                        vote.signature)) {
      return reject("bad-precommit-signature",
                    "precommit signature of validator {} does not "
                    "verify",
                    vote.validator);
    }
    power += state.validators()[vote.validator].power;
  }
  const std::uint64_t total = state.voting_power();
  if (!(3 * power > 2 * total)) {
    return reject("no-quorum", "precommits carry voting power {} of {}: more than 2/3 is needed",
                  power, total);
  }
  return {};
}

Status validate_commit(const Block& block, const CommitCertificate& certificate,
                       const Genesis& genesis, const ChainState& state,
                       const ProposerRule& proposer_rule) {
  if (auto st = validate_block(block, genesis, state); !st) return st;
  if (auto st = validate_certificate(certificate, block, genesis, state); !st) return st;
  if (proposer_rule) {
    const std::uint32_t expected = proposer_rule(state, block.height(), certificate.round());
    if (block.header().proposer != expected) {
      return reject("wrong-proposer", "proposer {} but round {} belongs to validator {}",
                    block.header().proposer, certificate.round(), expected);
    }
  }
  return {};
}

}  // namespace fedchain::ledger
