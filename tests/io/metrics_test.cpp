#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "fedchain/core/cpu_level.hpp"
#include "fedchain/io/metrics.hpp"
#include "temp_dir.hpp"

namespace fedchain::io {
namespace {

std::vector<std::string> lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

MetricsRow row(std::uint64_t height) {
  MetricsRow r;
  r.height = height;
  r.round_s = 1.5;
  r.train_loss = 0.25;
  r.test_loss = std::nan("");
  r.test_acc = std::nan("");
  r.state_root = "ab";
  r.clipped = 7;
  r.block_hash = "cd";
  r.cohort = 3;
  r.samples_trained = 96;
  r.follower_messages = 1;
  r.follower_verifications = 2;
  r.validator_messages = 30;
  r.validator_verifications = 40;
  return r;
}

TEST(Metrics, WritesHeaderAndOneRowPerHeight) {
  testing::TempDir tmp;
  auto log = MetricsLog::create(tmp.path() / "m.csv", tmp.path() / "m.jsonl");
  ASSERT_TRUE(log) << log.error().message;
  ASSERT_TRUE(log->append(row(1)));
  ASSERT_TRUE(log->append(row(2)));
  const auto csv = lines(tmp.path() / "m.csv");
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv[0], MetricsLog::csv_header());
  EXPECT_EQ(csv[1].substr(0, 11), "1,1.500000,");
  EXPECT_NE(csv[1].find(",0.25,,,"), std::string::npos) << "NaN must be an empty cell: " << csv[1];
  const std::string kernels = cpu_level_name(cpu_level());
  EXPECT_EQ(csv[1].substr(csv[1].size() - 24 - kernels.size()),
            ",ab,7,cd,3,96,1,2,30,40," + kernels)
      << "state_root, clipped, block_hash, cohort, samples_trained, follower_messages, "
         "follower_verifications, validator_messages, validator_verifications, cpu_kernels";
  const auto jsonl = lines(tmp.path() / "m.jsonl");
  ASSERT_EQ(jsonl.size(), 2u);
  EXPECT_NE(jsonl[1].find("\"height\":2"), std::string::npos);
  EXPECT_NE(jsonl[1].find("\"test_acc\":null"), std::string::npos);
  EXPECT_NE(jsonl[1].find("\"block_hash\":\"cd\""), std::string::npos);
  EXPECT_NE(jsonl[1].find("\"clipped\":7"), std::string::npos);
  EXPECT_NE(jsonl[1].find("\"validator_verifications\":40"), std::string::npos);
  EXPECT_NE(jsonl[1].find("\"cpu_kernels\":\"" + kernels + "\""), std::string::npos);
}

TEST(Metrics, LastHeightIsTheLastRowsHeight) {
  testing::TempDir tmp;
  const auto csv = tmp.path() / "m.csv";
  EXPECT_FALSE(MetricsLog::last_height(csv)) << "no file";
  auto log = MetricsLog::create(csv, tmp.path() / "m.jsonl");
  ASSERT_TRUE(log);
  EXPECT_EQ(MetricsLog::last_height(csv), std::uint64_t{0}) << "a header alone";
  for (std::uint64_t h = 1; h <= 12; ++h) ASSERT_TRUE(log->append(row(h)));
  EXPECT_EQ(MetricsLog::last_height(csv), std::uint64_t{12});
  std::ofstream(csv, std::ios::app) << "x,1\n";
  EXPECT_FALSE(MetricsLog::last_height(csv)) << "a last row without a height";
}

TEST(Metrics, LastCellReadsTheLastRowUnderItsColumn) {
  testing::TempDir tmp;
  const auto csv = tmp.path() / "m.csv";
  EXPECT_FALSE(MetricsLog::last_cell(csv, "height")) << "no file";
  auto log = MetricsLog::create(csv, tmp.path() / "m.jsonl");
  ASSERT_TRUE(log);
  EXPECT_FALSE(MetricsLog::last_cell(csv, "height")) << "a header alone";
  for (std::uint64_t h = 1; h <= 3; ++h) ASSERT_TRUE(log->append(row(h)));
  EXPECT_EQ(MetricsLog::last_cell(csv, "height"), "3");
  EXPECT_EQ(MetricsLog::last_cell(csv, "cpu_kernels"), cpu_level_name(cpu_level()));
  EXPECT_FALSE(MetricsLog::last_cell(csv, "no_such_column"));
  std::ofstream(csv, std::ios::app) << "4,1\n";
  EXPECT_FALSE(MetricsLog::last_cell(csv, "cpu_kernels")) << "a short last row";
}

TEST(Metrics, ResumeDropsRowsPastTheChainTip) {
  testing::TempDir tmp;
  {
    auto log = MetricsLog::create(tmp.path() / "m.csv", tmp.path() / "m.jsonl");
    ASSERT_TRUE(log);
    for (std::uint64_t h = 1; h <= 5; ++h) ASSERT_TRUE(log->append(row(h)));
  }
  auto log = MetricsLog::resume(tmp.path() / "m.csv", tmp.path() / "m.jsonl", 3);
  ASSERT_TRUE(log) << log.error().message;
  ASSERT_TRUE(log->append(row(4)));
  const auto csv = lines(tmp.path() / "m.csv");
  ASSERT_EQ(csv.size(), 5u);  // header, 1, 2, 3, 4
  EXPECT_EQ(csv[4].substr(0, 2), "4,");
  EXPECT_EQ(lines(tmp.path() / "m.jsonl").size(), 4u);
}

TEST(Metrics, RowsCarryConsensusTraffic) {
  testing::TempDir tmp;
  auto log = MetricsLog::create(tmp.path() / "m.csv", tmp.path() / "m.jsonl");
  ASSERT_TRUE(log);
  MetricsRow r = row(1);
  r.bytes_sent = 100;
  r.consensus_messages = 42;
  r.consensus_bytes = 4321;
  ASSERT_TRUE(log->append(r));
  const auto csv = lines(tmp.path() / "m.csv");
  ASSERT_EQ(csv.size(), 2u);
  EXPECT_NE(csv[0].find(",bytes_sent,consensus_messages,consensus_bytes,"), std::string::npos);
  EXPECT_NE(csv[1].find(",100,42,4321,"), std::string::npos) << csv[1];
  const auto jsonl = lines(tmp.path() / "m.jsonl");
  EXPECT_NE(jsonl[0].find("\"consensus_messages\":42"), std::string::npos);
  EXPECT_NE(jsonl[0].find("\"consensus_bytes\":4321"), std::string::npos);
}

// A metrics.csv from before the consensus columns: resume keeps its rows under today's
// header, the new cells empty, so every row has as many cells as the header.
TEST(Metrics, ResumeRewritesAnOlderLayout) {
  testing::TempDir tmp;
  {
    std::ofstream old(tmp.path() / "m.csv");
    old << "height,round_s,train_s,quantize_s,hash_s,exchange_s,aggregate_s,consensus_s,store_s,"
           "eval_s,bytes_sent,train_loss,test_loss,test_acc,proposer,commit_round,state_root\n"
        << "1,1.0,0.5,0,0,0,0,0.1,0,0,800,0.9,,,2,0,aa\n"
        << "2,1.0,0.5,0,0,0,0,0.1,0,0,800,0.8,0.7,0.6,3,1,bb\n"
        << "3,1.0,0.5,0,0,0,0,0.1,0,0,800,0.7,,,0,0,cc\n";
    std::ofstream(tmp.path() / "m.jsonl") << "{\"height\":1}\n{\"height\":2}\n{\"height\":3}\n";
  }
  auto log = MetricsLog::resume(tmp.path() / "m.csv", tmp.path() / "m.jsonl", 2);
  ASSERT_TRUE(log) << log.error().message;
  ASSERT_TRUE(log->append(row(3)));
  const auto csv = lines(tmp.path() / "m.csv");
  ASSERT_EQ(csv.size(), 4u);  // header, 1, 2, 3
  EXPECT_EQ(csv[0], MetricsLog::csv_header());
  EXPECT_EQ(csv[2], "2,1.0,0.5,0,0,0,0,0.1,0,0,800,,,0.8,0.7,0.6,3,1,bb,,,,,,,,,");
  const auto cells = [](const std::string& line) {
    return std::count(line.begin(), line.end(), ',');
  };
  for (const auto& line : csv) EXPECT_EQ(cells(line), cells(csv[0])) << line;
}

TEST(Metrics, ResumeRefusesAColumnItNeverWrote) {
  testing::TempDir tmp;
  std::ofstream(tmp.path() / "m.csv") << "height,round_s,gpu_watts\n1,1.0,300\n";
  auto log = MetricsLog::resume(tmp.path() / "m.csv", tmp.path() / "m.jsonl", 1);
  ASSERT_FALSE(log);
  EXPECT_EQ(log.error().kind, ErrorKind::kConfig);
  EXPECT_NE(log.error().message.find("gpu_watts"), std::string::npos) << log.error().message;
  EXPECT_NE(log.error().message.find("m.csv"), std::string::npos);
}

// A damaged row is named by its line, with a short, printable excerpt of it, and the file is
// left as it was; "12abc" is no height.
TEST(Metrics, ResumeNamesADamagedRowByLineWithAPrintableExcerpt) {
  testing::TempDir tmp;
  const std::string garbage = "12abc,\x01\xff" + std::string(5000, 'z');
  const std::string file = MetricsLog::csv_header() + "\n1,1.0\n" + garbage + "\n";
  std::ofstream(tmp.path() / "m.csv") << file;
  auto log = MetricsLog::resume(tmp.path() / "m.csv", tmp.path() / "m.jsonl", 1);
  ASSERT_FALSE(log);
  EXPECT_EQ(log.error().kind, ErrorKind::kConfig);
  const std::string& message = log.error().message;
  EXPECT_NE(message.find("m.csv: line 3 does not start with a height ('12abc,\\x01\\xffzz"),
            std::string::npos)
      << message;
  EXPECT_LT(message.size(), 400u) << "the whole row was echoed";
  std::ostringstream kept;
  kept << std::ifstream(tmp.path() / "m.csv").rdbuf();
  EXPECT_EQ(kept.str(), file);
}

TEST(Metrics, AnEpsilonColumnOnlyWhenTheJobSpendsPrivacy) {
  testing::TempDir tmp;
  auto plain = MetricsLog::create(tmp.path() / "p.csv", tmp.path() / "p.jsonl");
  ASSERT_TRUE(plain);
  ASSERT_TRUE(plain->append(row(1)));
  EXPECT_EQ(lines(tmp.path() / "p.csv")[0].find("epsilon"), std::string::npos);
  EXPECT_EQ(lines(tmp.path() / "p.jsonl")[0].find("epsilon"), std::string::npos);

  auto log = MetricsLog::create(tmp.path() / "m.csv", tmp.path() / "m.jsonl", true);
  ASSERT_TRUE(log);
  MetricsRow first = row(1);
  first.epsilon = 0.123457;  // the voted value: whole millionths (ledger::epsilon_micro)
  ASSERT_TRUE(log->append(first));
  const auto csv = lines(tmp.path() / "m.csv");
  EXPECT_EQ(csv[0], MetricsLog::csv_header() + ",epsilon");
  EXPECT_EQ(csv[1].substr(csv[1].size() - 9), ",0.123457") << csv[1];
  EXPECT_NE(lines(tmp.path() / "m.jsonl")[0].find("\"epsilon\":0.123457"), std::string::npos);

  // A resumed run keeps the column and the rows up to the tip.
  auto resumed = MetricsLog::resume(tmp.path() / "m.csv", tmp.path() / "m.jsonl", 1, true);
  ASSERT_TRUE(resumed) << resumed.error().message;
  MetricsRow second = row(2);
  second.epsilon = 0.25;
  ASSERT_TRUE(resumed->append(second));
  const auto after = lines(tmp.path() / "m.csv");
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[1], csv[1]);
  EXPECT_EQ(after[2].substr(after[2].size() - 9), ",0.250000");
}

}  // namespace
}  // namespace fedchain::io
