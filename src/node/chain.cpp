#include "chain.hpp"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "fedchain/consensus/chain_validators.hpp"
#include "fedchain/ledger/certificate.hpp"
#include "fedchain/ledger/committee.hpp"
#include "fedchain/ledger/validation.hpp"

namespace fedchain::node {

namespace {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

std::optional<Hash32> LedgerBlockHasher::hash(ByteView block) const {
  auto decoded = ledger::Block::decode(block);
  if (!decoded) return std::nullopt;
  return decoded->hash();
}

ChainParticipant::ChainParticipant(ledger::Genesis genesis, ledger::ChainState state,
                                   std::optional<ledger::ChainStore> store, std::uint32_t self)
    : genesis_(std::move(genesis)),
      state_(std::move(state)),
      store_(std::move(store)),
      self_(self) {}

Result<consensus::ValidatorSet> ChainParticipant::validator_set() const {
  return consensus::validator_set_of(state_);
}

Bytes ChainParticipant::propose_block(std::uint64_t height, std::uint32_t round) {
  ledger::BlockBuilder builder;
  ledger::BlockHeader& h = builder.header;
  h.chain_id = genesis_.chain_id();
  h.height = height;
  h.prev_hash = state_.last_block_hash();
  h.proposer = self_;
  h.time_ms = std::max(now_ms(), state_.last_time_ms());
  h.state_root = expected_.state_root;
  h.chain_state_hash = state_.hash();
  h.rule = genesis_.fields().rule;
  h.rejected_clients = expected_.rejected_clients;
  h.committee_hash = ledger::committee_hash(state_.committee());
  if (ledger::starts_epoch(height, genesis_.fields().committee.epoch)) {
    h.committee = state_.committee();
  }
  builder.txs = expected_.txs;
  builder.evidence = pending_evidence_;
  spdlog::debug("proposing block {} in round {} with {} txs", height, round, builder.txs.size());
  return builder.build().encode();
}

// A block gets this rank's prevote only if it records exactly the round this rank
// computed (the same state root, the same transactions, the same rejected clients) AND is
// valid against the chain (links, proposer, chain state, evidence). So the vote is on the
// aggregate itself (docs/consensus.md). The comparison comes first: the transactions it
// accepts are the ones this rank validated in the exchange, against this same state, so
// their signatures are not checked a second time.
bool ChainParticipant::validate_block(std::uint64_t height, const Hash32& block_hash,
                                      ByteView bytes) {
  auto block = ledger::Block::decode(bytes);
  if (!block) {
    spdlog::warn("height {}: proposed block does not decode: {}", height, block.error().message);
    return false;
  }
  const auto& h = block->header();
  if (expected_.height != height || h.state_root != expected_.state_root) {
    spdlog::warn("height {}: proposed state root {} differs from this rank's {}", height,
                 h.state_root.short_hex(), expected_.state_root.short_hex());
    return false;
  }
  if (h.rejected_clients != expected_.rejected_clients || block->txs() != expected_.txs) {
    spdlog::warn("height {}: proposed block's transactions differ from this rank's", height);
    return false;
  }
  if (auto st =
          ledger::validate_block(*block, genesis_, state_, ledger::BlockTxs::kAlreadyValidated);
      !st) {
    spdlog::warn("height {}: proposed block {} refused: {}", height, block_hash.short_hex(),
                 st.error().message);
    return false;
  }
  return true;
}

Result<consensus::ValidatorSet> ChainParticipant::commit(const consensus::Commit& commit) {
  auto block = ledger::Block::decode(commit.block);
  if (!block) return block.error();
  auto certificate = ledger::CommitCertificate::from_votes(commit.precommits);
  if (!certificate) return certificate.error();
  if (auto st = adopt(std::move(*block), std::move(*certificate)); !st) return st.error();
  return validator_set();
}

Status ChainParticipant::accept_certified(ByteView record) {
  auto stored = ledger::decode_block_record(record);
  if (!stored) return stored.error();
  const ledger::Block& block = stored->block;
  const ledger::CommitCertificate& certificate = stored->certificate;
  if (block.height() != state_.height() + 1) {
    return reject("bad-height", "block {} does not follow height {}", block.height(),
                  state_.height());
  }
  certificate_signatures_checked_ += certificate.signatures().size();
  if (auto st = ledger::validate_certificate(certificate, block, genesis_, state_); !st) return st;
  if (auto st = ledger::validate_block(block, genesis_, state_, ledger::BlockTxs::kCertified);
      !st) {
    return st;
  }
  const std::uint32_t proposer =
      consensus::proposer_of(state_, block.height(), certificate.round());
  if (block.header().proposer != proposer) {
    return reject("wrong-proposer", "proposer {} but round {} belongs to validator {}",
                  block.header().proposer, certificate.round(), proposer);
  }
  return adopt(std::move(stored->block), std::move(stored->certificate));
}

Status ChainParticipant::adopt(ledger::Block block, ledger::CommitCertificate certificate) {
  if (store_) {
    if (auto st = store_->append(block, certificate); !st) return st;
  }
  state_ = state_.apply(block);
  std::erase_if(pending_evidence_, [&](const ledger::Evidence& e) {
    const auto& recorded = block.evidence();
    return std::find(recorded.begin(), recorded.end(), e) != recorded.end();
  });
  committed_round_ = certificate.round();
  committed_ = std::move(block);
  committed_certificate_ = std::move(certificate);
  return {};
}

void ChainParticipant::evidence(const consensus::EquivocationFound& found) {
  auto evidence = ledger::Evidence::make(found.first, found.second);
  if (!evidence) return;
  if (std::find(pending_evidence_.begin(), pending_evidence_.end(), *evidence) ==
      pending_evidence_.end()) {
    spdlog::warn("validator {} equivocated at height {}: evidence goes into the next block",
                 evidence->validator(), evidence->height());
    pending_evidence_.push_back(std::move(*evidence));
  }
}

}  // namespace fedchain::node
