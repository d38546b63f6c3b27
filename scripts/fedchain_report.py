#!/usr/bin/python3
"""Writes the page of `fedchain report`: one self-contained HTML file about one or more runs.

    fedchain report RUN_DIR [--compare RUN_DIR...]   # runs this script; not run by hand

`fedchain report` gathers what only fedchain can read (the job, the chain, the audit that
`fedchain verify` makes) into one JSON file (src/cli/report_facts.cpp); this script reads
it and each run's metrics.csv, and draws the plots with matplotlib as inline SVG, so the
page needs no network and no other file. The first run is the one reported on; the others
(--compare) share its axes, one colour per run. A column that only some runs have (epsilon,
when differential privacy is on) gives its section only where it exists.

Debian's /usr/bin/python3 has matplotlib (python3-matplotlib); a python3 from elsewhere may not.
"""
import argparse
import csv
import html
import io
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

# The phases of a round, as metrics.csv names their seconds (src/io/metrics.hpp).
PHASES = ["train_s", "quantize_s", "hash_s", "exchange_s", "aggregate_s", "consensus_s",
          "store_s", "eval_s"]
# Past this many ranks or clients, bar charts become histograms of the values.
MAX_BARS = 100
# Past this many blocks, the proposer markers are one embedded image, not SVG elements.
RASTER_POINTS = 2000
# The layout of the facts file, as src/cli/report_command.cpp writes it.
FACTS_FORMAT = 1
# Tables longer than this show their last rows only; the page says where the rest is.
MAX_TABLE_ROWS = 400

plt.rcParams["svg.hashsalt"] = "fedchain"  # the same run gives the same page


def number(text):
    """A metrics.csv cell as a float; None for an empty cell or NaN (a round without evaluation)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def read_metrics(path):
    """(columns, rows as dicts of strings, problem) of metrics.csv. A running job may be
    writing the last line: a row with fewer cells than the header is left out. A missing
    file gives no rows; one that is not CSV gives none either, and says why."""
    try:
        with open(path, newline="", errors="replace") as f:
            reader = csv.DictReader(f)
            rows = [row for row in reader if None not in row.values() and None not in row]
            return reader.fieldnames or [], rows, None
    except FileNotFoundError:
        return [], [], None
    except (OSError, csv.Error) as e:
        return [], [], f"{path} cannot be read as CSV: {e}"


def series(rows, column):
    """(heights, values) of the rows where `column` holds a number."""
    xs, ys = [], []
    for row in rows:
        value, height = number(row.get(column)), number(row.get("height"))
        if value is not None and height is not None:
            xs.append(int(height))
            ys.append(value)
    return xs, ys


def svg(fig):
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = out.getvalue()
    return text[text.index("<svg"):]  # inline: no XML declaration or DOCTYPE


def new_axes(title, ylabel, width=8.0, height=3.4):
    fig, ax = plt.subplots(figsize=(width, height), dpi=96)
    ax.set_title(title)
    ax.set_xlabel("round (block height)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def lines_plot(runs, columns, title, ylabel):
    """One line per run and (column, style, what) in `columns`, named "RUN what" in the legend."""
    fig, ax = new_axes(title, ylabel)
    drawn = False
    for run in runs:
        for column, style, what in columns:
            xs, ys = series(run["rows"], column)
            if xs:
                ax.plot(xs, ys, style, marker="." if len(xs) < 60 else None, color=run["colour"],
                        label=f"{run['label']} {what}".strip())
                drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.legend()
    fig.tight_layout()
    return svg(fig)


def line_plot(runs, column, title, ylabel):
    return lines_plot(runs, [(column, "-", "")], title, ylabel)


def loss_plot(runs):
    return lines_plot(runs, [("train_loss", "-", "train"), ("test_loss", "--", "test")],
                      "Loss per round (solid: training, dashed: test)", "loss")


def phase_plot(run):
    """Seconds per round by phase, stacked, for one run."""
    present = [p for p in PHASES if series(run["rows"], p)[0]]
    if not present:
        return None
    heights = [int(number(r["height"])) for r in run["rows"] if number(r.get("height")) is not None]
    stacks = [[number(r.get(p)) or 0.0 for r in run["rows"] if number(r.get("height")) is not None]
              for p in present]
    fig, ax = new_axes(f"Time per round by phase: {run['label']}", "seconds (rank 0)")
    ax.stackplot(heights, stacks, labels=[p[:-2] for p in present], step="mid")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    fig.tight_layout()
    return svg(fig)


def esc(value):
    return html.escape(str(value))


def table(header, rows, note=""):
    shown = rows[-MAX_TABLE_ROWS:]
    parts = ["<table><thead><tr>"]
    parts += [f"<th>{esc(h)}</th>" for h in header]
    parts.append("</tr></thead><tbody>")
    for row in shown:
        parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
    parts.append("</tbody></table>")
    if len(rows) > len(shown):
        parts.append(f"<p class=note>The last {len(shown)} of {len(rows)} rows. {esc(note)}</p>")
    return "".join(parts)


def figure(svg_text, what):
    if svg_text is None:
        return f"<p class=note>No {esc(what)} yet.</p>"
    return f"<figure>{svg_text}</figure>"


def banner(run):
    """The audit verdict of one run: pass, fail naming the height, or why there is none."""
    audit = run["facts"].get("audit")
    label = esc(run["label"])
    if audit is None:
        return (f"<div class='banner none'>{label}: no chain to audit "
                f"(consensus.protocol = \"none\")</div>")
    if audit["ok"]:
        first = audit["text"].splitlines()[0] if audit["text"] else "verifies"
        return f"<div class='banner pass'>Audit passed: {esc(first)}</div>"
    if audit.get("bad_height") is not None:
        where = f" in {audit['replica']}" if audit.get("replica") else ""
        return (f"<div class='banner fail'>Audit FAILED: {label}: height {audit['bad_height']}"
                f"{esc(where)} [{esc(audit.get('reason') or '')}] (exit {audit['exit_code']})</div>")
    message = (audit["error_text"] or audit["text"]).strip()
    if audit["outcome"] in ("error", "primary-missing"):
        # Nothing failed at a height: the audit could not run (a dataset it needs, a lost
        # chain file that a replica can replace); the message says what to do.
        return (f"<div class='banner fail'>Audit not completed: {label}: {esc(message)} "
                f"(exit {audit['exit_code']})</div>")
    return (f"<div class='banner fail'>Audit FAILED: {label}: {esc(message)} "
            f"(exit {audit['exit_code']})</div>")


def job_section(runs):
    keys = ["name", "rounds", "seed", "ranks", "clients", "per_round", "partition", "model",
            "rule", "attack", "consensus", "committee", "epoch"]
    rows = []
    for run in runs:
        job = run["facts"].get("job", {})
        chain = run["facts"].get("chain") or {}
        values = [job.get(k, "") for k in keys]
        # The chain knows the real rank and client counts where the job left them to mpirun.
        if chain:
            values[keys.index("ranks")] = chain["validators"]
            values[keys.index("clients")] = chain["clients"]
        elif not job.get("ranks"):
            values[keys.index("ranks")] = run["facts"]["rank_logs"]
        rows.append([run["label"]] + values)
    parts = ["<h2 id=job>The job</h2>", table(["run"] + keys, rows)]
    for run in runs:
        job = run["facts"].get("job")
        if job is None:
            continue
        if job.get("error"):
            parts.append(f"<p class=note>{esc(run['label'])}: the job does not parse: "
                         f"{esc(job['error'])}</p>")
        parts.append(f"<details><summary>{esc(run['label'])}: "
                     f"resolved job ({esc(job['source'])})</summary><pre>{esc(job['toml'])}</pre>"
                     f"</details>")
    return "".join(parts)


def progress_section(runs):
    rows = []
    for run in runs:
        r = run["rows"]
        evaluated = series(r, "test_acc")[1]
        job_rounds = run["facts"].get("job", {}).get("rounds", "")
        last = r[-1] if r else {}
        total = sum(number(x.get("round_s")) or 0.0 for x in r)
        state = f"running ({run['facts']['running']})" if run["facts"].get("running") else "ended"
        rows.append([run["label"], state, f"{last.get('height', 0)} of {job_rounds}",
                     last.get("test_acc", ""), f"{max(evaluated):.4f}" if evaluated else "",
                     last.get("train_loss", ""), f"{total:.2f}"])
    return table(["run", "job", "rounds in metrics.csv", "last test_acc", "best test_acc",
                  "last train_loss", "seconds (sum of round_s)"], rows)


def metrics_section(runs):
    main = runs[0]
    problems = "".join(f"<p class=note>{esc(run['metrics_problem'])}</p>"
                       for run in runs if run["metrics_problem"])
    parts = ["<h2 id=metrics>Accuracy and loss per round</h2>", problems, progress_section(runs),
             figure(line_plot(runs, "test_acc", "Test accuracy per round", "test accuracy"),
                    "evaluated round"),
             figure(loss_plot(runs), "loss")]
    columns = ["height", "train_loss", "test_loss", "test_acc", "round_s", "cohort", "proposer",
               "commit_round", "state_root"]
    rows = [[row.get(c, "") for c in columns] for row in main["rows"]]
    parts.append(f"<details><summary>{esc(main['label'])}: metrics.csv rows</summary>"
                 f"{table(columns, rows, 'metrics.csv holds them all.')}</details>")
    parts.append("<h2 id=time>Time per round by phase</h2>")
    parts += [figure(phase_plot(run), f"timed round in {run['label']}") for run in runs]
    if len(runs) > 1:
        parts.append(figure(line_plot(runs, "round_s", "Seconds per round", "seconds"), "round"))
    return "".join(parts)


def chain_plot(run):
    blocks = run["facts"]["chain"]["blocks"]
    if not blocks:
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8.0, 4.2), dpi=96, sharex=True)
    heights = [b["height"] for b in blocks]
    # Thousands of markers as SVG elements make a heavy page: past RASTER_POINTS they are
    # embedded as one image inside the SVG.
    top.scatter(heights, [b["proposer"] for b in blocks],
                c=["tab:red" if b["round"] > 0 else "tab:blue" for b in blocks], s=10,
                rasterized=len(blocks) > RASTER_POINTS)
    top.set_ylabel("proposer")
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_title(f"Blocks of {run['label']} (red: committed after round 0)")
    rejected = [len(b["rejected"]) for b in blocks]
    accepted = [b["txs"] - r for b, r in zip(blocks, rejected)]
    bottom.stackplot(heights, [accepted, rejected], colors=["tab:green", "tab:orange"],
                     labels=["accepted updates", "rejected updates"], step="mid")
    bottom.set_xlabel("block height")
    bottom.set_ylabel("transactions")
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.legend(fontsize="small")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return svg(fig)


def chain_section(run):
    facts = run["facts"]
    chain = facts.get("chain")
    label = esc(run["label"])
    if chain is None:
        why = facts.get("chain_error") or "this run keeps no chain (consensus.protocol = \"none\")"
        return f"<h3>{label}</h3><p class=note>No chain to show: {esc(why)}</p>"
    torn = chain.get("torn_tail")
    parts = [f"<h3>{label}</h3><p>Chain {esc(chain['chain_id'][:16])}, genesis "
             f"{esc(chain['genesis_hash'][:16])}: {chain['tip']} blocks, {chain['validators']} "
             f"validators, {chain['clients']} clients.</p>"]
    if torn:
        parts.append(f"<p class=note>Torn tail: height {torn['height']} was never committed "
                     f"({torn['bytes']} bytes); the run is still writing it, or a crash cut it "
                     f"(a resumed run removes it).</p>")
    parts.append(figure(chain_plot(run), "block"))
    committees = [[c["from_height"], " ".join(map(str, c["members"]))] for c in chain["committees"]]
    parts.append("<h4>Committee per epoch</h4>" + table(["from height", "members"], committees))
    jailed = [[j["validator"], j["height"], j["why"]] for j in chain["jailed"]]
    parts.append("<h4>Jailed validators</h4>" + (table(["validator", "height", "why"], jailed)
                                                 if jailed else "<p>None.</p>"))
    evidence = [[b["height"], e["validator"], e["type"], e["height"], e["round"]]
                for b in chain["blocks"] for e in b["evidence"]]
    parts.append("<h4>Equivocation evidence</h4>" + (
        table(["in block", "validator", "vote", "at height", "round"], evidence)
        if evidence else "<p>None.</p>"))
    blocks = [[b["height"], b["hash"][:16], b["proposer"], b["txs"],
               " ".join(map(str, b["rejected"])) or "-", len(b["evidence"]), b["round"],
               b["signers"], b["rule"]] for b in chain["blocks"]]
    parts.append(f"<details><summary>Blocks ({len(blocks)})</summary>" + table(
        ["height", "hash", "proposer", "txs", "rejected clients", "evidence", "commit round",
         "signers", "rule"], blocks,
        "`fedchain inspect RUN_DIR` lists them all; --height H shows one whole.") + "</details>")
    return "".join(parts)


def bar_plot(labels, series_list, title, xlabel):
    """One bar per label and series; past MAX_BARS labels, how the values spread instead."""
    fig, ax = plt.subplots(figsize=(8.0, 3.2), dpi=96)
    if len(labels) > MAX_BARS:
        ax.hist([values for _, values in series_list], bins=30,
                label=[name for name, _ in series_list])
        ax.set_xlabel(f"value per {xlabel}")
        ax.set_ylabel(f"{xlabel}s")
    else:
        width = 0.8 / len(series_list)
        for i, (name, values) in enumerate(series_list):
            ax.bar([x + i * width for x in range(len(labels))], values, width=width, label=name)
        if len(labels) <= 40:
            ax.set_xticks([x + 0.4 - width / 2 for x in range(len(labels))], labels=labels)
        ax.set_xlabel(xlabel)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return svg(fig)


def contributions_section(run):
    chain = run["facts"].get("chain")
    if chain is None:
        return ""
    label = esc(run["label"])
    ranks = chain["ranks"]
    parts = [f"<h3>{label}: per rank (the chain state at height {chain['tip']})</h3>"]
    if ranks:
        parts.append(figure(bar_plot(
            [str(r["rank"]) for r in ranks],
            [("updates accepted", [r["updates_accepted"] for r in ranks]),
             ("updates rejected", [r["updates_rejected"] for r in ranks]),
             ("rewards", [r["rewards"] for r in ranks])],
            f"Contributions per rank: {run['label']}", "rank"), "rank"))
    parts.append(table(["rank", "power", "jailed", "samples trained", "updates accepted",
                        "updates rejected", "rewards"],
                       [[r["rank"], r["power"], "yes" if r["jailed"] else "no",
                         r["samples_trained"], r["updates_accepted"], r["updates_rejected"],
                         r["rewards"]] for r in ranks]))
    clients = chain["client_contributions"]
    parts.append(f"<h3>{label}: per client (from the blocks' transactions)</h3>")
    if clients:
        parts.append(figure(bar_plot(
            [str(c["client"]) for c in clients],
            [("updates accepted", [c["updates_accepted"] for c in clients]),
             ("updates rejected", [c["updates_rejected"] for c in clients])],
            f"Updates per client: {run['label']}", "client"), "client"))
    parts.append(table(["client", "updates accepted", "updates rejected", "samples"],
                       [[c["client"], c["updates_accepted"], c["updates_rejected"], c["samples"]]
                        for c in clients], "`fedchain inspect --txs` lists every transaction."))
    return "".join(parts)


def chain_privacy(run):
    """The chain state's privacy record at the tip (privacy.dp), or None."""
    return (run["facts"].get("chain") or {}).get("privacy")


def last_epsilon(run):
    """The chain state's voted epsilon where the run has a chain, else metrics.csv's last."""
    privacy = chain_privacy(run)
    if privacy is not None:
        shown = "unbounded" if privacy["epsilon"] is None else f"{privacy['epsilon']:.6f}"
        return f"{shown} (voted in the chain state after {privacy['noised_rounds']} rounds)"
    return run["rows"][-1].get("epsilon", "") if run["rows"] else ""


def privacy_section(runs):
    """Only where some run has differential privacy: an epsilon column or a chain record."""
    with_dp = [run for run in runs if "epsilon" in run["columns"] or chain_privacy(run)]
    if not with_dp:
        return ""
    rows = [[run["label"], last_epsilon(run)] for run in with_dp]
    plotted = [run for run in with_dp if "epsilon" in run["columns"]]
    plot = (figure(line_plot(plotted, "epsilon", "Privacy spent (epsilon) per round",
                             "epsilon"), "epsilon value") if plotted else "")
    return ("<h2 id=privacy>Privacy spent</h2>" + plot
            + table(["run", "epsilon after the last round"], rows))


def audit_section(runs):
    parts = ["<h2 id=audit>Audit (the checks of fedchain verify)</h2>"]
    for run in runs:
        audit = run["facts"].get("audit")
        if audit is None:
            continue
        said = (audit["error_text"] + audit["text"]).strip()
        parts.append(f"<h3>{esc(run['label'])}</h3>{banner(run)}<pre>{esc(said)}</pre>")
    return "".join(parts)


STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } nav a { margin-right: 1em; }
.banner { padding: 0.7em 1em; margin: 0.6em 0; border-radius: 4px; font-weight: bold; }
.pass { background: #dff3df; border: 2px solid #2e7d32; color: #1b5e20; }
.fail { background: #fbe0e0; border: 2px solid #c62828; color: #8e0000; }
.none { background: #eeeeee; border: 2px solid #888888; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f2f2f2; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
figure { margin: 0.5em 0; } figure svg { max-width: 100%; height: auto; }
.note { color: #666; font-size: 0.9em; }
"""


def page(runs):
    title = "fedchain run report: " + ", ".join(run["label"] for run in runs)
    sections = [
        job_section(runs),
        metrics_section(runs),
        "<h2 id=chain>The chain</h2>" + "".join(chain_section(run) for run in runs),
        "<h2 id=contributions>Contributions</h2>"
        + "".join(contributions_section(run) for run in runs),
        privacy_section(runs),
        audit_section(runs),
    ]
    nav = " ".join(f"<a href='#{a}'>{t}</a>" for a, t in (
        ("job", "job"), ("metrics", "accuracy and loss"), ("time", "time"), ("chain", "chain"),
        ("contributions", "contributions"), ("audit", "audit")))
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset='utf-8'>"
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{esc(title)}</h1>{''.join(banner(run) for run in runs)}<nav>{nav}</nav>"
            f"{''.join(sections)}</body></html>\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", required=True, help="JSON written by fedchain report")
    parser.add_argument("--out", required=True, help="HTML file to write")
    args = parser.parse_args()
    with open(args.facts) as f:
        facts = json.load(f)
    if facts.get("format") != FACTS_FORMAT:
        sys.exit(f"fedchain_report.py: {args.facts} is format {facts.get('format')}, this script "
                 f"reads format {FACTS_FORMAT}: use the script of the same fedchain build")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    runs = []
    for i, run_facts in enumerate(facts["runs"]):
        columns, rows, problem = read_metrics(run_facts["metrics_csv"])
        label = run_facts["label"]
        if any(run["label"] == label for run in runs):
            label = run_facts["run_dir"]  # two runs of one name: tell them apart
        runs.append({"facts": run_facts, "label": label, "columns": columns, "rows": rows,
                     "metrics_problem": problem, "colour": colours[i % len(colours)]})
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(page(runs))


if __name__ == "__main__":
    sys.exit(main())
