// `fedchain keygen`, `fedchain verify` and `fedchain inspect` end to end: the real binary
// on real signed chains (test_chain.hpp), good, tampered and torn.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "fedchain/consensus/chain_validators.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/io/checkpoint.hpp"
#include "fedchain/ledger/chain_store.hpp"
#include "fedchain/ledger/crc32c.hpp"
#include "test_chain.hpp"

namespace fedchain::ledger {
namespace {

using testing::TempDir;
using testing::TestChain;
using testing::TestChainOptions;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CommandResult fedchain(const std::string& args) {
  const std::string command = std::string(FEDCHAIN_BINARY) + " " + args + " 2>&1";
  CommandResult run;
  FILE* pipe = ::popen(command.c_str(), "r");
  char buffer[4096];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) run.output += buffer;
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

const TestChainOptions kCliChain = {
    .validators = 4, .powers = {1, 2, 1, 1}, .proposer_rule = consensus::proposer_of};

// The three heights every CliTest chain starts with; TestChain is deterministic, so two
// chains built by this hold the same genesis and the same blocks.
void add_three_blocks(TestChain& chain) {
  chain.add_block();
  chain.add_block({.round = 1, .rejected_clients = {3}});
  chain.add_block({.evidence = {chain.make_evidence(2, 2)}});
}

// Rank `rank`'s replica (ledger.replicas) of the first `heights` blocks of `chain`. Each
// block is certified by the precommits of validators 0, 1 and 3 (a quorum under powers
// 1 2 1 1) rather than the primary's, as a replica rank certifies with the votes it saw.
std::filesystem::path write_replica(const std::filesystem::path& run_dir, std::uint32_t rank,
                                    const TestChain& chain, std::size_t heights) {
  const auto path = ChainStore::replica_path(run_dir, rank);
  auto store = ChainStore::create_file(path, chain.genesis());
  if (!store) throw std::runtime_error(store.error().message);
  for (std::size_t i = 0; i < heights; ++i) {
    const StoredBlock& stored = chain.blocks().at(i);
    const auto certificate = chain.certify(stored.block, stored.certificate.round(), {0, 1, 3});
    if (auto st = store->append(stored.block, certificate); !st) {
      throw std::runtime_error(st.error().message);
    }
  }
  return path;
}

// Flips one payload bit of the record at `height` of a chain file (its checksum then fails)
// and returns the file's new bytes.
Bytes flip_record_bit(const std::filesystem::path& path, std::uint64_t height) {
  Bytes file = testing::read_bytes(path);
  auto store = ChainStore::parse(file, path.string());
  if (!store) throw std::runtime_error(store.error().message);
  file[store->at(height).offset + 40] ^= 0x04;
  testing::write_bytes(path, file);
  return file;
}

class CliTest : public ::testing::Test {
 protected:
  CliTest() : chain(kCliChain) {
    add_three_blocks(chain);
    chain.write(dir.path());
    log = ChainStore::log_path(dir.path());
  }
  TempDir dir;
  TestChain chain;
  std::filesystem::path log;
};

TEST_F(CliTest, VerifyAcceptsAGoodChain) {
  const CommandResult run = fedchain("verify " + dir.path().string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output.rfind("OK: ", 0), 0u) << run.output;
  EXPECT_NE(run.output.find("3 blocks"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("jailed: 2"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("replicas     none"), std::string::npos) << run.output;
}

TEST_F(CliTest, VerifyAcceptsAReplicaWithItsOwnCertificates) {
  const auto replica = write_replica(dir.path(), 1, chain, 3);
  ASSERT_NE(testing::read_bytes(replica), testing::read_bytes(log));
  const CommandResult run = fedchain("verify " + dir.path().string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output.rfind("OK: ", 0), 0u) << run.output;
  EXPECT_NE(run.output.find("  replica      chain/replicas/rank-0001/blocks.log: height 3, agrees"),
            std::string::npos)
      << run.output;
  EXPECT_EQ(run.output.find("replicas     none"), std::string::npos) << run.output;
}

TEST_F(CliTest, VerifySaysAReplicaIsBehindAndShowsItsTornTail) {
  const auto replica = write_replica(dir.path(), 2, chain, 3);
  const Bytes file = testing::read_bytes(replica);
  testing::write_bytes(replica, ByteView(file.data(), file.size() - 10));
  const CommandResult run = fedchain("verify " + dir.path().string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("chain/replicas/rank-0002/blocks.log: height 2, 1 behind (a resumed "
                            "run appends the rest)"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("torn tail at height 3"), std::string::npos) << run.output;
  EXPECT_EQ(testing::read_bytes(replica).size(), file.size() - 10);
}

TEST_F(CliTest, VerifySaysAReplicaIsAheadWithTheHeightsOnlyItHolds) {
  chain.add_block();  // height 4: committed, but the primary's append never reached disk
  write_replica(dir.path(), 1, chain, 4);
  const CommandResult run = fedchain("verify " + dir.path().string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("3 blocks"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("chain/replicas/rank-0001/blocks.log: height 4, 1 ahead: height 4 is "
                            "only here (a resumed run restores it to blocks.log)"),
            std::string::npos)
      << run.output;
}

TEST_F(CliTest, VerifyRefusesAReplicaWithAnotherBlockAtACommonHeight) {
  TestChain other(kCliChain);  // the same genesis; a different model at height 2
  other.add_block();
  other.add_block({.round = 1, .rejected_clients = {3}, .state_root = Hash32{}});
  ASSERT_EQ(other.blocks()[0].block.hash(), chain.blocks()[0].block.hash());
  write_replica(dir.path(), 1, chain, 3);
  const auto replica = write_replica(dir.path(), 3, other, 2);
  const CommandResult run = fedchain("verify " + dir.path().string());
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_EQ(run.output.rfind("FAILED: " + replica.string() + ": height 2: ", 0), 0u) << run.output;
  EXPECT_NE(run.output.find("[replica-mismatch]"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("rank-0001/blocks.log: height 3, agrees"), std::string::npos)
      << run.output;
}

TEST_F(CliTest, VerifyRefusesReplicasThatDisagreePastThePrimarysEnd) {
  TestChain other(kCliChain);
  add_three_blocks(other);
  chain.add_block();
  other.add_block({.state_root = Hash32{}});
  write_replica(dir.path(), 1, chain, 4);
  const auto replica = write_replica(dir.path(), 2, other, 4);
  const CommandResult run = fedchain("verify " + dir.path().string());
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_EQ(run.output.rfind("FAILED: " + replica.string() + ": height 4: ", 0), 0u) << run.output;
  EXPECT_NE(run.output.find("chain/replicas/rank-0001/blocks.log holds there"), std::string::npos)
      << run.output;
}

TEST_F(CliTest, VerifyNamesAReplicaWithAFlippedByte) {
  const auto replica = write_replica(dir.path(), 1, chain, 3);
  const Bytes file = flip_record_bit(replica, 2);
  const CommandResult run = fedchain("verify " + dir.path().string());
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_EQ(run.output.rfind("FAILED: " + replica.string() + ": height 2: ", 0), 0u) << run.output;
  EXPECT_NE(run.output.find("[bad-crc]"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("primary      chain/blocks.log verifies: height 3"), std::string::npos)
      << run.output;
  EXPECT_EQ(testing::read_bytes(replica), file);
}

TEST_F(CliTest, VerifyNamesTheLongestReplicaWhenThePrimaryIsMissing) {
  write_replica(dir.path(), 1, chain, 2);
  write_replica(dir.path(), 2, chain, 3);
  std::filesystem::remove(log);
  const CommandResult run = fedchain("verify " + dir.path().string());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("is missing but 2 replica(s) of it exist"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("rank-0001/blocks.log: height 2, verifies"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("restore      copy chain/replicas/rank-0002/blocks.log (height 3, the "
                            "longest replica that verifies) to chain/blocks.log"),
            std::string::npos)
      << run.output;
  EXPECT_FALSE(std::filesystem::exists(log));
}

TEST_F(CliTest, VerifyOfADamagedPrimaryNamesAReplicaThatVerifies) {
  write_replica(dir.path(), 1, chain, 3);
  const auto damaged = write_replica(dir.path(), 2, chain, 3);
  Bytes replica_file = testing::read_bytes(damaged);
  replica_file[100] ^= 0x01;  // inside genesis
  testing::write_bytes(damaged, replica_file);
  flip_record_bit(log, 2);
  const CommandResult run = fedchain("verify " + dir.path().string());
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_EQ(run.output.rfind("FAILED: " + dir.path().string() + ": height 2:", 0), 0u)
      << run.output;
  EXPECT_NE(run.output.find("rank-0002/blocks.log: fails at height 0:"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("restore      move chain/blocks.log aside, copy "
                            "chain/replicas/rank-0001/blocks.log (height 3,"),
            std::string::npos)
      << run.output;
}

TEST_F(CliTest, VerifyNamesTheHeightOfAFlippedByte) {
  flip_record_bit(log, 2);
  const CommandResult run = fedchain("verify " + dir.path().string());
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_EQ(run.output.rfind("FAILED: ", 0), 0u) << run.output;
  EXPECT_NE(run.output.find(": height 2:"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("[bad-crc]"), std::string::npos) << run.output;
}

TEST_F(CliTest, VerifyCatchesAForgedSignatureWithAFixedChecksum) {
  Bytes file = testing::read_bytes(log);
  auto store = ChainStore::parse(file, "chain");
  ASSERT_TRUE(store);
  const std::size_t start = store->at(3).offset;
  const std::size_t end = file.size();
  file[end - 1] ^= 0x01;  // the last byte of the last precommit signature
  const std::uint32_t crc = crc32c(ByteView(file.data() + start + 8, end - start - 8));
  for (int k = 0; k < 4; ++k) file[start + 4 + k] = static_cast<std::uint8_t>(crc >> 8 * k);
  testing::write_bytes(log, file);
  const CommandResult run = fedchain("verify " + dir.path().string());
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_NE(run.output.find(": height 3:"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("[bad-precommit-signature]"), std::string::npos) << run.output;
}

TEST_F(CliTest, VerifyReportsATornTailAndLeavesTheFileAlone) {
  const Bytes file = testing::read_bytes(log);
  testing::write_bytes(log, ByteView(file.data(), file.size() - 10));
  const CommandResult run = fedchain("verify " + dir.path().string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("torn tail    height 3"), std::string::npos) << run.output;
  EXPECT_EQ(testing::read_bytes(log).size(), file.size() - 10);
}

TEST_F(CliTest, VerifyOfAMissingRunIsAUsageError) {
  const CommandResult run = fedchain("verify " + (dir.path() / "nope").string());
  EXPECT_EQ(run.exit_code, 2) << run.output;
}

TEST_F(CliTest, InspectPrintsATableAndJson) {
  const CommandResult table = fedchain("inspect " + dir.path().string());
  EXPECT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find(chain.blocks()[2].block.hash().short_hex()), std::string::npos);
  EXPECT_NE(table.output.find("trimmed_mean"), std::string::npos);

  const CommandResult json = fedchain("inspect --json " + dir.path().string());
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const auto rows = nlohmann::json::parse(json.output);
  ASSERT_EQ(rows.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& b = chain.blocks()[i];
    EXPECT_EQ(rows[i]["height"], i + 1);
    EXPECT_EQ(rows[i]["hash"], b.block.hash().hex());
    EXPECT_EQ(rows[i]["prev_hash"], b.block.header().prev_hash.hex());
    EXPECT_EQ(rows[i]["proposer"], b.block.header().proposer);
    EXPECT_EQ(rows[i]["state_root"], b.block.header().state_root.hex());
    ASSERT_EQ(rows[i]["txs"].size(), b.block.txs().size());
    for (std::size_t t = 0; t < b.block.txs().size(); ++t) {
      const auto& tx = b.block.txs()[t];
      EXPECT_EQ(rows[i]["txs"][t]["client"], tx.client());
      EXPECT_EQ(rows[i]["txs"][t]["rank"], tx.rank());
      EXPECT_EQ(rows[i]["txs"][t]["weight"], tx.weight());
      EXPECT_EQ(rows[i]["txs"][t]["update_root"], tx.update_root().hex());
    }
    EXPECT_EQ(rows[i]["round"], b.certificate.round());
    EXPECT_EQ(rows[i]["evidence"].size(), b.block.evidence().size());
  }
  // Block 3 holds evidence against validator 2 at height 2.
  ASSERT_EQ(rows[2]["evidence"].size(), 1u);
  EXPECT_EQ(rows[2]["evidence"][0]["validator"], 2);
  EXPECT_EQ(rows[2]["evidence"][0]["type"], "precommit");
  EXPECT_NE(table.output.find("evidence in block 3: validator 2 signed two precommits at height 2"),
            std::string::npos)
      << table.output;
}

// One block whole: block 3 holds evidence against validator 2, which jails it.
TEST_F(CliTest, InspectHeightShowsOneBlockWholeWithItsStateChanges) {
  const StoredBlock& third = chain.blocks()[2];
  const CommandResult table = fedchain("inspect --height 3 " + dir.path().string());
  ASSERT_EQ(table.exit_code, 0) << table.output;
  for (const std::string& expected :
       {third.block.hash().hex(), third.block.header().state_root.hex(),
        third.block.header().chain_state_hash.hex(), chain.state().hash().hex(),
        std::string("validator 2 signed two precommits at height 2"),
        std::string("validator 2: power 1 -> 1, jailed false -> true"),
        to_hex(third.block.txs()[0].signature().view())}) {
    EXPECT_NE(table.output.find(expected), std::string::npos) << expected << "\n" << table.output;
  }

  const CommandResult json = fedchain("inspect --json --height 2 " + dir.path().string());
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const auto block = nlohmann::json::parse(json.output);
  const StoredBlock& second = chain.blocks()[1];
  EXPECT_EQ(block["hash"], second.block.hash().hex());
  EXPECT_EQ(block["header"]["height"], 2);
  EXPECT_EQ(block["header"]["rejected_clients"], std::vector<std::uint32_t>{3});
  EXPECT_EQ(block["certificate"]["round"], 1);
  std::vector<std::uint32_t> signers;
  for (const auto& s : second.certificate.signatures()) signers.push_back(s.validator);
  EXPECT_EQ(block["certificate"]["signers"], signers);
  ASSERT_EQ(block["txs"].size(), second.block.txs().size());
  EXPECT_EQ(block["txs"][3]["rejected"], true);
  EXPECT_EQ(block["txs"][3]["signature"], to_hex(second.block.txs()[3].signature().view()));
  // Client 3's update was rejected: rank 3's streak and rejected count move, nobody is jailed.
  const auto& validators = block["state_change"]["validators"];
  ASSERT_EQ(validators.size(), 1u);
  EXPECT_EQ(validators[0]["validator"], 3);
  EXPECT_EQ(validators[0]["after"]["rejected_streak"], 1);
  EXPECT_EQ(validators[0]["after"]["jailed"], false);
  EXPECT_EQ(block["state_change"]["contributions"][3]["after"]["updates_rejected"], 1);
  EXPECT_EQ(block["state_change"]["contributions"][0]["after"]["updates_accepted"], 2);
}

TEST_F(CliTest, InspectHeightPastTheTipNamesTheTip) {
  const CommandResult past = fedchain("inspect --height 4 " + dir.path().string());
  EXPECT_EQ(past.exit_code, 2) << past.output;
  EXPECT_NE(past.output.find("no block at height 4: the chain's tip is height 3"),
            std::string::npos)
      << past.output;
  const CommandResult genesis = fedchain("inspect --height 0 --json " + dir.path().string());
  EXPECT_EQ(genesis.exit_code, 2) << genesis.output;
  EXPECT_NE(genesis.output.find("height 0 is genesis"), std::string::npos) << genesis.output;
}

// Checkpoints are checked against the block they name: its hash and its state root.
TEST(VerifyCli, ChecksCheckpointsAgainstTheirBlock) {
  TempDir dir;
  std::vector<float> params(70000);
  for (std::size_t i = 0; i < params.size(); ++i) params[i] = 0.001f * static_cast<float>(i);
  const ByteView param_bytes(reinterpret_cast<const std::uint8_t*>(params.data()),
                             params.size() * sizeof(float));
  const Hash32 root = crypto::merkle_root(param_bytes, 65536);
  TestChain chain({.proposer_rule = consensus::proposer_of});
  chain.add_block();
  chain.add_block({.state_root = root});
  chain.write(dir.path());
  const auto& block = chain.blocks()[1].block;
  const io::CheckpointMeta meta{2, root, block.hash(), chain.genesis().chain_id()};
  const io::TensorView tensor{"w", {70000}, params};
  const auto path = dir.path() / "checkpoints" / "height-00000002.h5";
  std::filesystem::create_directories(path.parent_path());
  ASSERT_TRUE(io::write_checkpoint(path, meta, {&tensor, 1}));
  const CommandResult good = fedchain("verify " + dir.path().string());
  EXPECT_EQ(good.exit_code, 0) << good.output;
  EXPECT_NE(good.output.find("1 checkpoints"), std::string::npos) << good.output;

  params[12345] += 1.0f;  // a model that is not the one the block committed to
  ASSERT_TRUE(io::write_checkpoint(path, meta, {&tensor, 1}));
  const CommandResult bad = fedchain("verify " + dir.path().string());
  EXPECT_EQ(bad.exit_code, 3) << bad.output;
  EXPECT_NE(bad.output.find(": height 2:"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("[checkpoint-state-root]"), std::string::npos) << bad.output;
}

TEST(KeygenCli, WritesOwnerOnlyKeysAndRefusesToOverwrite) {
  TempDir dir;
  const auto out = dir.path() / "keys";
  const CommandResult run = fedchain("keygen --ranks 3 --out " + out.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  for (int r = 0; r < 3; ++r) {
    struct stat st {};
    ASSERT_EQ(::stat((out / ("rank-" + std::to_string(r) + ".key")).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  EXPECT_TRUE(std::filesystem::exists(out / "public-keys.txt"));
  EXPECT_EQ(fedchain("keygen --ranks 3 --out " + out.string()).exit_code, 2);
  EXPECT_EQ(fedchain("keygen --ranks 0 --out " + out.string()).exit_code, 2);
}

}  // namespace
}  // namespace fedchain::ledger
