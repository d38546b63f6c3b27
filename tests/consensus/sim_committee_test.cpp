// The committee matrix (issue 16): n = 10 validators, a committee of c in {4, 7} elected by
// stake every 3 heights, 15 heights (the first committee and 4 elections), f = floor((c-1)/3)
// Byzantine members, every behaviour times every network mix. The simulator builds each
// height's validator set from the committee as chain state does (simulator.hpp); validators
// off the committee follow through certified blocks. A failure prints the scenario line;
// FEDCHAIN_SIM_REPLAY='<line>' consensus_sim_test --gtest_filter=Replay.* re-runs it.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "fake_crypto.hpp"
#include "simulator.hpp"

namespace fedchain::consensus::sim {
namespace {

constexpr std::uint32_t kValidators = 10;
constexpr std::uint64_t kEpoch = 3;
constexpr std::uint64_t kHeights = 15;
constexpr std::uint64_t kCommittees = kHeights / kEpoch;  // the first, then 4 elections

constexpr Behaviour kBehaviours[] = {Behaviour::kNone,
                                     Behaviour::kEquivocatingProposer,
                                     Behaviour::kDoubleVote,
                                     Behaviour::kWithholdVotes,
                                     Behaviour::kInvalidVote,
                                     Behaviour::kWrongStateRoot,
                                     Behaviour::kForgeSignatures,
                                     Behaviour::kReplayOldMessages,
                                     Behaviour::kSilent,
                                     Behaviour::kMixed};
constexpr NetworkMix kMixes[] = {NetworkMix::kCalm, NetworkMix::kJitter, NetworkMix::kLossy,
                                 NetworkMix::kPartition};

std::uint64_t seeds_per_cell() {
  if (const char* text = std::getenv("FEDCHAIN_SIM_COMMITTEE_SEEDS")) return std::stoull(text);
  return 16;  // 2 committee sizes x 4 mixes x 10 behaviours x 16 seeds = 1,280 schedules
}

// Odd seeds: every stake 1. Even seeds: stakes of 1 to 3, three validators at 1 (the
// Byzantine members hold the smallest stake, simulator.hpp).
std::vector<std::uint64_t> stakes_for(std::uint64_t seed) {
  std::vector<std::uint64_t> stakes(kValidators, 1);
  if (seed % 2 == 1) return stakes;
  for (std::uint32_t i = 0; i < kValidators; ++i) stakes[i] = 1 + mix64(seed * 64 + i) % 3;
  for (std::uint64_t k = 0; k < 3; ++k) stakes[(seed + 3 * k) % kValidators] = 1;
  return stakes;
}

Scenario committee_scenario(std::uint32_t committee, Behaviour behaviour, NetworkMix mix,
                            std::uint64_t seed) {
  Scenario s;
  s.n = kValidators;
  s.behaviour = behaviour;
  s.mix = mix;
  s.seed = seed;
  s.byzantine = (committee - 1) / 3;
  s.heights = kHeights;
  s.committee = committee;
  s.epoch = kEpoch;
  s.stakes = stakes_for(seed);
  return s;
}

std::string replay_hint(const Scenario& s) {
  return fmt::format("replay: FEDCHAIN_SIM_REPLAY='{}' consensus_sim_test --gtest_filter=Replay.*",
                     describe(s));
}

// What one schedule must show besides the simulator's own checks: the bound was kept, every
// committee was elected, and the followers committed through shared blocks.
std::string committee_failure(const Scenario& s, const Report& r) {
  if (!r.ok) return r.failure;
  if (r.byzantine_third_heights > 0) {
    return fmt::format("the Byzantine members held 1/3 of the power at {} heights",
                       r.byzantine_third_heights);
  }
  if (r.elections < kCommittees) {
    return fmt::format("{} committees decided their first height, not {}", r.elections,
                       kCommittees);
  }
  if (r.follower_commits == 0) return "no follower committed a shared block";
  if (s.behaviour != Behaviour::kNone && r.byzantine_seats == 0) {
    return "no Byzantine validator sat on a committee";
  }
  return {};
}

struct Cell {
  std::uint32_t committee;
  NetworkMix mix;
};

struct Totals {
  std::uint64_t runs = 0, deliveries = 0, seats = 0, on_and_off = 0, follower_commits = 0,
                early_refused = 0, evidence = 0, shared_refused = 0;
  std::uint32_t max_after_heal = 0;
  std::uint64_t max_jail_delay = 0;
  int failures = 0;
};

class CommitteeMatrix : public ::testing::TestWithParam<Cell> {};

TEST_P(CommitteeMatrix, SafeAndLiveAcrossElections) {
  const Cell cell = GetParam();
  const auto started = std::chrono::steady_clock::now();
  Totals t;
  for (Behaviour behaviour : kBehaviours) {
    for (std::uint64_t seed = 1; seed <= seeds_per_cell(); ++seed) {
      const Scenario s = committee_scenario(cell.committee, behaviour, cell.mix, seed);
      const Report r = run_scenario(s);
      ++t.runs;
      t.deliveries += r.deliveries;
      t.seats += r.byzantine_seats;
      t.on_and_off += r.byzantine_on_and_off;
      t.follower_commits += r.follower_commits;
      t.shared_refused += r.shared_refused;
      t.early_refused += r.early_refused;
      t.evidence += r.evidence_committed;
      t.max_after_heal = std::max(t.max_after_heal, r.max_rounds_after_heal);
      t.max_jail_delay = std::max(t.max_jail_delay, r.max_jail_delay);
      const std::string failure = committee_failure(s, r);
      if (!failure.empty() && ++t.failures <= 5) {
        ADD_FAILURE() << describe(s) << "\n" << failure << "\n" << replay_hint(s);
      }
    }
  }
  EXPECT_GT(t.on_and_off, 0u) << "no Byzantine validator was elected in some epochs and not others";
  EXPECT_GT(t.shared_refused, 0u) << "no follower was shown a forged certificate";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "c=" << cell.committee << " mix=" << name(cell.mix) << ": " << t.runs
            << " schedules, " << t.failures << " failed, " << t.deliveries << " deliveries, "
            << t.seats << " Byzantine seats, " << t.on_and_off
            << " Byzantine validators on and off, " << t.follower_commits << " follower commits, "
            << t.shared_refused << " forged certificates refused, " << t.evidence
            << " evidence committed, max heights from equivocation to jailing " << t.max_jail_delay
            << ", " << t.early_refused << " next-height messages refused, max rounds after heal "
            << t.max_after_heal << ", " << seconds << " s\n";
}

std::string cell_name(const ::testing::TestParamInfo<Cell>& info) {
  return fmt::format("C{}_{}", info.param.committee, name(info.param.mix));
}

std::vector<Cell> all_cells() {
  std::vector<Cell> cells;
  for (std::uint32_t committee : {4u, 7u}) {
    for (NetworkMix mix : kMixes) cells.push_back({committee, mix});
  }
  return cells;
}

INSTANTIATE_TEST_SUITE_P(Sim, CommitteeMatrix, ::testing::ValuesIn(all_cells()), cell_name);

// f + 1 colluding members of a committee of 3f + 1 (equal stakes, the first proposer among
// them) split the honest members: the checker must see that fork.
TEST(CommitteeFork, FPlusOneColludingMembersAreCaughtForking) {
  for (std::uint32_t committee : {4u, 7u}) {
    int forks = 0;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      Scenario s = committee_scenario(committee, Behaviour::kColludeFork, NetworkMix::kCalm, seed);
      s.stakes.assign(kValidators, 1);
      s.byzantine = (committee - 1) / 3 + 1;
      const Report r = run_scenario(s);
      EXPECT_GT(r.byzantine_third_heights, 0u) << describe(s) << ": the colluders never held 1/3";
      if (r.fork) ++forks;
    }
    EXPECT_GT(forks, 0) << "c=" << committee
                        << ": f+1 colluding members never produced a fork the checker saw";
    std::cout << "c=" << committee << " of n=" << kValidators
              << " with f+1 colluding members: " << forks << " of 20 seeds forked\n";
  }
}

// The job file admits f = floor((n - 1) / 3) Byzantine ranks of all n
// (check_consensus_faults), but a committee tolerates floor((c - 1) / 3) of its c members: 3
// colluders among 10 ranks of equal stake (under 1/3 of it) sit 2 on a committee of 4 in
// about one epoch in three, and then split it.
TEST(CommitteeFork, TheRanksBoundDoesNotBoundACommittee) {
  int forks = 0, broken = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Scenario s = committee_scenario(4, Behaviour::kColludeFork, NetworkMix::kCalm, seed);
    s.stakes.assign(kValidators, 1);
    s.byzantine = (kValidators - 1) / 3;
    s.anywhere = true;
    const Report r = run_scenario(s);
    if (r.byzantine_third_heights > 0) ++broken;
    if (r.fork) ++forks;
  }
  EXPECT_GT(forks, 0) << "3 colluders of 10 ranks never forked a committee of 4";
  std::cout << "3 colluders of n=" << kValidators << ", c=4: " << broken
            << " of 20 seeds seated 2 on a committee, " << forks << " forked\n";
}

// The election's seed is the hash of the epoch's last block, which its proposer makes: 2
// colluders of 10 ranks (1/5 of the stake) that grind it when they propose that block sit
// together on the next committee of 4 far more often than the 2 in 15 a fair draw gives,
// and fork it.
TEST(CommitteeFork, TheLastProposerOfAnEpochPicksTheNextCommittee) {
  int forks[2] = {0, 0};
  std::uint64_t broken[2] = {0, 0};
  for (const bool grind : {false, true}) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      Scenario s = committee_scenario(4, Behaviour::kColludeFork, NetworkMix::kCalm, seed);
      s.stakes.assign(kValidators, 1);
      s.byzantine = 2;
      s.anywhere = true;
      s.grind = grind;
      const Report r = run_scenario(s);
      broken[grind] += r.byzantine_third_heights;
      if (r.fork) ++forks[grind];
    }
  }
  EXPECT_GT(forks[1], forks[0]) << "grinding the epoch's last block did not help the colluders";
  EXPECT_GT(broken[1], broken[0]) << "grinding did not seat the colluders together more often";
  std::cout << "2 colluders of n=" << kValidators << ", c=4, 20 seeds: fair " << forks[0]
            << " forks (" << broken[0] << " heights at 1/3), grinding " << forks[1] << " forks ("
            << broken[1] << " heights at 1/3)\n";
}

// f colluding members, the same strategy: no fork, every height decided.
TEST(CommitteeFork, FColludingMembersCannotFork) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Scenario s = committee_scenario(7, Behaviour::kColludeFork, NetworkMix::kCalm, seed);
    s.stakes.assign(kValidators, 1);
    const Report r = run_scenario(s);
    const std::string failure = committee_failure(s, r);
    EXPECT_TRUE(failure.empty()) << describe(s) << "\n" << failure << "\n" << replay_hint(s);
  }
}

}  // namespace
}  // namespace fedchain::consensus::sim
