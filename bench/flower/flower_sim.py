"""Flower's simulation of jobs/fmnist-mlp-clients-100.toml, for bench/flower/run.sh.

The same job as fedchain's: Fashion-MNIST (pixels scaled to [0, 1]), K clients split by the
same partition rule (tests/data/partition_reference.py, the Python twin of
src/data/partition.cpp), C clients a round, an MLP 784-H-10 with ReLU initialised as
fedchain's (He-uniform hidden layers, Glorot-uniform output, zero biases; not the same
bits), one local epoch of plain SGD (lr, batch, last batch smaller) from the global model,
FedAvg weighted by each client's samples, and the test accuracy of the global model on the
whole test split after every round. Differences: Flower draws its own cohorts, torch its
own initial weights and batch orders, and the update is averaged in float32 rather than in
fedchain's fixed point.

Time per round: the wall time between the end of one round's central evaluation and the
end of the next's (training, transport, aggregation and evaluation), as fedchain's round_s.

This is a throw-away benchmark: it runs in a venv made for it (bench/flower/run.sh says
how), and nothing in the build or the tests installs or needs Flower, Ray or torch.

    python flower_sim.py --data DATA.h5 --out OUT.json [--partition iid] [--rounds 25] ...
"""
import argparse
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

_cache = {}  # per process (each Ray actor): the dataset and the partition, read once


def load_dataset(path):
    """fedchain's HDF5 dataset: {"train": (x, y), "test": (x, y)}, images flattened to
    float32 in [0, 1], labels int64; read once per process (also used by
    bench/mpi4py/fedavg_mpi4py.py)."""
    if path not in _cache:
        import h5py
        import numpy as np
        import torch

        with h5py.File(path, "r") as f:
            split = {}
            for name in ("train", "test"):
                images = np.asarray(f[name + "/images"], dtype=np.float32) / 255.0
                labels = np.asarray(f[name + "/labels"], dtype=np.int64)
                split[name] = (
                    torch.from_numpy(images.reshape(len(images), -1)),
                    torch.from_numpy(labels),
                )
        _cache[path] = split
    return _cache[path]


def _partition(path):
    key = "parts:" + path
    if key not in _cache:
        with open(path) as f:
            _cache[key] = json.load(f)
    return _cache[key]


def make_model(hidden, seed):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers, fan_in = [], 784
    for h in hidden:
        layers += [nn.Linear(fan_in, h), nn.ReLU()]
        fan_in = h
    layers.append(nn.Linear(fan_in, 10))
    model = nn.Sequential(*layers)
    dense = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for i, m in enumerate(dense):
            fan_in, fan_out = m.in_features, m.out_features
            last = i == len(dense) - 1
            bound = (6.0 / (fan_in + fan_out)) ** 0.5 if last else (6.0 / fan_in) ** 0.5
            m.weight.uniform_(-bound, bound)
            m.bias.zero_()
    return model


def _config(msg):
    return msg.content["config"]


def _train(msg, context):
    import torch
    import torch.nn.functional as F
    from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict

    cfg = _config(msg)
    torch.set_num_threads(int(cfg["threads"]))
    client = int(context.node_config["partition-id"])
    x_all, y_all = load_dataset(str(cfg["data"]))["train"]
    idx = torch.tensor(_partition(str(cfg["parts"]))[client], dtype=torch.int64)
    x, y = x_all[idx], y_all[idx]

    model = make_model(list(cfg["hidden"]), 0)
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=float(cfg["lr"]))
    gen = torch.Generator().manual_seed(int(cfg["seed"]) * 1_000_003 + client * 10_007 + int(cfg["server-round"]))
    batch, n = int(cfg["batch"]), len(idx)
    total_loss, steps = 0.0, 0
    started = time.perf_counter()
    model.train()
    for _ in range(int(cfg["epochs"])):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch):
            b = order[start : start + batch]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_loss += loss.item()
            steps += 1
    content = RecordDict(
        {
            "arrays": ArrayRecord(model.state_dict()),
            "metrics": MetricRecord(
                {
                    "num-examples": n,
                    "train_loss": total_loss / max(steps, 1),
                    "train_s": time.perf_counter() - started,
                }
            ),
        }
    )
    return Message(content=content, reply_to=msg)


def build_apps(args):
    """The ServerApp (FedAvg over C of K clients, central evaluation every round) and the
    ClientApp; `record` receives one dict per evaluation (round 0 is the initial model)."""
    import torch
    import torch.nn.functional as F
    from flwr.app import ArrayRecord, ConfigRecord, Context, MetricRecord
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
    from flwr.serverapp.strategy import FedAvg

    record = []
    train_seconds = [0.0]  # the last round's client training seconds, summed over the cohort
    client_app = ClientApp()
    client_app.train()(_train)
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        random.seed(args.seed)  # Flower samples the cohort with Python's random
        torch.set_num_threads(args.threads)
        x_test, y_test = load_dataset(args.data)["test"]
        model = make_model(args.hidden, args.seed)
        start = time.perf_counter()

        def train_metrics(contents, weight_key):
            metrics = [c["metrics"] for c in contents]
            total = sum(m[weight_key] for m in metrics)
            train_seconds[0] = sum(m["train_s"] for m in metrics)
            loss = sum(m["train_loss"] * m[weight_key] for m in metrics) / total
            return MetricRecord({"train_loss": loss, "train_s_sum": train_seconds[0]})

        def evaluate(server_round, arrays):
            eval_start = time.perf_counter()
            model.load_state_dict(arrays.to_torch_state_dict())
            model.eval()
            with torch.no_grad():
                logits = model(x_test)
                loss = float(F.cross_entropy(logits, y_test))
                acc = float((logits.argmax(1) == y_test).float().mean())
            now = time.perf_counter()
            record.append(
                {
                    "round": server_round,
                    "at_s": now - start,
                    "eval_s": now - eval_start,
                    "client_train_s_sum": train_seconds[0],
                    "test_acc": acc,
                    "test_loss": loss,
                }
            )
            return MetricRecord({"accuracy": acc, "loss": loss})

        strategy = FedAvg(
            fraction_train=args.per_round / args.clients,
            fraction_evaluate=0.0,
            min_train_nodes=args.per_round,
            min_available_nodes=args.clients,
            train_metrics_aggr_fn=train_metrics,
        )
        train_config = ConfigRecord(
            {
                "data": args.data,
                "parts": args.parts,
                "hidden": args.hidden,
                "lr": args.lr,
                "batch": args.batch,
                "epochs": args.epochs,
                "threads": args.threads,
                "seed": args.seed,
            }
        )
        strategy.start(
            grid=grid,
            initial_arrays=ArrayRecord(model.state_dict()),
            num_rounds=args.rounds,
            train_config=train_config,
            evaluate_fn=evaluate,
        )

    return server_app, client_app, record


def write_partition(args):
    """The clients' sample lists by fedchain's rule (docs/data.md), as JSON."""
    sys.path.insert(0, os.path.join(REPO, "tests", "data"))
    import h5py
    import partition_reference as ref

    with h5py.File(args.data, "r") as f:
        labels = [int(v) for v in f["train/labels"][:]]
    n, k = len(labels), args.clients
    if args.partition == "iid":
        parts = ref.iid(n, k, args.seed)
    elif args.partition == "dirichlet":
        parts = ref.dirichlet(labels, 10, k, args.alpha, args.seed)
    elif args.partition == "label_shards":
        parts = ref.label_shards(labels, 10, k, args.classes_per_client, args.seed)
    else:
        sys.exit(f"flower_sim: unknown partition {args.partition}")
    with open(args.parts, "w") as f:
        json.dump(parts, f)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="fedchain's Fashion-MNIST HDF5")
    p.add_argument("--out", required=True, help="JSON file: per round seconds and accuracy")
    p.add_argument("--partition", default="iid", choices=["iid", "dirichlet", "label_shards"])
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--classes-per-client", type=int, default=2)
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--per-round", type=int, default=10)
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--hidden", type=int, nargs="+", default=[200])
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch threads per client (train.threads)")
    p.add_argument("--actors", type=int, default=2, help="CPUs given to Ray: clients trained at once")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    args.data = os.path.abspath(args.data)
    args.parts = os.path.abspath(args.out) + ".parts.json"

    write_partition(args)
    # Ray's workers import this module by name, so they need its folder on their path.
    os.environ["PYTHONPATH"] = HERE + os.pathsep + os.environ.get("PYTHONPATH", "")
    sys.path.insert(0, HERE)
    import flower_sim  # the module itself, so that the apps pickle by reference
    from flwr.simulation import run_simulation

    server_app, client_app, record = flower_sim.build_apps(args)
    run_simulation(
        server_app=server_app,
        client_app=client_app,
        num_supernodes=args.clients,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": args.actors, "num_gpus": 0, "logging_level": "ERROR"},
        },
    )
    rounds = [dict(r, round_s=r["at_s"] - record[i - 1]["at_s"]) for i, r in enumerate(record) if i > 0]
    with open(args.out, "w") as f:
        json.dump({"args": vars(args), "rounds": rounds}, f, indent=1)
    if len(rounds) != args.rounds:
        sys.exit(f"flower_sim: {len(rounds)} of {args.rounds} rounds evaluated; see the log")


if __name__ == "__main__":
    main()
