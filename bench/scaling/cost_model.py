#!/usr/bin/python3
"""Cost model of one fedchain round, calibrated from a scaling sweep (docs/SCALING.md).

  cost_model.py check SUMMARY [options]     fit, print predicted vs measured, then predict
  cost_model.py predict SUMMARY [options]   fit quietly, then predict only
  cost_model.py committee SUMMARY [--counts COUNTS.csv] [--committees 32,64] [options]
                                            fit quietly; check the committee's counts per
                                            role against bench/committee/run.sh, predict
                                            consensus per height with c of R ranks voting

SUMMARY is the CSV of bench/scaling/gather.py. The round is modelled phase by phase, each
phase as counted work times a constant; the constants are fitted to the measured means
(rounds after the first) after dividing each time by the oversubscription max(1, R / cores),
so that they are the times of a rank that has a core of its own. R ranks, d parameters,
s samples per rank per round:

  train      c_train + t_sample * s
  quantize   k_quant * d
  hash       h_0 + 4d / H                     Merkle root of the int32 update, then one signature
  exchange   alpha * A(R) + beta * B(R, d) + R * t_verify
             allreduce: A = 2 lg R (+ lg R for the tx allgather), B = 2 (R-1)/R * 8d (+ (R-1) * 165)
             allgather: A = lg R (+ lg R),                         B = (R-1) * 4d (+ (R-1) * 165)
             (Rabenseifner / recursive doubling; lg = ceil(log2); each tx is verified on arrival)
  aggregate  k_agg * d (fedavg over the sum) or k_agg * R * d (rules over every update)
  consensus  c_0 + 3 * (L + alpha) + m(R) * (t_msg + 155 * beta)
             + (R - 1) * (165 R + 300) * beta + V(R) * t_verify
             three sequential steps (proposal, prevote, precommit); m(R) messages each rank
             sends (and receives) per height: M(R) / R with M(R) = (R-1)(2R+1) broadcasts
             + 2R * R * min(2, R-1) relays over all ranks (O(R^2)), or, when the sweep recorded
             consensus_messages (rank 0's), m(R) = a * R with a from the largest R measured (relays
             to the next two validators only reach full fan-out from R = 4); the proposer sends the
             block (R txs) to R - 1 peers. V(R) = 2(R-1) + (R-1)/R signatures a rank verifies
             per height (consensus_verifies): the prevote and precommit of every other validator
             (its own and relayed copies of votes it holds are not checked) and the proposal,
             which every rank but the proposer checks, the proposer rotating over the R ranks.
             The block's txs are not verified again: a rank compares them with the ones it
             verified in the exchange (ledger::BlockTxs::kAlreadyValidated).
  other      c_other: the reporting allreduce and logging (round_s minus the phases)

With a committee (consensus.committee = c < R, docs/consensus.md) the consensus term
counts c, not R, in everything but the block's size: validator_sent(c) messages (the
protocol's own count, 2(c-1) votes + 4(c-2) relays + the proposal one height in c, which
bench/committee/run.sh measures exactly), consensus_verifies(c) votes, the block sent to
c - 1 peers; then the R - c followers get the block record with its certificate by
MPI_Bcast (lg R steps of alpha + bytes beta) and check quorum(c) signatures. The R tx
checks stay in the exchange, now on the c validators only (predict_committee).

Evaluation and checkpoints are left out: their cost depends on eval_every and
checkpoint.every, not on the rank count. Where the calibration sweep ran on one machine,
alpha and beta are its shared-memory MPI; predictions put a network's alpha and beta in
their place (NETWORKS). t_verify (Ed25519 verify) is not fitted: its count grows with R
exactly like other terms, so a sweep of a few rank counts cannot separate it.

Exit codes: 0 ok, 2 unreadable summary or bad option.
"""

import argparse
import csv
import itertools
import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Network:
    name: str
    alpha: float  # seconds per message (latency)
    beta: float  # seconds per byte (1 / bandwidth)
    source: str


NETWORKS = {
    "ib": Network("InfiniBand HDR 200 Gb/s", alpha=2.0e-6, beta=1 / 25e9,
                  source="25 GB/s per direction (HDR, 200 Gb/s); MPI latency 1 to 1.5 us "
                  "between two HDR nodes, rounded up to 2 us for switch hops"),
    "nvlink": Network("NVLink 4 (H100 SXM)", alpha=1.0e-6, beta=1 / 450e9,
                      source="450 GB/s per direction per GPU (18 links, 900 GB/s both ways); "
                      "about 1 us per step for NCCL within an NVLink domain"),
}
# Ed25519 verify (docs/PERFORMANCE.md: 8,000/s, one quiet Xeon core) and sign (21,500/s).
VERIFY_S = 124e-6
SIGN_S = 47e-6
TX_BYTES = 165  # ledger::kTxEncodedBytes
VOTE_BYTES = 155  # mean message size of net_consensus_bench (docs/consensus.md)
BLOCK_HEADER_BYTES = 300  # header, certificate reference and framing beside the txs
CNN_PARAMS = 1_663_370
# cnn training on one Xeon core, docs/PERFORMANCE.md: 624 samples/s.
CNN_SAMPLE_S = 1 / 624
PREDICT_RANKS = (64, 128, 256, 512, 1024, 2048, 4096)


class ModelError(Exception):
    """Bad input; the message names the file and what to do."""


def lg(r):
    return math.ceil(math.log2(r)) if r > 1 else 0


def tendermint_messages(r):
    """Consensus messages per height over all ranks (see the module docstring)."""
    if r <= 1:
        return 0.0
    return (r - 1) * (2 * r + 1) + 2 * r * r * min(2, r - 1)


def consensus_verifies(r):
    """Ed25519 verifications per rank per height in consensus (see the module docstring),
    averaged over heights: the proposer, one rank in R, does not check its own proposal."""
    return 2 * (r - 1) + (r - 1) / r


def exchange_features(r, d, mode, bft):
    """(A, B): latency count and bytes of the exchange, as in the module docstring."""
    tx_latency = lg(r) if bft else 0
    tx_bytes = (r - 1) * TX_BYTES if bft else 0
    if mode == "allreduce":
        return 2 * lg(r) + tx_latency, 2 * (r - 1) / r * 8 * d + tx_bytes
    return lg(r) + tx_latency, (r - 1) * 4 * d + tx_bytes


def fit_nonnegative(columns, y):
    """Least squares with every coefficient >= 0, relative error weighted (1 / y), so small
    and large times count alike. Tries every subset of columns (there are at most three)."""
    x = np.array(columns, dtype=float).T
    y = np.array(y, dtype=float)
    w = 1 / np.maximum(y, 1e-9)
    best = None
    for k in range(1, x.shape[1] + 1):
        for subset in itertools.combinations(range(x.shape[1]), k):
            xs = x[:, subset] * w[:, None]
            coef, *_ = np.linalg.lstsq(xs, y * w, rcond=None)
            if np.any(coef < 0):
                continue
            residual = float(np.sum((xs @ coef - y * w) ** 2))
            if best is None or residual < best[0] - 1e-15:
                full = np.zeros(x.shape[1])
                full[list(subset)] = coef
                best = (residual, full)
    return best[1] if best is not None else np.zeros(x.shape[1])


@dataclass
class Point:
    mode: str
    ranks: int
    oversubscription: float
    params: int
    samples: float
    exchange: str
    bft: bool
    phases: dict  # phase -> mean seconds
    messages: float | None  # consensus messages rank 0 sent per height


def read_points(path, cores_override=None):
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: missing; run bench/scaling/gather.py first")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ModelError(f"{path}: no points")
    phases = ("round", "train", "quantize", "hash", "exchange", "aggregate", "consensus",
              "store", "eval")
    needed = {"mode", "ranks", "cores", "params", "samples_per_rank", "exchange", "protocol"} | {
        f"mean_{p}_s" for p in phases}
    missing = needed - set(rows[0])
    if missing:
        raise ModelError(f"{path}: not a summary from bench/scaling/gather.py (missing "
                         f"{', '.join(sorted(missing))})")
    points = []
    for line, row in enumerate(rows, start=2):
        try:
            ranks = int(row["ranks"])
            cores = cores_override or (int(row["cores"]) if row["cores"] else None)
            messages = row.get("mean_consensus_messages") or None
            points.append(Point(
                mode=row["mode"], ranks=ranks,
                oversubscription=max(1.0, ranks / cores) if cores else 1.0,
                params=int(row["params"]), samples=float(row["samples_per_rank"]),
                exchange=row["exchange"], bft=row["protocol"] == "bft",
                phases={p: float(row[f"mean_{p}_s"]) for p in phases},
                messages=float(messages) if messages else None))
        except ValueError as e:
            raise ModelError(f"{path}:{line}: {e}") from None
    return points


@dataclass
class Calibration:
    c_train: float
    t_sample: float
    k_quant: float
    h_0: float
    hash_rate: float  # bytes per second
    k_agg: float
    alpha: float
    beta: float
    c_0: float
    step: float  # L: fixed cost of each of the three consensus steps
    t_msg: float
    c_other: float
    t_verify: float
    messages_per_rank: float | None  # a in m(R) = a R, when the sweep counted messages
    notes: list


def calibrate(points, t_verify=VERIFY_S):
    notes = []

    def core(p, phase):
        return p.phases[phase] / p.oversubscription

    # Compute: per-round overhead plus time per sample.
    samples = [p.samples for p in points]
    trains = [core(p, "train") for p in points]
    if len(set(samples)) >= 2:
        c_train, t_sample = fit_nonnegative([[1.0] * len(points), samples], trains)
    else:
        c_train, t_sample = 0.0, statistics.median(t / s for t, s in zip(trains, samples))
        notes.append("one sample count only: compute fitted through the origin")
    k_quant = statistics.median(core(p, "quantize") / p.params for p in points)
    agg_work = [p.params * (p.ranks if p.exchange == "allgather" else 1) for p in points]
    k_agg = statistics.median(core(p, "aggregate") / w for p, w in zip(points, agg_work))

    chain = [p for p in points if p.bft]
    h_0, hash_rate = SIGN_S, float("nan")
    if chain:
        sizes = [4.0 * p.params for p in chain]
        hashes = [core(p, "hash") for p in chain]
        if len(set(sizes)) >= 2:
            h_0, per_byte = fit_nonnegative([[1.0] * len(chain), sizes], hashes)
            hash_rate = 1 / per_byte if per_byte > 0 else float("inf")
        else:
            hash_rate = statistics.median(s / max(h - SIGN_S, 1e-9) for s, h in zip(sizes, hashes))
            notes.append("one model size only: hashing fitted with h_0 = one Ed25519 "
                         "signature (47 us)")

    multi = [p for p in points if p.ranks > 1]
    alpha = beta = 0.0
    if len(multi) >= 2:
        feats = [exchange_features(p.ranks, p.params, p.exchange, p.bft) for p in multi]
        y = [max(core(p, "exchange") - (p.ranks * t_verify if p.bft else 0.0), 1e-9)
             for p in multi]
        alpha, beta = fit_nonnegative([[f[0] for f in feats], [f[1] for f in feats]], y)
    else:
        notes.append("fewer than two points with R > 1: no alpha-beta fit")

    c_0 = step = t_msg = 0.0
    messages_per_rank = None
    counted = [p for p in chain if p.messages is not None and p.ranks > 1]
    if len(counted) >= 2:
        largest = max(p.ranks for p in counted)
        messages_per_rank = statistics.median(p.messages / p.ranks for p in counted
                                              if p.ranks == largest)
        notes.append(f"consensus messages from the sweep: each rank sends "
                     f"m(R) = {messages_per_rank:.2f} R per height (the ratio at R = {largest}; "
                     f"the formula's is {tendermint_messages(largest) / largest ** 2:.2f})")
    if chain:
        def sent(p):
            return p.messages if p.messages is not None else tendermint_messages(p.ranks) / p.ranks
        y = [max(core(p, "consensus") - consensus_verifies(p.ranks) * t_verify, 1e-9)
             for p in chain]
        c_0, step, t_msg = fit_nonnegative(
            [[1.0] * len(chain), [3.0 if p.ranks > 1 else 0.0 for p in chain],
             [sent(p) for p in chain]], y)

    named = ("train", "quantize", "hash", "exchange", "aggregate", "consensus", "store", "eval")
    c_other = statistics.median(
        max(0.0, p.phases["round"] - sum(p.phases[q] for q in named)) / p.oversubscription
        for p in points)
    return Calibration(c_train, t_sample, k_quant, h_0, hash_rate, k_agg, alpha, beta, c_0, step,
                       t_msg, c_other, t_verify, messages_per_rank, notes)


def predict(cal, ranks, params, samples, exchange="allreduce", bft=True, network=None,
            sample_s=None, calibrated_params=None):
    """Seconds per round by phase for one rank with a core of its own. network None: the
    calibration machine's own transport (for the check)."""
    alpha, beta = (cal.alpha, cal.beta) if network is None else (network.alpha, network.beta)
    net_alpha, net_beta = (0.0, 0.0) if network is None else (network.alpha, network.beta)
    scale = params / calibrated_params if calibrated_params else 1.0
    # The per-round overhead is copying parameters in and out: it grows with the model.
    train = cal.c_train * scale + (sample_s if sample_s is not None else cal.t_sample * scale) * samples
    a_count, b_bytes = exchange_features(ranks, params, exchange, bft)
    out = {
        "train": train,
        "quantize": cal.k_quant * params,
        "hash": cal.h_0 + 4.0 * params / cal.hash_rate if bft else 0.0,
        "exchange": alpha * a_count + beta * b_bytes + (ranks * cal.t_verify if bft else 0.0),
        "aggregate": cal.k_agg * params * (ranks if exchange == "allgather" else 1),
        "consensus": 0.0,
        "other": cal.c_other + 2 * lg(ranks) * net_alpha,
    }
    if bft:
        sent = (cal.messages_per_rank * ranks if cal.messages_per_rank and ranks > 1
                else tendermint_messages(ranks) / ranks)
        out["consensus"] = agreement(cal, ranks, ranks, sent, net_alpha, net_beta)
    out["round"] = sum(out.values())
    return out


def agreement(cal, voters, txs, sent, net_alpha=0.0, net_beta=0.0):
    """Seconds for `voters` validators to agree on a block of `txs` transactions, each
    sending (and receiving) `sent` messages: the consensus term of the module docstring
    with the voters in place of R, except for the block's size."""
    block_bytes = TX_BYTES * txs + BLOCK_HEADER_BYTES
    return (cal.c_0 + (3 * (cal.step + net_alpha) if voters > 1 else 0.0) +
            sent * (cal.t_msg + VOTE_BYTES * net_beta) +
            (voters - 1) * block_bytes * net_beta +
            consensus_verifies(voters) * cal.t_verify)


# The committee (docs/consensus.md, "The committee"): c of the R ranks vote, the others
# follow. Counts per height, as metrics.csv reports them (the largest over the ranks of a
# role), for c validators with the default relay fan-out of 2, equal stake and every height
# decided in its first round.

RELAY_FANOUT = 2  # consensus::Config::relay_fanout
# A block record as the chain stores and broadcasts it (encode_block_record): per tx and
# fixed bytes, and bytes per precommit of the certificate. Fitted to the blocks.log sizes of
# bench/committee/run.sh (R = 4 to 32, c = 4 and c = R): 180 R + 510 + 69 q(c), within 1%.
RECORD_BYTES_PER_TX = 180
RECORD_FIXED_BYTES = 510
CERT_BYTES_PER_SIGNATURE = 69


def quorum(c):
    """Precommits in a commit certificate with equal stake: more than 2/3 of c."""
    return 2 * c // 3 + 1


def relayed_copies(c):
    """Relayed copies of one vote type a validator receives per height: each member passes
    a vote it accepts to the next RELAY_FANOUT members in ring order, never back to the
    voter (StateMachine::relay), so of the c - 1 others' votes each arrives RELAY_FANOUT
    times less once for each of the voter's own relays: RELAY_FANOUT (c - 2)."""
    return RELAY_FANOUT * max(0, c - 2) if c > 1 else 0


def validator_messages(c):
    """Consensus messages a validator handles per height, the largest over the committee
    (a member that is not the proposer): the proposal, the c - 1 others' prevotes and
    precommits, and the relayed copies of both."""
    return 0 if c <= 1 else 1 + 2 * (c - 1) + 2 * relayed_copies(c)


def validator_sent(c):
    """Consensus messages a validator sends per height, on the mean over the committee:
    its prevote and precommit to c - 1 members, its relays, and the proposal to c - 1
    members one height in c (the proposer rotates). Every message sent is received by one
    member, so this is also the mean received."""
    return 0.0 if c <= 1 else 2 * (c - 1) + 2 * relayed_copies(c) + (c - 1) / c


def committee_counts(ranks, c, txs=None):
    """Messages handled and signatures verified per height by each role, the largest over
    its ranks (metrics.csv's follower_* and validator_* columns), plus validator_sent.
    txs: the block's transactions (clients per round; default one per rank)."""
    txs = ranks if txs is None else txs
    c = min(c, ranks)
    followers = c < ranks
    return {
        "follower_messages": 1 if followers else 0,  # the certified block
        "follower_verifications": quorum(c) if followers else 0,  # the certificate
        "validator_messages": validator_messages(c),
        # The txs in the exchange, the others' prevotes and precommits, the proposal.
        "validator_verifications": txs + 2 * (c - 1) + (1 if c > 1 else 0),
        "validator_sent": validator_sent(c),
    }


def record_bytes(txs, c):
    return RECORD_BYTES_PER_TX * txs + RECORD_FIXED_BYTES + CERT_BYTES_PER_SIGNATURE * quorum(c)


def predict_committee(cal, ranks, c, network, txs=None, messages="counted"):
    """Seconds of consensus per height with a committee of c of R ranks, by part:

      agreement   the committee's vote: the consensus term with c in place of R for the
                  messages (validator_sent(c), or a c with --messages fitted), the votes
                  verified (consensus_verifies(c)) and the peers the proposer sends the
                  block to (c - 1); the block still holds the R txs
      barrier     followers wait for every member to commit: lg R alpha
      broadcast   the block record with its certificate to every rank (MPI_Bcast, a tree:
                  lg R steps of alpha + bytes beta, after a length broadcast of lg R alpha),
                  then the allgather of who holds it (lg R alpha + 4 R beta)
      follower    a follower checks the certificate (quorum(c) verifications) and hashes
                  the record
      consensus   the sum: the height ends when the last follower holds the block

    tx_checks (the validators' R tx signatures, in the exchange, not in consensus: a
    follower skips them, but the height cannot start before the validators are done) is
    returned beside. With c >= R every rank votes and there are no followers."""
    txs = ranks if txs is None else txs
    c = min(c, ranks)
    a, b = network.alpha, network.beta
    sent = (validator_sent(c) if messages == "counted"
            else (cal.messages_per_rank * c if cal.messages_per_rank and c > 1
                  else tendermint_messages(c) / c))
    out = {"agreement": agreement(cal, c, txs, sent, a, b),
           "barrier": 0.0, "broadcast": 0.0, "follower": 0.0}
    if c < ranks:
        size = record_bytes(txs, c)
        out["barrier"] = lg(ranks) * a
        out["broadcast"] = lg(ranks) * (2 * a + size * b) + lg(ranks) * a + 4 * ranks * b
        hashing = size / cal.hash_rate if math.isfinite(cal.hash_rate) and cal.hash_rate else 0.0
        out["follower"] = quorum(c) * cal.t_verify + hashing
    out["consensus"] = sum(out.values())
    out["tx_checks"] = txs * cal.t_verify
    return out


def us(seconds):
    return f"{seconds * 1e6:.3g} us"


def print_calibration(cal, points, path):
    cores = {p.oversubscription for p in points}
    print(f"## Calibration from {path} ({len(points)} points; times divided by "
          f"max(1, ranks / cores){'' if cores != {1.0} else ', no point oversubscribed'})")
    print()
    print("| constant | value | fitted from |")
    print("|---|---|---|")
    print(f"| c_train | {cal.c_train * 1e3:.3g} ms | train_s = c_train + t_sample * samples per rank |")
    print(f"| t_sample | {us(cal.t_sample)} per sample | same fit |")
    print(f"| k_quant | {cal.k_quant * 1e9:.3g} ns per parameter | quantize_s / d |")
    print(f"| H | {cal.hash_rate / 1e6:.3g} MB/s (h_0 = {us(cal.h_0)}) | hash_s against 4d bytes |")
    print(f"| k_agg | {cal.k_agg * 1e9:.3g} ns per parameter | aggregate_s / d (dequantize, state root) |")
    print(f"| alpha | {us(cal.alpha)} | exchange_s against latency count and bytes (NNLS) |")
    print(f"| beta | {cal.beta * 1e9:.3g} ns/B ({1 / cal.beta / 1e9 if cal.beta else float('inf'):.3g} GB/s) | same fit |")
    print(f"| c_0 | {cal.c_0 * 1e3:.3g} ms | consensus_s = c_0 + 3 L + m(R) t_msg + verifies |")
    print(f"| L | {cal.step * 1e3:.3g} ms per step | same fit |")
    print(f"| t_msg | {us(cal.t_msg)} per message received | same fit |")
    print(f"| c_other | {cal.c_other * 1e3:.3g} ms | round_s minus the phases |")
    print(f"| t_verify | {us(cal.t_verify)} (assumed) | docs/PERFORMANCE.md, Ed25519 verify; "
          "R per rank per height in the exchange, 2(R-1) + (R-1)/R in consensus |")
    for note in cal.notes:
        print(f"\nNote: {note}.")
    print()


def relative_error(predicted, measured):
    return (predicted - measured) / measured if measured > 0 else float("nan")


def print_check(cal, points):
    print("## Check: predicted vs measured, mean seconds per round (rounds 2..)")
    print()
    print("Predicted times are multiplied back by max(1, ranks / cores). The round compared "
          "leaves out eval_s and store_s, which the model does not cover.")
    print()
    print("| mode | ranks | train pred / meas | exchange pred / meas | consensus pred / meas "
          "| round pred / meas | round error |")
    print("|---|---|---|---|---|---|---|")
    errors = []
    for p in points:
        got = predict(cal, p.ranks, p.params, p.samples, p.exchange, p.bft)
        o = p.oversubscription
        measured_round = p.phases["round"] - p.phases["eval"] - p.phases["store"]
        err = relative_error(got["round"] * o, measured_round)
        errors.append(abs(err))
        cells = [f"{got[q] * o:.4f} / {p.phases[q]:.4f}" for q in ("train", "exchange", "consensus")]
        print(f"| {p.mode} | {p.ranks}{'*' if o > 1 else ''} | {' | '.join(cells)} | "
              f"{got['round'] * o:.4f} / {measured_round:.4f} | {err:+.0%} |")
    print()
    print(f"Round error: median {statistics.median(errors):.0%}, worst {max(errors):.0%} "
          "(* = oversubscribed)")
    print()


def print_predictions(cal, args, calibrated_params):
    modes = ["strong", "weak"] if args.mode == "both" else [args.mode]
    networks = ["ib", "nvlink"] if args.network == "both" else [args.network]
    sample_s = args.sample_s
    print(f"## Predictions: {args.params:,} parameters, {args.exchange}, "
          f"{'bft' if not args.no_chain else 'no chain'}")
    print()
    if sample_s is None:
        print(f"Compute per sample scaled from the calibration by parameter count "
              f"({args.params:,} / {calibrated_params:,}): right for dense models only; "
              "pass --sample-s for a conv net.")
    else:
        print(f"Compute per sample: {us(sample_s)} (--sample-s).")
    print()
    results = {}
    for network_key in networks:
        net = NETWORKS[network_key]
        for mode in modes:
            print(f"### {net.name} (alpha {us(net.alpha)}, {1 / net.beta / 1e9:.0f} GB/s), "
                  f"{mode} scaling, "
                  + (f"{args.strong_total:,} samples in all" if mode == "strong"
                     else f"{args.weak_per_rank:,} samples per rank"))
            print()
            print("| ranks | samples/rank | train | hash | exchange | aggregate | consensus "
                  "| round s | efficiency |")
            print("|---|---|---|---|---|---|---|---|---|")

            def samples_at(r):
                return args.strong_total / r if mode == "strong" else args.weak_per_rank

            def round_at(r):
                return predict(cal, r, args.params, samples_at(r), args.exchange,
                               not args.no_chain, net, sample_s, calibrated_params)

            base = round_at(1)["round"]
            rows = []
            for r in args.ranks:
                got = round_at(r)
                # Against one rank: strong T_1 / (R T_R), weak T_1 / T_R.
                eff = base / got["round"] / (r if mode == "strong" else 1)
                rows.append((r, got, eff))
                print(f"| {r:,} | {samples_at(r):.4g} | {got['train']:.4g} | {got['hash']:.3g} | "
                      f"{got['exchange']:.3g} | {got['aggregate']:.3g} | {got['consensus']:.3g} "
                      f"| {got['round']:.4g} | {eff:.2f} |")
            print()
            results[(network_key, mode)] = rows
    return results


COUNT_COLUMNS = ("follower_messages", "follower_verifications", "validator_messages",
                 "validator_verifications")


def read_counts(path):
    """Rows of bench/committee/counts.py's counts.csv."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: missing; run bench/committee/run.sh first")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    needed = {"ranks", "committee", "validator_sent_mean", "max_commit_round"} | {
        f"{s}_{c}" for c in COUNT_COLUMNS for s in ("median", "min", "max")}
    if not rows or needed - set(rows[0]):
        raise ModelError(f"{path}: not a counts.csv from bench/committee/counts.py (missing "
                         f"{', '.join(sorted(needed - set(rows[0]))) if rows else 'every row'})")
    out = []
    for line, row in enumerate(rows, start=2):
        try:
            out.append({k: float(row[k]) for k in needed})
        except ValueError as e:
            raise ModelError(f"{path}:{line}: {e}") from None
    return out


def count_verdict(row, want):
    """Whether a measured point agrees with the model's counts (committee_counts):

      equal       every median is the model's, and the mean sent within 1% (what a member
                  sent comes from what the members had received when the run ended: a
                  message still in flight, a last relay, is missing)
      disturbed   the validators' quietest height is the model's, others handled more:
                  a height decided in a later round, or a rank that fell behind and asked
                  for the votes again (catch-up, late votes). Oversubscription does this;
                  the model counts one undisturbed round
      DIFFERS     anything else, and any follower count off the model at any height: no
                  machine effect gives a follower a second block or more signatures
    """
    followers = ("follower_messages", "follower_verifications")
    validators = ("validator_messages", "validator_verifications")
    if all(want[k] == row[f"median_{k}"] for k in COUNT_COLUMNS) and (
            abs(want["validator_sent"] - row["validator_sent_mean"])
            <= 0.01 * want["validator_sent"]) and all(
            want[k] == row[f"max_{k}"] for k in followers):
        return "equal"
    if any(want[k] != row[f"min_{k}"] or want[k] != row[f"max_{k}"] for k in followers):
        return ("DIFFERS: followers " + ", ".join(
            f"{k.split('_')[1]} {row[f'min_{k}']:g} to {row[f'max_{k}']:g}" for k in followers))
    if row["max_commit_round"] > 0:
        return (f"disturbed: a height needed round {row['max_commit_round']:.0f} (timeouts; "
                "machine-dependent)")
    if all(want[k] == row[f"min_{k}"] for k in validators):
        return (f"disturbed: the quietest height equals the model, another handled "
                f"{row['max_validator_messages']:g} (catch-up; machine-dependent)")
    return "DIFFERS"


def print_count_check(rows, path):
    """Predicted vs measured messages and verifications per height by role."""
    print(f"## Counts per height: predicted / measured ({path}, medians over heights)")
    print()
    print("| R | c | follower msgs | follower verifs | validator msgs | validator verifs "
          "| validator sent (mean) | |")
    print("|---|---|---|---|---|---|---|---|")
    verdicts = []
    for row in rows:
        r, c = int(row["ranks"]), int(row["committee"])
        want = committee_counts(r, c)
        cells = [f"{want[k]:g} / {row[f'median_{k}']:g}" for k in COUNT_COLUMNS]
        cells.append(f"{want['validator_sent']:.2f} / {row['validator_sent_mean']:.2f}")
        verdicts.append(count_verdict(row, want))
        print(f"| {r} | {c} | {' | '.join(cells)} | {verdicts[-1]} |")
    print()
    exact = sum(v == "equal" for v in verdicts)
    disturbed = sum(v.startswith("disturbed") for v in verdicts)
    print(f"Equal to the model: {exact} of {len(rows)} points. Disturbed (a height decided "
          "in a later round, or a rank catching up; the model counts neither): "
          f"{disturbed}. Different otherwise: {len(rows) - exact - disturbed}.")
    print()


def print_committee(cal, args):
    networks = ["ib", "nvlink"] if args.network == "both" else [args.network]
    target = args.target_ms * 1e-3
    print(f"## Consensus per height with a committee (c validators of R ranks; t_verify "
          f"{us(cal.t_verify)}, t_msg {us(cal.t_msg)}, c_0 {cal.c_0 * 1e3:.3g} ms, "
          f"L {cal.step * 1e3:.3g} ms)")
    print()
    print("old: every rank votes (`predict`'s consensus term, m(R) = "
          + (f"{cal.messages_per_rank:.2f} R" if cal.messages_per_rank else "the formula")
          + "). new: the committee's agreement, the barrier, the broadcast of the block "
          "record to the followers and a follower's certificate check. Both leave out the "
          "R tx signatures the voters check in the exchange (`tx checks`, the same old and "
          "new): chain = tx checks + consensus. "
          + ("Validator messages: the protocol's count, validator_sent(c)."
             if args.messages == "counted" else
             "Validator messages: the fitted m(c) = a c."))
    print()
    for key in networks:
        net = NETWORKS[key]
        print(f"### {net.name} (alpha {us(net.alpha)}, {1 / net.beta / 1e9:.0f} GB/s)")
        print()
        print("| R | c | old consensus s | new: agreement ms | broadcast ms | follower ms "
              f"| new consensus ms | <= {args.target_ms:g} ms | tx checks s | chain s old -> new |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in args.ranks:
            old = predict(cal, r, CNN_PARAMS, 1, network=net)["consensus"]
            for c in args.committees:
                got = predict_committee(cal, r, c, net, messages=args.messages)
                print(f"| {r:,} | {min(c, r)} | {old:.3g} | {got['agreement'] * 1e3:.3g} | "
                      f"{(got['barrier'] + got['broadcast']) * 1e3:.3g} | "
                      f"{got['follower'] * 1e3:.3g} | {got['consensus'] * 1e3:.3g} | "
                      f"{'yes' if got['consensus'] <= target else 'no'} | "
                      f"{got['tx_checks']:.3g} | {got['tx_checks'] + old:.3g} -> "
                      f"{got['tx_checks'] + got['consensus']:.3g} |")
        print()


def plot_predictions(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    key = next((k for k in (("ib", "strong"), ("ib", "weak")) if k in results), next(iter(results)))
    rows = results[key]
    phases = ("train", "quantize", "hash", "exchange", "aggregate", "consensus", "other")
    bottom = [0.0] * len(rows)
    for phase in phases:
        values = [got[phase] for _, got, _ in rows]
        left.bar([str(r) for r, _, _ in rows], values, bottom=bottom, label=phase)
        bottom = [b + v for b, v in zip(bottom, values)]
    left.set_xlabel("ranks")
    left.set_ylabel("predicted seconds per round")
    left.set_title(f"predicted round by phase: {NETWORKS[key[0]].name}, {key[1]}", fontsize=9)
    left.legend(fontsize=7)
    for (network_key, mode), rows in results.items():
        right.plot([r for r, _, _ in rows], [e for _, _, e in rows], marker="o",
                   linestyle="-" if network_key == "ib" else "--",
                   label=f"{NETWORKS[network_key].name}, {mode}")
    right.set_xscale("log", base=2)
    right.set_ylim(0, 1.05)
    right.set_xlabel("ranks")
    right.set_ylabel("predicted efficiency vs 1 rank")
    right.set_title("predicted parallel efficiency", fontsize=9)
    right.legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def main():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("summary", help="summary CSV from bench/scaling/gather.py")
    common.add_argument("--params", type=int, default=CNN_PARAMS,
                        help="model parameters to predict for (default: the cnn, 1,663,370)")
    common.add_argument("--sample-s", type=float, default=None,
                        help="seconds of training per sample on one rank (default: the cnn "
                        "on one CPU core, 1/624 s, when --params is the cnn's; else scaled "
                        "from the calibration by parameter count)")
    common.add_argument("--network", choices=["ib", "nvlink", "both"], default=None,
                        help="network to predict for (default: both; committee: ib)")
    common.add_argument("--mode", choices=["strong", "weak", "both"], default="both")
    common.add_argument("--strong-total", type=int, default=60_000,
                        help="strong scaling: samples per round over all ranks (default 60,000)")
    common.add_argument("--weak-per-rank", type=int, default=7_500,
                        help="weak scaling: samples per rank (default 7,500, fmnist-cnn-8's shard)")
    common.add_argument("--ranks", default=None,
                        help="rank counts to predict (default 64,...,4096; committee: "
                        "1024,4096)")
    common.add_argument("--exchange", choices=["allreduce", "allgather"], default="allreduce")
    common.add_argument("--no-chain", action="store_true",
                        help="predict consensus.protocol = none (no hashing, no votes)")
    common.add_argument("--verify-us", type=float, default=VERIFY_S * 1e6,
                        help="Ed25519 verify in microseconds (default 124)")
    common.add_argument("--cores", type=int, default=None,
                        help="cores the ranks really had, for the oversubscription correction "
                        "(default: the summary's cores column); less than the machine's own "
                        "where other work shared it")
    common.add_argument("--t-msg-us", type=float, default=None,
                        help="predict with this per-message cost instead of the fitted one "
                        "(the fit absorbs scheduling delays on a shared machine)")
    common.add_argument("--plot", help="also write the predictions as a PNG here")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", parents=[common], help="calibrate, check against the sweep, predict")
    sub.add_parser("predict", parents=[common], help="calibrate quietly, predict")
    committee = sub.add_parser(
        "committee", parents=[common],
        help="calibrate quietly; check the committee's counts, predict consensus per height "
        "with c validators of R ranks against every rank voting")
    committee.add_argument("--committees", default="32,64",
                           help="committee sizes c to predict (default 32,64)")
    committee.add_argument("--counts",
                           help="counts.csv of bench/committee/run.sh: compare the model's "
                           "messages and verifications per role with it")
    committee.add_argument("--messages", choices=["counted", "fitted"], default="counted",
                           help="validator messages: the protocol's count (default) or the "
                           "sweep's fitted a c")
    committee.add_argument("--target-ms", type=float, default=50.0,
                           help="consensus per height to compare with (default 50 ms)")
    args = parser.parse_args()
    is_committee = args.command == "committee"
    if args.ranks is None:
        args.ranks = "1024,4096" if is_committee else ",".join(map(str, PREDICT_RANKS))
    if args.network is None:
        args.network = "ib" if is_committee else "both"
    try:
        args.ranks = [int(r) for r in args.ranks.split(",")]
        if is_committee:
            args.committees = [int(c) for c in args.committees.split(",")]
    except ValueError:
        parser.error("--ranks and --committees are comma-separated lists of counts")
    if any(r < 1 for r in args.ranks) or args.params < 1 or args.verify_us <= 0:
        parser.error("--ranks, --params and --verify-us must be positive")
    if is_committee and any(c < 1 for c in args.committees):
        parser.error("--committees must be positive")
    if args.cores is not None and args.cores < 1:
        parser.error("--cores must be at least 1")
    if args.t_msg_us is not None and args.t_msg_us < 0:
        parser.error("--t-msg-us must be >= 0")
    if args.sample_s is None and args.params == CNN_PARAMS:
        args.sample_s = CNN_SAMPLE_S
    try:
        points = read_points(args.summary, args.cores)
    except ModelError as e:
        print(f"cost_model.py: {e}", file=sys.stderr)
        return 2
    cal = calibrate(points, args.verify_us * 1e-6)
    calibrated_params = int(statistics.median(p.params for p in points))
    if args.command == "check":
        print_calibration(cal, points, args.summary)
        print_check(cal, points)
    if args.t_msg_us is not None:
        print(f"Predictions use t_msg = {args.t_msg_us:g} us (--t-msg-us), not the fitted "
              f"{cal.t_msg * 1e6:.3g} us.\n")
        cal.t_msg = args.t_msg_us * 1e-6
    if is_committee:
        if args.counts:
            try:
                rows = read_counts(args.counts)
            except ModelError as e:
                print(f"cost_model.py: {e}", file=sys.stderr)
                return 2
            print_count_check(rows, args.counts)
        print_committee(cal, args)
        return 0
    results = print_predictions(cal, args, calibrated_params)
    if args.plot:
        plot_predictions(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
