// Scenario names and the replay line (see scenario.hpp).
#include "scenario.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedchain::consensus::sim {

namespace {
using faults::ConsensusFault;
constexpr std::array kShipped = {
    std::pair{Behaviour::kNone, ConsensusFault::kNone},
    std::pair{Behaviour::kEquivocatingProposer, ConsensusFault::kEquivocate},
    std::pair{Behaviour::kDoubleVote, ConsensusFault::kDoubleVote},
    std::pair{Behaviour::kWithholdVotes, ConsensusFault::kWithholdVotes},
    std::pair{Behaviour::kInvalidVote, ConsensusFault::kInvalidVote},
    std::pair{Behaviour::kWrongStateRoot, ConsensusFault::kWrongStateRoot},
    std::pair{Behaviour::kForgeSignatures, ConsensusFault::kForgeSignatures},
    std::pair{Behaviour::kReplayOldMessages, ConsensusFault::kReplay},
    std::pair{Behaviour::kSilent, ConsensusFault::kSilent},
};
constexpr std::array kComposed = {
    std::pair{Behaviour::kMixed, "mixed"},
    std::pair{Behaviour::kColludeFork, "collude-fork"},
};
constexpr std::array kMixes = {
    std::pair{NetworkMix::kCalm, "calm"},
    std::pair{NetworkMix::kJitter, "jitter"},
    std::pair{NetworkMix::kLossy, "lossy"},
    std::pair{NetworkMix::kPartition, "partition"},
};

bool parse_u64(std::string_view text, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

// "1,2,3": every entry a number.
bool parse_list(std::string_view text, std::vector<std::uint64_t>& out) {
  out.clear();
  while (true) {
    const auto comma = text.find(',');
    std::uint64_t number = 0;
    if (!parse_u64(text.substr(0, comma), number)) return false;
    out.push_back(number);
    if (comma == std::string_view::npos) return true;
    text.remove_prefix(comma + 1);
  }
}

bool valid(const Scenario& s) {
  if (s.n == 0 || s.byzantine >= s.n || s.heights == 0 || s.epoch == 0) return false;
  if (!s.stakes.empty() &&
      (s.stakes.size() != s.n || std::all_of(s.stakes.begin(), s.stakes.end(),
                                             [](std::uint64_t stake) { return stake == 0; }))) {
    return false;
  }
  return s.committee == 0 || (s.committee <= s.n && (s.anywhere || s.byzantine <= s.committee));
}
}  // namespace

std::optional<ConsensusFault> shipped_fault(Behaviour behaviour) {
  for (const auto& [b, fault] : kShipped) {
    if (b == behaviour) return fault;
  }
  return std::nullopt;
}

std::string_view name(Behaviour behaviour) {
  if (auto fault = shipped_fault(behaviour)) return faults::consensus_fault_name(*fault);
  for (const auto& [b, text] : kComposed) {
    if (b == behaviour) return text;
  }
  return "?";
}

std::string_view name(NetworkMix mix) {
  for (const auto& [m, text] : kMixes) {
    if (m == mix) return text;
  }
  return "?";
}

std::string describe(const Scenario& s) {
  std::string line = fmt::format("n={} behaviour={} mix={} seed={} byzantine={} heights={}", s.n,
                                 name(s.behaviour), name(s.mix), s.seed, s.byzantine, s.heights);
  if (s.committee > 0) line += fmt::format(" committee={} epoch={}", s.committee, s.epoch);
  if (s.anywhere) line += " anywhere=1";
  if (s.grind) line += " grind=1";
  if (!s.stakes.empty()) line += fmt::format(" stakes={}", fmt::join(s.stakes, ","));
  return line;
}

std::optional<Scenario> parse_scenario(std::string_view line) {
  Scenario s;
  std::istringstream in{std::string(line)};
  std::string field;
  while (in >> field) {
    const auto eq = field.find('=');
    if (eq == std::string::npos) return std::nullopt;
    const std::string_view key = std::string_view(field).substr(0, eq);
    const std::string_view value = std::string_view(field).substr(eq + 1);
    std::uint64_t number = 0;
    if (key == "behaviour") {
      bool found = false;
      for (const auto& [b, fault] : kShipped) {
        if (value == name(b)) s.behaviour = b, found = true;
      }
      for (const auto& [b, text] : kComposed) {
        if (value == text) s.behaviour = b, found = true;
      }
      if (!found) return std::nullopt;
    } else if (key == "stakes") {
      if (!parse_list(value, s.stakes)) return std::nullopt;
    } else if (key == "mix") {
      bool found = false;
      for (const auto& [m, text] : kMixes) {
        if (value == text) s.mix = m, found = true;
      }
      if (!found) return std::nullopt;
    } else if (!parse_u64(value, number)) {
      return std::nullopt;
    } else if (key == "n") {
      s.n = static_cast<std::uint32_t>(number);
    } else if (key == "seed") {
      s.seed = number;
    } else if (key == "byzantine") {
      s.byzantine = static_cast<std::uint32_t>(number);
    } else if (key == "heights") {
      s.heights = number;
    } else if (key == "committee") {
      s.committee = static_cast<std::uint32_t>(number);
    } else if (key == "epoch") {
      s.epoch = number;
    } else if (key == "anywhere" && number <= 1) {
      s.anywhere = number == 1;
    } else if (key == "grind" && number <= 1) {
      s.grind = number == 1;
    } else {
      return std::nullopt;
    }
  }
  if (!valid(s)) return std::nullopt;
  return s;
}

}  // namespace fedchain::consensus::sim
