// The in-process consensus simulator: n state machines, a fake clock, a seeded network and
// Byzantine strategies, driven through one schedule (Scenario). After the run it checks
// safety (no two honest validators commit different blocks at a height, every commit
// certificate holds > 2/3 valid precommits), liveness (every honest validator commits the
// scenario's heights, within a bounded number of rounds after the network heals) and
// evidence (every equivocation an honest validator saw is committed in a block).
#pragma once

#include <cstdint>
#include <string>

#include "scenario.hpp"

namespace fedchain::consensus::sim {

struct RunOptions {
  bool trace = false;  // record every delivery, timeout and commit in Report::trace
};

struct Report {
  bool ok = true;
  std::string failure;  // the first check that failed, with the state it found
  bool fork = false;    // two honest validators committed different blocks at a height
  std::uint64_t deliveries = 0;
  std::uint64_t end_ms = 0;              // simulated time when the run ended
  std::uint64_t heal_ms = 0;             // when drops and partitions stopped
  std::uint32_t max_decision_round = 0;  // at any honest validator
  std::uint32_t max_rounds_after_heal = 0;
  std::uint64_t bad_signatures = 0;  // forged messages refused by honest validators
  std::uint64_t evidence_committed = 0;
  std::uint64_t equivocations_seen = 0;
  std::string trace;
};

// Rounds a height may take once the network has healed: f Byzantine proposers in a row,
// up to two rounds for honest validators to line up again, and the round that decides.
std::uint32_t liveness_round_bound(const Scenario& scenario);

Report run_scenario(const Scenario& scenario, const RunOptions& options = {});

}  // namespace fedchain::consensus::sim
