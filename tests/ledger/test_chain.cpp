// Real signed test chains (see test_chain.hpp).
#include "test_chain.hpp"

#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "fedchain/crypto/sha256.hpp"
#include "fedchain/ledger/committee.hpp"

namespace fedchain::ledger::testing {

namespace {

Genesis make_genesis(const TestChainOptions& o, const std::vector<crypto::SigningKey>& keys) {
  GenesisBuilder g;
  g.job_toml =
      fmt::format("[job]\nname = \"ledger-test\"\nseed = {}\nranks = {}\n", o.seed, o.validators);
  if (o.noise_multiplier) {
    g.job_toml += fmt::format(
        "[privacy]\ndp = true\nclip = 0.5\nnoise_multiplier = {}\ndelta = 1e-5\n"
        "[keys]\nderive_from_seed = true\n",
        *o.noise_multiplier);
  }
  g.time_ms = 1700000000000;
  for (std::uint32_t r = 0; r < o.validators; ++r) {
    const std::uint64_t power = o.powers.empty() ? 1 : o.powers.at(r);
    g.validators.push_back({r, keys[r].public_key(), power});
  }
  const std::uint32_t clients = o.clients > 0 ? o.clients : o.validators;
  for (std::uint32_t k = 0; k < clients; ++k) {
    g.shards.push_back({1000 + k, crypto::sha256(as_bytes(fmt::format("shard {}", k)))});
  }
  g.cohort = {static_cast<std::uint64_t>(o.seed),
              {o.per_round > 0 ? o.per_round : clients, CohortSampling::kUniform}};
  g.model = {"mlp:784-16-10", 784 * 16 + 16 + 16 * 10 + 10};
  g.initial_state_root = crypto::sha256(as_bytes("initial model"));
  g.rule = {"trimmed_mean", {{"trim_beta", 0.25}}};
  g.quantization = {20, 8.0};
  g.contract.jail_after_rejections = o.jail_after_rejections;
  g.committee = {o.committee > 0 ? o.committee : o.validators, o.epoch};
  auto genesis = g.build();
  if (!genesis) throw std::runtime_error(genesis.error().message);
  return *genesis;
}

std::vector<crypto::SigningKey> make_keys(const TestChainOptions& o) {
  std::vector<crypto::SigningKey> keys;
  for (std::uint32_t r = 0; r < o.validators; ++r)
    keys.push_back(crypto::derive_rank_key(o.seed, r));
  return keys;
}

}  // namespace

TestChain::TestChain(const TestChainOptions& options)
    : genesis_(make_genesis(options, make_keys(options))),
      keys_(make_keys(options)),
      proposer_rule_(options.proposer_rule) {
  states_.push_back(ChainState::from_genesis(genesis_));
}

Tx TestChain::make_tx(std::uint64_t height, std::uint32_t client) const {
  TxBuilder b;
  b.chain_id = genesis_.chain_id();
  b.height = height;
  b.client = client;
  b.rank = host_rank(client, genesis_.validator_count());
  b.weight = genesis_.fields().shards[client].samples;
  b.update_root = crypto::sha256(as_bytes(fmt::format("update {} {}", height, client)));
  b.loss = 2.5 / static_cast<double>(height + client);
  b.samples = b.weight;
  return b.sign(keys_[b.rank]);
}

Evidence TestChain::make_evidence(std::uint32_t validator, std::uint64_t height) const {
  Vote a;
  a.chain_id = genesis_.chain_id();
  a.height = height;
  a.type = VoteType::kPrecommit;
  a.block_hash = crypto::sha256(as_bytes("block a"));
  a.validator = validator;
  Vote b = a;
  b.block_hash = crypto::sha256(as_bytes("block b"));
  a.signature = keys_[validator].sign(a.sign_bytes());
  b.signature = keys_[validator].sign(b.sign_bytes());
  return *Evidence::make(a, b);
}

Block TestChain::make_block(const NextBlock& next) const {
  const ChainState& s = state();
  const std::uint64_t height = s.height() + 1;
  BlockBuilder b;
  b.header.chain_id = genesis_.chain_id();
  b.header.height = height;
  b.header.prev_hash = s.last_block_hash();
  std::uint32_t proposer = static_cast<std::uint32_t>((height + next.round) % keys_.size());
  while (!s.can_vote(proposer)) proposer = (proposer + 1) % keys_.size();
  b.header.proposer = proposer_rule_ ? proposer_rule_(s, height, next.round) : proposer;
  b.header.time_ms = s.last_time_ms() + 1500;
  b.header.state_root =
      next.state_root.value_or(crypto::sha256(as_bytes(fmt::format("model after {}", height))));
  b.header.chain_state_hash = s.hash();
  b.header.rule = genesis_.fields().rule;
  b.header.rejected_clients = next.rejected_clients;
  b.header.committee_hash = committee_hash(s.committee());
  if (starts_epoch(height, genesis_.fields().committee.epoch)) b.header.committee = s.committee();
  for (const std::uint32_t client : s.cohort()) {
    if (s.is_active(host_rank(client, genesis_.validator_count()))) {
      b.txs.push_back(make_tx(height, client));
    }
  }
  b.evidence = next.evidence;
  return b.build();
}

CommitCertificate TestChain::certify(const Block& block, std::uint32_t round,
                                     const std::vector<std::uint32_t>& signers) const {
  std::vector<Vote> votes;
  for (std::uint32_t v : signers) {
    Vote vote;
    vote.chain_id = genesis_.chain_id();
    vote.height = block.height();
    vote.round = round;
    vote.type = VoteType::kPrecommit;
    vote.block_hash = block.hash();
    vote.validator = v;
    vote.signature = keys_[v].sign(vote.sign_bytes());
    votes.push_back(vote);
  }
  auto cert = CommitCertificate::from_votes(votes);
  if (!cert) throw std::runtime_error(cert.error().message);
  return *cert;
}

const StoredBlock& TestChain::add_block(const NextBlock& next) {
  const Block block = make_block(next);
  std::vector<std::uint32_t> signers = next.signers;
  if (signers.empty()) {
    for (std::uint32_t r = 0; r < keys_.size(); ++r) {
      if (state().can_vote(r)) signers.push_back(r);
    }
  }
  const CommitCertificate cert = certify(block, next.round, signers);
  states_.push_back(state().apply(block));
  blocks_.push_back({block, cert, 0});
  return blocks_.back();
}

void TestChain::write(const std::filesystem::path& run_dir) const {
  std::filesystem::create_directories(run_dir);
  std::ofstream(run_dir / "job.toml", std::ios::binary) << genesis_.fields().job_toml;
  auto store = ChainStore::create(run_dir, genesis_);
  if (!store) throw std::runtime_error(store.error().message);
  for (const auto& b : blocks_) {
    if (auto st = store->append(b.block, b.certificate); !st) {
      throw std::runtime_error(st.error().message);
    }
  }
}

Bytes read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  Bytes bytes(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

void write_bytes(const std::filesystem::path& path, ByteView bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

}  // namespace fedchain::ledger::testing
