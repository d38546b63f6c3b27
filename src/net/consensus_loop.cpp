// The consensus progress loop over MPI (see consensus_loop.hpp).
#include "fedchain/net/consensus_loop.hpp"

#include <thread>
#include <variant>

namespace fedchain::net {

using consensus::Outcome;

ConsensusLoop::ConsensusLoop(consensus::StateMachine& machine, Transport& transport,
                             Application& app, faults::OutboundFilter* filter)
    : machine_(machine), transport_(transport), app_(app), filter_(filter) {}

void ConsensusLoop::send(std::optional<std::uint32_t> to, const consensus::Message& message) {
  const Bytes bytes = consensus::encode_message(message);
  auto one = [&](std::uint32_t rank) {
    if (auto st = transport_.send(rank, bytes); !st && send_status_) send_status_ = st;
  };
  if (to) return one(*to);
  for (const std::uint32_t rank : audience_) one(rank);
}

Status ConsensusLoop::start_height(std::uint64_t height, consensus::ValidatorSet set) {
  audience_.clear();
  for (std::uint32_t v = 0; v < set.size(); ++v) {
    if (set.validators()[v].power > 0 && v != transport_.rank()) audience_.push_back(v);
  }
  if (auto st = apply(machine_.start_height(height, std::move(set))); !st) return st;
  std::vector<consensus::Message> kept;
  kept.swap(kept_for_later_);
  for (const consensus::Message& message : kept) {
    const std::uint64_t at = std::visit([](const auto& m) { return m.height; }, message);
    if (at < height) continue;
    if (at > height) {
      kept_for_later_.push_back(message);
      continue;
    }
    if (auto st = apply(machine_.on_message(message)); !st) return st;
  }
  return {};
}

Status ConsensusLoop::apply(Outcome outcome) {
  if (!outcome.status) ++stats_.refused[outcome.status.error().code];
  const faults::SendFn send_fn = [this](std::optional<std::uint32_t> to,
                                        const consensus::Message& message) { send(to, message); };
  for (consensus::Action& action : outcome.actions) {
    if (auto* b = std::get_if<consensus::Broadcast>(&action)) {
      filter_ ? filter_->on_send(std::nullopt, b->message, send_fn)
              : send(std::nullopt, b->message);
    } else if (auto* s = std::get_if<consensus::SendTo>(&action)) {
      filter_ ? filter_->on_send(s->validator, s->message, send_fn)
              : send(s->validator, s->message);
    } else if (auto* t = std::get_if<consensus::ScheduleTimeout>(&action)) {
      timers_.emplace(Clock::now() + std::chrono::milliseconds(t->after_ms), t->timeout);
    } else if (auto* r = std::get_if<consensus::RequestBlock>(&action)) {
      if (auto st = apply(machine_.on_block_ready(r->height, r->round,
                                                  app_.propose_block(r->height, r->round)));
          !st) {
        return st;
      }
    } else if (auto* v = std::get_if<consensus::ValidateBlock>(&action)) {
      const bool ok = app_.validate_block(v->height, v->block_hash, v->block);
      if (auto st = apply(machine_.on_block_validated(v->height, v->block_hash, ok)); !st) {
        return st;
      }
    } else if (auto* c = std::get_if<consensus::Commit>(&action)) {
      auto next = app_.commit(*c);
      if (!next) return next.error();
      committed_height_ = c->height;
      // Held: the retransmit timer stays, so that a peer still at this height gets our votes
      // again (StateMachine::on_timeout); the machine ignores the other, stale, timeouts.
      if (hold_after_ && c->height >= *hold_after_) continue;
      timers_.clear();  // every pending timeout belongs to the finished height
      if (auto st = start_height(c->height + 1, std::move(next).value()); !st) return st;
    } else if (auto* e = std::get_if<consensus::EquivocationFound>(&action)) {
      app_.evidence(*e);
    }
  }
  Status st = send_status_;
  send_status_ = Status{};
  return st;
}

Status ConsensusLoop::read_arrivals(const std::function<Status(Incoming, consensus::Message)>& take,
                                    bool& busy) {
  for (int batch = 0; batch < 64; ++batch) {
    auto incoming = transport_.poll();
    if (!incoming) return incoming.error();
    if (!*incoming) break;
    busy = true;
    ++stats_.messages;
    auto message = consensus::decode_message((*incoming)->bytes);
    if (!message) {
      ++stats_.undecodable;
      ++transport_.stats().dropped_undecodable;
      continue;
    }
    if (auto st = take(std::move(**incoming), std::move(*message)); !st) return st;
  }
  return {};
}

Status ConsensusLoop::poll_once(bool& busy) {
  const auto take = [this](Incoming incoming, consensus::Message message) {
    if (filter_) filter_->on_received(incoming.from, message);
    return apply(machine_.on_message(message));
  };
  if (auto st = read_arrivals(take, busy); !st) return st;
  const auto now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    const consensus::Timeout timeout = timers_.begin()->second;
    timers_.erase(timers_.begin());
    ++stats_.timeouts_fired;
    busy = true;
    if (auto st = apply(machine_.on_timeout(timeout)); !st) return st;
  }
  return transport_.progress();
}

Status ConsensusLoop::run(std::uint64_t first_height, consensus::ValidatorSet first_set,
                          std::uint64_t until_height, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  // run offers no block sync (on_commit_certificate): a rank left behind, even by the whole
  // run (descheduled on an oversubscribed node while a quorum goes on), can only catch up
  // from the decisions its peers keep. Refused up front rather than found as a hang.
  if (until_height > first_height &&
      until_height - first_height > machine_.config().catchup_heights) {
    return config_error(
        "consensus run of heights {} to {} needs catchup_heights >= {} (it is {}): a lagging "
        "rank could otherwise never catch up",
        first_height, until_height - 1, until_height - first_height,
        machine_.config().catchup_heights);
  }
  // WARNING: the last height is held, as in run_height. A rank that started heights past it
  // would go on deciding them with any quorum of finished peers while it waits for the
  // others to finish, past the catch-up window of a slower rank, which then never finishes.
  if (until_height > first_height) hold_after_ = until_height - 1;
  committed_height_.reset();
  if (auto st = start_height(first_height, std::move(first_set)); !st) return st;
  bool finishing = false;
  for (;;) {
    bool busy = false;
    if (auto st = poll_once(busy); !st) return st;
    const bool reached = until_height <= first_height ||
                         (committed_height_ && *committed_height_ + 1 >= until_height);
    if (!finishing && reached) {
      finishing = true;
      if (auto st = transport_.finish(); !st) return st;
    }
    if (finishing && transport_.finished()) return {};
    if (Clock::now() > deadline) {
      return finishing ? runtime_error(
                             "consensus on rank {} committed every height below {} but another "
                             "rank did not within the time limit",
                             transport_.rank(), until_height)
                       : runtime_error(
                             "consensus on rank {} reached height {} of {} before the time limit",
                             transport_.rank(), machine_.height(), until_height);
    }
    idle_wait(busy);
  }
}

Status ConsensusLoop::run_height(std::uint64_t height, consensus::ValidatorSet set,
                                 std::chrono::milliseconds limit,
                                 const std::function<bool()>& stop) {
  const auto deadline = Clock::now() + limit;
  hold_after_ = height;
  if (auto st = start_height(height, std::move(set)); !st) return st;
  bool arrived = false;
  for (;;) {
    bool busy = false;
    if (auto st = poll_once(busy); !st) return st;
    if (!arrived && committed_height_ && *committed_height_ >= height) {
      if (auto st = transport_.start_barrier(); !st) return st;
      arrived = true;
    }
    if (arrived) {
      auto everyone = transport_.barrier_done();
      if (!everyone) return everyone.error();
      if (*everyone) return {};
    }
    if (stop && stop()) {
      // The transport matches its barriers in order: every rank enters this height's
      // barrier once, committed or not, so the shutdown that follows pairs up everywhere.
      if (!arrived) {
        if (auto st = transport_.start_barrier(); !st) return st;
      }
      return Error{ErrorKind::kRuntime,
                   fmt::format("consensus on rank {}: stopped waiting for height {} (round {})",
                               transport_.rank(), height, machine_.round()),
                   kStopped};
    }
    if (Clock::now() > deadline) {
      return arrived ? runtime_error(
                           "consensus on rank {} committed height {} but another rank did not "
                           "within {} s",
                           transport_.rank(), height, limit.count() / 1000)
                     : runtime_error(
                           "consensus on rank {} did not commit height {} within {} s (round {})",
                           transport_.rank(), height, limit.count() / 1000, machine_.round());
    }
    idle_wait(busy);
  }
}

Status ConsensusLoop::keep_for_later(std::uint64_t height, bool& busy) {
  const auto keep = [&](Incoming, consensus::Message message) {
    const std::uint64_t at = std::visit([](const auto& m) { return m.height; }, message);
    if (at > height && kept_for_later_.size() < kKeptForLater) {
      kept_for_later_.push_back(std::move(message));
    }
    return Status{};
  };
  if (auto st = read_arrivals(keep, busy); !st) return st;
  return transport_.progress();
}

Status ConsensusLoop::follow_height(std::uint64_t height, std::chrono::milliseconds limit,
                                    const std::function<bool()>& stop) {
  const auto deadline = Clock::now() + limit;
  if (auto st = transport_.start_barrier(); !st) return st;
  for (;;) {
    bool busy = false;
    if (auto st = keep_for_later(height, busy); !st) return st;
    auto everyone = transport_.barrier_done();
    if (!everyone) return everyone.error();
    if (*everyone) return {};
    if (stop && stop()) {
      return Error{ErrorKind::kRuntime,
                   fmt::format("consensus on rank {}: stopped following height {}",
                               transport_.rank(), height),
                   kStopped};
    }
    if (Clock::now() > deadline) {
      return runtime_error(
          "consensus on rank {} (a follower) waited {} s for the committee to commit height {}",
          transport_.rank(), limit.count() / 1000, height);
    }
    idle_wait(busy);
  }
}

void ConsensusLoop::idle_wait(bool busy) {
  // Messages of a height come in bursts (a proposal, then quorums of votes): right after
  // activity the next message is usually microseconds away, so a rank with a core of its
  // own spins for a moment (n = 2: 1.44 -> about 1.0 ms per height). Oversubscribed ranks
  // always sleep: their spinning would take the core from the rank they wait for.
  constexpr auto kSpinAfterActivity = std::chrono::milliseconds(2);
  const auto now = Clock::now();
  if (busy) {
    last_busy_ = now;
  } else if (transport_.has_core_per_rank() && now - last_busy_ < kSpinAfterActivity) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

Status ConsensusLoop::shut_down(std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  if (auto st = transport_.finish(); !st) return st;
  while (!transport_.finished()) {
    bool busy = false;
    if (auto st = poll_once(busy); !st) return st;
    if (Clock::now() > deadline) {
      return runtime_error("consensus transport on rank {} did not shut down in time",
                           transport_.rank());
    }
    idle_wait(busy);
  }
  return {};
}

}  // namespace fedchain::net
