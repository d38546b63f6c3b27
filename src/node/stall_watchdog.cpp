// The bound on a rank's waits for the others (see stall_watchdog.hpp).
#include "stall_watchdog.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "exchange.hpp"

namespace fedchain::node {

std::string Stall::message() const {
  const std::string where = height == 0 ? std::string("setup") : fmt::format("round {}", height);
  std::string who;
  if (silent.empty()) {
    who = "every rank answers, yet the wait makes no progress";
  } else {
    who = fmt::format(
        "rank(s) {} (on {}) did not answer in {:.0f} s: lost (a node down, or its network), or "
        "busy for longer than job.stall_timeout_s = {} allows",
        fmt::join(silent, ", "), silent_hosts, probe_s, timeout_s);
  }
  return fmt::format(
      "{}: no progress for {:.0f} s waiting in {}; {}. Ending the job rather than waiting for "
      "ever; every committed block is on disk: once the nodes are back, run again with --resume",
      where, waited_s, waiting_for, who);
}

StallWatchdog::StallWatchdog(std::chrono::milliseconds timeout, int rank,
                             std::vector<std::string> hosts, std::unique_ptr<Liveness> liveness,
                             OnStall on_stall)
    : timeout_(timeout),
      rank_(rank),
      hosts_(std::move(hosts)),
      liveness_(std::move(liveness)),
      on_stall_(std::move(on_stall)),
      answered_(hosts_.size(), false) {}

void StallWatchdog::waiting(std::string_view what, Clock::time_point now) {
  if (timeout_.count() <= 0) return;
  if (what_.empty() || what_ != what || now - last_pass_ > kNewWaitGap) {
    what_ = std::string(what);
    started_ = now;
    probed_.reset();
    std::fill(answered_.begin(), answered_.end(), false);
    logged_ = false;
  }
  last_pass_ = now;
  // Answers this rank's probes, and others', whatever this wait's age.
  if (now - last_poll_ >= kPollEvery) {
    last_poll_ = now;
    for (int r : liveness_->poll()) {
      if (r >= 0 && static_cast<std::size_t>(r) < answered_.size()) {
        answered_[static_cast<std::size_t>(r)] = true;
      }
    }
  }
  const auto waited = now - started_;
  if (!probed_ && waited >= timeout_ / 2) {
    liveness_->probe();
    probed_ = now;
  }
  if (waited < timeout_) return;
  const Stall found = stall(now);
  if (found.reporter == rank_ || waited >= timeout_ + kGrace) {
    finished();
    on_stall_(found);
    return;
  }
  if (!logged_) {
    logged_ = true;
    spdlog::error("{} (rank {} reports it and ends the job)", found.message(), found.reporter);
  }
}

void StallWatchdog::finished() {
  what_.clear();
}

Stall StallWatchdog::stall(Clock::time_point now) const {
  Stall s;
  s.height = height_;
  s.waiting_for = what_;
  s.waited_s = std::chrono::duration<double>(now - started_).count();
  s.probe_s = probed_ ? std::chrono::duration<double>(now - *probed_).count() : 0.0;
  s.timeout_s =
      static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(timeout_).count());
  int lowest_heard = rank_;
  std::vector<std::string> hosts;
  for (std::size_t r = 0; r < answered_.size(); ++r) {
    if (static_cast<int>(r) == rank_) continue;
    if (answered_[r]) {
      lowest_heard = std::min(lowest_heard, static_cast<int>(r));
      continue;
    }
    s.silent.push_back(static_cast<int>(r));
    if (std::find(hosts.begin(), hosts.end(), hosts_[r]) == hosts.end()) {
      hosts.push_back(hosts_[r]);
    }
  }
  s.silent_hosts = fmt::format("{}", fmt::join(hosts, ", "));
  s.reporter = lowest_heard;
  return s;
}

namespace {

// Probes and answers on a communicator of their own: tag kProbe carries the probe's number,
// tag kAnswer echoes it, so that a late answer to an older probe counts for nothing.
class MpiLiveness final : public Liveness {
 public:
  explicit MpiLiveness(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &ranks_);
  }
  MpiLiveness(const MpiLiveness&) = delete;
  MpiLiveness& operator=(const MpiLiveness&) = delete;
  ~MpiLiveness() override {
    for (auto& send : sends_) MPI_Request_free(&send.request);
    MPI_Comm_free(&comm_);
  }

  void probe() override {
    ++number_;
    for (int r = 0; r < ranks_; ++r) {
      if (r != rank_) send(r, kProbe, number_);
    }
  }

  std::vector<int> poll() override {
    std::vector<int> answered;
    for (;;) {
      int arrived = 0;
      MPI_Status status;
      if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &arrived, &status) != MPI_SUCCESS ||
          !arrived) {
        break;
      }
      int number = 0;
      MPI_Recv(&number, 1, MPI_INT, status.MPI_SOURCE, status.MPI_TAG, comm_, MPI_STATUS_IGNORE);
      if (status.MPI_TAG == kProbe) send(status.MPI_SOURCE, kAnswer, number);
      if (status.MPI_TAG == kAnswer && number == number_) answered.push_back(status.MPI_SOURCE);
    }
    // Sends that completed; those to a lost rank stay, a few per probe.
    sends_.remove_if([](Send& send) {
      int done = 0;
      MPI_Test(&send.request, &done, MPI_STATUS_IGNORE);
      return done != 0;
    });
    return answered;
  }

 private:
  struct Send {
    int number = 0;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  void send(int to, int tag, int number) {
    Send& s = sends_.emplace_back();
    s.number = number;
    if (MPI_Isend(&s.number, 1, MPI_INT, to, tag, comm_, &s.request) != MPI_SUCCESS) {
      sends_.pop_back();
    }
  }

  static constexpr int kProbe = 1;
  static constexpr int kAnswer = 2;
  MPI_Comm comm_;
  int rank_ = 0;
  int ranks_ = 1;
  int number_ = 0;
  std::list<Send> sends_;  // a list: each Isend's buffer must stay where it is
};

// Says why on stderr and in the rank's log, then ends every rank.
[[noreturn]] void end_job(const Stall& stall, int rank) {
  const std::string text = stall.message();
  spdlog::error("{}", text);
  spdlog::default_logger()->flush();
  std::fprintf(stderr,
               "fedchain: error: rank %d: %s\nfedchain: rank %d ends every rank (MPI_Abort, exit "
               "1)\n",
               rank, text.c_str(), rank);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();  // MPI_Abort does not return
}

// Every rank's host name (MPI_Get_processor_name), rank order. Collective.
Result<std::vector<std::string>> host_names() {
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  std::vector<char> mine(MPI_MAX_PROCESSOR_NAME, '\0');
  int length = 0;
  MPI_Get_processor_name(mine.data(), &length);
  std::vector<char> all(mine.size() * static_cast<std::size_t>(ranks), '\0');
  if (int rc = MPI_Allgather(mine.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(),
                             MPI_MAX_PROCESSOR_NAME, MPI_CHAR, MPI_COMM_WORLD);
      rc != MPI_SUCCESS) {
    return mpi_failure("MPI_Allgather (host names)", rc);
  }
  std::vector<std::string> hosts;
  for (int r = 0; r < ranks; ++r) {
    const char* name = all.data() + static_cast<std::size_t>(r) * mine.size();
    hosts.emplace_back(name, strnlen(name, mine.size()));
  }
  return hosts;
}

StallWatchdog* g_installed = nullptr;

}  // namespace

Result<std::unique_ptr<StallWatchdog>> start_stall_watchdog(std::int64_t timeout_s) {
  auto hosts = host_names();
  if (!hosts) return hosts.error();
  MPI_Comm comm = MPI_COMM_NULL;
  if (int rc = MPI_Comm_dup(MPI_COMM_WORLD, &comm); rc != MPI_SUCCESS) {
    return mpi_failure("MPI_Comm_dup (stall probes)", rc);
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return std::make_unique<StallWatchdog>(std::chrono::seconds(timeout_s), rank, std::move(*hosts),
                                         std::make_unique<MpiLiveness>(comm),
                                         [rank](const Stall& stall) { end_job(stall, rank); });
}

InstalledWatchdog::InstalledWatchdog(StallWatchdog* watchdog) {
  g_installed = watchdog;
}
InstalledWatchdog::~InstalledWatchdog() {
  g_installed = nullptr;
}
StallWatchdog* installed_watchdog() {
  return g_installed;
}

int wait_for(MPI_Request& request, const char* what) {
  StallWatchdog* watchdog = g_installed;
  if (watchdog == nullptr || !watchdog->enabled()) return MPI_Wait(&request, MPI_STATUS_IGNORE);
  for (;;) {
    int done = 0;
    if (int rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE); rc != MPI_SUCCESS) return rc;
    if (done) break;
    watchdog->waiting(what);
    std::this_thread::yield();
  }
  watchdog->finished();
  return MPI_SUCCESS;
}

}  // namespace fedchain::node
