// The update-commitment transaction: rank `rank` says "at height h my update, weighted
// w, has Merkle root u; I trained on n samples to loss l", and signs it. A block's
// transactions are the updates that went into that round's aggregate.
//
// Tx is immutable, with its hash computed once at construction; TxBuilder is the mutable
// half that makes one (as bitcoin's CTransaction and CMutableTransaction).
#pragma once

#include <cstdint>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/core/signature.hpp"
#include "fedchain/crypto/ed25519.hpp"

namespace fedchain::ledger {

// Version 2 adds the client: one transaction per trained client (docs/clients.md).
inline constexpr std::uint8_t kTxVersion = 2;
inline constexpr std::size_t kTxEncodedBytes = 1 + 32 + 8 + 4 + 4 + 8 + 32 + 8 + 8 + 64;  // 169

class Tx;

struct TxBuilder {
  Hash32 chain_id;
  std::uint64_t height = 0;   // the round this update is for (>= 1)
  std::uint32_t client = 0;   // the client that trained it, in the height's cohort
  std::uint32_t rank = 0;     // validator index of the signer: the client's hosting rank
  std::uint64_t weight = 0;   // aggregation weight: the client's samples in genesis
  Hash32 update_root;         // merkle_root of the quantized update's bytes
  double loss = 0.0;          // mean local training loss (raw IEEE-754 bits on the wire)
  std::uint64_t samples = 0;  // samples trained this round

  // Every field above, in wire order (core/encoding.hpp): what the rank signs.
  static void wire_fields(auto& s, auto& tx) {
    s(tx.chain_id, tx.height, tx.client, tx.rank, tx.weight, tx.update_root, tx.loss, tx.samples);
  }

  // The canonical bytes the rank signs: a domain tag, then the fields.
  Bytes sign_bytes() const;
  Tx sign(const crypto::SigningKey& key) const;
  // For a signature made elsewhere (received, or from a test); not checked here.
  Tx with_signature(const Signature& signature) const;
};

class Tx {
 public:
  static Result<Tx> decode(ByteView bytes);

  const Hash32& chain_id() const { return fields_.chain_id; }
  std::uint64_t height() const { return fields_.height; }
  std::uint32_t client() const { return fields_.client; }
  std::uint32_t rank() const { return fields_.rank; }
  std::uint64_t weight() const { return fields_.weight; }
  const Hash32& update_root() const { return fields_.update_root; }
  double loss() const { return fields_.loss; }
  std::uint64_t samples() const { return fields_.samples; }
  const Signature& signature() const { return signature_; }
  // A builder holding this tx's fields: to change one (tests, attack injection).
  const TxBuilder& fields() const { return fields_; }

  // SHA-256("fedchain/tx" || encode()): covers the signature too.
  const Hash32& hash() const { return hash_; }
  Bytes sign_bytes() const { return fields_.sign_bytes(); }
  Bytes encode() const;
  // True when the signature is valid under `key`.
  bool signature_valid(const PublicKey& key) const;

  bool operator==(const Tx& other) const { return hash_ == other.hash_; }

 private:
  friend struct TxBuilder;
  Tx() = default;  // for decode, which fills it field by field
  Tx(const TxBuilder& fields, const Signature& signature);
  // The encoding: a version byte, the signed fields, the signature.
  static void wire_fields(auto& s, auto& tx) { s.version(kTxVersion)(tx.fields_, tx.signature_); }
  void seal();  // computes hash_

  TxBuilder fields_;
  Signature signature_;
  Hash32 hash_;
};

}  // namespace fedchain::ledger
