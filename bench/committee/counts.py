#!/usr/bin/python3
"""Consensus work per height of a committee sweep (bench/committee/run.sh, docs/SCALING.md).

  /usr/bin/python3 bench/committee/counts.py OUT [--committee C] [--ranks 4,8,16,32]

Reads OUT/c<C>/n<R>/ (a committee of C) and OUT/all/n<R>/ (every rank votes): each run's
metrics.csv, inspect.json (`fedchain inspect --json`, for the committee) and logs/rank-K.log.
Per point, the median over heights (and the range) of the metrics columns

  follower_messages, follower_verifications   the largest over the ranks off the committee
  validator_messages, validator_verifications the largest over the committee members
  consensus_messages                          what rank 0 sent (0 where rank 0 follows)

and the messages a validator sent per height, which metrics.csv does not hold: only
committee members send consensus messages, and each one that is sent is received by a
member, so the sum of what the members received (each rank's log ends with `consensus: N
messages received`) over the members and heights is what a member sent per height, on
the mean. Writes OUT/counts.csv and prints the table in markdown.

Exit codes: 0 ok, 2 a point missing or malformed (the message names the file).
"""

import argparse
import csv
import json
import re
import statistics
import sys
from pathlib import Path

COUNTS = ("follower_messages", "follower_verifications", "validator_messages",
          "validator_verifications", "consensus_messages")
RECEIVED = re.compile(r"consensus: (\d+) messages received")


class CountsError(Exception):
    pass


def read_metrics(path):
    if not path.is_file():
        raise CountsError(f"{path}: missing; the point did not finish (see OUT/logs/)")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise CountsError(f"{path}: no rounds")
    missing = [c for c in COUNTS + ("height", "commit_round", "consensus_s") if c not in rows[0]]
    if missing:
        raise CountsError(f"{path}: no column(s) {', '.join(missing)}; a fedchain build "
                          "from before the committee?")
    try:
        return [{k: float(row[k]) for k in COUNTS + ("height", "commit_round", "consensus_s")}
                for row in rows]
    except (TypeError, ValueError) as e:
        raise CountsError(f"{path}: {e}") from None


def committee_of(run_dir):
    """Committee members of the run's (first) epoch, from `fedchain inspect --json`."""
    path = run_dir / "inspect.json"
    if not path.is_file():
        raise CountsError(f"{path}: missing; bench/committee/run.sh writes it with "
                          "`fedchain inspect --json`")
    blocks = json.loads(path.read_text())
    listed = [b["committee"] for b in blocks if b.get("committee")]
    if not listed:
        raise CountsError(f"{path}: no block lists a committee")
    if any(sorted(c) != sorted(listed[0]) for c in listed):
        raise CountsError(f"{path}: the committee changed within the run (consensus.epoch "
                          "shorter than the rounds); this script reads one epoch")
    return sorted(listed[0])


def received_by(run_dir, rank):
    path = run_dir / "logs" / f"rank-{rank}.log"
    if not path.is_file():
        raise CountsError(f"{path}: missing")
    found = [int(m.group(1)) for m in RECEIVED.finditer(path.read_text(errors="replace"))]
    if not found:
        raise CountsError(f"{path}: no line `consensus: N messages received` (the run "
                          "did not end normally?)")
    return sum(found)


def point(run_dir, ranks, committee):
    rows = read_metrics(run_dir / "metrics.csv")
    members = committee_of(run_dir)
    if len(members) != committee:
        raise CountsError(f"{run_dir}/inspect.json: {len(members)} committee members, "
                          f"the point asked for {committee}")
    heights = len(rows)
    received = [received_by(run_dir, m) for m in members]
    followers_received = sum(received_by(run_dir, r) for r in range(ranks) if r not in members)
    out = {"ranks": ranks, "committee": committee, "heights": heights,
           "rank0_on_committee": int(0 in members),
           "members": " ".join(map(str, members)),
           # A member sends what the other members receive: the mean over members per height.
           "validator_sent_mean": sum(received) / committee / heights,
           "validator_received_max": max(received) / heights,
           "follower_consensus_received": followers_received,
           "max_commit_round": max(r["commit_round"] for r in rows),
           "median_consensus_s": statistics.median(r["consensus_s"] for r in rows)}
    for c in COUNTS:
        values = [r[c] for r in rows]
        out[f"median_{c}"] = statistics.median(values)
        out[f"min_{c}"] = min(values)
        out[f"max_{c}"] = max(values)
    return out


def cell(p, column):
    median, low, high = (p[f"{k}_{column}"] for k in ("median", "min", "max"))
    text = f"{median:g}"
    return text if low == high else f"{text} ({low:g}-{high:g})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output root of bench/committee/run.sh")
    parser.add_argument("--committee", type=int, default=4)
    parser.add_argument("--ranks", default="4,8,16,32")
    parser.add_argument("--csv", help="write here (default OUT/counts.csv)")
    args = parser.parse_args()
    root = Path(args.out)
    try:
        ranks = [int(r) for r in args.ranks.split(",")]
    except ValueError:
        parser.error(f"--ranks: '{args.ranks}' is not a list of rank counts")
    points = []
    try:
        for r in ranks:
            points.append(point(root / f"c{args.committee}" / f"n{r}", r, args.committee))
        for r in ranks:
            points.append(point(root / "all" / f"n{r}", r, r))
    except CountsError as e:
        print(f"counts.py: {e}", file=sys.stderr)
        return 2
    path = Path(args.csv) if args.csv else root / "counts.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(points[0]))
        writer.writeheader()
        writer.writerows({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in p.items()}
                         for p in points)
    host = root / "host.json"
    if host.is_file():
        h = json.loads(host.read_text())
        print(f"Measured {h.get('date')} on {h.get('cpu')}, {h.get('cores')} cores "
              f"({h.get('launcher')}).")
    print(f"Per height, median over the {points[0]['heights']} heights of each point "
          "(range in parentheses where the heights differ).\n")
    print("| R | c | follower msgs | follower verifs | validator msgs | validator verifs "
          "| rank 0 sent (on committee?) | validator sent, mean | max commit round "
          "| consensus s (median) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for p in points:
        print(f"| {p['ranks']} | {p['committee']} | {cell(p, 'follower_messages')} | "
              f"{cell(p, 'follower_verifications')} | {cell(p, 'validator_messages')} | "
              f"{cell(p, 'validator_verifications')} | {cell(p, 'consensus_messages')} "
              f"({'yes' if p['rank0_on_committee'] else 'no'}) | "
              f"{p['validator_sent_mean']:.1f} | {p['max_commit_round']:g} | "
              f"{p['median_consensus_s']:.4f} |")
    print(f"\nwrote {path}")
    flat = [p for p in points if p["committee"] < p["ranks"]]
    for column in ("follower_messages", "follower_verifications"):
        values = sorted({p[f"max_{column}"] for p in flat})
        if len(values) > 1:
            print(f"NOTE: {column} differs across R with c = {args.committee}: "
                  + ", ".join(f"R = {p['ranks']}: max {p[f'max_{column}']:g}" for p in flat))
    for p in flat:
        if p["follower_consensus_received"]:
            print(f"NOTE: followers at R = {p['ranks']} received "
                  f"{p['follower_consensus_received']} consensus messages in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
