#!/usr/bin/python3
"""Gathers a scaling sweep into one summary CSV (docs/SCALING.md).

Reads OUT/strong/n<R>/ and OUT/weak/n<R>/ run directories (bench/scaling/run.sh or
slurm/submit-scaling.sh): each one's metrics.csv (one row per round, rank 0's clock) and
job.toml (the resolved job). Per point it writes the mean and median of every phase over
the rounds after the first (the first round is warm-up: page faults, MPI connection
setup, first-touch of buffers), the samples each rank trained per round, throughput and
parallel efficiency against the smallest rank count of the same mode.

  /usr/bin/python3 bench/scaling/gather.py OUT [--out OUT/summary.csv] [--cores N]

Exit codes: 0 ok, 2 a point is missing or malformed (the message names the file).
"""

import argparse
import csv
import json
import math
import re
import statistics
import sys
import tomllib
from pathlib import Path

MODES = ("strong", "weak")
PHASES = ("round", "train", "quantize", "hash", "exchange", "aggregate", "consensus", "store", "eval")
REQUIRED_COLUMNS = ("height",) + tuple(f"{p}_s" for p in PHASES) + ("bytes_sent",)
# Written by newer fedchain builds (messages and bytes rank 0 sent in the vote); used
# when present, never required.
OPTIONAL_COLUMNS = ("consensus_messages", "consensus_bytes")
TX_BYTES = 165  # ledger::kTxEncodedBytes: each rank's signed update transaction


class GatherError(Exception):
    """Bad or missing input; the message names the file and what to do."""


def read_metrics(path):
    """Rows of metrics.csv as dicts of floats (optional columns: None when absent)."""
    if not path.is_file():
        raise GatherError(
            f"{path}: missing; the run at {path.parent} did not finish a round "
            f"(see its logs/ and the sweep's logs/ folder), or this is not a run directory")
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise GatherError(f"{path}: empty file, not a fedchain metrics.csv")
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise GatherError(f"{path}:1: header lacks column(s) {', '.join(missing)}; "
                              "not a fedchain metrics.csv, or from an incompatible version")
        index = {name: i for i, name in enumerate(header)}
        rows = []
        for line_no, cells in enumerate(reader, start=2):
            if not cells:
                continue
            if len(cells) != len(header):
                raise GatherError(f"{path}:{line_no}: {len(cells)} fields, the header has "
                                  f"{len(header)} (a torn or edited line?)")
            row = {}
            for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
                if name not in index:
                    row[name] = None
                    continue
                text = cells[index[name]]
                if text == "" and name in OPTIONAL_COLUMNS:
                    row[name] = None  # rows from before the column existed (a resumed run)
                    continue
                try:
                    value = float(text)
                except ValueError:
                    raise GatherError(f"{path}:{line_no}: column {name} is '{text}', "
                                      "not a number") from None
                if not math.isfinite(value) or value < 0:
                    raise GatherError(f"{path}:{line_no}: column {name} is {text}; "
                                      "expected a finite value >= 0")
                row[name] = value
            if rows and row["height"] <= rows[-1]["height"]:
                raise GatherError(f"{path}:{line_no}: height {row['height']:.0f} does not "
                                  f"follow {rows[-1]['height']:.0f}")
            rows.append(row)
    if len(rows) < 2:
        raise GatherError(f"{path}: {len(rows)} round(s); the summary needs at least 2 "
                          "because the first round is warm-up and left out")
    return rows


def read_job(run_dir):
    path = run_dir / "job.toml"
    if not path.is_file():
        raise GatherError(f"{path}: missing; every fedchain run directory holds its "
                          "resolved job")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise GatherError(f"{path}: not valid TOML ({e})") from None


def dataset_train_samples(job, run_dir, train_samples):
    """Training samples in use: data.train_limit, else the dataset's own count."""
    data = job.get("data", {})
    limit = int(data.get("train_limit", 0))
    if limit > 0:
        available = train_samples
        return min(limit, available) if available else limit
    if train_samples:
        return train_samples
    path = Path(data.get("path", "data/fashion-mnist.h5"))
    try:
        import h5py
    except ImportError:
        raise GatherError(f"{run_dir}/job.toml uses the whole dataset (data.train_limit = 0) "
                          "and h5py is missing to count it; pass --train-samples N") from None
    for candidate in (path, run_dir / path):
        if candidate.is_file():
            with h5py.File(candidate, "r") as f:
                return int(f["train/labels"].shape[0])
    raise GatherError(f"{run_dir}/job.toml uses the whole dataset {path} (data.train_limit = "
                      "0), which is not readable here; pass --train-samples N")


def parameter_count(run_dir, job, bytes_sent):
    """Model parameters: from the newest checkpoint, else from the bytes one rank sent."""
    checkpoints = sorted((run_dir / "checkpoints").glob("height-*.h5"))
    if checkpoints:
        try:
            import h5py
            with h5py.File(checkpoints[-1], "r") as f:
                return sum(int(v.size) for v in f["params"].values())
        except (ImportError, OSError, KeyError):
            pass  # fall back to the exchange's byte count below
    tx = TX_BYTES if consensus_protocol(job) == "bft" else 0
    per_value = 8 if exchange_mode(job) == "allreduce" else 4
    return int(round((bytes_sent - tx) / per_value))


def exchange_mode(job):
    agg = job.get("aggregate", {})
    mode = agg.get("exchange", "auto")
    if mode == "auto":
        return "allreduce" if agg.get("rule", "fedavg") == "fedavg" else "allgather"
    return mode


def consensus_protocol(job):
    return job.get("consensus", {}).get("protocol", "bft")


def summarize_point(mode, ranks, run_dir, cores, train_samples):
    rows = read_metrics(run_dir / "metrics.csv")
    job = read_job(run_dir)
    job_ranks = int(job.get("job", {}).get("ranks", 0))
    if job_ranks not in (0, ranks):
        raise GatherError(f"{run_dir}/job.toml: job.ranks = {job_ranks}, but the directory "
                          f"n{ranks} says {ranks}; the sweep's layout is OUT/MODE/n<ranks>/")
    measured = rows[1:]  # the first round is warm-up
    train = job.get("train", {})
    total = dataset_train_samples(job, run_dir, train_samples)
    shard = total / ranks
    if int(train.get("local_steps", 0)) > 0:
        samples = int(train["local_steps"]) * int(train.get("batch_size", 32))
    else:
        samples = int(train.get("local_epochs", 1)) * shard
    out = {
        "mode": mode,
        "ranks": ranks,
        "cores": cores if cores else "",
        "oversubscribed": int(bool(cores) and ranks > cores),
        "rounds": len(rows),
        "rounds_measured": len(measured),
        "arch": job.get("model", {}).get("arch", ""),
        "params": parameter_count(run_dir, job, rows[-1]["bytes_sent"]),
        "exchange": exchange_mode(job),
        "protocol": consensus_protocol(job),
        "samples_per_rank": round(samples, 3),
        "bytes_sent": int(rows[-1]["bytes_sent"]),
    }
    for phase in PHASES:
        values = [r[f"{phase}_s"] for r in measured]
        out[f"mean_{phase}_s"] = statistics.fmean(values)
        out[f"median_{phase}_s"] = statistics.median(values)
    for name in OPTIONAL_COLUMNS:
        values = [r[name] for r in measured if r[name] is not None]
        out[f"mean_{name}"] = statistics.fmean(values) if values else ""
    out["throughput_samples_per_s"] = ranks * samples / out["mean_round_s"]
    return out


def gather(root, cores, train_samples):
    root = Path(root)
    if not root.is_dir():
        raise GatherError(f"{root}: no such directory (the sweep's output root)")
    if cores is None:
        host = root / "host.json"
        if host.is_file():
            try:
                cores = int(json.loads(host.read_text())["cores"])
            except (ValueError, KeyError, TypeError) as e:
                raise GatherError(f"{host}: unreadable ({e}); fix it or pass --cores N") from None
    points = []
    for mode in MODES:
        mode_dir = root / mode
        if not mode_dir.is_dir():
            continue
        for entry in sorted(mode_dir.iterdir()):
            match = re.fullmatch(r"n(\d+)", entry.name)
            if not entry.is_dir() or not match:
                continue
            ranks = int(match.group(1))
            if ranks < 1:
                raise GatherError(f"{entry}: rank count must be at least 1")
            points.append(summarize_point(mode, ranks, entry, cores, train_samples))
    if not points:
        raise GatherError(f"{root}: no run directories {root}/strong/n<R>/ or "
                          f"{root}/weak/n<R>/; run bench/scaling/run.sh first")
    points.sort(key=lambda p: (MODES.index(p["mode"]), p["ranks"]))
    for mode in MODES:
        of_mode = [p for p in points if p["mode"] == mode]
        if not of_mode:
            continue
        base = of_mode[0]
        base_per_rank = base["throughput_samples_per_s"] / base["ranks"]
        for p in of_mode:
            # Per-rank throughput against the smallest rank count: strong scaling gives
            # T_b * R_b / (T_R * R), weak scaling T_b / T_R.
            p["efficiency"] = p["throughput_samples_per_s"] / p["ranks"] / base_per_rank
            p["efficiency_base_ranks"] = base["ranks"]
    return points


def write_summary(points, path):
    columns = list(points[0].keys())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for p in points:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in p.items()})
    tmp.replace(path)


def print_table(points):
    print("mean seconds per round over rounds 2.. (round 1 is warm-up); "
          "efficiency = per-rank samples/s / that of the smallest rank count")
    head = ("mode", "ranks", "round", "train", "hash", "exch", "agg", "cons", "samples/s", "eff")
    print("{:<6} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>5}".format(*head))
    for p in points:
        mark = "*" if p["oversubscribed"] else ""
        print("{:<6} {:>5} {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f} {:>10.0f} {:>5.2f}".format(
            p["mode"], f"{p['ranks']}{mark}", p["mean_round_s"], p["mean_train_s"],
            p["mean_hash_s"], p["mean_exchange_s"], p["mean_aggregate_s"],
            p["mean_consensus_s"], p["throughput_samples_per_s"], p["efficiency"]))
    if any(p["oversubscribed"] for p in points):
        print("* more ranks than cores (oversubscribed)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="the sweep's output root (holds strong/ and weak/)")
    parser.add_argument("--out", help="summary CSV (default ROOT/summary.csv)")
    parser.add_argument("--cores", type=int,
                        help="cores the ranks shared (default: ROOT/host.json; none: a core per rank)")
    parser.add_argument("--train-samples", type=int,
                        help="training samples in the dataset, where data.train_limit = 0 and "
                        "the dataset is not readable here")
    args = parser.parse_args()
    if args.cores is not None and args.cores < 1:
        parser.error("--cores must be at least 1")
    try:
        points = gather(args.root, args.cores, args.train_samples)
    except GatherError as e:
        print(f"gather.py: {e}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(args.root) / "summary.csv"
    write_summary(points, out)
    print_table(points)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
