// ledger.archive_updates: every rank keeps its own quantized update of every round in
// RUN_DIR/updates/rank-R/ (io/update_archive.hpp), so `fedchain verify` can recompute each
// aggregate. No extra communication: in allreduce mode only rank i ever holds q_i.
//
// Crash safety, with the chain as the source of truth:
// - q_i is durable before rank i's transaction is sent, so a committed block never names
//   an update the archive lacks;
// - a killed run may have archived a height the chain never committed: opening the archive
//   removes those files (and stray temp files) before any round runs;
// - a resumed run replays the heights between its checkpoint and the chain tip: a readable
//   file already there is kept, never overwritten; a missing one is written again.
#include <mpi.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "exchange.hpp"
#include "node.hpp"

namespace fedchain::node {

Status open_update_archive(Node& node) {
  if (!node.job.ledger.archive_updates) return {};
  // job_file refuses archive_updates without a chain: the archive is checked against it.
  const std::uint64_t tip = node.chain->committed.size();
  io::UpdateArchive archive(node.run_dir.updates_dir());
  auto removed = archive.remove_uncommitted(static_cast<std::uint32_t>(node.rank), tip);
  if (removed && *removed > 0) {
    spdlog::info("update archive: removed {} file(s) of rounds after the chain tip {}", *removed,
                 tip);
  }
  node.archive.emplace(std::move(archive));
  return node.comm->agree(removed ? Status() : Status(removed.error()));
}

namespace {

Status keep_update(const Node& node, std::uint64_t height, std::span<const std::int32_t> q,
                   const std::optional<ledger::Tx>& my_tx) {
  const auto rank = static_cast<std::uint32_t>(node.rank);
  if (!my_tx) {  // a replayed round: its update was archived before its block committed
    auto kept = node.archive->read(rank, height);
    if (kept) {
      if (!std::equal(kept->values.begin(), kept->values.end(), q.begin(), q.end())) {
        spdlog::warn(
            "height {}: the replayed update differs from the archived one; the archived one, "
            "written before its block committed, is kept",
            height);
      }
      return {};
    }
    spdlog::warn("height {}: {}; archiving the replayed update", height, kept.error().message);
  }
  io::ArchivedUpdate update;
  update.height = height;
  update.rank = rank;
  update.chain_id = node.chain->participant->genesis().chain_id();
  update.update_root = my_tx ? my_tx->update_root() : update_root_of(q, node.job);
  update.values.assign(q.begin(), q.end());
  return node.archive->write(update);
}

}  // namespace

Status archive_update(const Node& node, std::uint64_t height, std::span<const std::int32_t> q,
                      const std::optional<ledger::Tx>& my_tx) {
  if (!node.archive) return {};
  return node.comm->agree(keep_update(node, height, q, my_tx));
}

}  // namespace fedchain::node
