// The run: set up, then one round per height until the job's rounds are done or a stop
// signal arrives. Read this file first; setup.cpp and round.cpp hold the details.
#include "fedchain/node/federation.hpp"

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <utility>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "exchange.hpp"
#include "node.hpp"

namespace fedchain::node {

namespace {

std::atomic<bool> g_stop_requested{false};

void request_stop(int) {
  g_stop_requested.store(true);
}

// "round 3/10 | loss 0.4123 | acc 0.8512 | root 1a2b3c4d5e6f | train 1.20s quant 0.01s ..."
void print_round_line(const RoundReport& r, std::uint64_t rounds, double eta_s) {
  const std::string block =
      r.block_hash.empty() ? std::string() : fmt::format(" | block {}", r.block_hash.substr(0, 12));
  const std::string accuracy =
      std::isnan(r.test_acc) ? std::string("   -   ") : fmt::format("{:.4f}", r.test_acc);
  std::printf(
      "%s\n",
      fmt::format("round {}/{} | loss {:.4f} | acc {}{} | root {} | train {:.2f}s quant {:.3f}s "
                  "exch {:.3f}s agg {:.3f}s cons {:.3f}s store {:.3f}s eval {:.2f}s | "
                  "{:.2f}s/round | ETA {:.0f}s",
                  r.height, rounds, r.train_loss, accuracy, block, r.state_root.substr(0, 12),
                  r.train_s, r.quantize_s, r.exchange_s, r.aggregate_s, r.consensus_s, r.store_s,
                  r.eval_s, r.round_s, eta_s)
          .c_str());
  std::fflush(stdout);
}

io::MetricsRow metrics_row(const RoundReport& r) {
  io::MetricsRow row;
  row.height = r.height;
  row.round_s = r.round_s;
  row.train_s = r.train_s;
  row.quantize_s = r.quantize_s;
  row.hash_s = r.hash_s;
  row.exchange_s = r.exchange_s;
  row.aggregate_s = r.aggregate_s;
  row.consensus_s = r.consensus_s;
  row.store_s = r.store_s;
  row.eval_s = r.eval_s;
  row.bytes_sent = r.bytes_sent;
  row.consensus_messages = r.consensus_messages;
  row.consensus_bytes = r.consensus_bytes;
  row.train_loss = r.train_loss;
  row.test_loss = r.test_loss;
  row.test_acc = r.test_acc;
  row.state_root = r.state_root;
  row.proposer = r.proposer;
  row.commit_round = r.commit_round;
  return row;
}

// Consensus messages and bytes this rank has sent so far (after any faults.consensus
// rewriting: what went on the wire).
std::pair<std::uint64_t, std::uint64_t> consensus_sent(Node& node) {
  if (!node.chain) return {0, 0};
  const auto& stats = node.chain->transport->stats();
  return {stats.sent, stats.bytes_sent};
}

// Every rank stops answering consensus messages together (Transport::finish). What the
// vote refused is logged: the trace of any Byzantine rank's behaviour.
Status shut_down_chain(Node& node) {
  if (!node.chain) return {};
  const net::LoopStats& stats = node.chain->loop->stats();
  spdlog::info("consensus: {} messages received, {} undecodable, refused by reason: {}",
               stats.messages, stats.undecodable,
               stats.refused.empty() ? std::string("none") : fmt::format("{}", stats.refused));
  return node.chain->loop->shut_down(std::chrono::minutes(1));
}

}  // namespace

void install_stop_handlers() {
  std::signal(SIGTERM, request_stop);
  std::signal(SIGUSR1, request_stop);
}

Result<RunEnd> run_federation(const Job& job, const RunOptions& options) {
  auto started = start_node(job, options);
  if (!started) return started.error();
  Node& node = **started;
  if (auto st = open_update_archive(node); !st) return st.error();
  const auto rounds = static_cast<std::uint64_t>(job.job.rounds);
  if (node.rank == 0) {
    std::printf("fedchain train: %d ranks, %s, %llu rounds, run directory %s\n", node.ranks,
                job.model.arch.c_str(), static_cast<unsigned long long>(rounds),
                node.run_dir.root().string().c_str());
  }

  const auto run_start = std::chrono::steady_clock::now();
  const std::uint64_t first = node.height + 1;
  while (node.height < rounds) {
    // A signal on any rank stops every rank at this same height.
    auto stop = any_rank(g_stop_requested.load(), MPI_COMM_WORLD);
    if (!stop) return stop.error();
    if (*stop) {
      if (auto st = write_node_checkpoint(node); !st) return st.error();
      if (node.rank == 0) {
        std::printf(
            "fedchain train: stopped by signal after round %llu; checkpoint written; "
            "continue with --resume\n",
            static_cast<unsigned long long>(node.height));
      }
      if (auto st = shut_down_chain(node); !st) return st.error();
      return RunEnd::kStopped;
    }
    const auto sent_before = consensus_sent(node);
    auto report = run_round(node);
    if (!report) return report.error();
    const auto sent_after = consensus_sent(node);
    report->consensus_messages = sent_after.first - sent_before.first;
    report->consensus_bytes = sent_after.second - sent_before.second;
    if (node.rank == 0) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
      const double per_round = elapsed / static_cast<double>(node.height - first + 1);
      print_round_line(*report, rounds, per_round * static_cast<double>(rounds - node.height));
      if (auto st = node.metrics->append(metrics_row(*report)); !st) return st.error();
    }
  }
  if (auto st = shut_down_chain(node); !st) return st.error();
  if (node.rank == 0) {
    std::printf("fedchain train: done, %llu rounds; metrics in %s\n",
                static_cast<unsigned long long>(rounds),
                node.run_dir.metrics_csv().string().c_str());
  }
  return RunEnd::kCompleted;
}

}  // namespace fedchain::node
