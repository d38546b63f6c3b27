// The run: set up, then one round per height until the job's rounds are done or a stop
// signal arrives. Read this file first; setup.cpp and round.cpp hold the details.
#include "fedchain/node/federation.hpp"

#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "exchange.hpp"
#include "fedchain/data/dataset.hpp"
#include "fedchain/train/memory.hpp"
#include "node.hpp"
#include "stall_watchdog.hpp"

namespace fedchain::node {

namespace {

std::atomic<bool> g_stop_requested{false};

void request_stop(int) {
  g_stop_requested.store(true);
}

// "round 3/10 | clients 10/100 | loss 0.4123 | acc 0.8512 | root 1a2b3c4d5e6f | train 1.20s ..."
void print_round_line(const io::MetricsRow& r, std::uint64_t rounds, std::uint32_t clients,
                      double eta_s) {
  const std::string block =
      r.block_hash.empty() ? std::string() : fmt::format(" | block {}", r.block_hash.substr(0, 12));
  const std::string accuracy =
      std::isnan(r.test_acc) ? std::string("   -   ") : fmt::format("{:.4f}", r.test_acc);
  std::printf(
      "%s\n",
      fmt::format(
          "round {}/{} | clients {}/{} | loss {:.4f} | acc {}{} | root {} | train {:.2f}s "
          "quant {:.3f}s exch {:.3f}s agg {:.3f}s cons {:.3f}s store {:.3f}s eval {:.2f}s | "
          "{:.2f}s/round | ETA {:.0f}s",
          r.height, rounds, r.cohort, clients, r.train_loss, accuracy, block,
          r.state_root.substr(0, 12), r.train_s, r.quantize_s, r.exchange_s, r.aggregate_s,
          r.consensus_s, r.store_s, r.eval_s, r.round_s, eta_s)
          .c_str());
  std::fflush(stdout);
}

// Consensus messages and bytes this rank has sent so far (after any faults.consensus
// rewriting: what went on the wire).
std::pair<std::uint64_t, std::uint64_t> consensus_sent(Node& node) {
  if (!node.chain) return {0, 0};
  const auto& stats = node.chain->transport->stats();
  return {stats.sent, stats.bytes_sent};
}

// A stop signal reaches one rank (or some); the others may be waiting for a block in
// consensus, where no collective runs, so the first rank to see its signal tells every
// other rank with a message on a communicator of its own.
class StopNotices {
 public:
  static Result<std::unique_ptr<StopNotices>> open() {
    auto notices = std::unique_ptr<StopNotices>(new StopNotices());
    if (int rc = MPI_Comm_dup(MPI_COMM_WORLD, &notices->comm_); rc != MPI_SUCCESS) {
      return mpi_failure("MPI_Comm_dup (stop notices)", rc);
    }
    MPI_Comm_rank(notices->comm_, &notices->rank_);
    MPI_Comm_size(notices->comm_, &notices->ranks_);
    return notices;
  }
  StopNotices(const StopNotices&) = delete;
  StopNotices& operator=(const StopNotices&) = delete;
  ~StopNotices() {
    drain();
    MPI_Comm_free(&comm_);
  }

  // True once this rank's signal or another rank's notice arrived.
  bool requested() {
    if (g_stop_requested.load() && !sent_) {
      sent_ = true;
      for (int r = 0; r < ranks_; ++r) {
        if (r == rank_) continue;
        MPI_Request request;
        if (MPI_Isend(&kNotice, 1, MPI_INT, r, kTag, comm_, &request) == MPI_SUCCESS) {
          MPI_Request_free(&request);
        }
      }
    }
    drain();
    const bool stop = g_stop_requested.load();
    if (stop && !first_seen_) first_seen_ = std::chrono::steady_clock::now();
    return stop;
  }

  // True once requested() has been true for `grace`: a height that commits within it is
  // finished, so the run stops at a round boundary with its checkpoint at the chain's tip;
  // only a vote that stalls is abandoned.
  bool requested_for(std::chrono::steady_clock::duration grace) {
    return requested() && std::chrono::steady_clock::now() - *first_seen_ >= grace;
  }

 private:
  StopNotices() = default;
  // Receives every notice that has arrived; one is enough to stop.
  void drain() {
    for (;;) {
      int arrived = 0;
      MPI_Status status;
      if (MPI_Iprobe(MPI_ANY_SOURCE, kTag, comm_, &arrived, &status) != MPI_SUCCESS || !arrived) {
        return;
      }
      int notice = 0;
      MPI_Recv(&notice, 1, MPI_INT, status.MPI_SOURCE, kTag, comm_, MPI_STATUS_IGNORE);
      if (!g_stop_requested.exchange(true)) {
        spdlog::info("stop requested by rank {}", status.MPI_SOURCE);
      }
      sent_ = true;  // the rank that sent it told every rank
    }
  }

  static constexpr int kTag = 1;
  static constexpr int kNotice = 1;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int ranks_ = 1;
  bool sent_ = false;
  std::optional<std::chrono::steady_clock::time_point> first_seen_;
};

// Asked on every pass of the vote's progress loop (run_height's `stop`): each pass is one
// of a wait that the stall watchdog bounds, and a stop signal ends the wait after 5 s.
std::function<bool()> vote_pass(StopNotices& notices, StallWatchdog& watchdog) {
  return [&notices, &watchdog] {
    watchdog.waiting("the vote (consensus)");
    return notices.requested_for(std::chrono::seconds(5));
  };
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

// A checkpoint of the last finished round, then the orderly end of consensus.
Status stop_run(Node& node) {
  if (auto st = write_node_checkpoint(node); !st) return st;
  if (auto st = write_clients_csv(node); !st) return st;
  if (node.rank == 0) {
    std::printf(
        "fedchain train: stopped by signal after round %llu; checkpoint written; "
        "continue with --resume\n",
        static_cast<unsigned long long>(node.global.height));
  }
  return shut_down_chain(node);
}

// Ranks that share this rank's machine, and so its memory. Collective.
Result<int> ranks_on_this_machine() {
  MPI_Comm machine;
  if (int rc =
          MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &machine);
      rc != MPI_SUCCESS) {
    return mpi_failure("MPI_Comm_split_type (ranks on this machine)", rc);
  }
  int ranks_here = 1;
  MPI_Comm_size(machine, &ranks_here);
  MPI_Comm_free(&machine);
  return ranks_here;
}

// Refuses, before anything is loaded or allocated, a job whose ranks on this machine do not
// fit in its memory. A job whose dataset or rules cannot be read is left to start_node,
// which says what is wrong with it.
Status check_memory_fits(const Job& job, int ranks, int ranks_here) {
  auto info = data::read_dataset_info(job.data.path);
  auto aggregate = aggregate::aggregate_config(job.aggregate);
  if (!info || !aggregate) return {};
  const auto limited = [](std::int64_t count, std::int64_t limit) {
    return limit > 0 ? std::min(count, limit) : count;
  };
  train::MemoryNeeds needs;
  needs.model = train::model_config(job.model);
  needs.model.height = info->rows;
  needs.model.width = info->cols;
  needs.model.channels = info->channels;
  needs.model.classes = info->num_classes;
  needs.train = train::train_options(job.train);
  needs.train_samples = limited(info->train_count, job.data.train_limit);
  needs.test_samples = limited(info->test_count, job.data.test_limit);
  // The model is sized for the whole training split, an upper bound of any shard.
  needs.batch = train::batch_room(job.train.batch_size, needs.train_samples);
  needs.exchange_bytes_per_parameter =
      aggregate->exchange == aggregate::Exchange::kAllreduce ? 16 : 4 * ranks;
  auto estimate = train::estimate_rank_memory(needs);
  if (!estimate) return {};
  return train::check_memory(*estimate, needs, train::available_memory(), ranks_here);
}

}  // namespace

void install_stop_handlers() {
  std::signal(SIGTERM, request_stop);
  std::signal(SIGUSR1, request_stop);
}

Result<RunEnd> run_federation(const Job& job, const RunOptions& options) {
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  // A rank lost mid-round ends the job instead of hanging it (job.stall_timeout_s).
  auto watchdog = start_stall_watchdog(job.job.stall_timeout_s);
  if (!watchdog) return watchdog.error();
  const InstalledWatchdog installed(watchdog->get());
  auto ranks_here = ranks_on_this_machine();
  if (!ranks_here) return ranks_here.error();
  if (auto st = agree(check_memory_fits(job, ranks, *ranks_here), MPI_COMM_WORLD); !st) {
    return st.error();
  }
  auto started = start_node(job, options);
  if (!started) return started.error();
  Node& node = **started;
  if (auto st = open_update_archive(node); !st) return st.error();
  auto notices = StopNotices::open();
  if (!notices) return notices.error();
  node.stop_requested = vote_pass(**notices, **watchdog);
  const auto rounds = static_cast<std::uint64_t>(job.job.rounds);
  if (node.rank == 0) {
    std::printf("fedchain train: %d ranks, %s, %llu rounds, run directory %s\n", node.ranks,
                job.model.arch.c_str(), static_cast<unsigned long long>(rounds),
                node.run_dir.root().string().c_str());
  }

  const auto run_start = std::chrono::steady_clock::now();
  const std::uint64_t first = node.global.height + 1;
  while (node.global.height < rounds) {
    (*watchdog)->set_height(node.global.height + 1);
    // A signal on any rank stops every rank at this same height.
    auto stop = any_rank((*notices)->requested(), MPI_COMM_WORLD);
    if (!stop) return stop.error();
    if (*stop) {
      if (auto st = stop_run(node); !st) return st.error();
      return RunEnd::kStopped;
    }
    const auto sent_before = consensus_sent(node);
    auto row = run_round(node);
    if (!row) return row.error();
    if (!*row) {  // a stop in consensus, agreed by every rank
      if (auto st = stop_run(node); !st) return st.error();
      return RunEnd::kStopped;
    }
    const auto sent_after = consensus_sent(node);
    (*row)->consensus_messages = sent_after.first - sent_before.first;
    (*row)->consensus_bytes = sent_after.second - sent_before.second;
    if (node.rank == 0) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
      const double per_round = elapsed / static_cast<double>(node.global.height - first + 1);
      print_round_line(**row, rounds, node.clients.count(),
                       per_round * static_cast<double>(rounds - node.global.height));
      if (auto st = node.metrics->append(**row); !st) return st.error();
    }
  }
  if (auto st = shut_down_chain(node); !st) return st.error();
  // Never "done" with a height missing: every round is a block on the chain.
  if (node.chain && node.chain->committed.size() != rounds) {
    Error missing = runtime_error(
        "the run ends at round {} but the chain holds {} blocks: run `fedchain verify {}` and "
        "resume",
        rounds, node.chain->committed.size(), node.run_dir.root().string());
    missing.every_rank = true;  // every rank holds the same chain
    return missing;
  }
  if (node.rank == 0) {
    std::printf("fedchain train: done, %llu rounds; metrics in %s\n",
                static_cast<unsigned long long>(rounds),
                node.run_dir.metrics_csv().string().c_str());
  }
  return RunEnd::kCompleted;
}

}  // namespace fedchain::node
