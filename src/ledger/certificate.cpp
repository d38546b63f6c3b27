// Commit certificates and equivocation evidence: construction, canonical encoding, hash.
#include "fedchain/ledger/certificate.hpp"

#include <algorithm>
#include <cstring>

#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace fedchain::ledger {

namespace {
constexpr std::string_view kCertificateHashDomain = "fedchain/certificate";
constexpr std::string_view kEvidenceHashDomain = "fedchain/evidence";
constexpr std::size_t kMaxVoteBytes = 256;
}  // namespace

CommitCertificate::CommitCertificate(std::uint64_t height, std::uint32_t round,
                                     const Hash32& block_hash,
                                     std::vector<CommitSignature> signatures)
    : height_(height), round_(round), block_hash_(block_hash), signatures_(std::move(signatures)) {
  hash_ = crypto::sha256({as_bytes(kCertificateHashDomain), encode()});
}

Result<CommitCertificate> CommitCertificate::from_votes(const std::vector<Vote>& precommits) {
  if (precommits.empty()) return reject("empty-certificate", "a certificate needs precommits");
  const Vote& first = precommits.front();
  std::vector<CommitSignature> signatures;
  for (const Vote& v : precommits) {
    if (v.type != VoteType::kPrecommit) {
      return reject("not-precommit", "validator {} sent a prevote, not a precommit", v.validator);
    }
    if (!v.block_hash) return reject("nil-precommit", "validator {} precommitted nil", v.validator);
    if (v.chain_id != first.chain_id || v.height != first.height || v.round != first.round ||
        v.block_hash != first.block_hash) {
      return reject("mixed-votes",
                    "precommit of validator {} is for height {} round {} block {}, not height {} "
                    "round {} block {}",
                    v.validator, v.height, v.round, v.block_hash->short_hex(), first.height,
                    first.round, first.block_hash->short_hex());
    }
    signatures.push_back({v.validator, v.signature});
  }
  std::sort(signatures.begin(), signatures.end(), [](const auto& a, const auto& b) {
    return a.validator != b.validator ? a.validator < b.validator : a.signature < b.signature;
  });
  signatures.erase(std::unique(signatures.begin(), signatures.end()), signatures.end());
  for (std::size_t i = 1; i < signatures.size(); ++i) {
    if (signatures[i].validator == signatures[i - 1].validator) {
      return reject("duplicate-signer", "validator {} signed two different precommits",
                    signatures[i].validator);
    }
  }
  return CommitCertificate(first.height, first.round, *first.block_hash, std::move(signatures));
}

std::vector<Vote> CommitCertificate::votes(const Hash32& chain_id) const {
  std::vector<Vote> out;
  out.reserve(signatures_.size());
  for (const auto& s : signatures_) {
    Vote v;
    v.chain_id = chain_id;
    v.height = height_;
    v.round = round_;
    v.type = VoteType::kPrecommit;
    v.block_hash = block_hash_;
    v.validator = s.validator;
    v.signature = s.signature;
    out.push_back(v);
  }
  return out;
}

Bytes CommitCertificate::encode() const {
  Writer w;
  w.u8(kCertificateVersion).u64(height_).u32(round_).hash(block_hash_);
  w.u32(static_cast<std::uint32_t>(signatures_.size()));
  for (const auto& s : signatures_) w.u32(s.validator).raw(s.signature.view());
  return w.take();
}

Result<CommitCertificate> CommitCertificate::decode(ByteView bytes) {
  Reader r(bytes, "commit certificate");
  r.version(kCertificateVersion);
  const std::uint64_t height = r.u64();
  const std::uint32_t round = r.u32();
  const Hash32 block_hash = r.hash();
  const std::uint32_t count = r.u32();
  if (r.ok() && (count == 0 || count > kMaxValidators)) {
    r.fail("bad-signature-count",
           fmt::format("{} signatures (allowed 1 to {})", count, kMaxValidators));
  }
  std::vector<CommitSignature> signatures;
  for (std::uint32_t i = 0; r.ok() && i < count; ++i) {
    CommitSignature s;
    s.validator = r.u32();
    const Bytes sig = r.raw(64);
    if (!r.ok()) break;
    std::memcpy(s.signature.bytes.data(), sig.data(), 64);
    if (!signatures.empty() && s.validator <= signatures.back().validator) {
      r.fail("non-canonical", "signatures must be in strictly ascending validator order");
    }
    signatures.push_back(s);
  }
  if (auto st = r.finish(); !st) return st.error();
  return CommitCertificate(height, round, block_hash, std::move(signatures));
}

Evidence::Evidence(Vote first, Vote second) : first_(std::move(first)), second_(std::move(second)) {
  hash_ = crypto::sha256({as_bytes(kEvidenceHashDomain), encode()});
}

Result<Evidence> Evidence::make(const Vote& a, const Vote& b) {
  if (!a.conflicts_with(b)) {
    return reject("not-conflicting",
                  "votes of validators {} and {} at height {}/{} do not conflict", a.validator,
                  b.validator, a.height, b.height);
  }
  if (b.encode() < a.encode()) return Evidence(b, a);
  return Evidence(a, b);
}

Bytes Evidence::encode() const {
  Writer w;
  w.u8(kEvidenceVersion).bytes(first_.encode()).bytes(second_.encode());
  return w.take();
}

Result<Evidence> Evidence::decode(ByteView bytes) {
  Reader r(bytes, "evidence");
  r.version(kEvidenceVersion);
  const Bytes a = r.bytes(kMaxVoteBytes);
  const Bytes b = r.bytes(kMaxVoteBytes);
  if (auto st = r.finish(); !st) return st.error();
  auto first = Vote::decode(a);
  if (!first) return first.error();
  auto second = Vote::decode(b);
  if (!second) return second.error();
  if (!(a < b)) return reject("non-canonical", "evidence votes must be in ascending byte order");
  return make(*first, *second);
}

}  // namespace fedchain::ledger
