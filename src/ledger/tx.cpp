// Update-commitment transactions: canonical encoding, signing bytes and hash.
#include "fedchain/ledger/tx.hpp"

#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace fedchain::ledger {

namespace {
constexpr std::string_view kTxSignDomain = "fedchain/tx/v2";
constexpr std::string_view kTxHashDomain = "fedchain/tx";
}  // namespace

Bytes TxBuilder::sign_bytes() const {
  Writer w;
  w.raw(as_bytes(kTxSignDomain));
  wire_fields(w, *this);
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
  seal();
}

void Tx::seal() {
  hash_ = crypto::sha256({as_bytes(kTxHashDomain), encode()});
}

Bytes Tx::encode() const {
  Writer w;
  wire_fields(w, *this);
  return w.take();
}

Result<Tx> Tx::decode(ByteView bytes) {
  Reader r(bytes, "tx");
  Tx tx;
  wire_fields(r, tx);
  if (auto st = r.finish(); !st) return st.error();
  tx.seal();
  return tx;
}

bool Tx::signature_valid(const PublicKey& key) const {
  return crypto::verify(key, sign_bytes(), signature_);
}

}  // namespace fedchain::ledger
