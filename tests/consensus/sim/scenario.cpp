// Scenario names and the replay line (see scenario.hpp).
#include "scenario.hpp"

#include <array>
#include <charconv>
#include <sstream>
#include <utility>

#include <fmt/format.h>

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
  return fmt::format("n={} behaviour={} mix={} seed={} byzantine={} heights={}", s.n,
                     name(s.behaviour), name(s.mix), s.seed, s.byzantine, s.heights);
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
    } else {
      return std::nullopt;
    }
  }
  if (s.n == 0 || s.byzantine >= s.n || s.heights == 0) return std::nullopt;
  return s;
}

}  // namespace fedchain::consensus::sim
