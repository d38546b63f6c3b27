// check_receipts (what `fedchain verify` runs on receipts.log) against a real signed chain:
// a receipt passes only when it is signed and names this chain, a committed height and the
// state root committed there; each failure names its receipt and reason code.
#include <gtest/gtest.h>

#include "fedchain/serve/predict.hpp"
#include "fedchain/serve/receipt_log.hpp"
#include "test_chain.hpp"

namespace fedchain::serve {
namespace {

class ReceiptChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int h = 0; h < 3; ++h) chain_.add_block();
    chain_.write(dir_.path());
  }
  // A receipt of the model at `height`, as predict makes it, signed by a predictor key.
  Receipt at(std::uint64_t height) const {
    Receipt r;
    r.chain_id = chain_.genesis().chain_id();
    r.height = height;
    r.state_root = height == 0 ? chain_.genesis().fields().initial_state_root
                               : chain_.blocks()[height - 1].block.header().state_root;
    r.split = "test";
    r.samples = 10;
    r.architecture = "{}";
    return r;
  }
  void append(Receipt r, bool sign = true) {
    if (sign) r.sign(crypto::SigningKey::from_seed(crypto::KeySeed{9}));
    ASSERT_TRUE(append_receipt(receipt_log_path(dir_.path()), r));
  }
  std::string failure_code() {
    auto checked = check_receipts(dir_.path());
    if (checked) return "none";
    EXPECT_EQ(checked.error().kind, ErrorKind::kVerification);
    EXPECT_NE(checked.error().message.find("receipt 2"), std::string::npos)
        << checked.error().message;
    return checked.error().code;
  }

  ledger::testing::TestChain chain_;
  ledger::testing::TempDir dir_;
};

TEST_F(ReceiptChainTest, ReceiptsOfCommittedRootsPass) {
  auto none = check_receipts(dir_.path());
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0u);
  append(at(0));
  append(at(2));
  append(at(3));
  auto checked = check_receipts(dir_.path());
  ASSERT_TRUE(checked) << checked.error().message;
  EXPECT_EQ(*checked, 3u);
}

TEST_F(ReceiptChainTest, ARootTheChainDidNotCommitAtThatHeightFails) {
  append(at(1));
  append(at(3));
  Receipt wrong = at(2);
  wrong.state_root = at(3).state_root;
  append(wrong);
  EXPECT_EQ(failure_code(), "receipt-state-root");
}

TEST_F(ReceiptChainTest, AHeightBeyondTheTipFails) {
  append(at(1));
  append(at(2));
  Receipt beyond = at(3);
  beyond.height = 4;
  append(beyond);
  EXPECT_EQ(failure_code(), "beyond-tip");
}

TEST_F(ReceiptChainTest, AnotherChainsReceiptFails) {
  append(at(1));
  append(at(2));
  Receipt other = at(3);
  other.chain_id.bytes[0] ^= 1;
  append(other);
  EXPECT_EQ(failure_code(), "wrong-chain");
}

TEST_F(ReceiptChainTest, AReceiptSignedOverOtherFieldsFails) {
  append(at(1));
  append(at(2));
  Receipt r = at(3);
  r.sign(crypto::SigningKey::from_seed(crypto::KeySeed{9}));
  r.samples = 11;
  append(r, /*sign=*/false);
  EXPECT_EQ(failure_code(), "bad-signature");
}

}  // namespace
}  // namespace fedchain::serve
