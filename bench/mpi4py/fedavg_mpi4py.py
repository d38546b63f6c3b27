"""Hand-written FedAvg in PyTorch and mpi4py, the peer of bench/mpi4py/run.sh: the job of
jobs/fmnist-mlp-8.toml on as many ranks as mpirun starts, one client per rank, as an
engineer would write it without fedchain. Fashion-MNIST (pixels scaled to [0, 1]), an IID
split into equal shards (numpy's permutation: not fedchain's draw, the same sizes), an MLP
784-H-10 built and initialised as bench/flower/flower_sim.py does (fedchain's scheme, not
its bits), one local epoch of plain SGD (lr, batch, last batch smaller) from the global
model, FedAvg weighted by shard size through one MPI allreduce of the flattened
parameters, and the test split evaluated every round, each rank its slice, as fedchain
does. No signatures, no hashes, no chain, no checkpoints.

Time per round: rank 0's wall time between the end of one round's evaluation and the end
of the next's, as fedchain's round_s.

    mpirun -n 4 python fedavg_mpi4py.py --data DATA.h5 --out OUT.json [--rounds 25] ...
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "flower"))
from flower_sim import load_dataset, make_model  # noqa: E402  (plain torch; no Flower import)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--hidden", type=int, nargs="+", default=[200, 200])
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()

    import numpy as np
    import torch
    import torch.nn.functional as F
    from mpi4py import MPI
    from torch.nn.utils import parameters_to_vector, vector_to_parameters

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    torch.set_num_threads(args.threads)
    data = load_dataset(args.data)
    x_all, y_all = data["train"]
    shard = np.array_split(np.random.default_rng(args.seed).permutation(len(y_all)), size)[rank]
    x, y = x_all[torch.from_numpy(shard)], y_all[torch.from_numpy(shard)]
    x_test, y_test = data["test"]
    test_slice = slice(len(y_test) * rank // size, len(y_test) * (rank + 1) // size)
    x_eval, y_eval = x_test[test_slice], y_test[test_slice]
    total_samples = comm.allreduce(len(y))

    model = make_model(args.hidden, args.seed)  # the same seed on every rank: one global model
    gen = torch.Generator().manual_seed(args.seed * 1_000_003 + rank)
    rows = []
    last = time.perf_counter()
    for round_ in range(1, args.rounds + 1):
        train_start = time.perf_counter()
        opt = torch.optim.SGD(model.parameters(), lr=args.lr)
        model.train()
        for _ in range(args.epochs):
            order = torch.randperm(len(y), generator=gen)
            for start in range(0, len(y), args.batch):
                b = order[start : start + args.batch]
                loss = F.cross_entropy(model(x[b]), y[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
        train_s = time.perf_counter() - train_start
        with torch.no_grad():
            weighted = parameters_to_vector(model.parameters()) * (len(y) / total_samples)
            summed = weighted.numpy().copy()
            comm.Allreduce(MPI.IN_PLACE, summed, op=MPI.SUM)
            vector_to_parameters(torch.from_numpy(summed), model.parameters())
        eval_start = time.perf_counter()
        model.eval()
        with torch.no_grad():
            logits = model(x_eval)
            stats = np.array(
                [float(F.cross_entropy(logits, y_eval, reduction="sum")),
                 float((logits.argmax(1) == y_eval).sum())]
            )
        comm.Allreduce(MPI.IN_PLACE, stats, op=MPI.SUM)
        loss_sum, correct = stats
        now = time.perf_counter()
        rows.append(
            {
                "round": round_,
                "round_s": now - last,
                "train_s": train_s,
                "eval_s": now - eval_start,
                "test_loss": loss_sum / len(y_test),
                "test_acc": correct / len(y_test),
            }
        )
        last = now
    if rank == 0:
        with open(args.out, "w") as f:
            json.dump({"ranks": size, "rounds": rows}, f)


if __name__ == "__main__":
    main()
