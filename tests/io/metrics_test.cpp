#include <cmath>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "fedchain/io/metrics.hpp"
#include "test_dir.hpp"

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
  const auto jsonl = lines(tmp.path() / "m.jsonl");
  ASSERT_EQ(jsonl.size(), 2u);
  EXPECT_NE(jsonl[1].find("\"height\":2"), std::string::npos);
  EXPECT_NE(jsonl[1].find("\"test_acc\":null"), std::string::npos);
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

}  // namespace
}  // namespace fedchain::io
