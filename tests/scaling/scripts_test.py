#!/usr/bin/python3
"""Tests of bench/scaling/gather.py, plot.py and cost_model.py, and of
bench/committee/counts.py, on synthetic sweeps.

The synthetic metrics follow the cost model exactly (known constants, a core per rank),
so the summary's means and efficiencies are known in closed form and the calibration
must give the constants back. Bad inputs must exit 2 naming the file at fault.
Run by tests/scaling/scripts_test.sh (ctest scaling_scripts).
"""

import csv
import dataclasses
import json
import math
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scaling"
sys.path.insert(0, str(BENCH))
import cost_model  # noqa: E402

PYTHON = sys.executable
HEADER = ("height,round_s,train_s,quantize_s,hash_s,exchange_s,aggregate_s,consensus_s,"
          "store_s,eval_s,bytes_sent,train_loss,test_loss,test_acc,proposer,commit_round,"
          "state_root")
PARAMS = 100_000
# The constants the synthetic sweep is made of (seconds; beta in seconds per byte).
TRUE = dict(c_train=0.02, t_sample=2e-4, k_quant=1e-8, hash_rate=4e8, k_agg=2e-8,
            alpha=5e-4, beta=2e-9, c_0=0.004, step=0.003, t_msg=5e-5)
WARMUP_ROUND_S = 9.0  # the first round, far off every mean: it must be left out


def true_phases(ranks, samples, messages=None):
    cal = cost_model.Calibration(
        c_train=TRUE["c_train"], t_sample=TRUE["t_sample"], k_quant=TRUE["k_quant"],
        h_0=cost_model.SIGN_S, hash_rate=TRUE["hash_rate"], k_agg=TRUE["k_agg"],
        alpha=TRUE["alpha"], beta=TRUE["beta"], c_0=TRUE["c_0"], step=TRUE["step"],
        t_msg=TRUE["t_msg"], c_other=0.0, t_verify=cost_model.VERIFY_S,
        messages_per_rank=None, notes=[])
    got = cost_model.predict(cal, ranks, PARAMS, samples)
    if messages is not None:  # rank 0's count from the sweep: the model must use it
        formula = cost_model.tendermint_messages(ranks) / ranks
        got["consensus"] += (messages - formula) * TRUE["t_msg"]
    return got


def write_point(root, mode, ranks, train_limit, rounds=4, jitter=0.0, extra_columns=False,
                messages_per_rank=None):
    """One run directory as fedchain writes it: job.toml and metrics.csv."""
    run = root / mode / f"n{ranks}"
    run.mkdir(parents=True)
    (run / "job.toml").write_text(
        f"[job]\nranks = {ranks}\nrounds = {rounds}\n[data]\ntrain_limit = {train_limit}\n"
        "[model]\narch = 'mlp'\n[train]\nlocal_epochs = 1\nlocal_steps = 0\nbatch_size = 32\n"
        "[aggregate]\nrule = 'fedavg'\nexchange = 'auto'\n[consensus]\nprotocol = 'bft'\n")
    samples = train_limit / ranks
    # What rank 0 sends per height: a * R (nothing with one rank).
    messages = None
    if messages_per_rank:
        messages = messages_per_rank * ranks if ranks > 1 else 0.0
    phases = true_phases(ranks, samples, messages)
    header = HEADER + (",consensus_messages,consensus_bytes" if extra_columns else "")
    lines = [header]
    for height in range(1, rounds + 1):
        # Alternating +-jitter keeps the mean exact and makes the median differ from it
        # only where rounds are odd in number.
        sign = 1 if height % 2 else -1
        p = {k: v * (1 + sign * jitter) for k, v in phases.items()}
        p["round"] = sum(p[q] for q in ("train", "quantize", "hash", "exchange", "aggregate",
                                        "consensus"))
        if height == 1:
            p["round"] = WARMUP_ROUND_S
        bytes_sent = cost_model.TX_BYTES + 8 * PARAMS
        row = (f"{height},{p['round']:.9f},{p['train']:.9f},{p['quantize']:.9f},"
               f"{p['hash']:.9f},{p['exchange']:.9f},{p['aggregate']:.9f},"
               f"{p['consensus']:.9f},0.000000,0.000000,{bytes_sent},0.5,,,0,0,ab")
        if extra_columns:
            # A resumed run's rows from before the columns existed have them empty.
            empty = height == 2
            row += "" if empty else f",{messages},{messages * 155:.0f}"
            row += ",," if empty else ""
        lines.append(row)
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    return run


def make_sweep(root, **kwargs):
    for r in (1, 2, 4, 8):
        write_point(root, "strong", r, 8000, **kwargs)
    for r in (1, 2, 4):
        write_point(root, "weak", r, 1000 * r, **kwargs)


def run(*args):
    return subprocess.run([PYTHON, *map(str, args)], capture_output=True, text=True)


def read_summary(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class GatherTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="scaling-test-")
        self.root = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def gather(self):
        return run(BENCH / "gather.py", self.root)

    def test_summary_means_samples_and_efficiency(self):
        make_sweep(self.root, jitter=0.1)
        result = self.gather()
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = read_summary(self.root / "summary.csv")
        self.assertEqual([(r["mode"], int(r["ranks"])) for r in rows],
                         [("strong", 1), ("strong", 2), ("strong", 4), ("strong", 8),
                          ("weak", 1), ("weak", 2), ("weak", 4)])
        for r in rows:
            ranks = int(r["ranks"])
            samples = 8000 / ranks if r["mode"] == "strong" else 1000
            truth = true_phases(ranks, samples)
            self.assertEqual(r["rounds"], "4")
            self.assertEqual(r["rounds_measured"], "3")
            self.assertAlmostEqual(float(r["samples_per_rank"]), samples)
            self.assertEqual(int(r["params"]), PARAMS)  # from bytes_sent: no checkpoint
            self.assertEqual(r["cores"], "")  # no host.json: a core per rank
            self.assertEqual(r["oversubscribed"], "0")
            self.assertEqual(r["mean_consensus_messages"], "")
            # Rounds 2..4 carry -j, +j, -j: the mean is (1 - j/3) of the truth, the median
            # (1 - j); the 9 s warm-up round must not show anywhere.
            self.assertAlmostEqual(float(r["mean_train_s"]), truth["train"] * (1 - 0.1 / 3),
                                   delta=1e-5)
            self.assertAlmostEqual(float(r["median_consensus_s"]),
                                   truth["consensus"] * 0.9, delta=1e-5)
            self.assertLess(float(r["mean_round_s"]), WARMUP_ROUND_S / 2)
        # Efficiency = per-rank throughput against the smallest rank count of the mode.
        strong = {int(r["ranks"]): r for r in rows if r["mode"] == "strong"}
        weak = {int(r["ranks"]): r for r in rows if r["mode"] == "weak"}
        t = {k: float(v["mean_round_s"]) for k, v in strong.items()}
        self.assertAlmostEqual(float(strong[8]["efficiency"]), t[1] / (8 * t[8]), places=4)
        tw = {k: float(v["mean_round_s"]) for k, v in weak.items()}
        self.assertAlmostEqual(float(weak[4]["efficiency"]), tw[1] / tw[4], places=4)
        self.assertEqual(float(strong[1]["efficiency"]), 1.0)
        self.assertAlmostEqual(float(strong[4]["throughput_samples_per_s"]), 8000 / t[4],
                               delta=1e-3 * 8000 / t[4])

    def test_cores_from_host_json_mark_oversubscription(self):
        make_sweep(self.root)
        (self.root / "host.json").write_text('{"cores": 2}')
        self.assertEqual(self.gather().returncode, 0)
        rows = read_summary(self.root / "summary.csv")
        self.assertEqual({int(r["ranks"]): r["oversubscribed"] for r in rows
                          if r["mode"] == "strong"}, {1: "0", 2: "0", 4: "1", 8: "1"})

    def test_optional_message_columns_are_averaged(self):
        make_sweep(self.root, extra_columns=True, messages_per_rank=7.0)
        self.assertEqual(self.gather().returncode, 0)
        rows = read_summary(self.root / "summary.csv")
        n4 = next(r for r in rows if r["mode"] == "strong" and r["ranks"] == "4")
        self.assertAlmostEqual(float(n4["mean_consensus_messages"]), 7.0 * 4)
        self.assertAlmostEqual(float(n4["mean_consensus_bytes"]), 7.0 * 4 * 155)

    def expect_error(self, *fragments):
        result = self.gather()
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)
        self.assertFalse((self.root / "summary.csv").exists(), "a failed gather wrote a summary")

    def test_missing_metrics_names_the_run(self):
        make_sweep(self.root)
        (self.root / "weak" / "n2" / "metrics.csv").unlink()
        self.expect_error(str(self.root / "weak" / "n2" / "metrics.csv"), "missing")

    def test_non_numeric_cell_names_file_line_and_column(self):
        make_sweep(self.root)
        path = self.root / "strong" / "n4" / "metrics.csv"
        lines = path.read_text().splitlines()
        cells = lines[2].split(",")
        cells[5] = "fast"  # exchange_s
        lines[2] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n")
        self.expect_error(f"{path}:3", "exchange_s", "'fast'")

    def test_missing_column_and_torn_line(self):
        make_sweep(self.root)
        path = self.root / "strong" / "n2" / "metrics.csv"
        path.write_text(path.read_text().replace("consensus_s,", "cons_s,", 1))
        self.expect_error(f"{path}:1", "consensus_s")
        path.write_text(HEADER + "\n1,0.1,0.1\n2,0.1\n")
        self.expect_error(f"{path}:2", "fields")

    def test_one_round_is_not_enough(self):
        make_sweep(self.root)
        path = self.root / "strong" / "n8" / "metrics.csv"
        path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n")
        self.expect_error(str(path), "warm-up")

    def test_ranks_must_match_the_directory(self):
        make_sweep(self.root)
        job = self.root / "weak" / "n4" / "job.toml"
        job.write_text(job.read_text().replace("ranks = 4", "ranks = 3"))
        self.expect_error(str(job), "job.ranks = 3", "n4")

    def test_empty_root(self):
        self.expect_error("no run directories")


class CostModelTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="scaling-model-")
        self.root = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def summary(self, **kwargs):
        make_sweep(self.root, **kwargs)
        result = run(BENCH / "gather.py", self.root)
        self.assertEqual(result.returncode, 0, result.stderr)
        return self.root / "summary.csv"

    def test_calibration_recovers_the_constants(self):
        points = cost_model.read_points(self.summary())
        cal = cost_model.calibrate(points)
        for name in ("t_sample", "c_train", "k_quant", "hash_rate", "k_agg", "alpha", "beta",
                     "t_msg", "step", "c_0"):
            self.assertAlmostEqual(getattr(cal, name) / TRUE[name], 1.0, delta=0.02, msg=name)
        for p in points:
            got = cost_model.predict(cal, p.ranks, p.params, p.samples)
            self.assertAlmostEqual(got["round"] / p.phases["round"], 1.0, delta=0.01,
                                   msg=f"{p.mode} n{p.ranks}")

    def test_measured_message_counts_replace_the_formula(self):
        points = cost_model.read_points(self.summary(extra_columns=True, messages_per_rank=7.0))
        cal = cost_model.calibrate(points)
        self.assertAlmostEqual(cal.messages_per_rank, 7.0)
        self.assertAlmostEqual(cal.t_msg / TRUE["t_msg"], 1.0, delta=0.02)

    def test_check_prints_errors_and_predictions(self):
        summary = self.summary()
        plot = self.root / "model.png"
        result = run(BENCH / "cost_model.py", "check", summary, "--plot", plot)
        self.assertEqual(result.returncode, 0, result.stderr)
        out = result.stdout
        self.assertIn("## Check: predicted vs measured", out)
        errors = [float(line.rsplit("|", 2)[1].strip().rstrip("%"))
                  for line in out.splitlines()
                  if line.startswith("| strong |") or line.startswith("| weak |")]
        self.assertEqual(len(errors), 7)
        self.assertLessEqual(max(abs(e) for e in errors), 1.0)
        self.assertIn("| 4,096 |", out)
        self.assertIn("InfiniBand", out)
        self.assertIn("NVLink", out)
        self.assertEqual(plot.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")

    def test_prediction_trends(self):
        cal = cost_model.calibrate(cost_model.read_points(self.summary()))
        ib = cost_model.NETWORKS["ib"]
        rounds = [cost_model.predict(cal, r, cost_model.CNN_PARAMS, 7500, network=ib,
                                     sample_s=1e-3, calibrated_params=PARAMS)
                  for r in (64, 512, 4096)]
        # Weak scaling: compute is flat, consensus and exchange grow with R.
        self.assertAlmostEqual(rounds[0]["train"], rounds[2]["train"])
        self.assertLess(rounds[0]["consensus"], rounds[1]["consensus"])
        self.assertLess(rounds[1]["consensus"], rounds[2]["consensus"])
        self.assertLess(rounds[0]["exchange"], rounds[2]["exchange"])
        # A faster network never makes a round slower.
        nv = cost_model.predict(cal, 4096, cost_model.CNN_PARAMS, 7500,
                                network=cost_model.NETWORKS["nvlink"], sample_s=1e-3,
                                calibrated_params=PARAMS)
        self.assertLessEqual(nv["round"], rounds[2]["round"])
        # Without the chain there is no hashing and no vote.
        plain = cost_model.predict(cal, 4096, cost_model.CNN_PARAMS, 7500, bft=False,
                                   network=ib, sample_s=1e-3, calibrated_params=PARAMS)
        self.assertEqual(plain["consensus"], 0.0)
        self.assertEqual(plain["hash"], 0.0)

    def test_each_signature_is_verified_once_per_height(self):
        # Per rank per height: the R update txs in the exchange; in consensus the prevote and
        # precommit of each other validator and the proposal (all but the proposer, who
        # rotates), not the block's txs again (ledger::BlockTxs::kAlreadyValidated).
        self.assertEqual(cost_model.consensus_verifies(1), 0)
        self.assertAlmostEqual(cost_model.consensus_verifies(4), 6 + 3 / 4)
        self.assertAlmostEqual(cost_model.consensus_verifies(4096), 2 * 4095 + 4095 / 4096)
        cal = cost_model.calibrate(cost_model.read_points(self.summary()))
        slow = dataclasses.replace(cal, t_verify=cal.t_verify + 1e-3)
        for r in (1, 2, 8, 4096):
            base = cost_model.predict(cal, r, PARAMS, 100)
            more = cost_model.predict(slow, r, PARAMS, 100)
            # 1 ms more per verification adds exactly the counted verifications.
            self.assertAlmostEqual((more["exchange"] - base["exchange"]) / 1e-3, r, places=6)
            self.assertAlmostEqual((more["consensus"] - base["consensus"]) / 1e-3,
                                   2 * (r - 1) + (r - 1) / r, places=6)

    def test_message_count_formula(self):
        # net_consensus_bench measured 90.9 messages per height at n = 4 (docs/consensus.md).
        self.assertEqual(cost_model.tendermint_messages(4), 91)
        self.assertEqual(cost_model.tendermint_messages(1), 0)
        self.assertTrue(math.isclose(cost_model.tendermint_messages(4096) / 4096 ** 2, 6.0,
                                     rel_tol=1e-3))

    def test_bad_summary_exits_2(self):
        bad = self.root / "bad.csv"
        bad.write_text("mode,ranks\nstrong,1\n")
        result = run(BENCH / "cost_model.py", "check", bad)
        self.assertEqual(result.returncode, 2)
        self.assertIn(str(bad), result.stderr)
        self.assertIn("gather.py", result.stderr)


class CommitteeModelTest(unittest.TestCase):
    """The committee's counts per role and its consensus term (cost_model.predict_committee)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="scaling-committee-")
        self.root = Path(self.tmp.name)
        make_sweep(self.root)
        self.assertEqual(run(BENCH / "gather.py", self.root).returncode, 0)
        self.summary = self.root / "summary.csv"
        self.cal = cost_model.calibrate(cost_model.read_points(self.summary))

    def tearDown(self):
        self.tmp.cleanup()

    def test_counts_per_role(self):
        # What fedchain train measured (bench/committee/run.sh): with c = 4 a follower
        # handles the block and checks the 3 precommits of its certificate whatever R is; a
        # validator handles 15 messages and checks the R txs and 7 signatures.
        for r in (4, 8, 16, 32, 4096):
            got = cost_model.committee_counts(r, 4)
            self.assertEqual(got["validator_messages"], 15)
            self.assertEqual(got["validator_verifications"], r + 7)
            self.assertAlmostEqual(got["validator_sent"], 14.75)
            self.assertEqual((got["follower_messages"], got["follower_verifications"]),
                             (0, 0) if r == 4 else (1, 3))
        # Every rank voting: 6R - 9 handled, 6R - 10 + (R-1)/R sent on the mean.
        for r, handled, sent in ((2, 3, 2.5), (8, 39, 38.875), (16, 87, 86.9375)):
            got = cost_model.committee_counts(r, r)
            self.assertEqual(got["validator_messages"], handled)
            self.assertAlmostEqual(got["validator_sent"], sent)
            self.assertEqual(got["validator_verifications"], r + 2 * (r - 1) + 1)
        self.assertEqual(cost_model.committee_counts(1, 1)["validator_messages"], 0)
        self.assertEqual([cost_model.quorum(c) for c in (1, 3, 4, 32, 64)], [1, 3, 3, 22, 43])

    def test_every_rank_voting_is_the_old_term(self):
        ib = cost_model.NETWORKS["ib"]
        for r in (2, 64, 4096):
            old = cost_model.predict(self.cal, r, PARAMS, 100, network=ib)["consensus"]
            got = cost_model.predict_committee(self.cal, r, r, ib, messages="fitted")
            self.assertAlmostEqual(got["consensus"], old, places=12)
            self.assertEqual(got["broadcast"] + got["follower"] + got["barrier"], 0.0)
            # A committee larger than the ranks is every rank.
            more = cost_model.predict_committee(self.cal, r, 2 * r, ib, messages="fitted")
            self.assertAlmostEqual(more["consensus"], old, places=12)

    def test_committee_cost_grows_with_c_not_r(self):
        ib = cost_model.NETWORKS["ib"]
        small = cost_model.predict_committee(self.cal, 1024, 32, ib)
        large = cost_model.predict_committee(self.cal, 4096, 32, ib)
        # R only adds the block's bytes, the broadcast's steps and the hashing.
        self.assertLess(large["agreement"] - small["agreement"], 0.1 * small["agreement"])
        self.assertAlmostEqual(large["follower"] - small["follower"],
                               (cost_model.record_bytes(4096, 32) -
                                cost_model.record_bytes(1024, 32)) / self.cal.hash_rate)
        self.assertGreater(large["broadcast"], small["broadcast"])
        self.assertLess(small["consensus"],
                        cost_model.predict_committee(self.cal, 1024, 64, ib)["consensus"])
        old = cost_model.predict(self.cal, 4096, PARAMS, 100, network=ib)["consensus"]
        self.assertLess(large["consensus"], old / 10)
        # A follower checks quorum(c) signatures, once each.
        slow = dataclasses.replace(self.cal, t_verify=self.cal.t_verify + 1e-3)
        more = cost_model.predict_committee(slow, 4096, 32, ib)
        self.assertAlmostEqual((more["follower"] - large["follower"]) / 1e-3, 22, places=6)
        self.assertAlmostEqual((more["tx_checks"] - large["tx_checks"]) / 1e-3, 4096, places=6)

    def write_counts(self, rows):
        """rows: (R, c, mean sent, latest commit round, medians, lows, highs), each of the
        last three the four COUNT_COLUMNS (lows and highs None: as the medians)."""
        path = self.root / "counts.csv"
        stats = [f"{s}_{c}" for s in ("median", "min", "max") for c in cost_model.COUNT_COLUMNS]
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["ranks", "committee", "validator_sent_mean", "max_commit_round"]
                            + stats)
            for r, c, sent, late, medians, lows, highs in rows:
                writer.writerow([r, c, sent, late, *medians, *(lows or medians),
                                 *(highs or medians)])
        return path

    def test_committee_command_checks_counts_and_predicts(self):
        counts = self.write_counts([
            (32, 4, 14.75, 0, [1, 3, 15, 39], None, None),  # as measured
            (8, 8, 38.875, 0, [0, 0, 39, 23], None, None),  # every rank votes
            # One height with a second block for a follower: a bug, though the medians agree.
            (16, 4, 14.75, 0, [1, 3, 15, 23], None, [2, 3, 15, 23]),
            (32, 32, 2064.6, 5, [0, 0, 2784, 187], [0, 0, 192, 94], [0, 0, 7843, 551]),
            # A rank catching up at some heights: the quietest is the model's.
            (4, 4, 16.2, 0, [0, 0, 15.5, 11], [0, 0, 15, 11], [0, 0, 27, 12]),
            (8, 4, 14.75, 0, [1, 3, 16, 15], [1, 3, 16, 15], None),  # a validator off
        ])
        result = run(BENCH / "cost_model.py", "committee", self.summary, "--counts", counts)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = [line for line in result.stdout.splitlines() if line.startswith("| ")]
        self.assertTrue(lines[1].startswith("| 32 | 4 | 1 / 1 | 3 / 3 | 15 / 15 | 39 / 39 |"),
                        lines[1])
        self.assertTrue(lines[1].endswith("| equal |"))
        self.assertTrue(lines[2].endswith("| equal |"))
        self.assertIn("DIFFERS: followers messages 1 to 2", lines[3])
        self.assertIn("disturbed: a height needed round 5", lines[4])
        self.assertIn("disturbed: the quietest height equals the model, another handled 27",
                      lines[5])
        self.assertTrue(lines[6].endswith("| DIFFERS |"))
        self.assertIn("Equal to the model: 2 of 6 points. Disturbed (", result.stdout)
        self.assertIn("): 2. Different otherwise: 2.", result.stdout)
        for r, c in (("1,024", 32), ("1,024", 64), ("4,096", 32), ("4,096", 64)):
            self.assertIn(f"| {r} | {c} |", result.stdout)
        self.assertIn("InfiniBand", result.stdout)
        self.assertNotIn("NVLink", result.stdout)

    def test_committee_command_bad_counts_exit_2(self):
        bad = self.root / "bad.csv"
        bad.write_text("ranks,committee\n4,4\n")
        result = run(BENCH / "cost_model.py", "committee", self.summary, "--counts", bad)
        self.assertEqual(result.returncode, 2)
        self.assertIn(str(bad), result.stderr)
        self.assertIn("counts.py", result.stderr)


COMMITTEE = BENCH.parent / "committee"


def write_committee_point(root, name, ranks, members, heights=8):
    """A run directory as bench/committee/run.sh leaves it, with the model's counts."""
    run_dir = root / name / f"n{ranks}"
    (run_dir / "logs").mkdir(parents=True)
    c = len(members)
    want = cost_model.committee_counts(ranks, c)
    lines = ["height,consensus_s,consensus_messages,commit_round,follower_messages,"
             "follower_verifications,validator_messages,validator_verifications"]
    for h in range(1, heights + 1):
        sent = 0 if 0 not in members else 2 * (c - 1) + 2 * cost_model.relayed_copies(c)
        lines.append(f"{h},0.01,{sent},0,{want['follower_messages']},"
                     f"{want['follower_verifications']},{want['validator_messages']},"
                     f"{want['validator_verifications']}")
    (run_dir / "metrics.csv").write_text("\n".join(lines) + "\n")
    blocks = [{"height": h, "committee": members if h == 1 else []}
              for h in range(1, heights + 1)]
    (run_dir / "inspect.json").write_text(json.dumps(blocks))
    received = round(want["validator_sent"] * heights)
    for r in range(ranks):
        n = received if r in members else 0
        (run_dir / "logs" / f"rank-{r}.log").write_text(
            f"[rank {r}] [info] consensus: {n} messages received, 0 undecodable\n")
    return run_dir


class CommitteeCountsTest(unittest.TestCase):
    def test_table_and_csv(self):
        with tempfile.TemporaryDirectory(prefix="committee-counts-") as tmp:
            root = Path(tmp)
            write_committee_point(root, "c4", 8, [1, 3, 5, 6])
            write_committee_point(root, "all", 8, list(range(8)))
            result = run(COMMITTEE / "counts.py", root, "--ranks", "8")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("| 8 | 4 | 1 | 3 | 15 | 15 | 0 (no) | 14.8 | 0 |", result.stdout)
            self.assertIn("| 8 | 8 | 0 | 0 | 39 | 23 | 38 (yes) | 38.9 | 0 |", result.stdout)
            rows = read_summary(root / "counts.csv")
            self.assertEqual(rows[0]["members"], "1 3 5 6")
            self.assertAlmostEqual(float(rows[0]["validator_sent_mean"]), 14.75)
            # The model's check reads the same file.
            checked = cost_model.read_counts(root / "counts.csv")
            self.assertEqual(checked[0]["median_follower_verifications"], 3)
            (root / "c4" / "n8" / "logs" / "rank-5.log").unlink()
            result = run(COMMITTEE / "counts.py", root, "--ranks", "8")
            self.assertEqual(result.returncode, 2)
            self.assertIn("rank-5.log", result.stderr)


class PlotTest(unittest.TestCase):
    def test_three_pngs(self):
        with tempfile.TemporaryDirectory(prefix="scaling-plot-") as tmp:
            root = Path(tmp)
            make_sweep(root)
            self.assertEqual(run(BENCH / "gather.py", root).returncode, 0)
            result = run(BENCH / "plot.py", root / "summary.csv", "--out", root / "plots")
            self.assertEqual(result.returncode, 0, result.stderr)
            for name in ("phases.png", "efficiency.png", "consensus.png"):
                data = (root / "plots" / name).read_bytes()
                self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n", name)
                self.assertGreater(len(data), 10_000, name)
            missing = run(BENCH / "plot.py", root / "none.csv", "--out", root / "plots")
            self.assertEqual(missing.returncode, 2)
            self.assertIn("none.csv", missing.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
