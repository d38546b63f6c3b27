// The simulator's side of the shipped Byzantine behaviours (see byzantine.hpp).
#include "byzantine.hpp"

#include <iterator>

#include "fake_crypto.hpp"
#include "sim_app.hpp"

namespace fedchain::consensus::sim {

namespace {

class SimBlocks final : public faults::BlockEditor {
 public:
  std::optional<faults::EditedBlock> twin(ByteView block) const override {
    auto decoded = SimBlock::decode(block);
    if (!decoded) return std::nullopt;
    decoded->nonce += 1;
    return edited(*decoded);
  }
  std::optional<faults::EditedBlock> with_state_root(ByteView block,
                                                     const Hash32& root) const override {
    auto decoded = SimBlock::decode(block);
    if (!decoded) return std::nullopt;
    decoded->state_root = root;
    return edited(*decoded);
  }
  std::optional<Hash32> hash(ByteView block) const override {
    return FakeBlockHasher{}.hash(block);
  }

 private:
  static faults::EditedBlock edited(const SimBlock& block) {
    Bytes bytes = block.encode();
    const Hash32 hash = *FakeBlockHasher{}.hash(bytes);
    return {std::move(bytes), hash};
  }
};

}  // namespace

const faults::BlockEditor& sim_blocks() {
  static const SimBlocks editor;
  return editor;
}

faults::ConsensusFault fault_for(Behaviour behaviour, std::mt19937_64& rng) {
  if (auto fault = shipped_fault(behaviour)) return *fault;
  if (behaviour == Behaviour::kColludeFork) return faults::ConsensusFault::kEquivocate;
  constexpr faults::ConsensusFault kChoices[] = {
      faults::ConsensusFault::kEquivocate,     faults::ConsensusFault::kDoubleVote,
      faults::ConsensusFault::kWithholdVotes,  faults::ConsensusFault::kInvalidVote,
      faults::ConsensusFault::kWrongStateRoot, faults::ConsensusFault::kForgeSignatures,
      faults::ConsensusFault::kReplay,         faults::ConsensusFault::kSilent};
  return kChoices[rng() % std::size(kChoices)];
}

}  // namespace fedchain::consensus::sim
