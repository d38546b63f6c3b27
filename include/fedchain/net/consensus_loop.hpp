// The progress loop that connects one rank's consensus state machine to the MPI
// transport: decodes what arrives (undecodable messages are counted and dropped), fires
// timeouts from a monotonic clock, asks the application, and sends what the machine says.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fedchain/consensus/state_machine.hpp"
#include "fedchain/faults/outbound_filter.hpp"
#include "fedchain/net/transport.hpp"

namespace fedchain::net {

class Application {
 public:
  virtual ~Application() = default;
  virtual Bytes propose_block(std::uint64_t height, std::uint32_t round) = 0;
  virtual bool validate_block(std::uint64_t height, const Hash32& block_hash, ByteView block) = 0;
  // Stores the decided block and its certificate; returns the next height's validator set.
  virtual Result<consensus::ValidatorSet> commit(const consensus::Commit& commit) = 0;
  virtual void evidence(const consensus::EquivocationFound& /*found*/) {}
};

struct LoopStats {
  std::uint64_t messages = 0;
  std::uint64_t undecodable = 0;
  std::map<std::string, std::uint64_t> refused;  // by reject code
  std::uint64_t timeouts_fired = 0;
};

// The reason code of run_height's error when its `stop` said true.
inline constexpr const char* kStopped = "stopped";

class ConsensusLoop {
 public:
  // `filter`: a rank chosen for a fault experiment (the job file's [faults],
  // faults/consensus_faults.hpp) sends through it; production ranks have none.
  ConsensusLoop(consensus::StateMachine& machine, Transport& transport, Application& app,
                faults::OutboundFilter* filter = nullptr);

  // Starts `first_height` and drives the machine until it has committed every height below
  // `until_height`, then, holding there (it starts no later height), keeps answering until
  // every rank is done (Transport::finish). There is no block sync: a lagging rank catches
  // up from its peers' kept decisions, so the machine's catchup_heights must cover the run
  // (config error otherwise). Fails on an MPI error or when `limit` passes first.
  Status run(std::uint64_t first_height, consensus::ValidatorSet first_set,
             std::uint64_t until_height, std::chrono::milliseconds limit);

  // One height at a time, for a round loop that has work to do between heights (the
  // application's block for the next height does not exist yet): starts `height` and
  // drives the machine until it commits it, without starting the next height. Messages
  // for the next height that arrive meanwhile wait in the machine.
  // Collective: returns only once every rank has committed `height`, answering peers until
  // then. WARNING: a rank shown another block by an equivocating proposer can commit only
  // with the decided block from a peer; were that peer already blocked in the round loop's
  // next collective, both would wait forever.
  // `stop`, when given, is asked on every pass: once it says true the wait ends with an
  // error whose code is kStopped (a stop signal; the height may be committed on some ranks
  // and not others, so the caller agrees with every rank on what to do next).
  Status run_height(std::uint64_t height, consensus::ValidatorSet set,
                    std::chrono::milliseconds limit, const std::function<bool()>& stop = {});
  // A follower's height (a rank off the committee, or jailed: it has no power in the set
  // and does not vote): joins the height's barrier that the voters enter once they commit
  // (run_height), and returns when every rank has entered it, or with kStopped as
  // run_height does. Meanwhile it reads what arrives, so that no peer fills MPI's buffers:
  // messages for a later height (this rank may sit on the next epoch's committee) are kept,
  // at most kKeptForLater, and handed to the machine when run_height starts that height;
  // the rest are dropped. The committed block itself reaches a follower apart from the
  // loop (node/agreement.cpp: share_committed_block).
  Status follow_height(std::uint64_t height, std::chrono::milliseconds limit,
                       const std::function<bool()>& stop = {});
  static constexpr std::size_t kKeptForLater = 4096;

  // After the last run_height: the orderly end of the transport (Transport::finish).
  Status shut_down(std::chrono::milliseconds limit);

  const LoopStats& stats() const { return stats_; }

 private:
  using Clock = std::chrono::steady_clock;
  Status apply(consensus::Outcome outcome);
  // Up to a batch of arrived messages, decoded (undecodable ones counted and dropped), each
  // handed to `take`. Sets `busy` when anything arrived.
  Status read_arrivals(const std::function<Status(Incoming, consensus::Message)>& take, bool& busy);
  // One pass: drain arrived messages, fire due timeouts, progress sends. Sets `busy` when
  // anything happened.
  Status poll_once(bool& busy);
  // Broadcasts go to the committee of the height being decided (validators with power on
  // record, jailed ones included: at this level a jailed validator follows the chain
  // through what it hears), not to every rank.
  void send(std::optional<std::uint32_t> to, const consensus::Message& message);
  // machine_.start_height, after noting the set's committee and handing the machine what was
  // kept for this height while following.
  Status start_height(std::uint64_t height, consensus::ValidatorSet set);
  // A follower's pass at `height`: reads what arrived, keeping later heights' messages.
  Status keep_for_later(std::uint64_t height, bool& busy);
  // Between passes that found nothing to do: yield for a short while after activity, then
  // sleep.
  void idle_wait(bool busy);

  consensus::StateMachine& machine_;
  Transport& transport_;
  Application& app_;
  faults::OutboundFilter* filter_;
  std::multimap<Clock::time_point, consensus::Timeout> timers_;
  Status send_status_;
  LoopStats stats_;
  // Set by run_height: commits of this height and above do not start the next height.
  std::optional<std::uint64_t> hold_after_;
  std::optional<std::uint64_t> committed_height_;
  std::vector<std::uint32_t> audience_;  // the current height's committee, but this rank
  std::vector<consensus::Message> kept_for_later_;
  Clock::time_point last_busy_{};
};

}  // namespace fedchain::net
