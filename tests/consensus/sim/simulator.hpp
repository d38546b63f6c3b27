// The in-process consensus simulator: n state machines, a fake clock, a seeded network and
// Byzantine strategies, driven through one schedule (Scenario). After the run it checks
// safety (no two honest validators commit different blocks at a height, every commit
// certificate holds > 2/3 valid precommits), liveness (every honest validator commits the
// scenario's heights, within a bounded number of rounds after the network heals) and
// evidence (every equivocation an honest validator saw is committed in a block).
//
// With a committee (Scenario::committee = c > 0), each validator's application does what
// consensus::validator_set_of does with chain state: committee members get their stake as
// power, everyone else 0, and jailed members keep power on record with jailed = true. Each
// epoch's committee is elected by ledger::elect_committee itself, from the stakes (0 for a
// jailed validator) and, for the first epoch, a genesis hash drawn from the seed, then the
// hash of the block each validator committed at the epoch's last height. Simulator height h
// is ledger height h + 1: epoch k is heights kE to (k + 1)E - 1, and its election follows the
// commit of height kE - 1. Honest validators must all elect the same committees.
//
// As in production (net::ConsensusLoop), honest broadcasts go to the validators with power
// on record at the sender's height. A validator off the committee, or jailed, follows: it
// drops messages of its height, keeps those of later heights (at most 4,096) for when it
// sits on a committee, and commits each height from a block and certificate that each voter
// of that height sends it on committing (share_committed_block in node/agreement.cpp: reliable,
// but held back by a partition until it heals), through StateMachine::on_commit_certificate,
// which checks the certificate against the follower's own validator set. A Byzantine voter
// shares a twin of the block instead, certified by the Byzantine validators alone, which
// followers must refuse. Followers' commits go through the same checks as voters': the
// safety checker covers every honest validator. The simulator has no barrier between
// heights (production holds every voter at a height until all have committed it), so a
// follower also hands messages of earlier heights to its machine: it answers a lagging
// voter's ask for a height it decided, as a voter held there would.
//
// The Byzantine validators are members of the first committee holding the smallest stake
// (colluders: the first proposer among them), so f of them hold less than 1/3 of any
// committee's power; the genesis hash is the first of a seeded sequence whose election seats
// enough of them. Later elections seat them or not, by stake, like anyone else.
// Scenario::anywhere draws them from all n instead, and Scenario::grind lets them pick the
// block hash that seeds the next election.
#pragma once

#include <cstdint>
#include <string>

#include "fedchain/consensus/validator_set.hpp"
#include "scenario.hpp"

namespace fedchain::consensus::sim {

struct RunOptions {
  bool trace = false;  // record every delivery, timeout and commit in Report::trace
};

struct Report {
  bool ok = true;
  std::string failure;  // the first check that failed, with the state it found
  bool fork = false;    // two honest validators committed different blocks at a height
  std::uint64_t deliveries = 0;
  std::uint64_t end_ms = 0;              // simulated time when the run ended
  std::uint64_t heal_ms = 0;             // when drops and partitions stopped
  std::uint32_t max_decision_round = 0;  // at any honest validator
  std::uint32_t max_rounds_after_heal = 0;
  std::uint64_t bad_signatures = 0;  // forged messages refused by honest validators
  std::uint64_t evidence_committed = 0;
  std::uint64_t max_evidence_delay = 0;  // heights from an equivocation to its evidence's block
  // Heights from a validator's first equivocation an honest validator found to the block
  // that first held evidence against it (that jailed it), or to the end of the run.
  std::uint64_t max_jail_delay = 0;
  std::uint64_t decided_heights = 0;  // heights some honest validator committed
  std::uint64_t equivocations_seen = 0;
  // Committee scenarios:
  std::uint64_t elections = 0;             // epochs elected, the first included
  std::uint64_t byzantine_seats = 0;       // (epoch, Byzantine member) pairs
  std::uint32_t byzantine_on_and_off = 0;  // Byzantine validators on some committees, off others
  // Heights at which the Byzantine members held >= 1/3 of the committee's active power
  // (the promised bound is broken: only the fork tests get there).
  std::uint64_t byzantine_third_heights = 0;
  std::uint64_t follower_commits = 0;  // honest commits of a block a voter shared
  std::uint64_t shared_refused = 0;    // shared blocks honest followers refused (forged)
  // Messages for a later height that an honest voter refused as from a validator without
  // power at its own height (a member of the next epoch's committee only).
  std::uint64_t early_refused = 0;
  std::string trace;
};

// Rounds a height with validator set `set` may take once the network has healed. Without a
// committee: f Byzantine proposers in a row, up to two rounds for honest validators to line
// up again, and the round that decides (found, not proven: one schedule in thousands takes
// one more, see docs/consensus.md, Testing). With one: the proposer period P of `set` (its
// active power over the gcd of the powers: every member proposes within any P rounds, so an
// honest member that alone locked on a block before heal gets its turn to re-propose it,
// however its stake spaces its turns), and 2 rounds to line up.
std::uint32_t liveness_round_bound(const Scenario& scenario, const ValidatorSet& set);

Report run_scenario(const Scenario& scenario, const RunOptions& options = {});

}  // namespace fedchain::consensus::sim
