// Vote storage and tallies for one height (see vote_book.hpp).
#include "fedchain/consensus/vote_book.hpp"

#include <algorithm>

namespace fedchain::consensus {

using ledger::Vote;
using ledger::VoteType;

VoteBook::AddResult VoteBook::add(const Vote& vote) {
  const std::uint32_t n = set_.size();
  auto [it, fresh] = rounds_.try_emplace(vote.round);
  Round& round = it->second;
  if (fresh) {
    for (Tally* t : {&round.prevotes, &round.precommits}) {
      t->by_validator.resize(n);
      t->conflicting.resize(n);
    }
    round.seen.resize(n);
  }
  Tally& t = vote.type == VoteType::kPrevote ? round.prevotes : round.precommits;
  std::optional<Vote>& slot = t.by_validator[vote.validator];
  const std::uint64_t power = set_.power(vote.validator);
  if (slot) {
    if (*slot == vote) return AddResult::kDuplicate;
    std::vector<Vote>& others = t.conflicting[vote.validator];
    for (const Vote& other : others) {
      if (other.block_hash == vote.block_hash) return AddResult::kDuplicate;
    }
    if (slot->block_hash == vote.block_hash) return AddResult::kDuplicate;  // re-signed copy
    if (others.size() + 1 >= kMaxPerSlot) return AddResult::kDropped;
    others.push_back(vote);
    t.power_for[vote.block_hash] += power;
    return others.size() == 1 ? AddResult::kConflict : AddResult::kConflictCounted;
  }
  slot = vote;
  t.power_for[vote.block_hash] += power;
  t.total += power;
  if (!round.seen[vote.validator]) {
    round.seen[vote.validator] = true;
    round.power_any += power;
  }
  return AddResult::kAdded;
}

bool VoteBook::holds(const Vote& vote) const {
  const Tally* t = tally(vote.round, vote.type);
  if (t == nullptr || vote.validator >= t->by_validator.size()) return false;
  if (t->by_validator[vote.validator] == vote) return true;
  const auto& others = t->conflicting[vote.validator];
  return std::find(others.begin(), others.end(), vote) != others.end();
}

bool VoteBook::slot_full(const Vote& vote) const {
  const Tally* t = tally(vote.round, vote.type);
  return t != nullptr && vote.validator < t->conflicting.size() &&
         t->conflicting[vote.validator].size() + 1 >= kMaxPerSlot;
}

const Vote* VoteBook::slot(const Vote& vote) const {
  return find(vote.round, vote.type, vote.validator);
}

const VoteBook::Tally* VoteBook::tally(std::uint32_t round, VoteType type) const {
  auto it = rounds_.find(round);
  if (it == rounds_.end()) return nullptr;
  return type == VoteType::kPrevote ? &it->second.prevotes : &it->second.precommits;
}

const Vote* VoteBook::find(std::uint32_t round, VoteType type, std::uint32_t validator) const {
  const Tally* t = tally(round, type);
  if (t == nullptr || validator >= t->by_validator.size()) return nullptr;
  const auto& slot = t->by_validator[validator];
  return slot ? &*slot : nullptr;
}

std::uint64_t VoteBook::power_for(std::uint32_t round, VoteType type,
                                  const std::optional<Hash32>& block) const {
  const Tally* t = tally(round, type);
  if (t == nullptr) return 0;
  auto it = t->power_for.find(block);
  return it == t->power_for.end() ? 0 : it->second;
}

std::uint64_t VoteBook::power_total(std::uint32_t round, VoteType type) const {
  const Tally* t = tally(round, type);
  return t == nullptr ? 0 : t->total;
}

std::uint64_t VoteBook::power_any(std::uint32_t round) const {
  auto it = rounds_.find(round);
  return it == rounds_.end() ? 0 : it->second.power_any;
}

std::optional<std::optional<Hash32>> VoteBook::quorum(std::uint32_t round, VoteType type) const {
  const Tally* t = tally(round, type);
  if (t == nullptr || !set_.is_quorum(t->total)) return std::nullopt;
  for (const auto& [block, power] : t->power_for) {
    if (set_.is_quorum(power)) return block;
  }
  return std::nullopt;
}

std::vector<Vote> VoteBook::votes_for(std::uint32_t round, VoteType type,
                                      const Hash32& block) const {
  std::vector<Vote> out;
  const Tally* t = tally(round, type);
  if (t == nullptr) return out;
  for (std::size_t i = 0; i < t->by_validator.size(); ++i) {
    const auto& slot = t->by_validator[i];
    if (slot && slot->block_hash == block) out.push_back(*slot);
    for (const Vote& other : t->conflicting[i]) {
      if (other.block_hash == block) out.push_back(other);
    }
  }
  return out;
}

std::vector<std::uint32_t> VoteBook::rounds() const {
  std::vector<std::uint32_t> out;
  out.reserve(rounds_.size());
  for (const auto& entry : rounds_) out.push_back(entry.first);
  return out;
}

std::optional<std::uint32_t> VoteBook::highest_round() const {
  if (rounds_.empty()) return std::nullopt;
  return rounds_.rbegin()->first;
}

}  // namespace fedchain::consensus
