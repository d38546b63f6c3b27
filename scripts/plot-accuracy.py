#!/usr/bin/python3
"""Test accuracy per round of one or more runs, from their RUN_DIR/metrics.csv.

    /usr/bin/python3 scripts/plot-accuracy.py --out acc.png iid=runs/a dirichlet=runs/b

Each argument is LABEL=RUN_DIR (or just RUN_DIR, labelled by its name). Rounds without an
evaluation (job.eval_every > 1) are skipped. Debian's /usr/bin/python3 has matplotlib
(python3-matplotlib); a python3 from elsewhere may not.
"""
import argparse
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_accuracy(run_dir):
    path = os.path.join(run_dir, "metrics.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        sys.exit(f"plot-accuracy: cannot read {path}: {e.strerror}; is {run_dir} a run directory?")
    if rows and "test_acc" not in rows[0]:
        sys.exit(f"plot-accuracy: {path} has no test_acc column")
    points = []
    for row in rows:
        acc = row["test_acc"]
        if acc and not math.isnan(float(acc)):
            points.append((int(row["height"]), float(acc)))
    if not points:
        sys.exit(f"plot-accuracy: {path} has no evaluated round")
    return points


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="LABEL=RUN_DIR or RUN_DIR")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--title", default="Fashion-MNIST test accuracy per round")
    args = parser.parse_args()

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for spec in args.runs:
        label, _, run_dir = spec.rpartition("=")
        label = label or os.path.basename(os.path.normpath(run_dir))
        points = read_accuracy(run_dir)
        ax.plot([h for h, _ in points], [a for _, a in points], marker=".", label=label)
    ax.set_xlabel("round (block height)")
    ax.set_ylabel("test accuracy")
    ax.set_title(args.title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
