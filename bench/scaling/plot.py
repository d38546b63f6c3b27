#!/usr/bin/python3
"""Draws a scaling sweep's summary CSV (bench/scaling/gather.py) as three PNGs:

  phases.png       mean round time split by phase, one stacked bar per rank count
  efficiency.png   parallel efficiency against ranks, strong and weak
  consensus.png    consensus latency per height against ranks

  /usr/bin/python3 bench/scaling/plot.py OUT/summary.csv --out OUT/plots

Needs Debian's python3-matplotlib. Exit codes: 0 ok, 2 unreadable summary.
"""

import argparse
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402

PHASES = ("train", "quantize", "hash", "exchange", "aggregate", "consensus", "store", "eval")
COLORS = {"train": "#4c72b0", "quantize": "#937860", "hash": "#dd8452", "exchange": "#55a868",
          "aggregate": "#8172b3", "consensus": "#c44e52", "store": "#64b5cd", "eval": "#da8bc3",
          "other": "#bbbbbb"}


def fail(message):
    print(f"plot.py: {message}", file=sys.stderr)
    sys.exit(2)


def read_summary(path):
    path = Path(path)
    if not path.is_file():
        fail(f"{path}: missing; run bench/scaling/gather.py first")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    needed = {"mode", "ranks", "oversubscribed", "efficiency", "mean_round_s",
              "median_consensus_s"} | {f"mean_{p}_s" for p in PHASES}
    if not rows or not needed <= set(rows[0]):
        fail(f"{path}: not a summary from bench/scaling/gather.py "
             f"(missing {sorted(needed - set(rows[0] if rows else {}))})")
    for r in rows:
        r["ranks"] = int(r["ranks"])
        r["oversubscribed"] = r["oversubscribed"] == "1"
    return rows


def by_mode(rows):
    modes = {}
    for r in rows:
        modes.setdefault(r["mode"], []).append(r)
    return modes


def rank_label(r):
    return f"{r['ranks']}*" if r["oversubscribed"] else str(r["ranks"])


def plot_phases(rows, path):
    modes = by_mode(rows)
    fig, axes = plt.subplots(1, len(modes), figsize=(5.5 * len(modes), 4.2), squeeze=False)
    for ax, (mode, points) in zip(axes[0], modes.items()):
        x = range(len(points))
        bottom = [0.0] * len(points)
        for phase in PHASES + ("other",):
            if phase == "other":
                # Round time outside the named phases: the reporting allreduce, logging.
                values = [max(0.0, float(p["mean_round_s"]) -
                              sum(float(p[f"mean_{q}_s"]) for q in PHASES)) for p in points]
            else:
                values = [float(p[f"mean_{phase}_s"]) for p in points]
            ax.bar(x, values, bottom=bottom, color=COLORS[phase], label=phase, width=0.65)
            bottom = [b + v for b, v in zip(bottom, values)]
        ax.set_xticks(list(x), [rank_label(p) for p in points])
        ax.set_xlabel("ranks (* = more ranks than cores)")
        ax.set_ylabel("seconds per round (mean, warm-up round left out)")
        ax.set_title(f"{mode} scaling: round time by phase")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_efficiency(rows, path):
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    all_ranks = sorted({r["ranks"] for r in rows})
    for mode, points in by_mode(rows).items():
        ranks = [p["ranks"] for p in points]
        ax.plot(ranks, [float(p["efficiency"]) for p in points], marker="o", label=mode)
        for p in points:
            if p["oversubscribed"]:
                ax.annotate("*", (p["ranks"], float(p["efficiency"])), textcoords="offset points",
                            xytext=(4, 4))
    ax.axhline(1.0, color="gray", linestyle="--", linewidth=1, label="ideal")
    ax.set_xscale("log", base=2)
    ax.set_xticks(all_ranks, [str(r) for r in all_ranks])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("ranks (* = more ranks than cores)")
    ax.set_ylabel("parallel efficiency vs smallest rank count")
    ax.set_title("parallel efficiency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_consensus(rows, path):
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    all_ranks = sorted({r["ranks"] for r in rows})
    for mode, points in by_mode(rows).items():
        ranks = [p["ranks"] for p in points]
        line, = ax.plot(ranks, [1e3 * float(p["mean_consensus_s"]) for p in points], marker="o",
                        label=f"{mode}, mean")
        ax.plot(ranks, [1e3 * float(p["median_consensus_s"]) for p in points], marker="x",
                linestyle=":", color=line.get_color(), label=f"{mode}, median")
    ax.set_xscale("log", base=2)
    ax.set_xticks(all_ranks, [str(r) for r in all_ranks])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("ranks")
    ax.set_ylabel("consensus ms per height (rank 0)")
    ax.set_title("consensus latency")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("summary", help="summary CSV written by gather.py")
    parser.add_argument("--out", required=True, help="folder for the PNGs (created)")
    args = parser.parse_args()
    rows = read_summary(args.summary)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_phases(rows, out / "phases.png")
    plot_efficiency(rows, out / "efficiency.png")
    plot_consensus(rows, out / "consensus.png")
    print(f"wrote {out}/phases.png, efficiency.png, consensus.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
