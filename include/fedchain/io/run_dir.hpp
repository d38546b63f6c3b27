// The run directory: everything one run writes, under one folder that `fedchain verify`
// and `--resume` read back (docs/running.md, "The run directory").
//   RUN_DIR/job.toml          the resolved job, hashed into genesis (chain id)
//   RUN_DIR/run.lock          locked by the one job that writes here; names it
//   RUN_DIR/chain/            blocks.log replicas
//   RUN_DIR/checkpoints/      height-00000012.h5
//   RUN_DIR/updates/          archived quantized updates (archive_updates = true)
//   RUN_DIR/metrics.csv       one row per height; metrics.jsonl the same as JSON lines
//   RUN_DIR/logs/rank-N.log
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "fedchain/core/error.hpp"

namespace fedchain::io {

// RUN_DIR/run.lock, held for the life of the job that writes the run directory: two jobs
// appending to one chain would interleave or replace each other's committed blocks. An
// open-file-description lock (fcntl F_OFD_SETLK: per open file, released by the kernel
// when the process dies however it dies, honoured over NFS) on a file that names its holder.
class RunLock {
 public:
  // Takes the lock, or a config error naming the job that holds it. The file is not
  // written yet: a command that then refuses the directory leaves it as it was.
  static Result<RunLock> acquire(const std::filesystem::path& root);
  // Whether a job holds RUN_DIR/run.lock now, tested without taking it (F_OFD_GETLK), for
  // readers that report on a running job: what the file says about its holder, or nullopt
  // when no job holds it (or there is no such file, or locks are unsupported there).
  static std::optional<std::string> holder(const std::filesystem::path& root);
  // Writes who holds the lock (pid, host, Slurm job, start) for the next job to name.
  Status announce(const std::filesystem::path& root) const;
  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&&) = delete;
  ~RunLock();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

class RunDir {
 public:
  // A fresh run: takes the lock, creates the folders and writes job.toml. Refuses a folder
  // that already holds a run (pass --resume), that another job holds, or that cannot be
  // written (config errors, exit 2).
  static Result<RunDir> create(const std::filesystem::path& root, const std::string& job_toml);

  // A resumed run: takes the lock; job.toml must exist and equal `job_toml` (the same
  // resolved job), otherwise a config error naming the first line that differs.
  static Result<RunDir> resume(const std::filesystem::path& root, const std::string& job_toml);

  // Whether `root` holds a run, whole or damaged (job.toml or a chain file): `--resume`
  // starts a fresh run only where it does not.
  static bool holds_run(const std::filesystem::path& root);

  // Names this process in run.lock once the job has started (a command that refuses the
  // directory before that leaves the file as it was). Nothing without the lock.
  Status announce_holder() const;

  // An existing run directory, without the lock: read-only use (verify, inspect) and the
  // ranks besides the lock holder (rank 0).
  static Result<RunDir> open(const std::filesystem::path& root);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path job_file() const { return root_ / "job.toml"; }
  std::filesystem::path lock_file() const { return root_ / "run.lock"; }
  std::filesystem::path chain_dir() const { return root_ / "chain"; }
  std::filesystem::path checkpoints_dir() const { return root_ / "checkpoints"; }
  std::filesystem::path updates_dir() const { return root_ / "updates"; }
  std::filesystem::path logs_dir() const { return root_ / "logs"; }
  std::filesystem::path metrics_csv() const { return root_ / "metrics.csv"; }
  std::filesystem::path metrics_jsonl() const { return root_ / "metrics.jsonl"; }
  std::filesystem::path clients_csv() const { return root_ / "clients.csv"; }
  std::filesystem::path checkpoint_path(std::uint64_t height) const;

 private:
  explicit RunDir(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;
  std::shared_ptr<const RunLock> lock_;  // held while any copy of a locked RunDir lives
};

}  // namespace fedchain::io
