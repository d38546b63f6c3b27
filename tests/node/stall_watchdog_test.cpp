// StallWatchdog with a fake clock and a fake Liveness that plays the other ranks: when it
// probes, when it ends a wait, whom it names, who reports. The MPI side (the probes over
// MPI, MPI_Abort) runs in tests/cluster, where a node's link is cut mid-run.
#include "stall_watchdog.hpp"

#include <gtest/gtest.h>

#include <set>

namespace fedchain::node {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = StallWatchdog::Clock;

// The ranks in `alive` answer every probe at the next poll; the others never do.
class FakeLiveness final : public Liveness {
 public:
  FakeLiveness(std::set<int> alive, int* probes) : alive_(std::move(alive)), probes_(probes) {}
  void probe() override {
    ++*probes_;
    pending_ = true;
  }
  std::vector<int> poll() override {
    if (!pending_) return {};
    pending_ = false;
    return {alive_.begin(), alive_.end()};
  }

 private:
  std::set<int> alive_;
  int* probes_;
  bool pending_ = false;
};

struct Harness {
  Harness(int rank, std::set<int> alive, milliseconds timeout = seconds(20))
      : watchdog(timeout, rank, {"node0", "node0", "node1", "node1", "node2"},
                 std::make_unique<FakeLiveness>(std::move(alive), &probes),
                 [this](const Stall& s) { stalls.push_back(s); }) {}
  // Passes of a wait every 10 ms from `from` for `length`.
  void wait(const char* what, Clock::duration from, Clock::duration length) {
    for (auto t = from; t <= from + length; t += milliseconds(10)) {
      watchdog.waiting(what, start + t);
    }
  }
  int probes = 0;
  std::vector<Stall> stalls;
  StallWatchdog watchdog;
  Clock::time_point start = Clock::now();
};

TEST(StallWatchdog, WaitsShorterThanTheLimitNeitherProbeNorEnd) {
  Harness h(0, {1, 2, 3, 4});
  h.wait("MPI_Allreduce", seconds(0), seconds(9));
  h.watchdog.finished();
  // Back to back waits of the same collective, each shorter than the limit.
  for (int i = 0; i < 5; ++i) {
    h.wait("MPI_Allreduce", seconds(10 + 8 * i), seconds(7));
    h.watchdog.finished();
  }
  EXPECT_EQ(h.probes, 0);
  EXPECT_TRUE(h.stalls.empty());
}

TEST(StallWatchdog, ProbesHalfWayAndNamesTheRanksThatDoNotAnswer) {
  Harness h(0, {1, 4});
  h.watchdog.set_height(6);
  h.wait("MPI_Allreduce (weighted update sum)", seconds(0), seconds(9));
  EXPECT_EQ(h.probes, 0);
  h.wait("MPI_Allreduce (weighted update sum)", seconds(10), seconds(5));
  EXPECT_EQ(h.probes, 1);
  EXPECT_TRUE(h.stalls.empty());
  h.wait("MPI_Allreduce (weighted update sum)", milliseconds(15010), seconds(5));
  ASSERT_EQ(h.stalls.size(), 1u);
  const Stall& s = h.stalls[0];
  EXPECT_EQ(s.silent, (std::vector<int>{2, 3}));
  EXPECT_EQ(s.silent_hosts, "node1");
  EXPECT_EQ(s.reporter, 0);
  EXPECT_EQ(s.height, 6u);
  EXPECT_EQ(s.timeout_s, 20);
  EXPECT_NEAR(s.waited_s, 20.0, 0.02);
  EXPECT_NEAR(s.probe_s, 10.0, 0.02);
  const std::string text = s.message();
  EXPECT_NE(text.find("round 6: no progress for 20 s waiting in MPI_Allreduce (weighted update "
                      "sum); rank(s) 2, 3 (on node1) did not answer in 10 s"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("job.stall_timeout_s = 20"), std::string::npos) << text;
  EXPECT_NE(text.find("--resume"), std::string::npos) << text;
}

TEST(StallWatchdog, TheLowestRankStillHeardReportsTheOthersLater) {
  // Rank 3 hears rank 1: rank 1 reports at the limit, rank 3 only kGrace later.
  Harness h(3, {1, 2});
  h.wait("the vote (consensus)", seconds(0), seconds(20));
  EXPECT_TRUE(h.stalls.empty());
  h.wait("the vote (consensus)", milliseconds(20010), StallWatchdog::kGrace);
  ASSERT_EQ(h.stalls.size(), 1u);
  EXPECT_EQ(h.stalls[0].reporter, 1);
  EXPECT_EQ(h.stalls[0].silent, (std::vector<int>{0, 4}));
  EXPECT_EQ(h.stalls[0].silent_hosts, "node0, node2");
  EXPECT_EQ(h.stalls[0].message().find("setup: "), 0u);
}

TEST(StallWatchdog, ARankCutOffFromEveryOtherReportsForItself) {
  Harness h(2, {});
  h.wait("MPI_Allgather", seconds(0), seconds(20));
  ASSERT_EQ(h.stalls.size(), 1u);
  EXPECT_EQ(h.stalls[0].reporter, 2);
  EXPECT_EQ(h.stalls[0].silent, (std::vector<int>{0, 1, 3, 4}));
}

TEST(StallWatchdog, EveryRankAnsweringIsSaidSo) {
  Harness h(0, {1, 2, 3, 4});
  h.wait("the vote (consensus)", seconds(0), seconds(20));
  ASSERT_EQ(h.stalls.size(), 1u);
  EXPECT_TRUE(h.stalls[0].silent.empty());
  EXPECT_NE(h.stalls[0].message().find("every rank answers"), std::string::npos);
}

TEST(StallWatchdog, AnotherCollectiveOrAGapStartsANewWait) {
  Harness h(0, {});
  h.wait("MPI_Allgather", seconds(0), seconds(15));
  h.wait("MPI_Allreduce", milliseconds(15010), seconds(15));  // another wait: 15 s
  EXPECT_TRUE(h.stalls.empty());
  // A gap of over a second between passes (the rank trained): a new wait.
  h.wait("MPI_Allreduce", milliseconds(31500), seconds(15));
  EXPECT_TRUE(h.stalls.empty());
  EXPECT_EQ(h.probes, 3);
}

TEST(StallWatchdog, ZeroNeverEndsAWait) {
  Harness h(0, {}, milliseconds(0));
  h.wait("MPI_Allreduce", seconds(0), seconds(100));
  EXPECT_EQ(h.probes, 0);
  EXPECT_TRUE(h.stalls.empty());
}

TEST(StallWatchdog, WaitForWithoutAWatchdogIsMpiWait) {
  EXPECT_EQ(installed_watchdog(), nullptr);
  Harness h(0, {});
  {
    const InstalledWatchdog installed(&h.watchdog);
    EXPECT_EQ(installed_watchdog(), &h.watchdog);
  }
  EXPECT_EQ(installed_watchdog(), nullptr);
}

}  // namespace
}  // namespace fedchain::node
