// Job files: parse with toml++, check every key against the schema, apply --set overrides,
// write the resolved job back as TOML. The schema (job_schema.cpp) is the only place that
// knows the keys; this file knows how to walk a TOML document and report errors well.
#include "fedchain/core/job_file.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <toml++/toml.h>

#include "job_schema.hpp"

namespace fedchain {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_key_hint(std::string_view key) {
  const auto& schema = job_schema();
  const JobKeySpec* best = nullptr;
  std::size_t best_distance = 0;
  for (const auto& spec : schema) {
    const std::size_t d = edit_distance(key, spec.key);
    if (best == nullptr || d < best_distance) {
      best = &spec;
      best_distance = d;
    }
  }
  if (best != nullptr && best_distance <= std::max<std::size_t>(3, key.size() / 3)) {
    return fmt::format("; did you mean '{}'?", best->key);
  }
  return "; run `fedchain job keys` for the list of keys";
}

const JobKeySpec* find_spec(std::string_view key) {
  for (const auto& spec : job_schema()) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

std::string where(std::string_view source, const toml::source_region& region) {
  if (region.begin.line == 0) return std::string(source);
  return fmt::format("{}:{}:{}", source, region.begin.line, region.begin.column);
}

// Turns "value" from --set key=value into a TOML node: TOML syntax first (numbers, booleans,
// quoted strings, arrays), else the bare text as a string.
toml::table parse_override_value(std::string_view value) {
  try {
    auto doc = toml::parse(fmt::format("v = {}", value));
    if (doc.contains("v")) return doc;
  } catch (const toml::parse_error&) {
  }
  toml::table doc;
  doc.insert("v", std::string(value));
  return doc;
}

Status apply_override(toml::table& root, const std::string& assignment,
                      std::map<std::string, std::string>& overridden) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    return config_error("--set '{}': expected key=value, for example --set train.lr=0.1",
                        assignment);
  }
  const std::string key = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  if (find_spec(key) == nullptr) {
    return config_error("--set '{}': unknown key '{}'{}", assignment, key, closest_key_hint(key));
  }
  const auto dot = key.find('.');
  const std::string section = key.substr(0, dot);
  const std::string name = key.substr(dot + 1);
  if (!root.contains(section)) root.insert(section, toml::table{});
  auto* table = root[section].as_table();
  if (table == nullptr) {
    return config_error("--set '{}': '{}' is not a table in the job file", assignment, section);
  }
  auto parsed = parse_override_value(value);
  table->insert_or_assign(name, std::move(*parsed.get("v")));
  overridden[key] = assignment;
  return {};
}

// [privacy] against the rest of the job: both modes act on fedavg's sum (docs/privacy.md).
Status check_privacy(const Job& job) {
  const auto& privacy = job.privacy;
  const bool robust = job.aggregate.rule != "fedavg";
  const bool gathers = job.aggregate.exchange == "allgather";
  if (privacy.secure_aggregation && (robust || gathers)) {
    return config_error(
        "privacy.secure_aggregation = true masks each rank's partial sum of fedavg's allreduce, "
        "but aggregate.rule = '{}', aggregate.exchange = '{}' needs every update in the clear: "
        "set aggregate.rule = \"fedavg\" with aggregate.exchange = \"auto\", or "
        "privacy.secure_aggregation = false",
        job.aggregate.rule, job.aggregate.exchange);
  }
  if (privacy.secure_aggregation && job.ledger.archive_updates) {
    return config_error(
        "privacy.secure_aggregation = true with ledger.archive_updates = true: the archive would "
        "keep every client's update in the clear, which the masks are there to hide; set one "
        "of them to false");
  }
  if (privacy.dp && (robust || gathers)) {
    return config_error(
        "privacy.dp = true is DP-FedAvg: noise on fedavg's sum over the allreduce, but "
        "aggregate.rule = '{}', aggregate.exchange = '{}': set aggregate.rule = \"fedavg\" "
        "with aggregate.exchange = \"auto\", or privacy.dp = false",
        job.aggregate.rule, job.aggregate.exchange);
  }
  if (!privacy.dp && privacy.target_epsilon > 0) {
    return config_error(
        "privacy.target_epsilon = {} is a budget for privacy.dp, which is false: set "
        "privacy.dp = true, or leave privacy.target_epsilon out",
        privacy.target_epsilon);
  }
  return {};
}

// model.layers implies arch = "custom"; a preset arch beside it would be silently dropped, so
// the pair is refused. The raw table is read because the layers key overwrites the arch.
Status check_model_keys(const toml::table& root, const Job& job, std::string_view source) {
  const auto* model = root["model"].as_table();
  const auto arch = model == nullptr ? std::nullopt : (*model)["arch"].value<std::string>();
  if (!job.model.layers.empty() && arch && *arch != "custom") {
    return config_error(
        "{}: model.arch = \"{}\" and model.layers are both given: model.layers is a stack of "
        "its own (arch = \"custom\"); remove one of them",
        source, *arch);
  }
  if (job.model.arch == "custom" && job.model.layers.empty()) {
    return config_error("{}: model.arch = \"custom\" needs model.layers, the layer stack", source);
  }
  return {};
}

Status check_cross_keys(const Job& job, std::string_view source) {
  if (job.model.arch == "mlp" && job.model.hidden.empty()) {
    return config_error("{}: model.hidden must list at least one layer width for arch 'mlp'",
                        source);
  }
  if (job.train.local_epochs == 0 && job.train.local_steps == 0) {
    return config_error("{}: set train.local_epochs or train.local_steps above 0", source);
  }
  if (auto st = check_consensus_faults(job, job.job.ranks); !st) {
    return config_error("{}: {}", source, st.error().message);
  }
  if (auto st = check_clients(job, job.job.ranks); !st) {
    return config_error("{}: {}", source, st.error().message);
  }
  if (auto st = check_committee(job, job.job.ranks); !st) {
    return config_error("{}: {}", source, st.error().message);
  }
  if (auto st = check_privacy(job); !st) {
    return config_error("{}: {}", source, st.error().message);
  }
  if (job.ledger.archive_updates && job.consensus.protocol != "bft") {
    return config_error(
        "{}: ledger.archive_updates = true needs consensus.protocol = \"bft\" (the archive is "
        "checked against the updates the chain's transactions sign)",
        source);
  }
  return {};
}

}  // namespace

Status check_clients(const Job& job, std::int64_t ranks) {
  const auto& clients = job.clients;
  const std::int64_t total = clients.total > 0 ? clients.total : ranks;
  if (total > 0 && clients.per_round > total) {
    return config_error(
        "clients.per_round = {} is more than the {} clients (clients.total{}): lower "
        "clients.per_round, or raise clients.total",
        clients.per_round, total, clients.total > 0 ? "" : " = 0, one per rank");
  }
  return {};
}

std::int64_t committee_size(const Job& job, std::int64_t ranks) {
  return job.consensus.committee > 0 ? job.consensus.committee
                                     : std::min<std::int64_t>(ranks, kDefaultCommitteeMax);
}

Status check_committee(const Job& job, std::int64_t ranks) {
  const auto& consensus = job.consensus;
  const auto& stake = consensus.stake;
  // Each stake below 2^44 keeps the total of 65,536 ranks below the ledger's 2^60.
  constexpr std::int64_t kMaxStake = std::int64_t{1} << 44;
  for (std::size_t r = 0; r < stake.size(); ++r) {
    if (stake[r] >= kMaxStake) {
      return config_error("consensus.stake[{}] = {} is too large (at most 2^44 - 1)", r, stake[r]);
    }
  }
  if (!stake.empty() && std::all_of(stake.begin(), stake.end(), [](auto s) { return s == 0; })) {
    return config_error(
        "consensus.stake is 0 for every rank: give at least the committee's "
        "worth of ranks a stake above 0");
  }
  if (ranks <= 0) return {};
  if (!stake.empty() && static_cast<std::int64_t>(stake.size()) != ranks) {
    return config_error(
        "consensus.stake lists {} stakes for {} ranks: give one per rank, or leave it out for "
        "1 each",
        stake.size(), ranks);
  }
  if (consensus.committee > ranks) {
    return config_error(
        "consensus.committee = {} is more than the {} ranks: lower it, or 0 for every rank up "
        "to {}",
        consensus.committee, ranks, kDefaultCommitteeMax);
  }
  const auto staked = stake.empty()
                          ? ranks
                          : std::count_if(stake.begin(), stake.end(), [](auto s) { return s > 0; });
  if (committee_size(job, ranks) > staked) {
    return config_error(
        "consensus.committee = {} but only {} ranks have a stake above 0 in consensus.stake: "
        "lower the committee or give more ranks stake",
        committee_size(job, ranks), staked);
  }
  return {};
}

Status check_consensus_faults(const Job& job, std::int64_t ranks) {
  const auto& faults = job.faults;
  if (faults.consensus == "none") return {};
  if (job.consensus.protocol != "bft") {
    return config_error(
        "faults.consensus = '{}' needs the vote, but consensus.protocol = '{}': set "
        "consensus.protocol = \"bft\" or faults.consensus = \"none\"",
        faults.consensus, job.consensus.protocol);
  }
  if (faults.byzantine.empty()) {
    return config_error(
        "faults.consensus = '{}' but faults.byzantine lists no rank: name the ranks that "
        "misbehave, for example faults.byzantine = [3]",
        faults.consensus);
  }
  if (ranks > 0) {
    // The vote tolerates f of the committee, wherever the election seats the byzantine ranks.
    const std::int64_t voters = committee_size(job, ranks);
    const std::int64_t f = (voters - 1) / 3;
    if (static_cast<std::int64_t>(faults.byzantine.size()) > f) {
      return config_error(
          "faults.consensus = '{}' with {} byzantine ranks, but a committee of {} tolerates at "
          "most f = {} (c >= 3f + 1; consensus.committee, every rank up to 16 by default): list "
          "fewer ranks in faults.byzantine, or start more ranks and a larger committee (beyond "
          "f only the simulator runs: tests/consensus)",
          faults.consensus, faults.byzantine.size(), voters, f);
    }
  }
  return {};
}

std::vector<JobKeyInfo> job_keys() {
  std::vector<JobKeyInfo> out;
  const Job defaults;
  for (const auto& spec : job_schema()) {
    toml::table t;
    spec.write(defaults, t);
    // The table prints as "name = value"; the default is the part after " = ".
    std::ostringstream text;
    text << t;
    const auto line = text.str();
    const auto eq = line.find(" = ");
    out.push_back({spec.key, spec.type, eq == std::string::npos ? line : line.substr(eq + 3),
                   spec.allowed, spec.doc});
  }
  return out;
}

Result<Job> parse_job(std::string_view toml_text, std::string_view source,
                      const std::vector<std::string>& overrides) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return config_error("{}: TOML syntax error: {}", where(source, e.source()), e.description());
  }
  std::map<std::string, std::string> overridden;  // key -> "key=value" as given
  for (const auto& assignment : overrides) {
    if (auto st = apply_override(root, assignment, overridden); !st) return st.error();
  }

  Job job;
  for (auto&& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    auto* table = section_node.as_table();
    if (table == nullptr) {
      return config_error(
          "{}: '{}' must be a table ([{}]); keys live in sections such as "
          "[job] or [train]{}",
          where(source, section_node.source()), section, section, closest_key_hint(section));
    }
    for (auto&& [name_key, node] : *table) {
      const std::string key = section + "." + std::string(name_key.str());
      const JobKeySpec* spec = find_spec(key);
      const auto override_it = overridden.find(key);
      const std::string at = override_it != overridden.end()
                                 ? fmt::format("--set {}", override_it->second)
                                 : where(source, node.source());
      if (spec == nullptr) {
        return config_error("{}: unknown key '{}'{}", at, key, closest_key_hint(key));
      }
      if (auto problem = spec->read(node, job); !problem.empty()) {
        return config_error("{}: key '{}': {}", at, key, problem);
      }
    }
  }
  if (auto st = check_model_keys(root, job, source); !st) return st.error();
  if (auto st = check_cross_keys(job, source); !st) return st.error();
  return job;
}

Result<Job> load_job(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return config_error("cannot read job file '{}': check the path (examples are in jobs/)",
                        path.string());
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_job(text.str(), path.string(), overrides);
}

std::string job_to_toml(const Job& job) {
  toml::table root;
  for (const auto& spec : job_schema()) {
    const auto section = spec.key.substr(0, spec.key.find('.'));
    if (!root.contains(section)) root.insert(section, toml::table{});
    spec.write(job, *root[section].as_table());
  }
  std::ostringstream out;
  out << "# Resolved fedchain job: every key, defaults included.\n" << root << "\n";
  return out.str();
}

}  // namespace fedchain
