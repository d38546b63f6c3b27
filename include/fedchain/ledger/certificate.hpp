// What makes a block final, and what proves a validator lied:
//   CommitCertificate: the precommit signatures for one block hash at (height, round);
//     the block is committed when their voting power is more than 2/3 of the active power.
//   Evidence: two conflicting votes signed by one validator (equivocation).
// Both are immutable values with a cached hash; checks that need keys and
// voting power live in validation.hpp.
#pragma once

#include <cstdint>
#include <vector>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/encoding.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/core/signature.hpp"
#include "fedchain/ledger/vote.hpp"

namespace fedchain::ledger {

inline constexpr std::uint8_t kCertificateVersion = 1;
inline constexpr std::uint8_t kEvidenceVersion = 1;
inline constexpr std::uint32_t kMaxValidators = 65536;
inline constexpr std::size_t kMaxVoteBytes = 256;

struct CommitSignature {
  std::uint32_t validator = 0;  // index in the validator set
  Signature signature;          // over Vote::sign_bytes() of the precommit
  static void wire_fields(auto& s, auto& c) { s(c.validator, c.signature); }
  bool operator==(const CommitSignature&) const = default;
};

class CommitCertificate {
 public:
  // From precommits for one block: all PRECOMMIT, not nil, same chain id, height, round
  // and block hash, one per validator (exact duplicates are dropped). Signatures are not
  // checked here: see validate_certificate().
  static Result<CommitCertificate> from_votes(const std::vector<Vote>& precommits);
  static Result<CommitCertificate> decode(ByteView bytes);

  std::uint64_t height() const { return height_; }
  std::uint32_t round() const { return round_; }
  const Hash32& block_hash() const { return block_hash_; }
  const std::vector<CommitSignature>& signatures() const { return signatures_; }  // by validator
  // The precommit votes this certificate holds, rebuilt for `chain_id` (the certificate
  // does not repeat it: the block header carries it).
  std::vector<Vote> votes(const Hash32& chain_id) const;

  const Hash32& hash() const { return hash_; }
  Bytes encode() const;
  bool operator==(const CommitCertificate& other) const { return hash_ == other.hash_; }

 private:
  CommitCertificate() = default;  // for decode, which fills it field by field
  CommitCertificate(std::uint64_t height, std::uint32_t round, const Hash32& block_hash,
                    std::vector<CommitSignature> signatures);
  // The encoding (core/encoding.hpp). Decode refuses 0 signatures or more than
  // kMaxValidators as bad-signature-count.
  static void wire_fields(auto& s, auto& c) {
    s.version(kCertificateVersion)(c.height_, c.round_, c.block_hash_,
                                   limit(c.signatures_, kMaxValidators, "bad-signature-count"));
  }
  void seal();  // computes hash_

  std::uint64_t height_ = 0;
  std::uint32_t round_ = 0;
  Hash32 block_hash_;
  std::vector<CommitSignature> signatures_;  // strictly ascending validator
  Hash32 hash_;
};

class Evidence {
 public:
  // Orders the pair canonically (smaller encoding first), so (a, b) and (b, a) are one
  // piece of evidence; refuses votes that do not conflict ("not-conflicting").
  static Result<Evidence> make(const Vote& a, const Vote& b);
  static Result<Evidence> decode(ByteView bytes);

  const Vote& first() const { return first_; }
  const Vote& second() const { return second_; }
  std::uint32_t validator() const { return first_.validator; }
  std::uint64_t height() const { return first_.height; }

  const Hash32& hash() const { return hash_; }
  Bytes encode() const;
  bool operator==(const Evidence& other) const { return hash_ == other.hash_; }

 private:
  Evidence() = default;  // for decode, which fills it field by field
  Evidence(Vote first, Vote second);
  // The encoding: a version byte, then the two votes, each its own encoding.
  static void wire_fields(auto& s, auto& e) {
    s.version(kEvidenceVersion)(nested(e.first_, at_most(kMaxVoteBytes)),
                                nested(e.second_, at_most(kMaxVoteBytes)));
  }

  Vote first_;
  Vote second_;
  Hash32 hash_;
};

}  // namespace fedchain::ledger
