#include "fedchain/serve/receipt.hpp"

#include <nlohmann/json.hpp>

#include "fedchain/crypto/sha256.hpp"

namespace fedchain::serve {

namespace {

constexpr std::string_view kSignTag = "fedchain/receipt/v1";
constexpr std::string_view kIdTag = "fedchain/receipt";

template <std::size_t N>
bool fixed_from_hex(const nlohmann::json& value, std::array<std::uint8_t, N>& out) {
  if (!value.is_string()) return false;
  const auto raw = from_hex(value.get<std::string>());
  if (!raw || raw->size() != N) return false;
  std::copy(raw->begin(), raw->end(), out.begin());
  return true;
}

}  // namespace

Bytes Receipt::sign_bytes() const {
  Writer w;
  w.raw(as_bytes(kSignTag));
  signed_fields(w, *this);
  return w.take();
}

Bytes Receipt::encode() const {
  Writer w;
  wire_fields(w, *this);
  return w.take();
}

Result<Receipt> Receipt::decode(ByteView bytes) {
  Reader r(bytes, "receipt");
  Receipt receipt;
  wire_fields(r, receipt);
  if (auto st = r.finish(); !st) return st.error();
  return receipt;
}

Hash32 Receipt::id() const {
  const Bytes encoding = encode();
  return crypto::sha256({as_bytes(kIdTag), encoding});
}

void Receipt::sign(const crypto::SigningKey& key) {
  predictor = key.public_key();
  signature = key.sign(sign_bytes());
}

bool Receipt::signature_valid() const {
  return crypto::verify(predictor, sign_bytes(), signature);
}

std::string Receipt::to_json() const {
  const nlohmann::ordered_json j{{"receipt", kReceiptVersion},
                                 {"id", id().hex()},
                                 {"chain_id", chain_id.hex()},
                                 {"height", height},
                                 {"state_root", state_root.hex()},
                                 {"input_sha256", input_sha256.hex()},
                                 {"split", split},
                                 {"samples", samples},
                                 {"output_sha256", output_sha256.hex()},
                                 {"architecture", architecture},
                                 {"time_ms", time_ms},
                                 {"predictor", to_hex(predictor.view())},
                                 {"signature", to_hex(signature.view())}};
  return j.dump();
}

Result<Receipt> Receipt::from_json(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [](std::string_view what) {
    return reject("bad-receipt", "not a fedchain receipt: {}", what);
  };
  if (!j.is_object()) return bad("not one JSON object");
  if (j.size() != 13) return bad("it does not hold exactly the 13 receipt fields");
  for (const char* key : {"receipt", "height", "samples", "time_ms"}) {
    if (!j.contains(key) || !j[key].is_number_unsigned())
      return bad(fmt::format("'{}' is not a count", key));
  }
  for (const char* key : {"id", "split", "architecture"}) {
    if (!j.contains(key) || !j[key].is_string()) return bad(fmt::format("'{}' is not text", key));
  }
  if (j["receipt"].get<std::uint64_t>() != kReceiptVersion) return bad("unknown receipt version");
  Receipt r;
  r.height = j["height"].get<std::uint64_t>();
  r.samples = j["samples"].get<std::uint64_t>();
  r.time_ms = j["time_ms"].get<std::uint64_t>();
  r.split = j["split"].get<std::string>();
  r.architecture = j["architecture"].get<std::string>();
  const bool hex_ok = j.contains("id") && j.contains("chain_id") && j.contains("state_root") &&
                      j.contains("input_sha256") && j.contains("output_sha256") &&
                      j.contains("predictor") && j.contains("signature") &&
                      fixed_from_hex(j["chain_id"], r.chain_id.bytes) &&
                      fixed_from_hex(j["state_root"], r.state_root.bytes) &&
                      fixed_from_hex(j["input_sha256"], r.input_sha256.bytes) &&
                      fixed_from_hex(j["output_sha256"], r.output_sha256.bytes) &&
                      fixed_from_hex(j["predictor"], r.predictor.bytes) &&
                      fixed_from_hex(j["signature"], r.signature.bytes);
  if (!hex_ok) return bad("a hash, key or signature field is missing or not hex of its size");
  if (r.split.size() > kMaxSplitBytes || r.architecture.size() > kMaxArchitectureBytes) {
    return bad("a text field is longer than its limit");
  }
  // The text's id must be this receipt's: an edit anywhere shows as a mismatch.
  if (j["id"] != r.id().hex()) {
    return reject("receipt-id", "the receipt's id {} is not the hash of its fields ({})",
                  j["id"].get<std::string>(), r.id().hex());
  }
  return r;
}

}  // namespace fedchain::serve
