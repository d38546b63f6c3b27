// Update-commitment transactions: canonical encoding, signing bytes and hash.
#include "fedchain/ledger/tx.hpp"

#include <cstring>

#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace fedchain::ledger {

namespace {
constexpr std::string_view kTxSignDomain = "fedchain/tx/v1";
constexpr std::string_view kTxHashDomain = "fedchain/tx";

void write_fields(Writer& w, const TxBuilder& f) {
  w.hash(f.chain_id).u64(f.height).u32(f.rank).u64(f.weight).hash(f.update_root);
  w.f64(f.loss).u64(f.samples);
}
}  // namespace

Bytes TxBuilder::sign_bytes() const {
  Writer w;
  w.raw(as_bytes(kTxSignDomain));
  write_fields(w, *this);
  return w.take();
}

Tx TxBuilder::sign(const crypto::SigningKey& key) const {
  return Tx(*this, key.sign(sign_bytes()));
}

Tx TxBuilder::with_signature(const Signature& signature) const {
  return Tx(*this, signature);
}

Tx::Tx(const TxBuilder& fields, const Signature& signature)
    : fields_(fields), signature_(signature) {
  hash_ = crypto::sha256({as_bytes(kTxHashDomain), encode()});
}

Bytes Tx::encode() const {
  Writer w;
  w.u8(kTxVersion);
  write_fields(w, fields_);
  w.raw(signature_.view());
  return w.take();
}

Result<Tx> Tx::decode(ByteView bytes) {
  Reader r(bytes, "tx");
  r.version(kTxVersion);
  TxBuilder f;
  f.chain_id = r.hash();
  f.height = r.u64();
  f.rank = r.u32();
  f.weight = r.u64();
  f.update_root = r.hash();
  f.loss = r.f64();
  f.samples = r.u64();
  const Bytes sig = r.raw(64);
  if (auto st = r.finish(); !st) return st.error();
  Signature signature;
  std::memcpy(signature.bytes.data(), sig.data(), 64);
  return Tx(f, signature);
}

bool Tx::signature_valid(const PublicKey& key) const {
  return crypto::verify(key, sign_bytes(), signature_);
}

}  // namespace fedchain::ledger
