// Point-to-point consensus messages between MPI ranks: non-blocking sends, probed
// receives, a size limit, and an orderly shutdown. No MPI types in this header: the
// communicator lives behind the implementation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"

namespace fedchain::net {

struct TransportStats {
  std::uint64_t sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t dropped_oversized = 0;    // longer than max_message_bytes: read and dropped
  std::uint64_t dropped_undecodable = 0;  // counted by the caller that decodes
};

struct Incoming {
  std::uint32_t from = 0;
  Bytes bytes;
};

class Transport {
 public:
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
  // The next message that has arrived, if any; never blocks. Oversized ones are read,
  // counted and skipped.
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
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace fedchain::net
