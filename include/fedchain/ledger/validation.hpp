// Block validation in two levels (as bitcoin splits tx_check and tx_verify):
//   check_*     context-free: what the bytes alone must satisfy;
//   validate_*  against the chain: genesis, and the chain state before the block.
// Every failure is a reject() with a short string code; nothing here throws.
#pragma once

#include <cstdint>
#include <functional>

#include "fedchain/core/error.hpp"
#include "fedchain/ledger/block.hpp"
#include "fedchain/ledger/certificate.hpp"
#include "fedchain/ledger/chain_state.hpp"
#include "fedchain/ledger/genesis.hpp"
#include "fedchain/ledger/tx.hpp"

namespace fedchain::ledger {

// Context-free.
Status check_tx(const Tx& tx);
Status check_evidence(const Evidence& evidence);
// Height >= 1, roots match the body, txs one per client in ascending order, rejected clients
// name txs of this block, evidence unique, every tx and evidence checks.
Status check_block(const Block& block);
Status check_certificate(const CommitCertificate& certificate);

// Whether validate_tx checks the signature. kTrustCertificate is for a follower (a rank off
// the committee): the committee checks every signature before it certifies a block, and
// the follower checks that certificate, so it skips the R signature checks per height
// that would make its cost grow with the rank count.
enum class TxSignature { kVerify, kTrustCertificate };

// Against the chain. `state` is the chain state before the block. A tx is for a client of
// genesis in state.cohort(), signed by the rank hosting it (active), weighted by the
// client's genesis samples.
Status validate_tx(const Tx& tx, std::uint64_t height, const Genesis& genesis,
                   const ChainState& state, TxSignature signature = TxSignature::kVerify);
Status validate_evidence(const Evidence& evidence, std::uint64_t height, const Genesis& genesis,
                         const ChainState& state);
// How validate_block treats the block's transactions: kValidate runs validate_tx on each;
// kAlreadyValidated is for a caller that ran validate_tx on these very transactions
// against the same genesis and state (a rank that checked every update transaction in the
// exchange and compared the proposal's with them), and skips R signature checks;
// kCertified is for a caller that checked a commit certificate of this very block first
// (validate_certificate): the committee's quorum validated the transactions.
enum class BlockTxs { kValidate, kAlreadyValidated, kCertified };

// Everything about a proposed block that needs no commit: chain id, height, prev hash,
// time, chain-state hash, proposer active, rule, every tx and evidence signature.
Status validate_block(const Block& block, const Genesis& genesis, const ChainState& state,
                      BlockTxs txs = BlockTxs::kValidate);
// The certificate is for this block and carries valid precommit signatures of active
// validators holding more than 2/3 of the active voting power.
Status validate_certificate(const CommitCertificate& certificate, const Block& block,
                            const Genesis& genesis, const ChainState& state);

// Who must propose (height, round) given the state: consensus owns the rotation, so the
// caller injects it (an empty function accepts any active proposer).
using ProposerRule = std::function<std::uint32_t(const ChainState& state, std::uint64_t height,
                                                 std::uint32_t round)>;

// validate_block + validate_certificate + the proposer of the certificate's round.
Status validate_commit(const Block& block, const CommitCertificate& certificate,
                       const Genesis& genesis, const ChainState& state,
                       const ProposerRule& proposer_rule = {});

}  // namespace fedchain::ledger
