#!/usr/bin/python3
"""Cost model of one fedchain round, calibrated from a scaling sweep (docs/SCALING.md).

  cost_model.py check SUMMARY [options]     fit, print predicted vs measured, then predict
  cost_model.py predict SUMMARY [options]   fit quietly, then predict only

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
        block_bytes = TX_BYTES * ranks + BLOCK_HEADER_BYTES
        out["consensus"] = (cal.c_0 + (3 * (cal.step + net_alpha) if ranks > 1 else 0.0) +
                            sent * (cal.t_msg + VOTE_BYTES * net_beta) +
                            (ranks - 1) * block_bytes * net_beta +
                            consensus_verifies(ranks) * cal.t_verify)
    out["round"] = sum(out.values())
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
    common.add_argument("--network", choices=["ib", "nvlink", "both"], default="both")
    common.add_argument("--mode", choices=["strong", "weak", "both"], default="both")
    common.add_argument("--strong-total", type=int, default=60_000,
                        help="strong scaling: samples per round over all ranks (default 60,000)")
    common.add_argument("--weak-per-rank", type=int, default=7_500,
                        help="weak scaling: samples per rank (default 7,500, fmnist-cnn-8's shard)")
    common.add_argument("--ranks", default=",".join(map(str, PREDICT_RANKS)),
                        help="rank counts to predict (default 64,...,4096)")
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
    args = parser.parse_args()
    try:
        args.ranks = [int(r) for r in args.ranks.split(",")]
    except ValueError:
        parser.error(f"--ranks: '{args.ranks}' is not a comma-separated list of rank counts")
    if any(r < 1 for r in args.ranks) or args.params < 1 or args.verify_us <= 0:
        parser.error("--ranks, --params and --verify-us must be positive")
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
    results = print_predictions(cal, args, calibrated_params)
    if args.plot:
        plot_predictions(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
