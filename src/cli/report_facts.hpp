// What `fedchain report` knows about one run directory, as JSON for the page writer
// (scripts/fedchain_report.py): the job, the chain's blocks, committees, jailings and
// contributions, and the audit that `fedchain verify` makes, with verify's own text.
// metrics.csv is not read here: the page writer reads it, whatever columns it has.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "fedchain/core/error.hpp"

namespace fedchain::cli {

struct RunFacts {
  nlohmann::json json;
  int audit_exit_code = 0;  // what `fedchain verify` would exit with for this run
};

// A config error (exit 2) when RUN_DIR holds no run (no job.toml and no chain file); a
// damaged or failing chain is a fact like any other (its audit section says where).
// `data_path` is verify's --data.
Result<RunFacts> gather_run_facts(const std::filesystem::path& run_dir,
                                  const std::string& data_path);

}  // namespace fedchain::cli
