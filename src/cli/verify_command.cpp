// `fedchain verify RUN_DIR`: the audit of invariant 6 (docs/architecture.md) that
// audit::audit_run makes: every record, hash link, signature, certificate quorum and the
// genesis, every checkpoint, the aggregates where updates were archived, every replica,
// and every prediction receipt in receipts.log against the chain.
// A one-line verdict and a summary (verify_report.cpp prints them); exit 0 when everything
// holds, 3 naming the first bad height otherwise, 2 when the run directory or the dataset
// cannot be read (verify_report.cpp says which).
#include <cstdio>
#include <memory>
#include <string>

#include "commands.hpp"
#include "fedchain/audit/run_audit.hpp"
#include "verify_report.hpp"

namespace fedchain::cli {

namespace {

int run_verify(const std::string& run_dir, const std::string& data_path) {
  const AuditText said = audit_text(run_dir, audit::audit_run(run_dir, {data_path}));
  std::fputs(said.error.c_str(), stderr);
  std::fputs(said.text.c_str(), stdout);
  return said.exit_code;
}

}  // namespace

void add_verify_command(CLI::App& app, int& exit_code) {
  auto run_dir = std::make_shared<std::string>();
  auto data_path = std::make_shared<std::string>();
  auto* verify = app.add_subcommand(
      "verify",
      "Re-check a run's chain: records, links, signatures, quorums, checkpoints, and the "
      "aggregates where updates were archived");
  verify->add_option("run_dir", *run_dir, "Run directory (holds chain/blocks.log)")->required();
  verify->add_option("--data", *data_path,
                     "Dataset file, where the job's data.path does not resolve from here: its "
                     "arrays must hash to the data genesis records; its shape rebuilds the "
                     "initial model");
  verify->callback(
      [run_dir, data_path, &exit_code] { exit_code = run_verify(*run_dir, *data_path); });
}

}  // namespace fedchain::cli
