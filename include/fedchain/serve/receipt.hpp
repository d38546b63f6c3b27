// A prediction receipt (docs/formats.md, "Receipts"): which model answered (chain id,
// height, state root, architecture), on what input and with what output (SHA-256 of each
// file), when, and who ran it, signed by the predictor's Ed25519 key. Anyone holding the
// receipt and the two files can check it (`fedchain receipt check`); `fedchain verify`
// checks every receipt in RUN_DIR/receipts.log against the chain.
#pragma once

#include <cstdint>
#include <string>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/encoding.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/core/signature.hpp"
#include "fedchain/crypto/ed25519.hpp"

namespace fedchain::serve {

inline constexpr std::uint8_t kReceiptVersion = 1;
inline constexpr std::size_t kMaxArchitectureBytes = 65536;
inline constexpr std::size_t kMaxSplitBytes = 16;

struct Receipt {
  Hash32 chain_id;
  std::uint64_t height = 0;
  Hash32 state_root;  // the root the chain committed at `height`
  Hash32 input_sha256;
  std::string split;  // "test" or "train" for a dataset file; "" for an image array
  std::uint64_t samples = 0;
  Hash32 output_sha256;
  std::string architecture;  // the JSON text export's metadata carries
  std::uint64_t time_ms = 0;
  PublicKey predictor;
  Signature signature;

  static void signed_fields(auto& s, auto& r) {
    s(r.chain_id, r.height, r.state_root, r.input_sha256, limit(r.split, kMaxSplitBytes), r.samples,
      r.output_sha256, limit(r.architecture, kMaxArchitectureBytes), r.time_ms, r.predictor);
  }
  static void wire_fields(auto& s, auto& r) {
    s.version(kReceiptVersion);
    signed_fields(s, r);
    s(r.signature);
  }

  // "fedchain/receipt/v1" || the signed fields.
  Bytes sign_bytes() const;
  Bytes encode() const;
  static Result<Receipt> decode(ByteView bytes);
  // SHA-256("fedchain/receipt" || encoding)
  Hash32 id() const;

  void sign(const crypto::SigningKey& key);
  bool signature_valid() const;

  // One JSON object, on one line; from_json refuses (reject, exit 3) anything that is not
  // exactly such an object with a valid signature's fields.
  std::string to_json() const;
  static Result<Receipt> from_json(std::string_view text);
};

}  // namespace fedchain::serve
