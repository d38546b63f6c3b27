// The run directory (DESIGN.md, Files): everything one run writes, under one folder that
// `fedchain verify` and `--resume` read back.
//   RUN_DIR/job.toml          the resolved job, hashed into genesis (chain id)
//   RUN_DIR/chain/            blocks.log replicas
//   RUN_DIR/checkpoints/      height-00000012.h5
//   RUN_DIR/updates/          archived quantized updates (archive_updates = true)
//   RUN_DIR/metrics.csv       one row per height; metrics.jsonl the same as JSON lines
//   RUN_DIR/logs/rank-N.log
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "fedchain/core/error.hpp"

namespace fedchain::io {

class RunDir {
 public:
  // A fresh run: creates the folders and writes job.toml. Refuses a folder that already
  // holds a run (pass --resume) or that cannot be written (config errors, exit 2).
  static Result<RunDir> create(const std::filesystem::path& root, const std::string& job_toml);

  // A resumed run: job.toml must exist and equal `job_toml` (the same resolved job);
  // otherwise a config error naming the first line that differs.
  static Result<RunDir> resume(const std::filesystem::path& root, const std::string& job_toml);

  // Whether `root` holds a run, whole or damaged (job.toml or a chain file): `--resume`
  // starts a fresh run only where it does not.
  static bool holds_run(const std::filesystem::path& root);

  // An existing run directory, read-only (verify, inspect).
  static Result<RunDir> open(const std::filesystem::path& root);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path job_file() const { return root_ / "job.toml"; }
  std::filesystem::path chain_dir() const { return root_ / "chain"; }
  std::filesystem::path checkpoints_dir() const { return root_ / "checkpoints"; }
  std::filesystem::path updates_dir() const { return root_ / "updates"; }
  std::filesystem::path logs_dir() const { return root_ / "logs"; }
  std::filesystem::path metrics_csv() const { return root_ / "metrics.csv"; }
  std::filesystem::path metrics_jsonl() const { return root_ / "metrics.jsonl"; }
  std::filesystem::path checkpoint_path(std::uint64_t height) const;

 private:
  explicit RunDir(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;
};

}  // namespace fedchain::io
