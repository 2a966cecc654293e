"""Benchmark: one sparse-autoencoder cost+gradient evaluation against its floors and peers.

For N patches of V = 192 values and H = 75 hidden units it times, side by
side in one run (the best of several interleaved repeats, so background load
hits every contender alike):

* ``blas floor``   -- the five matrix products of one evaluation alone;
* ``plain numpy``  -- a formula-by-formula float64 implementation written
  here (temporaries everywhere, as a first version would be);
* ``nnlite``       -- ``Network.objective`` in float64 and float32;
* ``torch``        -- PyTorch autograd in float64/float32, when torch is
  installed (an optional peer);

and prints each as milliseconds and as a ratio, with the thread count, the
load average before and after and, on Linux, the share of CPU time the host
took for other work during the run (its "steal" time: on a shared virtual
machine only the ratios of one run mean much, and a run with steal above a
few per cent is a noisy one).  ``--train`` adds a full default training (10,000 patches,
400 L-BFGS iterations) and splits its time between the evaluations and the
optimiser.  ``--optimizer``
times scipy's L-BFGS-B alone (400 iterations on a quadratic with as many
parameters as the network) with one BLAS thread and with all, the choice
``LBFGS(optimizer_blas_threads=...)`` makes.

Each timed call starts after a pause of ``--settle`` seconds (default 0.2)
and ``--warm`` seconds (default 0.1) of untimed calls of the same contender.
After every multi-threaded product, OpenBLAS's worker threads busy-wait for
the next one for about 2**28 cycles (0.1 s here; lowering OpenBLAS's thread
count does not stop them).  Without the pause a contender would share the
cores with the previous contender's spinning threads: nnlite's evaluation,
whose own threads then compete with them, took 35 ms instead of 19 ms that
way, while a training never meets them (its optimiser's BLAS runs on one
thread).  The untimed calls put every contender in the state a training
keeps it in, evaluation after evaluation: on the 2-core virtual development
machine threads that slept 0.2 s run slowly for the next few tens of
milliseconds (a float32 evaluation, 11 ms back to back, needed about three
calls in a row after the pause to get there).  Two lines time the other
cases apart: ``nnlite float64 after a BLAS call`` (the same evaluation right
after a product on BLAS's own threads) and ``... first call after the
pause`` (no untimed calls before it), for nnlite and for the floor.

Run: ``python benchmarks/bench_loss.py [--n 10000] [--repeats 15] [--settle 0.2] [--warm 0.1] [--train]
[--optimizer]``.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nnlite import LBFGS, build_autoencoder  # noqa: E402

RHO, LAMBDA, BETA = 0.01, 1e-4, 3.0

#: Suffix of the contenders timed right after the pause, without untimed calls before them.
FIRST_CALL = " first call after the pause"


def plain_numpy_loss(theta, data, hidden):
    """A straightforward float64 implementation of SPEC's cost and gradient."""
    m, visible = data.shape
    W1 = theta[:hidden * visible].reshape(hidden, visible)
    W2 = theta[hidden * visible:2 * hidden * visible].reshape(visible, hidden)
    b1 = theta[2 * hidden * visible:2 * hidden * visible + hidden]
    b2 = theta[2 * hidden * visible + hidden:]
    a2 = 1 / (1 + np.exp(-(data @ W1.T + b1)))
    a3 = 1 / (1 + np.exp(-(a2 @ W2.T + b2)))
    rho_hat = a2.mean(axis=0)
    cost = (0.5 * np.sum((a3 - data) ** 2) / m + LAMBDA / 2 * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
            + BETA * np.sum(RHO * np.log(RHO / rho_hat) + (1 - RHO) * np.log((1 - RHO) / (1 - rho_hat))))
    delta3 = (a3 - data) * a3 * (1 - a3)
    sparsity = BETA * (-RHO / rho_hat + (1 - RHO) / (1 - rho_hat))
    delta2 = (delta3 @ W2 + sparsity) * a2 * (1 - a2)
    grad = np.concatenate([(delta2.T @ data / m + LAMBDA * W1).ravel(),
                           (delta3.T @ a2 / m + LAMBDA * W2).ravel(),
                           delta2.mean(axis=0), delta3.mean(axis=0)])
    return cost, grad


def matmul_floor(data, hidden, dtype):
    """A closure doing the five products of one evaluation into preallocated outputs."""
    rng = np.random.default_rng(0)
    x = data.astype(dtype)
    m, visible = x.shape
    W1 = rng.standard_normal((hidden, visible)).astype(dtype)
    W2 = rng.standard_normal((visible, hidden)).astype(dtype)
    a2, a3, d2 = (np.empty((m, hidden), dtype), np.empty((m, visible), dtype), np.empty((m, hidden), dtype))
    g1, g2 = np.empty((hidden, visible), dtype), np.empty((visible, hidden), dtype)

    def run():
        np.matmul(x, W1.T, out=a2)
        np.matmul(a2, W2.T, out=a3)
        np.matmul(a3.T, a2, out=g2)
        np.matmul(a3, W2, out=d2)
        np.matmul(d2.T, x, out=g1)
    return run


def blas_call(data, hidden):
    """One product of the first layer's size on BLAS's own threads (a closure)."""
    weights = np.random.default_rng(1).standard_normal((hidden, data.shape[1]))
    out = np.empty((data.shape[0], hidden))
    return lambda: np.matmul(data, weights.T, out=out)


def torch_peer(data, theta, hidden, dtype):
    """PyTorch autograd of the same cost, or None when torch is absent."""
    try:
        import torch
    except ImportError:
        return None
    torch_dtype = {"float64": torch.float64, "float32": torch.float32}[dtype]
    x = torch.tensor(data, dtype=torch_dtype)
    m, visible = data.shape
    t = torch.tensor(theta, dtype=torch_dtype, requires_grad=True)

    def run():
        t.grad = None
        W1 = t[:hidden * visible].view(hidden, visible)
        W2 = t[hidden * visible:2 * hidden * visible].view(visible, hidden)
        b1 = t[2 * hidden * visible:2 * hidden * visible + hidden]
        b2 = t[2 * hidden * visible + hidden:]
        a2 = torch.sigmoid(x @ W1.T + b1)
        a3 = torch.sigmoid(a2 @ W2.T + b2)
        rho_hat = a2.mean(0)
        cost = (0.5 * ((a3 - x) ** 2).sum() / m + LAMBDA / 2 * ((W1 ** 2).sum() + (W2 ** 2).sum())
                + BETA * (RHO * torch.log(RHO / rho_hat) + (1 - RHO) * torch.log((1 - RHO) / (1 - rho_hat))).sum())
        cost.backward()
        return float(cost.detach()), t.grad.numpy()
    return run


def best_times(contenders, repeats, settle=0.0, warm=0.0, preludes=None, cold=()):
    """Interleave the contenders ``repeats`` times; the best time of each in ms.

    Before each timed call: a pause of ``settle`` seconds, then untimed calls
    of the same contender for ``warm`` seconds (at least one), then its
    prelude if it has one.

    Parameters
    ----------
    contenders : dict of str -> callable
    repeats : int
    settle : float
        Seconds of pause, so that the worker threads of the previous
        contender's BLAS (or OpenMP) have stopped spinning.
    warm : float
        Seconds of untimed calls of the contender itself: the state between
        two evaluations of a training, which calls them back to back.
    preludes : dict of str -> callable, optional
        Untimed calls made right before a contender's timed call.
    cold : collection of str
        Contenders timed without the untimed calls (right after the pause).
    """
    preludes = preludes or {}
    best = {name: np.inf for name in contenders}
    for function in contenders.values():
        function()  # warm-up: allocations, thread pools
    for _ in range(repeats):
        for name, function in contenders.items():
            if settle > 0:
                time.sleep(settle)
            if name not in cold:
                until = time.perf_counter() + warm
                function()
                while time.perf_counter() < until:
                    function()
            if name in preludes:
                preludes[name]()
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: 1e3 * value for name, value in best.items()}


def optimizer_overhead(n_params, iterations=400):
    """Seconds per L-BFGS-B iteration spent in scipy itself, by BLAS thread setting.

    The function is a diagonal quadratic whose cost and gradient take
    microseconds, so nearly all the time is the optimiser's own work.
    """
    rng = np.random.default_rng(0)
    curvature = rng.uniform(1.0, 10.0, n_params)

    def quadratic(theta):
        gradient = curvature * theta
        return 0.5 * float(theta @ gradient), gradient

    timings = {}
    for threads in (1, None):
        result = LBFGS(max_iter=iterations, tol=0.0, gtol=0.0, optimizer_blas_threads=threads).minimize(
            quadratic, rng.standard_normal(n_params))
        timings["1 thread" if threads == 1 else "all threads"] = (result.wall_time / result.n_iter,
                                                                  result.n_iter)
    return timings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10000, help="patches (default 10000)")
    parser.add_argument("--visible", type=int, default=192)
    parser.add_argument("--hidden", type=int, default=75)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--settle", type=float, default=0.2,
                        help="seconds of pause before each timed call (default 0.2; 0: none)")
    parser.add_argument("--warm", type=float, default=0.1,
                        help="seconds of untimed calls of a contender before its timed call (default 0.1)")
    parser.add_argument("--train", action="store_true", help="also time a full default training")
    parser.add_argument("--optimizer", action="store_true",
                        help="only time scipy's L-BFGS-B on its own, by BLAS thread setting")
    parser.add_argument("--n-params", type=int, default=None,
                        help="parameters for --optimizer (default: the network's)")
    args = parser.parse_args(argv)
    if args.optimizer:
        n_params = args.n_params or 2 * args.visible * args.hidden + args.visible + args.hidden
        for label, (seconds, n_iter) in optimizer_overhead(n_params).items():
            print(f"scipy L-BFGS-B alone, {n_params} parameters, {label:11s}: "
                  f"{1e3 * seconds:.2f} ms per iteration ({n_iter} iterations)")
        return

    rng = np.random.default_rng(0)
    data = rng.uniform(0.1, 0.9, (args.n, args.visible))
    nets = {dtype: build_autoencoder(args.visible, args.hidden, dtype=dtype) for dtype in ("float64", "float32")}
    theta = nets["float64"].initialize(0).copy()
    objectives = {dtype: net.objective(data) for dtype, net in nets.items()}

    cost64, grad64 = objectives["float64"](theta)
    plain_cost, plain_grad = plain_numpy_loss(theta, data, args.hidden)
    assert np.allclose(cost64, plain_cost, rtol=1e-10) and np.allclose(grad64, plain_grad, rtol=1e-8, atol=1e-12)

    contenders = {
        "blas floor float64": matmul_floor(data, args.hidden, np.float64),
        "blas floor float32": matmul_floor(data, args.hidden, np.float32),
        "plain numpy float64": lambda: plain_numpy_loss(theta, data, args.hidden),
        "nnlite float64": lambda: objectives["float64"](theta),
        "nnlite float32": lambda: objectives["float32"](theta),
    }
    for dtype in ("float64", "float32"):
        peer = torch_peer(data, theta, args.hidden, dtype)
        if peer is not None:
            contenders[f"torch autograd {dtype}"] = peer
    # The same evaluation right after a product on BLAS's own threads (still spinning then).
    after_blas = "nnlite float64 after a BLAS call"
    contenders[after_blas] = contenders["nnlite float64"]
    # Both sides of the ratio without the untimed calls (the floor's first product wakes BLAS's threads).
    cold = {name + FIRST_CALL: contenders[name] for name in ("blas floor float64", "nnlite float64")}
    contenders.update(cold)
    preludes = {after_blas: blas_call(data, args.hidden)}
    load_before, ticks_before = load_average(), cpu_ticks()
    times = best_times(contenders, args.repeats, settle=args.settle, warm=args.warm, preludes=preludes,
                       cold=set(cold))

    print(f"cost+gradient, N={args.n}, V={args.visible}, H={args.hidden}, best of {args.repeats}, "
          f"{args.settle:g} s pause and {args.warm:g} s of untimed calls before each (threads: {nets['float64'].backend.threads()}; "
          f"load average {load_before} -> {load_average()}; CPU time stolen by the host: "
          f"{stolen_share(ticks_before, cpu_ticks())})")
    floor64, plain = times["blas floor float64"], times["plain numpy float64"]
    width = max(len(name) for name in times)
    print(f"{'contender':{width}s} {'ms':>8s} {'/blas f64':>10s} {'plain/this':>11s}")
    for name, ms in times.items():
        print(f"{name:{width}s} {ms:8.2f} {ms / floor64:10.2f} {plain / ms:11.2f}")
    print(f"nnlite float64 / its BLAS floor: {times['nnlite float64'] / floor64:.2f}x (aim <= 1.3)")
    print(f"the same for the first calls after the pause: "
          f"{times['nnlite float64' + FIRST_CALL] / times['blas floor float64' + FIRST_CALL]:.2f}x")
    print(f"nnlite float32 speed-up over plain float64: {plain / times['nnlite float32']:.2f}x (aim >= 2.5)")
    if "torch autograd float32" in times:
        print(f"torch float32 / nnlite float32: {times['torch autograd float32'] / times['nnlite float32']:.2f}x "
              f"(aim >= 1)")
    if args.train:
        default_training(rng)


def cpu_ticks():
    """``(stolen, total)`` CPU ticks of the whole machine from /proc/stat (None where there is none).

    On a virtual machine, "steal" counts the time the host ran something else
    while one of this machine's CPUs was ready to run.
    """
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def stolen_share(before, after):
    """The share of CPU time stolen by the host between two :func:`cpu_ticks` readings, as text."""
    if before is None or after is None or after[1] <= before[1]:
        return "?"
    return f"{100.0 * (after[0] - before[0]) / (after[1] - before[1]):.1f} %"


def load_average():
    """The 1-minute load average as text ('?' where the system has none)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "?"


def default_training(rng):
    """Time ``nnlite train``'s default run: 10,000 patches, H=75, 400 L-BFGS-B iterations, float64.

    Prints the wall time, the iterations and evaluations, and how much of the
    time the evaluations took (the rest is the optimiser's own work).
    """
    patches = rng.uniform(0.1, 0.9, (10000, 192))
    net = build_autoencoder(192, 75)  # SparseAutoencoder's defaults
    net.initialize(0)
    objective = net.objective(patches)
    spent = [0.0]

    def timed(theta):
        start = time.perf_counter()
        value = objective(theta)
        spent[0] += time.perf_counter() - start
        return value

    load_before, ticks_before = load_average(), cpu_ticks()
    result = LBFGS(max_iter=400, tol=1e-9).minimize(timed, net.theta.copy())
    print(f"full default training (10,000 x 192, H=75, 400 L-BFGS iterations, float64): "
          f"{result.wall_time:.1f} s, {result.n_iter} iterations, {result.n_evaluations} evaluations "
          f"taking {spent[0]:.1f} s ({1e3 * spent[0] / result.n_evaluations:.1f} ms each); "
          f"load average {load_before} -> {load_average()}; stolen by the host: "
          f"{stolen_share(ticks_before, cpu_ticks())}")


if __name__ == "__main__":
    main()
