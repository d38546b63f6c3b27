// `fedchain keygen --ranks N --out DIR`: one Ed25519 private key per rank (PEM, mode 0600)
// and the public-key list that genesis is built from. A job names DIR with [keys] dir.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "fedchain/crypto/ed25519.hpp"
#include "fedchain/crypto/key_file.hpp"

namespace fedchain::cli {

namespace {

struct KeygenArgs {
  std::uint32_t ranks = 0;
  std::string out;
};

int run_keygen(const KeygenArgs& args) {
  std::vector<crypto::SigningKey> keys;
  for (std::uint32_t rank = 0; rank < args.ranks; ++rank) {
    auto key = crypto::SigningKey::generate();
    if (!key) return report(key.error());
    keys.push_back(*key);
  }
  if (auto st = crypto::write_key_directory(args.out, keys); !st) return report(st.error());
  std::printf("wrote %u private keys (mode 0600) to %s/rank-N.key and the public keys to %s\n",
              args.ranks, args.out.c_str(), crypto::public_key_list_path(args.out).c_str());
  std::printf("use them with: --set keys.dir=%s\n", args.out.c_str());
  return 0;
}

}  // namespace

void add_keygen_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<KeygenArgs>();
  auto* keygen =
      app.add_subcommand("keygen", "Write an Ed25519 key per rank for a job's [keys] dir");
  keygen->add_option("--ranks", args->ranks, "Number of ranks (validators)")
      ->required()
      ->check(CLI::Range(1, 65536));
  keygen->add_option("--out", args->out, "Directory to create; existing keys are never overwritten")
      ->required();
  keygen->callback([args, &exit_code] { exit_code = run_keygen(*args); });
}

}  // namespace fedchain::cli
