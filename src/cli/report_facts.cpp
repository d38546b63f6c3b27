// The facts of one run for `fedchain report` (report_facts.hpp). Reads only, and never
// takes run.lock: a running job holds it (RunLock::holder says who, without taking it),
// and the chain store's read-only open sees the blocks committed so far (a half-written
// last record is a torn tail, not damage).
#include "report_facts.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "chain_view.hpp"
#include "commands.hpp"
#include "fedchain/audit/run_audit.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/io/run_dir.hpp"
#include "fedchain/ledger/chain_store.hpp"
#include "fedchain/ledger/state_change.hpp"
#include "verify_report.hpp"

namespace fedchain::cli {

namespace {

using nlohmann::json;

std::optional<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The job as the run resolved it (RUN_DIR/job.toml, else the copy in genesis) and the
// keys a reader looks for first.
json job_json(const std::string& toml, const std::string& source) {
  json out = {{"toml", toml}, {"source", source}};
  auto job = parse_job(toml, source);
  if (!job) {
    out["error"] = job.error().message;
    return out;
  }
  std::string model = job->model.arch;
  if (job->model.arch == "mlp") model += fmt::format(" {}", fmt::join(job->model.hidden, "-"));
  out["name"] = job->job.name;
  out["rounds"] = job->job.rounds;
  out["seed"] = job->job.seed;
  out["ranks"] = job->job.ranks;
  out["clients"] = job->clients.total;
  out["per_round"] = job->clients.per_round;
  out["partition"] = job->data.partition;
  out["model"] = model;
  out["rule"] = job->aggregate.rule;
  out["attack"] = job->faults.attack;
  out["consensus"] = job->consensus.protocol;
  out["committee"] = job->consensus.committee;
  out["epoch"] = job->consensus.epoch;
  return out;
}

json contribution_rows(const ledger::ChainState& state) {
  json rows = json::array();
  for (std::size_t v = 0; v < state.validators().size(); ++v) {
    const auto& validator = state.validators()[v];
    const auto& c = state.contributions()[v];
    rows.push_back({{"rank", v},
                    {"power", validator.power},
                    {"jailed", validator.jailed},
                    {"samples_trained", c.samples_trained},
                    {"updates_accepted", c.updates_accepted},
                    {"updates_rejected", c.updates_rejected},
                    {"rewards", c.rewards}});
  }
  return rows;
}

struct ClientTally {
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  std::uint64_t samples = 0;
};

json block_row(const ledger::StoredBlock& stored) {
  const auto& h = stored.block.header();
  return {{"height", h.height},
          {"hash", stored.block.hash().hex()},
          {"proposer", h.proposer},
          {"txs", stored.block.txs().size()},
          {"rejected", h.rejected_clients},
          {"evidence", evidence_json(stored.block)},
          {"round", stored.certificate.round()},
          {"signers", stored.certificate.signatures().size()},
          {"time_ms", h.time_ms},
          {"rule", rule_text(h.rule)}};
}

// Every block, replayed through the chain state (ledger::state_at's apply, as inspect does)
// for the heights at which validators were jailed and committees elected, and with
// privacy.dp the epsilon the state voted on after each.
json chain_json(const ledger::ChainStore& store) {
  ledger::ChainState state = ledger::ChainState::from_genesis(store.genesis());
  json blocks = json::array();
  json jailed = json::array();
  json committees = json::array({{{"from_height", 1}, {"members", state.committee()}}});
  std::map<std::uint32_t, ClientTally> clients;
  for (const auto& stored : store.blocks()) {
    const ledger::Block& block = stored.block;
    blocks.push_back(block_row(stored));
    for (const auto& tx : block.txs()) {
      auto& tally = clients[tx.client()];
      (is_rejected(block, tx) ? tally.rejected : tally.accepted) += 1;
      tally.samples += tx.samples();
    }
    ledger::ChainState next = state.apply(block);
    if (next.privacy()) blocks.back().update(epsilon_json(next.privacy()->epsilon_micro));
    const ledger::StateChange change = ledger::state_change(state, next);
    for (const auto& v : change.validators) {
      if (v.before.jailed || !v.after.jailed) continue;
      const bool by_evidence =
          std::any_of(block.evidence().begin(), block.evidence().end(),
                      [&](const auto& e) { return e.validator() == v.validator; });
      jailed.push_back(
          {{"validator", v.validator},
           {"height", block.height()},
           {"why", by_evidence ? "equivocation evidence" : "rejected updates in a row"}});
    }
    if (change.committee) {
      committees.push_back(
          {{"from_height", block.height() + 1}, {"members", change.committee->after}});
    }
    state = std::move(next);
  }
  json client_rows = json::array();
  for (const auto& [client, tally] : clients) {
    client_rows.push_back({{"client", client},
                           {"updates_accepted", tally.accepted},
                           {"updates_rejected", tally.rejected},
                           {"samples", tally.samples}});
  }
  const auto& genesis = store.genesis();
  json torn = nullptr;
  if (const auto& t = store.torn_tail()) {
    torn = {{"height", t->height}, {"bytes", t->bytes}, {"offset", t->offset}};
  }
  json privacy = nullptr;
  if (const auto& record = state.privacy()) {
    privacy = mechanism_json(*record);
    privacy["noised_rounds"] = record->noised_rounds;
    privacy.update(epsilon_json(record->epsilon_micro));
  }
  return {{"chain_id", genesis.chain_id().hex()},
          {"genesis_hash", genesis.hash().hex()},
          {"validators", genesis.validator_count()},
          {"clients", genesis.fields().shards.size()},
          {"tip", store.height()},
          {"torn_tail", torn},
          {"blocks", blocks},
          {"committees", committees},
          {"jailed", jailed},
          {"ranks", contribution_rows(state)},
          {"client_contributions", client_rows},
          {"privacy", privacy}};
}

// RUN_DIR/logs/rank-N.log files: without a chain, how many ranks a job that left the
// count to mpirun had.
std::size_t rank_logs(const std::filesystem::path& run_dir) {
  std::size_t count = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(run_dir / "logs", ec), end; !ec && it != end;
       it.increment(ec)) {
    count += it->path().filename().string().starts_with("rank-") ? 1 : 0;
  }
  return count;
}

json audit_json(const audit::RunReport& report, const AuditText& said) {
  static constexpr const char* kOutcomes[] = {"verifies", "error", "primary-missing", "chain-fails",
                                              "replica-fails"};
  json out = {{"outcome", kOutcomes[static_cast<int>(report.outcome())]},
              {"ok", report.outcome() == audit::Outcome::kVerifies},
              {"exit_code", said.exit_code},
              {"text", said.text},
              {"error_text", said.error},
              {"bad_height", nullptr},
              {"reason", nullptr}};
  if (report.chain.bad_height) out["bad_height"] = *report.chain.bad_height;
  if (report.chain.error) out["reason"] = report.chain.error->code;
  if (report.outcome() == audit::Outcome::kReplicaFails) {
    for (const auto& replica : report.replicas) {
      if (replica.ok() || !replica.bad_height) continue;
      out["bad_height"] = *replica.bad_height;
      out["reason"] = replica.error->code;
      out["replica"] = replica.shown;
      break;
    }
  }
  return out;
}

}  // namespace

Result<RunFacts> gather_run_facts(const std::filesystem::path& run_dir,
                                  const std::string& data_path) {
  const auto job_toml = read_text(run_dir / "job.toml");
  auto store = ledger::ChainStore::open(run_dir, ledger::OpenMode::kReadOnly);
  std::error_code ec;
  const bool chain_file = std::filesystem::exists(ledger::ChainStore::log_path(run_dir), ec);
  if (!job_toml && !chain_file) {
    return config_error(
        "{} holds no run: neither job.toml nor chain/blocks.log is there; pass "
        "the folder given to `fedchain train --run-dir`",
        run_dir.string());
  }
  RunFacts facts;
  json& out = facts.json;
  out["run_dir"] = run_dir.string();
  out["label"] = run_dir.filename().empty() ? run_dir.parent_path().filename().string()
                                            : run_dir.filename().string();
  out["metrics_csv"] = (run_dir / "metrics.csv").string();
  out["rank_logs"] = rank_logs(run_dir);
  const auto holder = io::RunLock::holder(run_dir);
  out["running"] = holder ? json(*holder) : json(nullptr);
  if (job_toml) {
    out["job"] = job_json(*job_toml, (run_dir / "job.toml").string());
  } else if (store) {
    out["job"] = job_json(store->genesis().fields().job_toml, "the job recorded in genesis");
  }
  const bool has_chain = out.contains("job") && out["job"].value("consensus", "bft") != "none";
  out["chain"] = nullptr;
  out["chain_error"] = nullptr;
  out["audit"] = nullptr;
  if (store) out["chain"] = chain_json(*store);
  if (!store && chain_file) out["chain_error"] = store.error().message;
  if (has_chain || chain_file) {
    const audit::RunReport audited = audit::audit_run(run_dir, {data_path});
    const AuditText said = audit_text(run_dir.string(), audited);
    out["audit"] = audit_json(audited, said);
    facts.audit_exit_code = said.exit_code;
  }
  return facts;
}

}  // namespace fedchain::cli
