#!/usr/bin/python3
"""Final test accuracy against the epsilon spent, from runs with privacy.dp.

    /usr/bin/python3 scripts/plot-privacy.py --out eps.png --baseline runs/no-dp runs/eps1 ...

Each RUN_DIR's metrics.csv gives its last row's epsilon (the column privacy.dp writes) and
its last evaluated test accuracy; --baseline names a run without DP, drawn as a line.
Prints the table it plots. Debian's /usr/bin/python3 has matplotlib.
"""
import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def last_row(run_dir, need_epsilon):
    path = os.path.join(run_dir, "metrics.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        sys.exit(f"plot-privacy: cannot read {path}: {e.strerror}")
    if not rows:
        sys.exit(f"plot-privacy: {path} has no rows")
    if need_epsilon and "epsilon" not in rows[0]:
        sys.exit(f"plot-privacy: {path} has no epsilon column: was the job run with privacy.dp?")
    evaluated = [r for r in rows if r["test_acc"]]
    if not evaluated:
        sys.exit(f"plot-privacy: {path} has no evaluated round")
    epsilon = float(rows[-1]["epsilon"]) if need_epsilon else None
    return epsilon, float(evaluated[-1]["test_acc"]), int(rows[-1]["height"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--baseline", help="a run without DP")
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    points = sorted(last_row(run, True)[:2] for run in args.runs)
    print("epsilon  test_acc  run")
    for run in args.runs:
        epsilon, acc, height = last_row(run, True)
        print(f"{epsilon:7.3f}  {acc:8.4f}  {run} (height {height})")
    plt.figure(figsize=(6, 4))
    plt.plot([p[0] for p in points], [p[1] for p in points], "o-", label="DP-FedAvg")
    if args.baseline:
        _, acc, _ = last_row(args.baseline, False)
        print(f"{'no DP':>7}  {acc:8.4f}  {args.baseline}")
        plt.axhline(acc, color="grey", linestyle="--", label="no DP")
    plt.xscale("log")
    plt.xlabel("epsilon (delta = 1e-5)")
    plt.ylabel("final test accuracy")
    plt.legend()
    plt.grid(True, alpha=0.3)
    plt.tight_layout()
    plt.savefig(args.out, dpi=120)


if __name__ == "__main__":
    main()
