// How `fedchain verify` prints an audit::RunReport: a function for each audit::Outcome that
// is more than an error message, printing the verdict line and what follows it.
// verify_command.cpp picks the function and the exit code.
#pragma once

#include <string>

#include "fedchain/audit/run_audit.hpp"

namespace fedchain::cli {

// "OK: ..." and the summary: the tip, validators, aggregates, checkpoints, each replica.
void print_verified(const std::string& run_dir, const audit::RunReport& report);
// The error (a config error, so exit 2) and the replica to copy over the lost primary.
int print_primary_missing(const std::string& run_dir, const audit::RunReport& report);
// "FAILED: RUN_DIR: height H: ..." and what a replica can do about it.
void print_chain_failure(const std::string& run_dir, const audit::RunReport& report);
// A FAILED line for each replica that fails, then each replica against the primary.
void print_replica_failures(const audit::RunReport& report);

}  // namespace fedchain::cli
