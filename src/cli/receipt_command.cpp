// `fedchain receipt check RECEIPT --input FILE --output FILE`: one prediction receipt (the
// JSON `fedchain predict` prints) and the two files it names, checked alone: the receipt's
// fields hash to its id, its signature verifies under its predictor key, and the files hash
// to what it records. Exit 3 on any mismatch. Whether its state root is the chain's is
// `fedchain verify RUN_DIR`'s check (docs/export.md).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "fedchain/serve/predict.hpp"
#include "fedchain/serve/receipt.hpp"

namespace fedchain::cli {

namespace {

// A receipt's JSON: its architecture text (64 KiB at most) and a few hundred bytes more.
constexpr std::uintmax_t kMaxReceiptTextBytes = std::uintmax_t{1} << 20;

struct ReceiptCheckArgs {
  std::string receipt;
  std::string input;
  std::string output;
};

Status check_file(const std::string& path, const Hash32& recorded, const char* role) {
  auto actual = serve::file_sha256(path);
  if (!actual) return actual.error();
  if (*actual != recorded) {
    return reject(fmt::format("{}-mismatch", role),
                  "{} hashes to {}, but the receipt records {} as its {}: not the file the "
                  "receipt was signed for",
                  path, actual->hex(), recorded.hex(), role);
  }
  return {};
}

int run_receipt_check(const ReceiptCheckArgs& args) {
  std::ifstream in(args.receipt, std::ios::binary);
  if (!in) return report(config_error("cannot read receipt {}", args.receipt));
  std::error_code ec;
  if (std::filesystem::file_size(args.receipt, ec) > kMaxReceiptTextBytes) {
    return report(reject("bad-receipt", "{}: larger than any receipt ({} bytes at most)",
                         args.receipt, kMaxReceiptTextBytes));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto receipt = serve::Receipt::from_json(text.str());
  if (!receipt) {
    return report(reject(receipt.error().code, "{}: {}", args.receipt, receipt.error().message));
  }
  if (!receipt->signature_valid()) {
    return report(reject("bad-signature",
                         "{}: the signature does not verify under predictor key {}", args.receipt,
                         to_hex(receipt->predictor.view())));
  }
  if (auto st = check_file(args.input, receipt->input_sha256, "input"); !st) {
    return report(st.error());
  }
  if (auto st = check_file(args.output, receipt->output_sha256, "output"); !st) {
    return report(st.error());
  }
  std::printf(
      "OK: receipt %s: signed by %s; %s and %s are the files it names (chain %s, height "
      "%llu, state root %s)\n",
      receipt->id().short_hex().c_str(), to_hex(receipt->predictor.view()).c_str(),
      args.input.c_str(), args.output.c_str(), receipt->chain_id.short_hex().c_str(),
      static_cast<unsigned long long>(receipt->height), receipt->state_root.short_hex().c_str());
  return 0;
}

}  // namespace

void add_receipt_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ReceiptCheckArgs>();
  auto* receipt = app.add_subcommand("receipt", "Prediction receipts");
  receipt->require_subcommand(1);
  auto* check = receipt->add_subcommand(
      "check", "Check one receipt (as predict prints it) against its input and output files");
  check->add_option("receipt", args->receipt, "The receipt's JSON")->required();
  check->add_option("--input", args->input, "The input file predicted on")->required();
  check->add_option("--output", args->output, "The predictions file")->required();
  check->callback([args, &exit_code] { exit_code = run_receipt_check(*args); });
}

}  // namespace fedchain::cli
