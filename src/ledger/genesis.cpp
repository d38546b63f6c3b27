// Genesis: canonical encoding and the checks every genesis must pass.
#include "fedchain/ledger/genesis.hpp"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace fedchain::ledger {

namespace {
constexpr std::string_view kGenesisHashDomain = "fedchain/genesis";
constexpr std::size_t kMaxArchBytes = 4096;
constexpr std::uint64_t kMaxTotalPower = std::uint64_t{1} << 60;  // keeps 3 * power exact
}  // namespace

Status check_genesis(const GenesisBuilder& g) {
  const std::size_t n = g.validators.size();
  if (n == 0 || n > kMaxValidators) {
    return reject("bad-validator-count", "genesis has {} validators (allowed 1 to {})", n,
                  kMaxValidators);
  }
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& v = g.validators[i];
    if (v.rank != i) {
      return reject("bad-validator-order",
                    "validator {} has rank {}: ranks must be 0..n-1 in order", i, v.rank);
    }
    if (v.power == 0 || v.power > kMaxTotalPower - total) {
      return reject("bad-voting-power", "validator {} has voting power {}", i, v.power);
    }
    total += v.power;
  }
  // One key holding two validators' votes; sorted, since n may be 65,536.
  std::vector<std::pair<PublicKey, std::size_t>> keys;
  for (std::size_t i = 0; i < n; ++i) keys.emplace_back(g.validators[i].key, i);
  std::sort(keys.begin(), keys.end());
  for (std::size_t i = 1; i < n; ++i) {
    if (keys[i].first == keys[i - 1].first) {
      return reject("duplicate-validator-key",
                    "validators {} and {} have the same public key: one key would cast both votes",
                    keys[i - 1].second, keys[i].second);
    }
  }
  if (g.shards.size() != n) {
    return reject("bad-shard-count", "genesis has {} shard commitments for {} validators",
                  g.shards.size(), n);
  }
  if (g.merkle_chunk_bytes == 0) return reject("bad-chunk-size", "merkle chunk size is 0");
  if (g.rule.name.empty()) return reject("bad-rule", "genesis names no aggregation rule");
  if (g.job_toml.size() > kMaxJobTomlBytes) {
    return reject("oversized-length", "job TOML of {} bytes (at most {})", g.job_toml.size(),
                  kMaxJobTomlBytes);
  }
  return {};
}

Result<Genesis> GenesisBuilder::build() const {
  if (auto st = check_genesis(*this); !st) return st.error();
  return Genesis(*this);
}

Genesis::Genesis(GenesisBuilder fields) : fields_(std::move(fields)) {
  chain_id_ = crypto::sha256(as_bytes(fields_.job_toml));
  hash_ = crypto::sha256({as_bytes(kGenesisHashDomain), encode()});
}

Bytes Genesis::encode() const {
  const auto& g = fields_;
  Writer w;
  w.u8(kGenesisVersion).hash(chain_id_).text(g.job_toml).u64(g.time_ms);
  w.u32(static_cast<std::uint32_t>(g.validators.size()));
  for (const auto& v : g.validators) w.u32(v.rank).raw(v.key.view()).u64(v.power);
  w.text(g.model.arch).u64(g.model.parameters).hash(g.initial_state_root);
  w.u32(static_cast<std::uint32_t>(g.shards.size()));
  for (const auto& s : g.shards) w.u64(s.samples).hash(s.commitment);
  write_rule(w, g.rule);
  w.u32(g.quantization.scale_bits).f64(g.quantization.clip);
  w.u32(g.merkle_chunk_bytes);
  w.u32(g.contract.jail_after_rejections).u64(g.contract.reward_per_update);
  return w.take();
}

Result<Genesis> Genesis::decode(ByteView bytes) {
  Reader r(bytes, "genesis");
  r.version(kGenesisVersion);
  GenesisBuilder g;
  const Hash32 chain_id = r.hash();
  g.job_toml = r.text(kMaxJobTomlBytes);
  g.time_ms = r.u64();
  const std::uint32_t n = r.u32();
  if (r.ok() && n > kMaxValidators) {
    r.fail("oversized-length", fmt::format("{} validators (at most {})", n, kMaxValidators));
  }
  for (std::uint32_t i = 0; r.ok() && i < n; ++i) {
    GenesisValidator v;
    v.rank = r.u32();
    const Bytes key = r.raw(32);
    v.power = r.u64();
    if (r.ok()) std::memcpy(v.key.bytes.data(), key.data(), 32);
    g.validators.push_back(v);
  }
  g.model.arch = r.text(kMaxArchBytes);
  g.model.parameters = r.u64();
  g.initial_state_root = r.hash();
  const std::uint32_t shards = r.u32();
  if (r.ok() && shards > kMaxValidators) {
    r.fail("oversized-length", fmt::format("{} shards (at most {})", shards, kMaxValidators));
  }
  for (std::uint32_t i = 0; r.ok() && i < shards; ++i) {
    ShardCommitment s;
    s.samples = r.u64();
    s.commitment = r.hash();
    g.shards.push_back(s);
  }
  g.rule = read_rule(r);
  g.quantization.scale_bits = r.u32();
  g.quantization.clip = r.f64();
  g.merkle_chunk_bytes = r.u32();
  g.contract.jail_after_rejections = r.u32();
  g.contract.reward_per_update = r.u64();
  if (auto st = r.finish(); !st) return st.error();
  auto genesis = g.build();
  if (!genesis) return genesis.error();
  if (genesis->chain_id() != chain_id) {
    return reject("bad-chain-id", "genesis chain id {} is not SHA-256 of its job TOML ({})",
                  chain_id.short_hex(), genesis->chain_id().short_hex());
  }
  return genesis;
}

}  // namespace fedchain::ledger
