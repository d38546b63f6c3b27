// The run audit as a report of fields: the primary, its replicas, and the one replica rule
// (the longest that verifies, the lowest rank among equals) that verify names and that a
// resumed run restores by.
#include <gtest/gtest.h>

#include "fedchain/audit/run_audit.hpp"
#include "fedchain/consensus/chain_validators.hpp"
#include "test_chain.hpp"

namespace fedchain::audit {
namespace {

using ledger::ChainStore;
using ledger::testing::TempDir;
using ledger::testing::TestChain;

// Rank `rank`'s copy of the first `heights` blocks (the primary's certificates: the audit
// compares blocks, never bytes).
void write_replica(const std::filesystem::path& run_dir, std::uint32_t rank, const TestChain& chain,
                   std::uint64_t heights) {
  auto store = ChainStore::create_file(ChainStore::replica_path(run_dir, rank), chain.genesis());
  ASSERT_TRUE(store) << store.error().message;
  for (std::uint64_t h = 0; h < heights; ++h) {
    const auto& b = chain.blocks()[h];
    ASSERT_TRUE(store->append(b.block, b.certificate));
  }
}

// Flips a byte in the middle of record `height` of a chain file.
void damage(const std::filesystem::path& file, std::uint64_t height) {
  auto store = ChainStore::open_file(file, ledger::OpenMode::kReadOnly);
  ASSERT_TRUE(store) << store.error().message;
  const std::uint64_t at = store->at(height).offset + 40;
  Bytes bytes = ledger::testing::read_bytes(file);
  bytes[at] ^= 0x20;
  ledger::testing::write_bytes(file, bytes);
}

class RunAuditTest : public ::testing::Test {
 protected:
  RunAuditTest() {
    for (int i = 0; i < 4; ++i) chain.add_block();
    chain.write(dir.path());
  }
  TempDir dir;
  TestChain chain{{.proposer_rule = consensus::proposer_of}};
};

TEST_F(RunAuditTest, AVerifiedRunListsEachReplicaAgainstThePrimary) {
  write_replica(dir.path(), 1, chain, 4);
  write_replica(dir.path(), 2, chain, 3);
  const RunReport report = audit_run(dir.path());
  ASSERT_TRUE(report.ok()) << report.chain.error->message;
  EXPECT_EQ(report.outcome(), Outcome::kVerifies);
  EXPECT_EQ(report.unplaced_error(), nullptr);
  EXPECT_EQ(report.chain.height, 4u);
  EXPECT_EQ(report.chain.blocks_verified, 4u);
  EXPECT_EQ(report.aggregates.kind, AggregateSummary::Kind::kNotArchived);
  ASSERT_EQ(report.replicas.size(), 2u);
  EXPECT_EQ(report.replicas[0].shown, "chain/replicas/rank-0001/blocks.log");
  EXPECT_EQ(report.replicas[0].height(), 4u);
  EXPECT_EQ(report.replicas[1].height(), 3u);
  EXPECT_FALSE(report.restore_from);
}

TEST_F(RunAuditTest, ADamagedPrimaryNamesTheLongestReplicaThatVerifies) {
  write_replica(dir.path(), 1, chain, 3);
  write_replica(dir.path(), 2, chain, 4);
  write_replica(dir.path(), 3, chain, 4);
  damage(ChainStore::log_path(dir.path()), 2);
  const RunReport report = audit_run(dir.path());
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.outcome(), Outcome::kChainFails);
  EXPECT_TRUE(report.chain_file_failed);
  EXPECT_EQ(report.chain.bad_height, 2u);
  ASSERT_TRUE(report.restore_from);
  EXPECT_EQ(report.replicas[*report.restore_from].shown, "chain/replicas/rank-0002/blocks.log")
      << "the longest, and the lowest rank among equals";
  EXPECT_FALSE(report.replicas_disagree);
}

TEST_F(RunAuditTest, ALongerReplicaThatDoesNotVerifyIsNotTheOneToRestoreFrom) {
  write_replica(dir.path(), 1, chain, 3);
  write_replica(dir.path(), 2, chain, 4);
  damage(ChainStore::replica_path(dir.path(), 2), 3);
  std::filesystem::remove(ChainStore::log_path(dir.path()));
  const RunReport report = audit_run(dir.path());
  EXPECT_FALSE(report.primary_exists);
  EXPECT_EQ(report.outcome(), Outcome::kPrimaryMissing);
  EXPECT_FALSE(report.replicas[1].ok());
  EXPECT_EQ(report.replicas[1].bad_height, 3u);
  ASSERT_TRUE(report.restore_from);
  EXPECT_EQ(*report.restore_from, 0u);
  const ReplicaCheck* chosen = longest_verified(report.replicas);
  ASSERT_NE(chosen, nullptr);
  EXPECT_EQ(chosen->height(), 3u);
}

TEST_F(RunAuditTest, AReplicaOfAnotherChainFailsAsAMismatch) {
  TestChain other({.seed = 8, .proposer_rule = consensus::proposer_of});
  for (int i = 0; i < 4; ++i) other.add_block();
  write_replica(dir.path(), 1, other, 4);
  const RunReport report = audit_run(dir.path());
  EXPECT_TRUE(report.chain.ok());
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.outcome(), Outcome::kReplicaFails);
  ASSERT_EQ(report.replicas.size(), 1u);
  ASSERT_TRUE(report.replicas[0].error);
  EXPECT_EQ(report.replicas[0].error->code, "replica-mismatch");
  EXPECT_EQ(report.replicas[0].bad_height, 0u);
}

// No height to name: an error, not a verdict on the chain (verify exits by its kind).
TEST_F(RunAuditTest, AMissingRunIsAnErrorNotAVerdict) {
  const RunReport report = audit_run(dir.path() / "nope");
  EXPECT_EQ(report.outcome(), Outcome::kError);
  ASSERT_NE(report.unplaced_error(), nullptr);
  EXPECT_NE(report.unplaced_error()->message.find("a run directory?"), std::string::npos)
      << report.unplaced_error()->message;
}

}  // namespace
}  // namespace fedchain::audit
