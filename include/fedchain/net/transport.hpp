// Point-to-point consensus messages between MPI ranks: non-blocking sends, probed
// receives, a size limit, and an orderly shutdown. No MPI types in this header: the
// communicator lives behind the implementation.
//
// A peer may flood (docs/consensus.md, Threats). What arrives is read off MPI at once into
// one bounded queue per sender, and handed out round robin across senders: a flooding
// peer fills and overflows only its own queue, and an honest peer's message waits behind
// at most one message of each other peer, not behind the flood. Sends pending towards one
// peer are bounded too, so a peer that never receives cannot grow ours.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"

namespace fedchain::net {

struct TransportStats {
  std::uint64_t sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t dropped_oversized = 0;       // longer than max_message_bytes: read and dropped
  std::uint64_t dropped_undecodable = 0;     // counted by the caller that decodes
  std::uint64_t dropped_queue_full = 0;      // arrived while its sender's queue was full
  std::uint64_t dropped_backlog = 0;         // not sent: too many sends pending to that peer
  std::vector<std::uint64_t> sent_to;        // by rank
  std::vector<std::uint64_t> received_from;  // by rank, dropped ones included
  std::size_t peak_queued = 0;               // most messages one sender's queue held
};

struct Incoming {
  std::uint32_t from = 0;
  Bytes bytes;
};

class Transport {
 public:
  // A sender's queue holds at most this many messages, and at most kQueuedBytesPerPeer
  // times max_message_bytes; what arrives beyond is dropped (dropped_queue_full).
  static constexpr std::size_t kQueuedPerPeer = 1024;
  static constexpr std::size_t kQueuedBytesPerPeer = 4;
  // Messages read off MPI per poll(): far more than one is handed out, so the queues, not
  // MPI's unexpected-message list, absorb a flood.
  static constexpr int kReadsPerPoll = 256;
  // Sends not yet complete towards one peer; beyond, a send is dropped (dropped_backlog),
  // as the protocol tolerates a lost message.
  static constexpr std::size_t kPendingPerPeer = 4096;

  // Duplicates MPI_COMM_WORLD, so consensus traffic never matches anyone else's receives.
  // MPI must be initialised.
  static Result<std::unique_ptr<Transport>> create(std::size_t max_message_bytes);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  std::uint32_t rank() const;
  std::uint32_t size() const;
  // True when this node has at least as many hardware threads as ranks of this job: a
  // rank may then spin while waiting without taking the core from another rank.
  bool has_core_per_rank() const;

  // Starts a non-blocking send; the transport owns the bytes until it completes.
  Status send(std::uint32_t to, Bytes bytes);
  // The next message that has arrived, if any, taking senders in turn; never blocks.
  // Oversized ones are read into a small buffer (MPI truncates them), counted and skipped.
  Result<std::optional<Incoming>> poll();
  // Completes what sends it can; call from the progress loop.
  Status progress();

  // Orderly end: every rank calls finish() once it no longer needs messages, and keeps
  // polling, answering and calling finished() until it is true. Sends still go out until
  // every rank has called finish(), so slower ranks can still be helped.
  Status finish();
  bool finished();

  // A non-blocking barrier of its own, apart from finish()'s: every rank starts it once per
  // use (ConsensusLoop::run_height, once per height) and keeps polling until it is done.
  Status start_barrier();
  Result<bool> barrier_done();

  TransportStats& stats();

 private:
  Transport();
  Status read_arrivals();
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace fedchain::net
