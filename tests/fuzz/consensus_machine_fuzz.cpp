// Stateful fuzz target: one honest state machine (validator 0 of n = 4) fed a sequence of
// inputs that the fuzz bytes spell out: proposals and votes in any other validator's name,
// validly signed with the simulator's keys or forged, bursts of conflicting proposals or of
// asks, wire garbage, timeouts, and the application's answers. After every input it checks
// what a hostile peer must never achieve (docs/consensus.md, Threats):
//   - no crash (ASan and UBSan in the libFuzzer build);
//   - at most one block decided per height, certified by a quorum of valid precommits;
//   - a forged message makes the machine send nothing, and evidence is never forged;
//   - no input makes it send more than kMaxMessagesPerInput messages;
//   - every buffer stays within its bound, and every block with a verdict has its bytes.
#include <algorithm>
#include <array>
#include <deque>
#include <map>

#include "fake_crypto.hpp"
#include "fedchain/consensus/state_machine.hpp"
#include "fuzz_target.hpp"

namespace {

using fedchain::Bytes;
using fedchain::ByteView;
using fedchain::Hash32;
using fedchain::fuzz::require;
using fedchain::ledger::Vote;
using fedchain::ledger::VoteType;
namespace consensus = fedchain::consensus;
namespace sim = fedchain::consensus::sim;

constexpr std::uint32_t kN = 4;
// The most one input can make a machine of n = 4 send (a Broadcast is n - 1 messages): a
// re-proposal with its proof ((n + 1)(n - 1): after a round skip, or on retransmit), a
// prevote and a precommit (2(n - 1)), an equivocation's two votes (2(n - 1)), and one reply
// (a catch-up reply: n precommits and the proposal). 15 + 6 + 6 + 5 = 32.
constexpr std::size_t kMaxMessagesPerInput = (kN + 1) * (kN - 1) + 4 * (kN - 1) + kN + 1;
// What the machine may hold (state_machine.hpp): a validator's share of the next height is
// 8 votes and a proposal; a round keeps its first proposal and 2 others, plus any block a
// quorum precommitted (with every key signing twice over, at most 4 per round).
constexpr std::size_t kMaxBuffered = kN * 9;
constexpr std::size_t kMaxCarriersPerRound = 2 + 4;

// The fuzz bytes, read front to back; zeros once they run out.
class Program {
 public:
  Program(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::uint32_t u16() { return byte() | static_cast<std::uint32_t>(byte()) << 8; }
  Bytes bytes(std::size_t n) {
    n = std::min(n, size_ - std::min(at_, size_));
    Bytes out(data_ + at_, data_ + at_ + n);
    at_ += n;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

class Harness {
 public:
  Harness() : keys_(kN, 13), signer_(keys_, 0), machine_(config(), signer_, hasher_) {
    drive(machine_.start_height(0, consensus::ValidatorSet::equal(kN)), false);
  }

  void step(Program& p) {
    switch (p.byte() % 11) {
      case 0:
        send_vote(p);
        break;
      case 1:
        send_proposal(p);
        break;
      case 2:
        proposal_burst(p);
        break;
      case 3:
        precommit_quorum(p);
        break;
      case 4:
        ask_burst(p);
        break;
      case 5:
        garbage(p);
        break;
      case 6:
        timeout(p);
        break;
      case 7:
        validate(p);
        break;
      case 8:
        block_ready(p);
        break;
      case 9:
        commit_certificate(p);
        break;
      default:
        replay(p);
        break;
    }
  }

 private:
  consensus::Config config() const {
    consensus::Config c;
    c.chain_id = chain_id_;
    c.self = 0;
    return c;
  }

  std::uint64_t pick_height(Program& p) {
    const std::uint64_t h = machine_.height();
    switch (p.byte() % 8) {
      case 0:
        return h > 0 ? h - 1 : 0;
      case 1:
        return h + 1;
      case 2:
        return h + 2 + p.byte() % 30;
      case 3:
        return h > 1 ? h - 1 - p.byte() % h : 0;
      default:
        return h;
    }
  }
  std::uint32_t pick_round(Program& p) {
    const std::uint32_t r = machine_.round();
    switch (p.byte() % 8) {
      case 0:
        return r + 1 + p.byte() % 8;
      case 1:
        return r > 0 ? r - 1 - p.byte() % r : 0;
      case 2:
        return r + 60 + p.byte() % 10;  // about the round window's edge
      case 3:
        return 0xffff0000u + p.byte();
      default:
        return r;
    }
  }
  // 1..3 mostly; now and then the machine itself (0) or no validator at all (4).
  static std::uint32_t pick_validator(Program& p) {
    const std::uint8_t b = p.byte();
    if (b == 0xff) return kN;
    if (b == 0xfe) return 0;
    return 1 + b % (kN - 1);
  }
  Bytes block(std::uint64_t height, std::uint32_t id) const {
    return Bytes{0xb1, static_cast<std::uint8_t>(id), static_cast<std::uint8_t>(id >> 8),
                 static_cast<std::uint8_t>(height)};
  }
  // Nil, a block nobody proposed, the latest block proposed, or an earlier one.
  std::optional<Hash32> pick_block(Program& p) {
    const std::uint8_t b = p.byte();
    if (b % 4 == 0 || blocks_.empty()) return std::nullopt;
    if (b % 4 == 1) return *hasher_.hash(block(machine_.height(), b));
    if (b % 4 == 2) return blocks_.back();
    return blocks_[b / 4 % blocks_.size()];
  }
  // Signature modes: valid, made with another validator's key, or zero.
  template <typename M>
  void sign(M& message, std::uint32_t signer, std::uint8_t mode) const {
    const Bytes bytes = message.sign_bytes();
    if (mode % 4 == 1) {
      message.signature = keys_.sign((signer + 1) % kN, bytes);
    } else if (mode % 4 == 2) {
      message.signature = {};
    } else if (signer < kN) {
      message.signature = keys_.sign(signer, bytes);
    }
  }
  void remember(const Hash32& hash) {
    if (blocks_.size() == 64) blocks_.pop_front();
    blocks_.push_back(hash);
  }

  Vote make_vote(std::uint32_t validator, std::uint64_t height, std::uint32_t round, VoteType type,
                 std::optional<Hash32> hash, std::uint8_t mode) const {
    Vote v;
    v.chain_id = chain_id_;
    v.height = height;
    v.round = round;
    v.type = type;
    v.block_hash = hash;
    v.validator = validator;
    sign(v, validator, mode);
    return v;
  }
  consensus::Proposal make_proposal(Program& p, std::uint64_t height, std::uint32_t round,
                                    std::uint32_t id) {
    consensus::Proposal proposal;
    proposal.chain_id = chain_id_;
    proposal.height = height;
    proposal.round = round;
    const std::uint8_t pol = p.byte();
    if (pol % 3 == 1 && round > 0) proposal.pol_round = pol % round;
    proposal.block = block(height, id);
    proposal.block_hash = *hasher_.hash(proposal.block);
    if (pol % 7 == 6) proposal.block_hash.bytes[0] ^= 1;  // bytes and hash disagree
    proposal.proposer = p.byte() % 8 == 7
                            ? pick_validator(p)
                            : consensus::ValidatorSet::equal(kN).proposer(height, round);
    sign(proposal, proposal.proposer, p.byte());
    remember(proposal.block_hash);
    return proposal;
  }

  void send_vote(Program& p) {
    const std::uint32_t validator = pick_validator(p);
    const std::uint64_t height = pick_height(p);
    const std::uint32_t round = pick_round(p);
    const VoteType type = p.byte() % 2 == 0 ? VoteType::kPrevote : VoteType::kPrecommit;
    const auto hash = pick_block(p);
    deliver(make_vote(validator, height, round, type, hash, p.byte()));
  }
  void send_proposal(Program& p) {
    const std::uint64_t height = pick_height(p);
    const std::uint32_t round = pick_round(p);
    deliver(make_proposal(p, height, round, p.u16()));
  }
  // Defect 1 of issue 13: more conflicting proposals for one round than a round keeps.
  void proposal_burst(Program& p) {
    const std::uint32_t round = machine_.round() + p.byte() % 4;
    const std::uint32_t count = 1 + 2 * static_cast<std::uint32_t>(p.byte());
    const bool validate_each = p.byte() % 2 == 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      consensus::Proposal proposal;
      proposal.chain_id = chain_id_;
      proposal.height = machine_.height();
      proposal.round = round;
      proposal.block = block(proposal.height, 0x1000 + i);
      proposal.block_hash = *hasher_.hash(proposal.block);
      proposal.proposer = consensus::ValidatorSet::equal(kN).proposer(proposal.height, round);
      sign(proposal, proposal.proposer, 0);
      remember(proposal.block_hash);
      deliver(proposal);
      if (validate_each) answer_validations(true);
    }
  }
  // Validly signed precommits from validators 1..3 for one block: the commit rule's input.
  void precommit_quorum(Program& p) {
    const std::uint32_t round = pick_round(p);
    const auto hash = pick_block(p);
    for (std::uint32_t v = 1; v < kN; ++v) {
      deliver(make_vote(v, machine_.height(), round, VoteType::kPrecommit, hash, 0));
    }
  }
  // Defect 2 of issue 13: many asks from one validator for a decided height, each in a new
  // round, signed or forged.
  void ask_burst(Program& p) {
    const std::uint32_t validator = pick_validator(p);
    const std::uint64_t height = pick_height(p);
    const std::uint8_t mode = p.byte();
    const std::uint32_t count = 1 + p.byte() % 64;
    for (std::uint32_t i = 0; i < count; ++i) {
      deliver(make_vote(validator, height, i, VoteType::kPrevote, std::nullopt, mode));
    }
  }
  void garbage(Program& p) {
    const Bytes bytes = p.bytes(p.byte());
    if (auto message = consensus::decode_message(bytes)) deliver(*message);
  }
  void timeout(Program& p) {
    const std::uint8_t b = p.byte();
    if (b % 2 == 0 && !timeouts_.empty()) {
      drive(machine_.on_timeout(timeouts_[b / 2 % timeouts_.size()]), true);
      return;
    }
    const consensus::Timeout t{machine_.height(), pick_round(p),
                               static_cast<consensus::TimeoutKind>(b / 2 % 4)};
    drive(machine_.on_timeout(t), true);
  }
  void validate(Program& p) {
    const std::uint8_t b = p.byte();
    if (b == 0) return answer_validations(true);
    if (!validations_.empty()) {
      const auto it = validations_.begin() + b % validations_.size();
      const consensus::ValidateBlock v = *it;
      validations_.erase(it);
      drive(machine_.on_block_validated(v.height, v.block_hash, b % 5 != 1), true);
      return;
    }
    const auto hash = pick_block(p);
    drive(machine_.on_block_validated(pick_height(p), hash.value_or(Hash32{}), true), true);
  }
  void block_ready(Program& p) {
    const std::uint8_t b = p.byte();
    if (request_ && b % 4 != 0) {
      const consensus::RequestBlock r = *request_;
      request_.reset();
      drive(machine_.on_block_ready(r.height, r.round, block(r.height, 0xaa00 + r.round)), true);
      return;
    }
    drive(machine_.on_block_ready(pick_height(p), pick_round(p), block(0, b)), true);
  }
  // Block sync: a block and precommits from a subset of the others, signed or not.
  void commit_certificate(Program& p) {
    const Bytes bytes = block(machine_.height(), p.byte());
    const Hash32 hash = *hasher_.hash(bytes);
    const std::uint32_t round = pick_round(p);
    const std::uint8_t who = p.byte();
    std::vector<Vote> precommits;
    for (std::uint32_t v = 1; v < kN; ++v) {
      if (who & (1u << v)) {
        precommits.push_back(
            make_vote(v, machine_.height(), round, VoteType::kPrecommit, hash, p.byte()));
      }
    }
    const consensus::Outcome outcome = machine_.on_commit_certificate(bytes, precommits);
    if (outcome.status) remember(hash);
    drive(outcome, true);
  }
  // A message seen before, from anyone: the machine's own, or one it was fed.
  void replay(Program& p) {
    if (seen_.empty()) return;
    deliver(seen_[p.byte() % seen_.size()]);
  }

  bool authentic(const consensus::Message& message) const {
    if (const auto* v = std::get_if<Vote>(&message)) {
      return keys_.verify(v->validator, v->sign_bytes(), v->signature);
    }
    const auto& proposal = std::get<consensus::Proposal>(message);
    return keys_.verify(proposal.proposer, proposal.sign_bytes(), proposal.signature);
  }
  void deliver(const consensus::Message& message) {
    const bool forged = !authentic(message);
    const consensus::Outcome outcome = machine_.on_message(message);
    if (forged) {
      for (const consensus::Action& a : outcome.actions) {
        require(!std::holds_alternative<consensus::Broadcast>(a) &&
                    !std::holds_alternative<consensus::SendTo>(a),
                "a forged message makes the machine send nothing");
      }
    }
    if (seen_.size() < 64) seen_.push_back(message);
    drive(outcome, true);
  }

  // Carries out the machine's actions; validations and block requests wait for the
  // program to answer them. `counted`: the outcome of a peer's or the driver's input (the
  // replay of buffered messages when a height starts is not one input).
  void drive(const consensus::Outcome& outcome, bool counted) {
    std::size_t messages = 0;
    for (const consensus::Action& action : outcome.actions) {
      if (const auto* b = std::get_if<consensus::Broadcast>(&action)) {
        messages += kN - 1;
        if (seen_.size() < 64) seen_.push_back(b->message);
      } else if (std::holds_alternative<consensus::SendTo>(action)) {
        ++messages;
      } else if (const auto* t = std::get_if<consensus::ScheduleTimeout>(&action)) {
        if (timeouts_.size() == 16) timeouts_.pop_front();
        timeouts_.push_back(t->timeout);
      } else if (const auto* r = std::get_if<consensus::RequestBlock>(&action)) {
        request_ = *r;
      } else if (const auto* v = std::get_if<consensus::ValidateBlock>(&action)) {
        require(hasher_.hash(v->block) == v->block_hash, "a block to validate has its hash");
        validations_.push_back(*v);
      } else if (const auto* e = std::get_if<consensus::EquivocationFound>(&action)) {
        require(e->first.conflicts_with(e->second) &&
                    keys_.verify(e->first.validator, e->first.sign_bytes(), e->first.signature) &&
                    keys_.verify(e->second.validator, e->second.sign_bytes(), e->second.signature),
                "evidence is two conflicting, validly signed votes");
      }
    }
    if (counted) require(messages <= kMaxMessagesPerInput, "one input sends a bounded count");
    check_bounds();
    for (const consensus::Action& action : outcome.actions) {
      if (const auto* c = std::get_if<consensus::Commit>(&action)) commit(*c);
    }
  }

  void commit(const consensus::Commit& c) {
    require(c.height == machine_.height(), "a commit is for the current height");
    require(hasher_.hash(c.block) == c.block_hash, "the committed bytes are the decided block");
    auto [it, fresh] = decided_.try_emplace(c.height, c.block_hash);
    require(fresh, "one decision per height");
    std::array<bool, kN> counted{};
    std::uint32_t power = 0;
    for (const Vote& v : c.precommits) {
      require(v.height == c.height && v.type == VoteType::kPrecommit &&
                  v.block_hash == c.block_hash && v.validator < kN &&
                  keys_.verify(v.validator, v.sign_bytes(), v.signature),
              "a certificate holds only valid precommits for its block");
      if (!counted[v.validator]) power += 1;
      counted[v.validator] = true;
    }
    require(3 * power > 2 * kN, "a certificate holds a quorum");
    validations_.clear();
    request_.reset();
    drive(machine_.start_height(c.height + 1, consensus::ValidatorSet::equal(kN)), false);
  }

  void answer_validations(bool valid) {
    while (!validations_.empty()) {
      const consensus::ValidateBlock v = validations_.front();
      validations_.pop_front();
      drive(machine_.on_block_validated(v.height, v.block_hash, valid), true);
    }
  }

  void check_bounds() const {
    const consensus::Footprint f = machine_.footprint();
    const std::size_t window = machine_.config().round_window;
    const std::size_t rounds = machine_.round() + window + 1;
    require(f.block_verdicts <= f.proposals + f.carriers, "every judged block has a carrier");
    require(f.proposals <= rounds, "a proposal per round held");
    require(f.carriers <= rounds * kMaxCarriersPerRound, "carriers per round bounded");
    require(f.vote_rounds <= rounds, "vote rounds within the window");
    require(f.late_vote_rounds <= 2 * window + 2, "late vote rounds within the window");
    require(f.buffered <= kMaxBuffered, "next-height buffer bounded");
    require(f.decisions <= machine_.config().catchup_heights, "decisions kept bounded");
  }

  Hash32 chain_id_ = sim::fake_hash(fedchain::as_bytes("consensus-machine-fuzz"));
  sim::FakeKeys keys_;
  sim::FakeBlockHasher hasher_;
  sim::FakeSigner signer_;
  consensus::StateMachine machine_;
  std::deque<Hash32> blocks_;  // hashes the program proposed or certified, the last 64
  std::deque<consensus::ValidateBlock> validations_;
  std::optional<consensus::RequestBlock> request_;
  std::deque<consensus::Timeout> timeouts_;  // the last 16 scheduled
  std::vector<consensus::Message> seen_;     // the first 64 messages either way
  std::map<std::uint64_t, Hash32> decided_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Program program(data, size);
  Harness harness;
  while (!program.done()) harness.step(program);
  return 0;
}

namespace fedchain::fuzz {
// Programs for the two defects of issue 13 and an honest height; the kept corpus
// (tests/fuzz/corpus/consensus_machine) adds what long libFuzzer runs found.
std::vector<Bytes> seeds() {
  return {
      // A burst of 511 conflicting proposals, each validated, then a precommit quorum for the
      // last block proposed.
      {2, 0, 0xff, 0, 3, 7, 2},
      // An honest-looking height: the round's proposal, its validation, a precommit quorum.
      {1, 7, 7, 0x34, 0x12, 0, 0, 0, 7, 0, 3, 7, 2},
      // Decide height 0 as above, then 40 forged asks for it from validator 3.
      {1, 7, 7, 0x34, 0x12, 0, 0, 0, 7, 0, 3, 7, 2, 4, 2, 0, 1, 39},
      // The same asks, validly signed.
      {1, 7, 7, 0x34, 0x12, 0, 0, 0, 7, 0, 3, 7, 2, 4, 2, 0, 0, 39},
  };
}
}  // namespace fedchain::fuzz
