"""Where a GPU training's time goes: scipy's L-BFGS-B versus the CuPy cost evaluations.

Trains the sparse autoencoder (N = 100,000 patches, V = 192, H = 400) with the
CuPy backend for 400 L-BFGS iterations, once with scipy's own vector work on
one BLAS thread (nnlite's default) and once with all threads, and prints the
wall time next to the time of the same number of cost evaluations alone, so
the optimiser's share is the difference.  Needs CuPy and a GPU.

Run: ``python benchmarks/gpu/lbfgs_probe.py [--n 100000] [--hidden 400] [--iterations 400]``.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

from nnlite import LBFGS, build_autoencoder  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100000)
    parser.add_argument("--hidden", type=int, default=400)
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args(argv)
    data = np.random.default_rng(0).uniform(0.1, 0.9, (args.n, 192))
    net = build_autoencoder(192, args.hidden, backend="cupy", dtype=args.dtype)
    theta0 = net.initialize(0).copy()
    fun = net.objective(data)
    fun(theta0)
    for threads in (1, None):
        result = LBFGS(max_iter=args.iterations, tol=0.0, gtol=0.0,
                       optimizer_blas_threads=threads).minimize(fun, theta0)
        start = time.perf_counter()
        for _ in range(result.n_evaluations):
            fun(theta0)
        evaluations = time.perf_counter() - start
        label = "1 BLAS thread" if threads == 1 else "all BLAS threads"
        print(f"{label:16s}: {result.wall_time:6.2f} s for {result.n_iter} iterations, "
              f"{result.n_evaluations} evaluations; the evaluations alone {evaluations:6.2f} s; "
              f"optimiser {1e3 * (result.wall_time - evaluations) / max(result.n_iter, 1):.2f} ms/iteration")


if __name__ == "__main__":
    main()
