"""scipy's L-BFGS-B (``LBFGS``) versus nnlite's two-loop L-BFGS (``TwoLoopLBFGS``), side by side.

Two measurements, both optimisers in the same run, ratios printed:

1. **The optimiser alone**: a diagonal quadratic with curvatures spread over
   six decades (so 400 iterations do not converge) whose cost and gradient
   take little time; the time spent inside the cost function during the
   run is subtracted, so what remains is the optimiser's own work.
   Sizes: 29,067 parameters (192 -> 75 -> 192) and 154,192 (192 -> 400 -> 192).
2. **A training**: the sparse autoencoder 192 -> ``--hidden`` -> 192 on
   ``--n`` 8x8 colour patches of the two sample photos (normalised to
   [0.1, 0.9]), ``--iterations`` iterations from the same ``theta0``:
   wall time, iterations, evaluations and the cost reached.

Run: ``python benchmarks/bench_optim.py [--quick] [--backend cupy --n 100000 --hidden 400]
[--blas-threads 1,all] [--json PATH]``.  ``--blas-threads`` is the
two-loop optimiser's ``optimizer_blas_threads`` ('all' = None); scipy's
always runs with its default (1), since all threads are several times slower.
On the H200 machine's 16-core host, ``--blas-threads 1,4,all`` did not get
through the quadratic section in 270 s: multi-threaded BLAS on single
vectors is very slow there, so leave the default (1).  Results of runs are
in ``benchmarks/results/bench_optim_*.txt``.
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nnlite import build_autoencoder  # noqa: E402
from nnlite.data import load_dataset  # noqa: E402
from nnlite.data.patches import sample_patches_raw  # noqa: E402
from nnlite.optim import LBFGS, TwoLoopLBFGS  # noqa: E402
from nnlite.preprocessing import normalize_data  # noqa: E402

QUADRATIC_SIZES = (29067, 154192)


def contenders(thread_settings, **options):
    """``{label: optimizer}``: scipy's L-BFGS-B, then the two-loop one per BLAS thread setting."""
    found = {"L-BFGS-B (scipy)": LBFGS(**options)}
    for threads in thread_settings:
        label = "two-loop" + ("" if len(thread_settings) == 1 else f" [{threads or 'all'} BLAS]")
        found[label] = TwoLoopLBFGS(optimizer_blas_threads=threads, **options)
    return found


def quadratic(n_params, seed=0):
    """``(fun, theta0)``: ``f = 0.5 sum c_i x_i^2`` with ``c`` log-uniform in [1, 1e6]."""
    rng = np.random.default_rng(seed)
    curvature = 10.0 ** rng.uniform(0.0, 6.0, n_params)
    gradient = np.empty(n_params)

    def fun(theta):
        np.multiply(curvature, theta, out=gradient)
        return 0.5 * float(theta @ gradient), gradient.copy()

    return fun, rng.standard_normal(n_params)


class Timed:
    """``fun`` with the seconds spent inside it added up (in the optimiser's own run)."""

    def __init__(self, fun):
        self.fun, self.seconds = fun, 0.0

    def __call__(self, theta):
        start = time.perf_counter()
        try:
            return self.fun(theta)
        finally:
            self.seconds += time.perf_counter() - start


def optimizer_alone(n_params, iterations, thread_settings):
    """Rows ``{optimizer, n_params, n_iter, ms_per_iteration, cost}`` for each contender."""
    fun, theta0 = quadratic(n_params)
    rows = []
    for label, optimizer in contenders(thread_settings, max_iter=iterations, tol=0.0, gtol=0.0).items():
        timed = Timed(fun)
        result = optimizer.minimize(timed, theta0)
        own = result.wall_time - timed.seconds
        rows.append({"optimizer": label, "n_params": n_params, "n_iter": result.n_iter,
                     "n_evaluations": result.n_evaluations,
                     "ms_per_iteration": 1e3 * own / max(result.n_iter, 1), "cost": result.cost})
    return rows


def sample_data(n_patches, seed=0):
    """``(n_patches, 192)`` normalised 8x8x3 patches of the sample photos."""
    dataset = load_dataset("sample")
    raw = sample_patches_raw(dataset.images, num_patches=n_patches, patch_size=8,
                             image_shape=dataset.image_shape, random_state=seed)
    return normalize_data(raw)


def training(data, hidden, iterations, backend, dtype, thread_settings):
    """Rows ``{optimizer, wall_time, n_iter, n_evaluations, cost, ms_per_evaluation}``."""
    net = build_autoencoder(data.shape[1], hidden, backend=backend, dtype=dtype)
    theta0 = net.initialize(0).copy()
    fun = net.objective(data)
    fun(theta0)  # warm-up: kernel compilation, workspaces
    rows = []
    for label, optimizer in contenders(thread_settings, max_iter=iterations).items():
        timed = Timed(fun)
        result = optimizer.minimize(timed, theta0)
        evaluations = timed.seconds
        rows.append({"optimizer": label, "wall_time": result.wall_time, "n_iter": result.n_iter,
                     "n_evaluations": result.n_evaluations, "cost": result.cost,
                     "evaluations_s": evaluations,
                     "optimizer_ms_per_iteration": 1e3 * (result.wall_time - evaluations)
                     / max(result.n_iter, 1), "status": result.message})
    return rows


def print_quadratic(rows):
    print("\nOptimiser alone (diagonal quadratic, cost+gradient subtracted), ms per iteration")
    for n_params in sorted({row["n_params"] for row in rows}):
        group = [row for row in rows if row["n_params"] == n_params]
        reference = group[0]["ms_per_iteration"]
        for row in group:
            print(f"  {n_params:7d} params  {row['optimizer']:24s} {row['ms_per_iteration']:8.3f} ms "
                  f"({row['n_iter']} iterations, {row['n_evaluations']} evaluations)  "
                  f"scipy / this = {reference / row['ms_per_iteration']:6.1f}x")


def print_training(rows, args):
    print(f"\nTraining 192 -> {args.hidden} -> 192, {args.n} patches, backend {args.backend} "
          f"{args.dtype}, max_iter {args.iterations}, same theta0")
    reference = rows[0]
    for row in rows:
        print(f"  {row['optimizer']:24s} {row['wall_time']:7.2f} s  {row['n_iter']:4d} it  "
              f"{row['n_evaluations']:4d} ev  cost {row['cost']:.6e} "
              f"(x{row['cost'] / reference['cost']:.4f} of scipy's)  evaluations {row['evaluations_s']:6.2f} s, "
              f"optimiser {row['optimizer_ms_per_iteration']:6.2f} ms/it  "
              f"speed-up {reference['wall_time'] / row['wall_time']:5.2f}x  [{row['status']}]")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 iterations, 2,000 patches")
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--dtype", default=None, help="default: float32 on cupy, else float64")
    parser.add_argument("--n", type=int, default=None, help="patches (default 10000)")
    parser.add_argument("--hidden", type=int, default=75)
    parser.add_argument("--iterations", type=int, default=None, help="default 400")
    parser.add_argument("--blas-threads", default="1",
                        help="comma-separated optimizer_blas_threads for the two-loop optimiser: "
                             "integers or 'all' (default 1)")
    parser.add_argument("--skip-quadratic", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    args.n = args.n or (2000 if args.quick else 10000)
    args.iterations = args.iterations or (100 if args.quick else 400)
    args.dtype = args.dtype or ("float32" if args.backend == "cupy" else "float64")
    thread_settings = [None if item.strip() == "all" else int(item) for item in args.blas_threads.split(",")]

    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}{load}")
    results = {"args": vars(args), "quadratic": [], "training": []}
    if not args.skip_quadratic:
        for n_params in QUADRATIC_SIZES:
            results["quadratic"] += optimizer_alone(n_params, args.iterations, thread_settings)
        print_quadratic(results["quadratic"])
    if not args.skip_training:
        data = sample_data(args.n)
        results["training"] = training(data, args.hidden, args.iterations, args.backend, args.dtype,
                                       thread_settings)
        print_training(results["training"], args)
    if hasattr(os, "getloadavg"):
        print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
