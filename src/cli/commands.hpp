// The fedchain command: each file in cli/ adds one group of subcommands to the CLI11 app.
// A subcommand's callback stores its exit code in `exit_code`; main() returns it.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "fedchain/core/error.hpp"

namespace fedchain::cli {

// "fedchain: error: ...\n": an Error the way every subcommand prints it.
std::string error_text(const Error& error);
// Prints error_text() to stderr and returns the error's exit code.
int report(const Error& error);
// Refuses (exit 2) an --out path that exists unless --force was given: nothing is replaced
// by accident.
Status check_new_output(const std::string& out, bool force);

void add_job_commands(CLI::App& app, int& exit_code);
void add_devices_command(CLI::App& app, int& exit_code);
void add_data_commands(CLI::App& app, int& exit_code);
void add_centralized_command(CLI::App& app, int& exit_code);
void add_keygen_command(CLI::App& app, int& exit_code);
void add_verify_command(CLI::App& app, int& exit_code);
void add_inspect_command(CLI::App& app, int& exit_code);
void add_train_command(CLI::App& app, int& exit_code);
void add_report_command(CLI::App& app, int& exit_code);
void add_export_command(CLI::App& app, int& exit_code);
void add_predict_command(CLI::App& app, int& exit_code);
void add_receipt_command(CLI::App& app, int& exit_code);

}  // namespace fedchain::cli
