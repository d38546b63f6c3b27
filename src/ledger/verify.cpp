// Whole-chain audit (see verify.hpp).
#include "fedchain/ledger/verify.hpp"

#include "fedchain/crypto/sha256.hpp"
#include "read_file.hpp"

namespace fedchain::ledger {

namespace {
VerifyReport fail(VerifyReport report, std::uint64_t height, Error error) {
  report.bad_height = height;
  report.error = std::move(error);
  return report;
}
}  // namespace

VerifyReport verify_chain(const ChainStore& store, const VerifyOptions& options) {
  VerifyReport report;
  report.height = store.height();
  report.torn_tail = store.torn_tail();
  const Genesis& genesis = store.genesis();
  if (auto st = check_genesis(genesis.fields()); !st) return fail(std::move(report), 0, st.error());
  ChainState state = ChainState::from_genesis(genesis);
  for (const StoredBlock& stored : store.blocks()) {
    const Block& block = stored.block;
    const std::uint64_t h = block.height();
    if (auto st = validate_commit(block, stored.certificate, genesis, state, options.proposer_rule);
        !st) {
      return fail(std::move(report), h, st.error());
    }
    state = state.apply(block);
    if (options.check_block_extra) {
      if (auto st = options.check_block_extra(genesis, block, state); !st) {
        return fail(std::move(report), h, st.error());
      }
    }
    report.blocks_verified += 1;
    report.txs += block.txs().size();
    report.evidence += block.evidence().size();
    report.signatures +=
        block.txs().size() + 2 * block.evidence().size() + stored.certificate.signatures().size();
    report.final_state = state;
  }
  if (!report.final_state) report.final_state = state;
  return report;
}

VerifyReport verify_run(const std::filesystem::path& run_dir, const VerifyOptions& options) {
  ChainDamage damage;
  auto store = ChainStore::open(run_dir, OpenMode::kReadOnly, &damage);
  if (!store) {
    VerifyReport report;
    const bool damaged = store.error().kind == ErrorKind::kVerification;
    if (!damaged) {
      report.error = store.error();
      return report;
    }
    return fail(std::move(report), damage.height, store.error());
  }
  const auto job_path = run_dir / "job.toml";
  if (const auto job_bytes = detail::read_file(job_path)) {
    const std::string job(job_bytes->begin(), job_bytes->end());
    if (job != store->genesis().fields().job_toml) {
      VerifyReport report;
      return fail(std::move(report), 0,
                  reject("job-mismatch",
                         "{} (SHA-256 {}) is not the job the chain was started with (chain id "
                         "{}): it was edited after the run began",
                         job_path.string(), crypto::sha256(as_bytes(job)).short_hex(),
                         store->genesis().chain_id().short_hex()));
    }
  }
  return verify_chain(*store, options);
}

}  // namespace fedchain::ledger
