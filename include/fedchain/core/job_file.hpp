// Reading, checking, overriding and writing job files (TOML through toml++).
// Every error is a config error (exit 2) that names the file and line, or the key, and
// what is allowed; an unknown key names the closest known one.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"

namespace fedchain {

// One documented key of the job file, as listed by `fedchain job keys`.
struct JobKeyInfo {
  std::string key;           // "train.lr"
  std::string type;          // "integer", "float", "boolean", "string", "integer list"
  std::string default_text;  // TOML text of the default
  std::string allowed;       // "> 0", "iid | dirichlet | shards", ...
  std::string doc;
};

std::vector<JobKeyInfo> job_keys();

// Parses TOML text; `source` names it in messages (a path, or "--set").
Result<Job> parse_job(std::string_view toml_text, std::string_view source,
                      const std::vector<std::string>& overrides = {});

// Reads a job file and applies `key=value` overrides (values in TOML syntax; a bare word
// is taken as a string: --set aggregate.rule=median).
Result<Job> load_job(const std::filesystem::path& path,
                     const std::vector<std::string>& overrides = {});

// clients.per_round fits clients.total (with total = 0, one client per rank of `ranks`;
// unchecked while ranks is 0, unknown before mpirun starts).
Status check_clients(const Job& job, std::int64_t ranks);

// faults.consensus against `ranks` (0: not known yet, as in `fedchain job check` without
// job.ranks): a behaviour needs consensus.protocol = "bft", at least one rank in
// faults.byzantine, and no more than f = floor((c - 1) / 3) of them for a committee of c
// (committee_size), the most the vote tolerates wherever the election seats them. A config
// error (exit 2) otherwise.
Status check_consensus_faults(const Job& job, std::int64_t ranks);

// consensus.committee when set, else every rank up to kDefaultCommitteeMax.
inline constexpr std::int64_t kDefaultCommitteeMax = 16;
std::int64_t committee_size(const Job& job, std::int64_t ranks);
// consensus.stake and consensus.committee against `ranks` (0: unknown yet, only the stakes
// themselves are checked): one stake per rank, not all 0, each below 2^44; a committee no
// larger than the ranks, nor than the ranks with stake. A config error (exit 2) otherwise.
Status check_committee(const Job& job, std::int64_t ranks);

// The resolved job as TOML, every key present: what a run directory stores and hashes.
std::string job_to_toml(const Job& job);

}  // namespace fedchain
