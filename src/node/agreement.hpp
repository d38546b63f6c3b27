// Steps 5 and 8 of a round (round.cpp): who takes part, from the update transactions the
// ranks sign and exchange, and the vote on the block that records the round, with what a
// follower, a replay and a rank whose root differs do. The consensus itself is net/ and
// consensus/; this is the round's side of it.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "fedchain/aggregate/rules.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/io/metrics.hpp"
#include "fedchain/ledger/tx.hpp"
#include "node.hpp"

namespace fedchain::node {

// Whose update counts in this round's aggregate.
struct Participation {
  std::vector<std::uint32_t> counted;  // ascending client ids
  std::vector<ledger::Tx> txs;         // live: the counted clients' transactions, same order
  std::uint64_t tx_bytes_sent = 0;
};

// The aggregate of a round and what its block records about it.
struct RoundAggregate {
  aggregate::AggregateResult result;
  std::vector<ledger::Tx> txs;                  // the counted clients' transactions
  std::vector<std::uint32_t> rejected_clients;  // counted clients the rule left out
  std::uint64_t update_bytes_sent = 0;
};

// This rank's part in a live round's agreement, from the chain state the round starts from
// (it changes only when the round's block commits): the committee, and whether this rank
// is on it. Asked once a round.
struct RoundRole {
  std::vector<std::uint32_t> voters;  // the ranks that vote at this height, ascending
  bool votes = false;                 // this rank is one of them
};
RoundRole round_role(const Node& node);

// 5. Whose update counts, decided before any update moves: live, the cohort members whose
// signed transaction is valid; replaying a committed round (resume), those its block
// recorded; without a chain, the cohort. A non-finite member never counts.
Result<Participation> decide_participation(Node& node, std::uint64_t height,
                                           std::span<const MemberUpdate> updates,
                                           std::span<const std::uint32_t> cohort,
                                           std::span<const std::uint32_t> nonfinite, bool replay,
                                           const RoundRole& role);

// 8a. Replaying a committed round (resume) must reproduce the root the chain committed.
Status check_replayed_root(const Node& node, const GlobalModel& next);

// 8c. Consensus on the block that records this round. The committee votes (run_height);
// every other rank follows (follow_height) and then gets the block with its certificate
// from a committee member. Returns false when a stop signal ended the wait on some rank:
// then no rank finishes the round (a rank that stopped waiting may not hold the block).
// `next` becomes the committed parameters where this rank's differ.
Result<bool> agree_on_block(Node& node, const RoundRole& role, GlobalModel& next,
                            const RoundAggregate& aggregated, io::MetricsRow& row);

// This rank's consensus work so far: messages handled and signatures verified.
std::pair<std::uint64_t, std::uint64_t> consensus_work(const Node& node);

// The metrics' consensus work of a height: the largest over the committee and over the
// followers of what each rank did since `before`.
Status report_consensus_work(const Node& node, bool voted,
                             std::pair<std::uint64_t, std::uint64_t> before, io::MetricsRow& row);

}  // namespace fedchain::node
