// Genesis: canonical encoding and the checks every genesis must pass.
#include "fedchain/ledger/genesis.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace fedchain::ledger {

namespace {
constexpr std::string_view kGenesisHashDomain = "fedchain/genesis";
constexpr std::uint64_t kMaxTotalPower = std::uint64_t{1} << 60;  // keeps 3 * power exact
}  // namespace

Status check_genesis(const GenesisBuilder& g) {
  const std::size_t n = g.validators.size();
  if (n == 0 || n > kMaxValidators) {
    return reject("bad-validator-count", "genesis has {} validators (allowed 1 to {})", n,
                  kMaxValidators);
  }
  std::uint64_t total = 0;
  std::uint32_t staked = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& v = g.validators[i];
    if (v.rank != i) {
      return reject("bad-validator-order",
                    "validator {} has rank {}: ranks must be 0..n-1 in order", i, v.rank);
    }
    if (v.power > kMaxTotalPower - total) {
      return reject("bad-voting-power", "validator {} has stake {}", i, v.power);
    }
    total += v.power;
    staked += v.power > 0 ? 1 : 0;
  }
  if (total == 0) return reject("bad-voting-power", "no validator has stake");
  if (g.committee.size == 0 || g.committee.size > staked || g.committee.epoch == 0) {
    return reject("bad-committee",
                  "a committee of {} of the {} validators with stake, elected every {} heights "
                  "(allowed 1 to {}, every 1 or more)",
                  g.committee.size, staked, g.committee.epoch, staked);
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
  if (g.shards.empty() || g.shards.size() > kMaxClients) {
    return reject("bad-shard-count", "genesis has {} clients' shard commitments (allowed 1 to {})",
                  g.shards.size(), kMaxClients);
  }
  for (std::size_t k = 0; k < g.shards.size(); ++k) {
    if (g.shards[k].samples == 0) {
      return reject("empty-shard", "client {} holds no training samples", k);
    }
  }
  if (g.cohort.rule.per_round == 0 || g.cohort.rule.per_round > g.shards.size() ||
      g.cohort.rule.per_round > kMaxTxsPerBlock) {
    return reject("bad-cohort", "a cohort of {} of {} clients (allowed 1 to {})",
                  g.cohort.rule.per_round, g.shards.size(),
                  std::min<std::size_t>(g.shards.size(), kMaxTxsPerBlock));
  }
  if (g.cohort.rule.sampling != CohortSampling::kUniform &&
      g.cohort.rule.sampling != CohortSampling::kBySamples) {
    return reject("bad-cohort", "cohort sampling {} is not one this build knows",
                  static_cast<int>(g.cohort.rule.sampling));
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
  Writer w;
  wire_fields(w, *this);
  return w.take();
}

Result<Genesis> Genesis::decode(ByteView bytes) {
  Reader r(bytes, "genesis");
  Genesis read;
  wire_fields(r, read);
  check_rule(r, read.fields_.rule);
  if (auto st = r.finish(); !st) return st.error();
  auto genesis = read.fields_.build();
  if (!genesis) return genesis.error();
  if (genesis->chain_id() != read.chain_id_) {
    return reject("bad-chain-id", "genesis chain id {} is not SHA-256 of its job TOML ({})",
                  read.chain_id_.short_hex(), genesis->chain_id().short_hex());
  }
  return genesis;
}

}  // namespace fedchain::ledger
