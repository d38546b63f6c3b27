// MPI point-to-point transport for consensus messages (see transport.hpp).
#include "fedchain/net/transport.hpp"

#include <algorithm>
#include <deque>
#include <list>
#include <thread>

#include <mpi.h>

namespace fedchain::net {

namespace {
constexpr int kConsensusTag = 7;

Error mpi_error(const char* what, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return runtime_error("MPI {} failed: {}", what,
                       std::string(text, static_cast<std::size_t>(length)));
}
}  // namespace

struct Transport::State {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  bool core_per_rank = false;
  std::size_t max_message_bytes = 0;
  struct PendingSend {
    MPI_Request request = MPI_REQUEST_NULL;
    std::uint32_t to = 0;
    Bytes bytes;
  };
  std::list<PendingSend> pending;
  std::vector<std::size_t> pending_to;  // pending, by destination
  struct Inbox {
    std::deque<Bytes> messages;
    std::size_t bytes = 0;
  };
  std::vector<Inbox> inbox;       // arrived and not yet handed out, by sender
  std::uint32_t next_sender = 0;  // round robin over inbox
  // Shutdown: 0 running; 1 waiting for everyone to stop sending; 2 waiting for our own
  // sends; 3 waiting for everyone's sends; 4 done.
  int phase = 0;
  MPI_Request barrier = MPI_REQUEST_NULL;
  MPI_Request step_barrier = MPI_REQUEST_NULL;  // start_barrier(), apart from shutdown's
  TransportStats stats;
};

Transport::Transport() : state_(std::make_unique<State>()) {}

Transport::~Transport() {
  if (state_->comm != MPI_COMM_NULL) {
    for (auto& p : state_->pending) MPI_Request_free(&p.request);
    MPI_Comm_free(&state_->comm);
  }
}

Result<std::unique_ptr<Transport>> Transport::create(std::size_t max_message_bytes) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) return runtime_error("MPI is not initialised");
  std::unique_ptr<Transport> t(new Transport());
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (int rc = MPI_Comm_dup(MPI_COMM_WORLD, &t->state_->comm); rc != MPI_SUCCESS) {
    return mpi_error("Comm_dup", rc);
  }
  MPI_Comm_set_errhandler(t->state_->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(t->state_->comm, &t->state_->rank);
  MPI_Comm_size(t->state_->comm, &t->state_->size);
  t->state_->max_message_bytes = max_message_bytes;
  const auto ranks = static_cast<std::size_t>(t->state_->size);
  t->state_->pending_to.assign(ranks, 0);
  t->state_->inbox.resize(ranks);
  t->state_->stats.sent_to.assign(ranks, 0);
  t->state_->stats.received_from.assign(ranks, 0);
  MPI_Comm node_comm = MPI_COMM_NULL;
  if (int rc =
          MPI_Comm_split_type(t->state_->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node_comm);
      rc != MPI_SUCCESS) {
    return mpi_error("Comm_split_type", rc);
  }
  int ranks_on_node = 1;
  MPI_Comm_size(node_comm, &ranks_on_node);
  MPI_Comm_free(&node_comm);
  t->state_->core_per_rank =
      static_cast<unsigned>(ranks_on_node) <= std::thread::hardware_concurrency();
  return t;
}

bool Transport::has_core_per_rank() const {
  return state_->core_per_rank;
}

std::uint32_t Transport::rank() const {
  return static_cast<std::uint32_t>(state_->rank);
}
std::uint32_t Transport::size() const {
  return static_cast<std::uint32_t>(state_->size);
}
TransportStats& Transport::stats() {
  return state_->stats;
}

Status Transport::send(std::uint32_t to, Bytes bytes) {
  if (to >= size()) return runtime_error("send to rank {} of {}", to, size());
  // After finish() we still answer (a slower rank may need our catch-up replies) until
  // every rank has finished; only then does nothing new go out.
  if (state_->phase >= 2) return {};
  if (state_->pending_to[to] >= kPendingPerPeer) {
    ++state_->stats.dropped_backlog;
    return {};
  }
  auto& p = state_->pending.emplace_back();
  p.to = to;
  p.bytes = std::move(bytes);
  const int rc = MPI_Isend(p.bytes.data(), static_cast<int>(p.bytes.size()), MPI_BYTE,
                           static_cast<int>(to), kConsensusTag, state_->comm, &p.request);
  if (rc != MPI_SUCCESS) {
    state_->pending.pop_back();
    return mpi_error("Isend", rc);
  }
  ++state_->pending_to[to];
  ++state_->stats.sent;
  ++state_->stats.sent_to[to];
  state_->stats.bytes_sent += p.bytes.size();
  return {};
}

// Reads what MPI holds into the senders' queues, kReadsPerPoll messages at most.
Status Transport::read_arrivals() {
  State& s = *state_;
  for (int read = 0; read < kReadsPerPoll; ++read) {
    int flag = 0;
    MPI_Status status;
    if (int rc = MPI_Iprobe(MPI_ANY_SOURCE, kConsensusTag, s.comm, &flag, &status);
        rc != MPI_SUCCESS) {
      return mpi_error("Iprobe", rc);
    }
    if (!flag) return {};
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    const auto from = static_cast<std::size_t>(status.MPI_SOURCE);
    ++s.stats.received_from[from];
    const auto size = static_cast<std::size_t>(count);
    // Oversized: received into one byte, which MPI reports as truncation; the message is
    // consumed without ever being held.
    Bytes bytes(size > s.max_message_bytes ? 1 : size);
    const int rc = MPI_Recv(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE,
                            status.MPI_SOURCE, kConsensusTag, s.comm, MPI_STATUS_IGNORE);
    int error_class = MPI_SUCCESS;
    if (rc != MPI_SUCCESS) MPI_Error_class(rc, &error_class);
    if (size > s.max_message_bytes && (rc == MPI_SUCCESS || error_class == MPI_ERR_TRUNCATE)) {
      ++s.stats.dropped_oversized;
      continue;
    }
    if (rc != MPI_SUCCESS) return mpi_error("Recv", rc);
    State::Inbox& inbox = s.inbox[from];
    if (inbox.messages.size() >= kQueuedPerPeer ||
        inbox.bytes + size > kQueuedBytesPerPeer * s.max_message_bytes) {
      ++s.stats.dropped_queue_full;
      continue;
    }
    inbox.bytes += size;
    inbox.messages.push_back(std::move(bytes));
    s.stats.peak_queued = std::max(s.stats.peak_queued, inbox.messages.size());
  }
  return {};
}

Result<std::optional<Incoming>> Transport::poll() {
  if (auto st = read_arrivals(); !st) return st.error();
  State& s = *state_;
  const std::uint32_t n = size();
  for (std::uint32_t k = 0; k < n; ++k) {
    const std::uint32_t from = (s.next_sender + k) % n;
    State::Inbox& inbox = s.inbox[from];
    if (inbox.messages.empty()) continue;
    Incoming in{from, std::move(inbox.messages.front())};
    inbox.messages.pop_front();
    inbox.bytes -= in.bytes.size();
    s.next_sender = (from + 1) % n;
    ++s.stats.received;
    s.stats.bytes_received += in.bytes.size();
    return std::optional<Incoming>{std::move(in)};
  }
  return std::optional<Incoming>{};
}

Status Transport::progress() {
  for (auto it = state_->pending.begin(); it != state_->pending.end();) {
    int done = 0;
    if (int rc = MPI_Test(&it->request, &done, MPI_STATUS_IGNORE); rc != MPI_SUCCESS) {
      return mpi_error("Test", rc);
    }
    if (done) {
      --state_->pending_to[it->to];
      it = state_->pending.erase(it);
    } else {
      ++it;
    }
  }
  return {};
}

Status Transport::finish() {
  if (state_->phase != 0) return {};
  state_->phase = 1;
  if (int rc = MPI_Ibarrier(state_->comm, &state_->barrier); rc != MPI_SUCCESS) {
    return mpi_error("Ibarrier", rc);
  }
  return {};
}

// WARNING: a rank may not stop receiving while a peer's send to it is incomplete, nor
// before every rank has stopped sending: hence two barriers around "my sends are done".
bool Transport::finished() {
  if (auto st = progress(); !st) return true;
  int done = 0;
  switch (state_->phase) {
    case 1:
      MPI_Test(&state_->barrier, &done, MPI_STATUS_IGNORE);
      if (done) state_->phase = 2;
      return false;
    case 2:
      if (!state_->pending.empty()) return false;
      MPI_Ibarrier(state_->comm, &state_->barrier);
      state_->phase = 3;
      return false;
    case 3:
      MPI_Test(&state_->barrier, &done, MPI_STATUS_IGNORE);
      if (done) state_->phase = 4;
      return done != 0;
    default:
      return state_->phase == 4;
  }
}

Status Transport::start_barrier() {
  if (state_->step_barrier != MPI_REQUEST_NULL) {
    return runtime_error("rank {}: a barrier is already under way", state_->rank);
  }
  if (int rc = MPI_Ibarrier(state_->comm, &state_->step_barrier); rc != MPI_SUCCESS) {
    return mpi_error("Ibarrier", rc);
  }
  return {};
}

Result<bool> Transport::barrier_done() {
  if (state_->step_barrier == MPI_REQUEST_NULL) return true;
  int done = 0;
  // Sets the request to MPI_REQUEST_NULL once complete.
  if (int rc = MPI_Test(&state_->step_barrier, &done, MPI_STATUS_IGNORE); rc != MPI_SUCCESS) {
    return mpi_error("Test", rc);
  }
  return done != 0;
}

}  // namespace fedchain::net
