// ledger.archive_updates: every rank keeps the quantized update of each client it hosts,
// every round, in RUN_DIR/updates/client-K/ (io/update_archive.hpp), so `fedchain verify` can
// recompute each aggregate. No extra communication: in allreduce mode only client k's host
// ever holds q_k.
//
// Crash safety, with the chain as the source of truth:
// - q_k is durable before client k's transaction is sent, so a committed block never names
//   an update the archive lacks;
// - a killed run may have archived a height the chain never committed: opening the archive
//   removes those files (and stray temp files) before any round runs;
// - a resumed run replays the heights between its checkpoint and the chain tip: a readable
//   file already there is kept, never overwritten; a missing one is written again.
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
  Status cleaned;
  std::size_t removed = 0;
  for (const auto& [client, samples] : node.local.shards) {
    auto gone = archive.remove_uncommitted(client, tip);
    if (!gone) {
      cleaned = gone.error();
      break;
    }
    removed += *gone;
  }
  if (removed > 0) {
    spdlog::info("update archive: removed {} file(s) of rounds after the chain tip {}", removed,
                 tip);
  }
  node.archive.emplace(std::move(archive));
  return node.comm->agree(cleaned);
}

namespace {

Status keep_update(const Node& node, std::uint64_t height, const MemberUpdate& member) {
  if (!member.tx) {  // a replayed round: its update was archived before its block committed
    auto kept = node.archive->read(member.client, height);
    if (kept) {
      if (!std::equal(kept->values.begin(), kept->values.end(), member.q.begin(), member.q.end())) {
        spdlog::warn(
            "height {}: client {}'s replayed update differs from the archived one; the "
            "archived one, written before its block committed, is kept",
            height, member.client);
      }
      return {};
    }
    spdlog::warn("height {}: {}; archiving the replayed update", height, kept.error().message);
  }
  io::ArchivedUpdate update;
  update.height = height;
  update.client = member.client;
  update.chain_id = node.chain->participant->genesis().chain_id();
  update.update_root = member.tx ? member.tx->update_root() : update_root_of(member.q, node.job);
  update.values = member.q;
  return node.archive->write(update);
}

}  // namespace

Status archive_updates(const Node& node, std::uint64_t height,
                       std::span<const MemberUpdate> members) {
  if (!node.archive) return {};
  Status kept;
  for (const auto& member : members) {
    if (!member.finite) continue;  // no transaction, never in a block
    if (kept = keep_update(node, height, member); !kept) break;
  }
  return node.comm->agree(kept);
}

}  // namespace fedchain::node
