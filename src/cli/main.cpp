// fedchain: entry point. Parses the command line with CLI11 and hands over to the
// subcommand; library code returns errors and only this file decides the exit code
// (0 ok, 1 runtime failure, 2 usage or configuration error, 3 verification failed).
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "fedchain/core/build_info.hpp"

namespace fedchain::cli {

std::string error_text(const Error& error) {
  return fmt::format("fedchain: error: {}\n", error.message);
}

int report(const Error& error) {
  std::fputs(error_text(error).c_str(), stderr);
  return exit_code(error.kind);
}

Status check_new_output(const std::string& out, bool force) {
  std::error_code ec;
  if (!force && std::filesystem::exists(out, ec)) {
    return config_error("--out {} already exists: choose another path, or --force to replace it",
                        out);
  }
  return {};
}

namespace {

std::string version_text() {
  return fmt::format("fedchain {} (commit {}, {} build, CUDA {}, NCCL {})", build::version(),
                     build::git_commit(), build::build_type(),
                     build::cuda_compiled() ? "compiled in" : "not compiled in",
                     build::nccl_compiled() ? "compiled in" : "not compiled in");
}

}  // namespace
}  // namespace fedchain::cli

int main(int argc, char** argv) {
  using namespace fedchain::cli;
  // Log lines go to stderr, so that what a command prints on stdout (inspect --json) is
  // only its output. `train` replaces this logger with its per-rank one.
  spdlog::set_default_logger(spdlog::stderr_color_mt("fedchain-cli"));
  CLI::App app{"fedchain: federated training on a permissioned chain, one MPI job per chain"};
  app.set_version_flag("--version", version_text());
  app.require_subcommand(1);
  int exit_code = 0;
  add_job_commands(app, exit_code);
  add_devices_command(app, exit_code);
  add_data_commands(app, exit_code);
  add_train_command(app, exit_code);
  add_centralized_command(app, exit_code);
  add_keygen_command(app, exit_code);
  add_verify_command(app, exit_code);
  add_inspect_command(app, exit_code);
  add_report_command(app, exit_code);
  add_export_command(app, exit_code);
  add_predict_command(app, exit_code);
  add_receipt_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  return exit_code;
}
