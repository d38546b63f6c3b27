// One MPI job, one federated run: every rank calls run_federation() and it runs the rounds
// of the job (docs/architecture.md, "One round, file by file"). src/node/ reads top-down:
// federation.cpp (the run), setup.cpp (what a rank holds), round.cpp (one round, phase by phase),
// agreement.cpp (who takes part, the vote on the block), exchange.cpp (the collectives that
// move updates).
#pragma once

#include <filesystem>
#include <string>

#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"

namespace fedchain::node {

struct RunOptions {
  std::filesystem::path run_dir;
  bool resume = false;
  std::string job_toml;  // the resolved job (job_to_toml), stored as RUN_DIR/job.toml
  std::string log_level = "info";
};

// How a run ended when it did not fail.
enum class RunEnd {
  kCompleted,  // every round of the job ran
  kStopped,    // a stop signal (SIGTERM, SIGUSR1) on some rank: all stopped at one height,
               // checkpointed, resumable with --resume
};

// Runs the job on MPI_COMM_WORLD (MPI must be initialised). Collective: every rank calls it
// and every rank returns the same result or an error.
Result<RunEnd> run_federation(const Job& job, const RunOptions& options);

// Installs SIGTERM and SIGUSR1 handlers that ask the run to stop at the next round
// boundary (all ranks agree on which).
void install_stop_handlers();

}  // namespace fedchain::node
