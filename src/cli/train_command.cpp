// `fedchain train JOB --run-dir DIR [--set k=v]... [--resume]`: the federated run, one MPI
// job. Every rank runs this same command (mpirun -n N fedchain train ...).
#include <malloc.h>
#include <mpi.h>

#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/node/federation.hpp"

namespace fedchain::cli {

namespace {

struct TrainArgs {
  std::string path;
  std::vector<std::string> overrides;
  std::string run_dir;
  bool resume = false;
  std::string log_level = "info";
};

// An error that only this rank has: the others may be waiting for it in a collective
// that it will never join, and MPI_Finalize would wait for them, so the job would hang.
// Say what went wrong, then end every rank with the error's exit code.
[[noreturn]] void abort_job(const Error& error) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr,
               "fedchain: error: rank %d: %s\nfedchain: rank %d alone found this error; ending "
               "every rank (MPI_Abort, exit %d)\n",
               rank, error.message.c_str(), rank, exit_code(error.kind));
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, exit_code(error.kind));
  std::abort();  // MPI_Abort does not return
}

// Each round allocates and frees buffers the size of the model a few times over (the int64
// sum and its total, the average). glibc maps blocks this large and unmaps them on free, or
// trims them off the heap, so every round faulted its pages in again: 5 to 8 ms a round for
// the cnn's 13 MB sums (docs/PERFORMANCE.md, "Memory the round reuses"). Blocks up to
// 32 MiB (glibc's largest mmap threshold) now come from the heap, which keeps freed memory
// for the next round; the peak is what it was.
void keep_round_buffers() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

int run_train(const TrainArgs& args) {
  keep_round_buffers();
  // Before MPI_Init, which takes a while: a stop signal that arrives during start-up stops
  // the run at its first round boundary instead of killing the rank.
  node::install_stop_handlers();
  MPI_Init(nullptr, nullptr);
  // Every MPI call returns its error instead of aborting, on MPI_COMM_WORLD and on every
  // communicator derived from it, so each result is checked and reported.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int code = 0;
  // Every rank reads the same job file, so every rank finds the same problem in it.
  auto job = load_job(args.path, args.overrides);
  if (!job) {
    code = report(job.error());
  } else {
    const node::RunOptions options{args.run_dir, args.resume, job_to_toml(*job), args.log_level};
    auto end = node::run_federation(*job, options);
    if (!end && !end.error().every_rank) abort_job(end.error());
    if (!end) {
      // Agreed on by every rank (node::agree): rank 0 speaks for all.
      int rank = 0;
      MPI_Comm_rank(MPI_COMM_WORLD, &rank);
      code = rank == 0 ? report(end.error()) : exit_code(end.error().kind);
    }
  }
  MPI_Finalize();
  return code;
}

}  // namespace

void add_train_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TrainArgs>();
  auto* sub = app.add_subcommand(
      "train", "Run a federated job: every MPI rank trains, rounds are aggregated exactly");
  sub->add_option("job", args->path, "Job file (TOML)")->required();
  sub->add_option("--run-dir", args->run_dir, "Run directory (created; or resumed)")->required();
  sub->add_option("--set", args->overrides, "Override a key: --set train.lr=0.1 (repeatable)");
  sub->add_flag("--resume", args->resume, "Continue the run in --run-dir from its last checkpoint");
  sub->add_option("--log-level", args->log_level, "trace, debug, info, warn or error");
  sub->callback([args, &exit_code] { exit_code = run_train(*args); });
}

}  // namespace fedchain::cli
