// Who takes part in a round and the vote on its block (agreement.hpp).
#include "agreement.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "exchange.hpp"
#include "fedchain/ledger/validation.hpp"

namespace fedchain::node {

namespace {

// One gathered transaction: who sent it, and what came of decoding and checking it.
struct ArrivedTx {
  std::size_t sender = 0;
  Result<ledger::Tx> tx;
  Status checked;
};

// validate_tx on each arrival, spread over `threads` threads in contiguous ranges (each
// writes only its own entries, so the outcome does not depend on the thread count): a
// committee member checks a signature per cohort member and height.
void check_arrived_txs(const Node& node, std::uint64_t height, ledger::TxSignature signatures,
                       std::vector<ArrivedTx>& arrived) {
  const auto& participant = *node.chain->participant;
  const auto check_range = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      ArrivedTx& a = arrived[i];
      if (!a.tx) {
        a.checked = a.tx.error();
        continue;
      }
      a.checked = ledger::validate_tx(*a.tx, height, participant.genesis(), participant.state(),
                                      signatures);
      if (a.checked && a.tx->rank() != a.sender) {
        a.checked = reject("wrong-rank", "tx names rank {}", a.tx->rank());
      }
    }
  };
  const std::size_t workers = std::clamp<std::size_t>(
      static_cast<std::size_t>(std::max<std::int64_t>(node.job.train.threads, 1)), 1,
      std::max<std::size_t>(arrived.size(), 1));
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < workers; ++w) {
    pool.emplace_back(check_range, arrived.size() * w / workers,
                      arrived.size() * (w + 1) / workers);
  }
  check_range(0, arrived.size() / workers);
  for (auto& t : pool) t.join();
}

// Every rank's signed update transactions, each checked against genesis, chain state and
// this height's cohort (signatures by committee members only, over train.threads threads);
// an invalid one leaves its client out (logged with client, rank and height).
Result<std::vector<ledger::Tx>> exchange_txs(Node& node, std::uint64_t height,
                                             std::span<const MemberUpdate> updates,
                                             std::size_t cohort_size, bool votes,
                                             std::uint64_t& bytes_sent) {
  Bytes mine;
  for (const auto& update : updates) {
    if (!update.tx) continue;
    const Bytes encoded = update.tx->encode();
    mine.insert(mine.end(), encoded.begin(), encoded.end());
  }
  bytes_sent = mine.size();
  auto gathered = node.comm->gather_bytes(mine, ledger::kTxEncodedBytes, cohort_size);
  if (!gathered) return gathered.error();
  std::vector<ArrivedTx> arrived;
  for (std::size_t r = 0; r < gathered->size(); ++r) {
    const Bytes& sent = (*gathered)[r];
    if (sent.size() % ledger::kTxEncodedBytes != 0) {
      spdlog::warn(
          "height {}: rank {} sent {} bytes of transactions, not a whole number; "
          "refused",
          height, r, sent.size());
      continue;
    }
    for (std::size_t at = 0; at < sent.size(); at += ledger::kTxEncodedBytes) {
      arrived.push_back(
          {r, ledger::Tx::decode(ByteView(sent).subspan(at, ledger::kTxEncodedBytes)), {}});
    }
  }
  // The committee checks every signature; a follower trusts the certificate it will check.
  const auto signatures =
      votes ? ledger::TxSignature::kVerify : ledger::TxSignature::kTrustCertificate;
  check_arrived_txs(node, height, signatures, arrived);
  std::vector<ledger::Tx> valid;
  for (ArrivedTx& a : arrived) {
    if (a.tx && signatures == ledger::TxSignature::kVerify) ++node.chain->tx_signatures_checked;
    if (!a.checked) {
      spdlog::warn("height {}: an update transaction from rank {} is refused: {}", height, a.sender,
                   a.checked.error().message);
      continue;
    }
    valid.push_back(std::move(*a.tx));
  }
  std::sort(valid.begin(), valid.end(),
            [](const ledger::Tx& a, const ledger::Tx& b) { return a.client() < b.client(); });
  // Only a client's host can sign its tx (validate_tx); one that sent two for the client
  // loses both, alike on every rank, so no block holds a client twice.
  std::vector<ledger::Tx> unique;
  for (std::size_t i = 0; i < valid.size();) {
    std::size_t end = i + 1;
    while (end < valid.size() && valid[end].client() == valid[i].client()) ++end;
    if (end - i == 1) {
      unique.push_back(std::move(valid[i]));
    } else {
      spdlog::warn("height {}: rank {} sent {} transactions for client {}; none counts", height,
                   valid[i].rank(), end - i, valid[i].client());
    }
    i = end;
  }
  return unique;
}

// A rank whose own state root differs from the committed one (a flipped bit in its
// memory, say) says so and takes the committed parameters from a rank that agrees:
// collective, so every rank takes part every round.
Status adopt_committed_root(const Node& node, GlobalModel& next, const Hash32& committed) {
  const bool differs = committed != next.state_root;
  auto differing = node.comm->ranks_with(differs);
  if (!differing) return differing.error();
  if (differing->empty()) return {};
  if (differs) {
    spdlog::error(
        "rank {} height {}: own state root {} differs from the committed {}; taking "
        "the committed parameters from a peer",
        node.rank, next.height, next.state_root.short_hex(), committed.short_hex());
  }
  // The lowest rank whose root is the committed one sends its parameters.
  int source = 0;
  for (const int r : *differing) source += r == source ? 1 : 0;
  if (source == node.ranks) {
    return runtime_error("height {}: no rank holds the committed state root {}", next.height,
                         committed.short_hex());
  }
  if (auto st = node.comm->broadcast(next.theta, source); !st) return st;
  next.state_root = state_root_of(next.theta, node.job);
  if (next.state_root != committed) {
    return runtime_error(
        "rank {} height {}: parameters from rank {} do not hash to the committed state root",
        node.rank, next.height, source);
  }
  return {};
}

// 8b. A follower's committed block: each committee member in turn (`voters`, ascending)
// broadcasts the block and its certificate until every follower has accepted one
// (ChainParticipant::accept_certified). An honest member's is always accepted, so a
// Byzantine member can cost the followers a broadcast, never a wrong block.
Status share_committed_block(Node& node, std::uint64_t height,
                             std::span<const std::uint32_t> voters, bool voted) {
  ChainParticipant& participant = *node.chain->participant;
  bool holds = voted;
  for (const std::uint32_t root : voters) {
    Bytes mine;
    if (static_cast<std::uint32_t>(node.rank) == root) {
      mine = ledger::encode_block_record(*participant.committed(),
                                         *participant.committed_certificate());
    }
    auto record = node.comm->broadcast_bytes(mine, static_cast<int>(root), ledger::kMaxRecordBytes);
    if (!record) return record.error();
    if (!holds) {
      ++node.chain->blocks_received;
      const Status accepted = participant.accept_certified(*record);
      holds = accepted.ok();
      if (!holds) {
        spdlog::warn("height {}: the committed block from committee member {} is refused: {}",
                     height, root, accepted.error().message);
      }
    }
    auto missing = node.comm->ranks_with(!holds);
    if (!missing) return missing.error();
    if (missing->empty()) return {};
  }
  return runtime_error(
      "height {}: no committee member sent this rank a committed block with a valid "
      "certificate",
      height);
}

}  // namespace

RoundRole round_role(const Node& node) {
  const ledger::ChainState& state = node.chain->participant->state();
  RoundRole role;
  for (std::uint32_t r = 0; r < static_cast<std::uint32_t>(node.ranks); ++r) {
    if (state.can_vote(r)) role.voters.push_back(r);
  }
  role.votes = std::binary_search(role.voters.begin(), role.voters.end(),
                                  static_cast<std::uint32_t>(node.rank));
  return role;
}

Result<Participation> decide_participation(Node& node, std::uint64_t height,
                                           std::span<const MemberUpdate> updates,
                                           std::span<const std::uint32_t> cohort,
                                           std::span<const std::uint32_t> nonfinite, bool replay,
                                           const RoundRole& role) {
  Participation who;
  const auto left_out = [&](std::uint32_t client) {
    return std::binary_search(nonfinite.begin(), nonfinite.end(), client);
  };
  if (replay) {
    who.counted = node.chain->committed[height - 1].update_clients;
    return who;
  }
  if (!node.chain) {
    for (const std::uint32_t c : cohort) {
      if (!left_out(c)) who.counted.push_back(c);
    }
    return who;
  }
  auto txs = exchange_txs(node, height, updates, cohort.size(), role.votes, who.tx_bytes_sent);
  if (!txs) return txs.error();
  who.txs = std::move(*txs);
  for (const auto& tx : who.txs) who.counted.push_back(tx.client());
  // A member of a rank jailed by committed evidence still joins the allreduce, with weight
  // 0: every rank refuses its transaction alike (chain state says so). Any other missing
  // transaction breaks allreduce's trust in every rank.
  if (node.aggregate.exchange == aggregate::Exchange::kAllreduce) {
    const auto& state = node.chain->participant->state();
    for (const std::uint32_t c : cohort) {
      const std::uint32_t host = ledger::host_rank(c, static_cast<std::uint32_t>(node.ranks));
      if (!std::binary_search(who.counted.begin(), who.counted.end(), c) && state.is_active(host)) {
        return runtime_error(
            "height {}: client {}'s update transaction (rank {}) is invalid, and the "
            "allreduce exchange trusts every rank (crash faults only); use "
            "aggregate.exchange = \"allgather\" with a robust rule against Byzantine ranks",
            height, c, host);
      }
    }
  }
  return who;
}

Status check_replayed_root(const Node& node, const GlobalModel& next) {
  const Hash32& committed = node.chain->committed[next.height - 1].state_root;
  if (committed == next.state_root) return {};
  return runtime_error(
      "resume: replaying round {} gives state root {}, the chain committed {}: the run "
      "cannot be resumed with this binary or job (train.threads, the build and the CPU kernels, "
      "FEDCHAIN_CPU_LEVEL, must match the run's)",
      next.height, next.state_root.short_hex(), committed.short_hex());
}

Result<bool> agree_on_block(Node& node, const RoundRole& role, GlobalModel& next,
                            const RoundAggregate& aggregated, io::MetricsRow& row) {
  auto& chain = *node.chain;
  chain.participant->expect(
      {next.height, next.state_root, aggregated.txs, aggregated.rejected_clients});
  const auto limit = std::chrono::minutes(10);
  Status ran;
  if (role.votes) {
    auto set = chain.participant->validator_set();
    if (!set) return set.error();
    ran = chain.loop->run_height(next.height, std::move(*set), limit, node.stop_requested);
  } else {
    ran = chain.loop->follow_height(next.height, limit, node.stop_requested);
  }
  const bool stopped = !ran && ran.error().code == net::kStopped;
  if (!ran && !stopped) return ran.error();
  auto stopped_ranks = node.comm->ranks_with(stopped);
  if (!stopped_ranks) return stopped_ranks.error();
  if (!stopped_ranks->empty()) {
    spdlog::info("height {}: a stop signal ended the wait for the block; round not finished",
                 next.height);
    return false;
  }
  if (role.voters.size() < static_cast<std::size_t>(node.ranks)) {
    if (auto st = share_committed_block(node, next.height, role.voters, role.votes); !st) {
      return st.error();
    }
  }
  const ledger::Block& block = *chain.participant->committed();
  if (auto st = adopt_committed_root(node, next, block.header().state_root); !st) {
    return st.error();
  }
  row.block_hash = block.hash().hex();
  row.proposer = block.header().proposer;
  row.commit_round = chain.participant->committed_round();
  chain.record(block);
  return true;
}

std::pair<std::uint64_t, std::uint64_t> consensus_work(const Node& node) {
  const ChainSide& chain = *node.chain;
  return {chain.loop->stats().messages + chain.blocks_received,
          chain.tx_signatures_checked + chain.signer->verifications() +
              chain.participant->certificate_signatures_checked()};
}

Status report_consensus_work(const Node& node, bool voted,
                             std::pair<std::uint64_t, std::uint64_t> before, io::MetricsRow& row) {
  const auto after = consensus_work(node);
  const std::uint64_t messages = after.first - before.first;
  const std::uint64_t verifications = after.second - before.second;
  auto max = node.comm->max_for_report({voted ? 0 : messages, voted ? 0 : verifications,
                                        voted ? messages : 0, voted ? verifications : 0});
  if (!max) return max.error();
  row.follower_messages = (*max)[0];
  row.follower_verifications = (*max)[1];
  row.validator_messages = (*max)[2];
  row.validator_verifications = (*max)[3];
  return {};
}

}  // namespace fedchain::node
