// Receipts: the JSON round trip, any one-byte change refused, and receipts.log's append,
// torn-tail repair and refusal of damage mid-file.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "fedchain/crypto/ed25519.hpp"
#include "fedchain/serve/receipt.hpp"
#include "fedchain/serve/receipt_log.hpp"
#include "temp_dir.hpp"

namespace fedchain::serve {
namespace {

Receipt signed_receipt(std::uint64_t height) {
  Receipt r;
  r.chain_id.bytes.fill(1);
  r.height = height;
  r.state_root.bytes.fill(2);
  r.input_sha256.bytes.fill(3);
  r.split = "test";
  r.samples = 300;
  r.output_sha256.bytes.fill(4);
  r.architecture = R"({"arch":"mlp","layers":[{"type":"flatten"}]})";
  r.time_ms = 1764750000000;
  crypto::KeySeed seed{};
  seed[0] = 7;
  r.sign(crypto::SigningKey::from_seed(seed));
  return r;
}

Bytes read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

TEST(Receipt, JsonRoundTripKeepsTheSignedBytes) {
  const Receipt r = signed_receipt(3);
  ASSERT_TRUE(r.signature_valid());
  auto back = Receipt::from_json(r.to_json());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->encode(), r.encode());
  EXPECT_TRUE(back->signature_valid());
  auto decoded = Receipt::decode(r.encode());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->id(), r.id());
}

TEST(Receipt, EveryOneByteChangeOfTheJsonIsRefusedOrBreaksTheSignature) {
  const std::string text = signed_receipt(3).to_json();
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::string altered = text;
    altered[i] = static_cast<char>(altered[i] ^ 1);
    auto parsed = Receipt::from_json(altered);
    if (!parsed) {
      EXPECT_EQ(parsed.error().kind, ErrorKind::kVerification) << "byte " << i;
      continue;
    }
    // Only a change the parser reads as the same value may pass (a hex digit's case).
    EXPECT_EQ(parsed->encode(), signed_receipt(3).encode()) << "byte " << i << ": " << altered;
  }
}

TEST(Receipt, ASignatureOverOtherFieldsFails) {
  Receipt r = signed_receipt(3);
  r.height = 4;
  EXPECT_FALSE(r.signature_valid());
}

TEST(ReceiptLog, AppendsAndReadsBackInOrder) {
  const testing::TempDir dir;
  const auto path = receipt_log_path(dir.path());
  auto empty = read_receipt_log(path);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->receipts.empty());
  for (std::uint64_t h = 1; h <= 3; ++h) ASSERT_TRUE(append_receipt(path, signed_receipt(h)));
  auto log = read_receipt_log(path);
  ASSERT_TRUE(log) << log.error().message;
  ASSERT_EQ(log->receipts.size(), 3u);
  for (std::uint64_t h = 1; h <= 3; ++h) EXPECT_EQ(log->receipts[h - 1].height, h);
  EXPECT_FALSE(log->torn_offset);
}

TEST(ReceiptLog, ATornTailIsReportedThenCutByTheNextAppend) {
  const testing::TempDir dir;
  const auto path = receipt_log_path(dir.path());
  ASSERT_TRUE(append_receipt(path, signed_receipt(1)));
  ASSERT_TRUE(append_receipt(path, signed_receipt(2)));
  Bytes bytes = read_bytes(path);
  const std::size_t whole = bytes.size();
  for (const std::size_t cut : {std::size_t{1}, std::size_t{9}, std::size_t{100}}) {
    write_bytes(path, Bytes(bytes.begin(), bytes.end() - static_cast<std::ptrdiff_t>(cut)));
    auto torn = read_receipt_log(path);
    ASSERT_TRUE(torn) << torn.error().message;
    EXPECT_EQ(torn->receipts.size(), 1u);
    EXPECT_TRUE(torn->torn_offset);
  }
  ASSERT_TRUE(append_receipt(path, signed_receipt(3)));
  auto log = read_receipt_log(path);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->receipts.size(), 2u);
  EXPECT_EQ(log->receipts[1].height, 3u);
  EXPECT_EQ(read_bytes(path).size(), whole);
}

TEST(ReceiptLog, DamageMidFileIsRefusedAndLeftAsItIs) {
  const testing::TempDir dir;
  const auto path = receipt_log_path(dir.path());
  ASSERT_TRUE(append_receipt(path, signed_receipt(1)));
  ASSERT_TRUE(append_receipt(path, signed_receipt(2)));
  Bytes bytes = read_bytes(path);
  bytes[40] ^= 1;  // inside the first receipt
  write_bytes(path, bytes);
  auto log = read_receipt_log(path);
  ASSERT_FALSE(log);
  EXPECT_EQ(log.error().kind, ErrorKind::kVerification);
  EXPECT_NE(log.error().message.find("receipt 0"), std::string::npos) << log.error().message;
  EXPECT_FALSE(append_receipt(path, signed_receipt(3)));
  EXPECT_EQ(read_bytes(path), bytes);
}

TEST(ReceiptLog, AHeaderCutShortAtCreationIsWrittenAgain) {
  const testing::TempDir dir;
  const auto path = receipt_log_path(dir.path());
  write_bytes(path, Bytes{'F', 'E', 'D'});
  ASSERT_TRUE(append_receipt(path, signed_receipt(1)));
  auto log = read_receipt_log(path);
  ASSERT_TRUE(log) << log.error().message;
  EXPECT_EQ(log->receipts.size(), 1u);
}

}  // namespace
}  // namespace fedchain::serve
