// The adversarial test matrix (issue 4): n in {4, 7, 10, 13}, f = floor((n-1)/3) Byzantine
// validators, every behaviour times every network mix, many seeds. A failure prints the
// scenario line; FEDCHAIN_SIM_REPLAY='<line>' re-runs that one schedule with a full trace.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "simulator.hpp"

namespace fedchain::consensus::sim {
namespace {

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
  if (const char* text = std::getenv("FEDCHAIN_SIM_SEEDS")) return std::stoull(text);
  return 63;  // 4 sizes x 4 mixes x 10 behaviours x 63 seeds = 10,080 schedules
}

std::string replay_hint(const Scenario& s) {
  return fmt::format("replay: FEDCHAIN_SIM_REPLAY='{}' consensus_sim_test --gtest_filter=Replay.*",
                     describe(s));
}

struct Cell {
  std::uint32_t n;
  NetworkMix mix;
};

class Matrix : public ::testing::TestWithParam<Cell> {};

TEST_P(Matrix, SafeLiveAndEvidenceCommitted) {
  const Cell cell = GetParam();
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t runs = 0, deliveries = 0, forged = 0, evidence = 0;
  std::uint32_t max_round = 0, max_after_heal = 0;
  int failures = 0;
  for (Behaviour behaviour : kBehaviours) {
    for (std::uint64_t seed = 1; seed <= seeds_per_cell(); ++seed) {
      Scenario s;
      s.n = cell.n;
      s.behaviour = behaviour;
      s.mix = cell.mix;
      s.seed = seed;
      s.byzantine = (cell.n - 1) / 3;
      const Report r = run_scenario(s);
      ++runs;
      deliveries += r.deliveries;
      forged += r.bad_signatures;
      evidence += r.evidence_committed;
      max_round = std::max(max_round, r.max_decision_round);
      max_after_heal = std::max(max_after_heal, r.max_rounds_after_heal);
      if (!r.ok && ++failures <= 5) {
        ADD_FAILURE() << describe(s) << "\n" << r.failure << "\n" << replay_hint(s);
      }
      // In the lossless mixes every forgery must reach someone and be refused.
      if (behaviour == Behaviour::kForgeSignatures && r.ok &&
          (cell.mix == NetworkMix::kCalm || cell.mix == NetworkMix::kJitter)) {
        EXPECT_GT(r.bad_signatures, 0u) << describe(s) << ": forgeries never reached anyone";
      }
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "n=" << cell.n << " mix=" << name(cell.mix) << ": " << runs << " schedules, "
            << failures << " failed, " << deliveries << " deliveries, " << forged
            << " forgeries refused, " << evidence << " evidence committed, max decision round "
            << max_round << ", max rounds after heal " << max_after_heal << ", " << seconds
            << " s\n";
}

std::string cell_name(const ::testing::TestParamInfo<Cell>& info) {
  return fmt::format("N{}_{}", info.param.n, name(info.param.mix));
}

std::vector<Cell> all_cells() {
  std::vector<Cell> cells;
  for (std::uint32_t n : {4u, 7u, 10u, 13u}) {
    for (NetworkMix mix : kMixes) cells.push_back({n, mix});
  }
  return cells;
}

INSTANTIATE_TEST_SUITE_P(Sim, Matrix, ::testing::ValuesIn(all_cells()), cell_name);

// f+1 colluding validators can split the honest ones: the checker must see that fork.
TEST(Fork, FPlusOneColludersAreCaughtForking) {
  for (std::uint32_t n : {4u, 7u, 10u}) {
    int forks = 0;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      Scenario s;
      s.n = n;
      s.behaviour = Behaviour::kColludeFork;
      s.byzantine = (n - 1) / 3 + 1;
      s.seed = seed;
      const Report r = run_scenario(s);
      if (r.fork) ++forks;
    }
    EXPECT_GT(forks, 0) << "n=" << n << ": f+1 colluders never produced a fork the checker saw";
    std::cout << "n=" << n << " with f+1 colluders: " << forks << " of 20 seeds forked\n";
  }
}

// With f colluders the same strategy must not fork.
TEST(Fork, FColludersCannotFork) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Scenario s;
    s.n = 7;
    s.behaviour = Behaviour::kColludeFork;
    s.byzantine = 2;
    s.seed = seed;
    const Report r = run_scenario(s);
    EXPECT_TRUE(r.ok) << describe(s) << "\n" << r.failure << "\n" << replay_hint(s);
  }
}

TEST(Replay, OneScenario) {
  const char* line = std::getenv("FEDCHAIN_SIM_REPLAY");
  if (line == nullptr) GTEST_SKIP() << "set FEDCHAIN_SIM_REPLAY to a scenario line";
  const auto scenario = parse_scenario(line);
  ASSERT_TRUE(scenario) << "cannot parse '" << line << "'";
  const Report r = run_scenario(*scenario, RunOptions{.trace = true});
  std::cout << r.trace << describe(*scenario) << "\nok=" << r.ok << " fork=" << r.fork
            << " deliveries=" << r.deliveries << " end_ms=" << r.end_ms << " heal_ms=" << r.heal_ms
            << " max_round=" << r.max_decision_round << " elections=" << r.elections
            << " byzantine_seats=" << r.byzantine_seats
            << " byzantine_on_and_off=" << r.byzantine_on_and_off
            << " byzantine_third_heights=" << r.byzantine_third_heights
            << " max_jail_delay=" << r.max_jail_delay << " follower_commits=" << r.follower_commits
            << " shared_refused=" << r.shared_refused << " early_refused=" << r.early_refused
            << "\n"
            << r.failure << "\n";
  EXPECT_TRUE(r.ok || scenario->behaviour == Behaviour::kColludeFork);
}

}  // namespace
}  // namespace fedchain::consensus::sim
