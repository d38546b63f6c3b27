// `fedchain verify RUN_DIR`: the audit of invariant 6 (docs/architecture.md) that
// audit::audit_run makes: every record, hash link, signature, certificate quorum and the
// genesis, every checkpoint, the aggregates where updates were archived, every replica.
// A one-line verdict and a summary (verify_report.cpp prints them); exit 0 when everything
// holds, 3 naming the first bad height otherwise, 2 when the run directory or the dataset
// cannot be read.
#include <memory>
#include <string>

#include "commands.hpp"
#include "fedchain/audit/run_audit.hpp"
#include "verify_report.hpp"

namespace fedchain::cli {

namespace {

int run_verify(const std::string& run_dir, const std::string& data_path) {
  const audit::RunReport audited = audit::audit_run(run_dir, {data_path});
  switch (audited.outcome()) {
    case audit::Outcome::kVerifies:
      print_verified(run_dir, audited);
      return 0;
    case audit::Outcome::kError:
      return report(*audited.unplaced_error());
    case audit::Outcome::kPrimaryMissing:
      return print_primary_missing(run_dir, audited);
    case audit::Outcome::kChainFails:
      print_chain_failure(run_dir, audited);
      return 3;
    case audit::Outcome::kReplicaFails:
      print_replica_failures(audited);
      return 3;
  }
  return 1;  // not reached: every outcome returns above
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
