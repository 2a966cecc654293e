"""Benchmark: one cost+gradient evaluation on a Dask LocalCluster against one process.

For N patches of V = 192 values and H = 400 hidden units (float32 by
default: N = 1e6 is 0.77 GB per copy instead of 1.5 GB) it times, in one run:

* ``single``     -- ``Network.objective`` in this process, one BLAS thread
  (the workers of a LocalCluster run one BLAS thread each, Dask's default);
* ``dask w=1``   -- :class:`nnlite.distributed.DistributedObjective` on a
  LocalCluster of one worker process;
* ``dask w=2``   -- the same on two worker processes;

and prints milliseconds per evaluation (best of ``--repeats``, after one
warm-up), the ratio to ``single``, the payload bytes sent and received per
evaluation, the time to place the shards, and the load average before and
after each measurement (the machine is shared: only the ratios of one run
mean much; the figures in ``docs/distributed.md`` come with their load).
Workers evaluate their shard in blocks of ``--block-size`` rows, so their
working memory stays bounded whatever N.  Results go to ``--output``
(default ``benchmarks/results/bench_distributed.json``), the table to stdout.

Run: ``python benchmarks/bench_distributed.py [--n 100000 1000000] [--hidden 400]
[--repeats 2] [--workers 1 2] [--dtype float32] [--block-size 100000] [--output FILE]``.
"""

import argparse
import gc
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from threadpoolctl import threadpool_limits  # noqa: E402

from nnlite.autoencoder import build_autoencoder  # noqa: E402
from nnlite.distributed import DistributedObjective, connect  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "bench_distributed.json")


def patches(n, visible, dtype, seed=0, chunk=100000):
    """``n`` random patches in [0.1, 0.9], generated in chunks (no float64 copy of the whole)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, visible), dtype=dtype)
    for start in range(0, n, chunk):
        out[start:start + chunk] = rng.uniform(0.1, 0.9, size=(min(chunk, n - start), visible))
    return out


def load():
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def best_time(fun, theta, repeats):
    """Best wall time of ``repeats`` calls of ``fun(theta)`` after one warm-up call; and the last cost."""
    cost, _ = fun(theta)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        cost, _ = fun(theta)
        times.append(time.perf_counter() - start)
    return min(times), cost


def measure(n, hidden, dtype, repeats, workers, block_size):
    """Rows of the table for one N."""
    data = patches(n, 192, dtype)
    network = build_autoencoder(192, hidden, dtype=dtype)
    theta = network.initialize(0).copy()
    rows = []
    before = load()
    with threadpool_limits(1):
        seconds, cost = best_time(network.objective(data), theta, repeats)
    rows.append({"n": n, "mode": "single", "workers": 0, "seconds": seconds, "ratio": 1.0, "cost": cost,
                 "load_before": before, "load_after": load()})
    single = seconds
    network.to_backend("numpy", dtype)  # drops the N-row workspace before the cluster starts
    gc.collect()
    for count in workers:
        client = connect(f"local:{count}")
        client.wait_for_workers(count)
        before = load()
        start = time.perf_counter()
        objective = DistributedObjective(client, network, data, block_size=block_size)
        placing = time.perf_counter() - start
        seconds, cost = best_time(objective, theta, repeats)
        evaluations = objective.n_evaluations
        rows.append({"n": n, "mode": f"dask w={count}", "workers": count, "seconds": seconds,
                     "ratio": seconds / single, "cost": cost, "trips": objective.n_trips,
                     "bytes_out": objective.bytes_sent // evaluations,
                     "bytes_in": objective.bytes_received // evaluations, "place_seconds": placing,
                     "load_before": before, "load_after": load()})
        objective.close()
        client.close()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100000, 1000000])
    parser.add_argument("--hidden", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--block-size", type=int, default=100000)
    parser.add_argument("--output", default=RESULTS, help="JSON file for the table (default: %(default)s)")
    args = parser.parse_args(argv)
    print(f"V=192 H={args.hidden} {args.dtype}, block {args.block_size} rows, {os.cpu_count()} CPUs, "
          f"load {load()}")
    print(f"{'N':>9} {'mode':>9} {'ms/eval':>10} {'ratio':>6} {'out B/eval':>11} {'in B/eval':>10} "
          f"{'place s':>8} {'load':>11} {'cost':>12}")
    table = []
    for n in args.n:
        for row in measure(n, args.hidden, args.dtype, args.repeats, args.workers, args.block_size):
            table.append(row)
            print(f"{row['n']:>9} {row['mode']:>9} {1000 * row['seconds']:>10.1f} {row['ratio']:>6.2f} "
                  f"{row.get('bytes_out', 0):>11} {row.get('bytes_in', 0):>10} "
                  f"{row.get('place_seconds', 0):>8.2f} {row['load_before']:>5}/{row['load_after']:<5} "
                  f"{row['cost']:>12.6f}", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump({"args": vars(args), "cpus": os.cpu_count(), "rows": table}, handle, indent=1)
    return table


if __name__ == "__main__":
    main()
