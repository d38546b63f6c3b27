// A bound on how long a rank waits for the others (job.stall_timeout_s). Over TCP a node
// that loses its network sends no reset: every rank waiting for it in a collective or in
// the vote would wait for ever, and mpirun with them. Each such wait tells the watchdog
// that it is still waiting; half way to the limit the rank asks every other rank to
// answer (a probe on a communicator of its own, answered by any rank that is waiting
// too), and at the limit it ends the job naming the ranks that did not answer.
//
// The waits: every collective of a round (exchange.cpp's wait_for), and the vote, whose
// progress loop asks node.stop_requested on every pass (federation.cpp). Setup's own
// collectives and training are not waits: a rank that trains longer than the limit
// while the others wait is taken for lost, so the limit must exceed the longest round.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <mpi.h>

#include "fedchain/core/error.hpp"

namespace fedchain::node {

// Who answers: probe() asks every other rank, poll() answers the probes that reached
// this rank and returns the ranks whose answers arrived since the last poll.
class Liveness {
 public:
  virtual ~Liveness() = default;
  virtual void probe() = 0;
  virtual std::vector<int> poll() = 0;
};

// What a rank reports when its wait reaches the limit.
struct Stall {
  std::uint64_t height = 0;  // the round it waited in; 0 during setup
  std::string waiting_for;   // the collective, or the vote
  double waited_s = 0;
  double probe_s = 0;        // how long the others had to answer
  std::vector<int> silent;   // ranks that did not answer, ascending
  std::string silent_hosts;  // their hosts, "node3" or "node2, node3"
  int reporter = 0;          // the lowest rank still heard (or this one): it speaks for all
  int timeout_s = 0;         // job.stall_timeout_s
  std::string message() const;
};

class StallWatchdog {
 public:
  using Clock = std::chrono::steady_clock;
  // Called once the wait reached the limit: by the reporter at once, by every other rank
  // `kGrace` later (the reporter's abort should have ended it by then). In a run it does
  // not return (MPI_Abort); tests record it.
  using OnStall = std::function<void(const Stall&)>;
  static constexpr auto kGrace = std::chrono::seconds(5);
  // A pass of a wait this long after the previous one starts a new wait.
  static constexpr auto kNewWaitGap = std::chrono::seconds(1);
  static constexpr auto kPollEvery = std::chrono::milliseconds(20);

  // `timeout` zero: never ends a wait (and never probes). `hosts[r]` is rank r's host.
  StallWatchdog(std::chrono::milliseconds timeout, int rank, std::vector<std::string> hosts,
                std::unique_ptr<Liveness> liveness, OnStall on_stall);

  bool enabled() const { return timeout_.count() > 0; }
  void set_height(std::uint64_t height) { height_ = height; }
  // One pass of a wait for `what`; may end the job.
  void waiting(std::string_view what, Clock::time_point now = Clock::now());
  // The wait is over.
  void finished();

 private:
  Stall stall(Clock::time_point now) const;

  std::chrono::milliseconds timeout_;
  int rank_;
  std::vector<std::string> hosts_;
  std::unique_ptr<Liveness> liveness_;
  OnStall on_stall_;
  std::uint64_t height_ = 0;
  std::string what_;  // empty: not waiting
  Clock::time_point started_{};
  Clock::time_point last_pass_{};
  Clock::time_point last_poll_{};
  std::optional<Clock::time_point> probed_;
  std::vector<bool> answered_;
  bool logged_ = false;
};

// The watchdog of this process's run, over MPI_COMM_WORLD: a communicator of its own for
// the probes and every rank's host name (collective). Ends the job with MPI_Abort.
Result<std::unique_ptr<StallWatchdog>> start_stall_watchdog(std::int64_t timeout_s);

// While one is installed and enabled, wait_for waits through it; otherwise wait_for is
// MPI_Wait.
class InstalledWatchdog {
 public:
  explicit InstalledWatchdog(StallWatchdog* watchdog);
  ~InstalledWatchdog();
  InstalledWatchdog(const InstalledWatchdog&) = delete;
  InstalledWatchdog& operator=(const InstalledWatchdog&) = delete;
};
StallWatchdog* installed_watchdog();

// Completes `request` (a non-blocking collective), telling the installed watchdog that
// this rank waits in `what`. Returns MPI_Test's or MPI_Wait's code.
int wait_for(MPI_Request& request, const char* what);

}  // namespace fedchain::node
