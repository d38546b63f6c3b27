// Commit certificates and equivocation evidence: construction, canonical encoding, hash.
#include "fedchain/ledger/certificate.hpp"

#include <algorithm>

#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace fedchain::ledger {

namespace {
constexpr std::string_view kCertificateHashDomain = "fedchain/certificate";
constexpr std::string_view kEvidenceHashDomain = "fedchain/evidence";
}  // namespace

CommitCertificate::CommitCertificate(std::uint64_t height, std::uint32_t round,
                                     const Hash32& block_hash,
                                     std::vector<CommitSignature> signatures)
    : height_(height), round_(round), block_hash_(block_hash), signatures_(std::move(signatures)) {
  seal();
}

void CommitCertificate::seal() {
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
  wire_fields(w, *this);
  return w.take();
}

Result<CommitCertificate> CommitCertificate::decode(ByteView bytes) {
  Reader r(bytes, "commit certificate");
  CommitCertificate c;
  wire_fields(r, c);
  if (r.ok() && c.signatures_.empty()) {
    r.fail("bad-signature-count", "a certificate needs at least one signature");
  }
  r.ascending(c.signatures_, "signatures (by validator)", &CommitSignature::validator);
  if (auto st = r.finish(); !st) return st.error();
  c.seal();
  return c;
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
  wire_fields(w, *this);
  return w.take();
}

Result<Evidence> Evidence::decode(ByteView bytes) {
  Reader r(bytes, "evidence");
  Evidence e;
  wire_fields(r, e);
  if (auto st = r.finish(); !st) return st.error();
  if (!(e.first_.encode() < e.second_.encode())) {
    return reject("non-canonical", "evidence votes must be in ascending byte order");
  }
  return make(e.first_, e.second_);
}

}  // namespace fedchain::ledger
