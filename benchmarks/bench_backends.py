"""Time one cost+gradient evaluation of the sparse autoencoder on every available backend.

For each N and H (V = 192, SPEC's penalties) it times ``Network.objective(X)(theta)``
(theta in, cost and gradient out, data already on the backend) for numpy
float64/float32 and, where they run, CuPy float64/float32 and CUDAMat; speed-ups are against
numpy float64 in the same run.  On a GPU it also times the five GEMMs of one
evaluation alone (``X W1^T``, ``A1 W2^T``, ``D2^T A1``, ``D2 W2``, ``D1^T X``: the
floor) and a full L-BFGS training with CuPy.  ``--plot`` draws time per evaluation
against N.  Data: 8x8x3 patches of scikit-learn's bundled photographs, per channel
in [0.1, 0.9].  A stop by SIGTERM or Ctrl-C still writes the JSON measured so far.

Usage::

    python benchmarks/bench_backends.py                      # N in {1e4, 1e5}, H in {75, 400}
    python benchmarks/bench_backends.py --quick              # small sizes, seconds (smoke test)
    python benchmarks/bench_backends.py --json out.json --plot out.png
"""

import argparse
import gc
import importlib
import json
import os
import signal
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
for folder in (os.path.dirname(HERE), os.path.join(HERE, "gpu")):  # a checkout, not installed
    if folder not in sys.path:
        sys.path.insert(0, folder)

from machine import limit_cpu_threads, machine_description  # noqa: E402  (benchmarks/gpu)
from nnlite.autoencoder import build_autoencoder  # noqa: E402
from nnlite.backend.cupy_backend import cupy_unavailable_reason  # noqa: E402
from nnlite.optim.lbfgs import LBFGS  # noqa: E402

VISIBLE = 192
REFERENCE = ("numpy", "float64")


# ------------------------------------------------------------------- the data
def sample_patches(n_samples, seed=0):
    """``n_samples`` 8x8x3 patches (rows, SPEC layout) normalised per channel to [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    try:
        from sklearn.datasets import load_sample_images

        images = np.stack(load_sample_images().images)
    except Exception:  # pragma: no cover - scikit-learn ships the photos
        return rng.uniform(0.1, 0.9, (n_samples, VISIBLE))
    which = rng.integers(0, images.shape[0], n_samples)
    top = rng.integers(0, images.shape[1] - 7, n_samples)
    left = rng.integers(0, images.shape[2] - 7, n_samples)
    offsets = np.arange(8)
    patches = images[which[:, None, None], top[:, None, None] + offsets[None, :, None],
                     left[:, None, None] + offsets[None, None, :]]
    pixels = patches.reshape(n_samples, 64, 3).astype(np.float64)
    mean, spread = pixels.mean(axis=(0, 1)), 3.0 * pixels.std(axis=(0, 1))
    pixels = np.clip(pixels, mean - spread, mean + spread)
    return ((pixels - (mean - spread)) / (2.0 * spread) * 0.8 + 0.1).reshape(n_samples, VISIBLE)


# ----------------------------------------------------------------- the timing
def release_memory():
    """Free what the previous configuration left (host and, where used, GPU pools)."""
    gc.collect()
    if "cupy" in sys.modules:
        sys.modules["cupy"].get_default_memory_pool().free_all_blocks()


def repeat(function, min_repeats, min_time, max_repeats=200):
    """Call ``function`` (after one warm-up call) until both limits are met; seconds per call."""
    function()
    times, start = [], time.perf_counter()
    while len(times) < min_repeats or (time.perf_counter() - start < min_time
                                       and len(times) < max_repeats):
        begin = time.perf_counter()
        function()
        times.append(time.perf_counter() - begin)
    return times


def time_evaluation(label, data, hidden, args):
    """Seconds per cost+gradient evaluation for one backend configuration."""
    backend, dtype = label
    net = build_autoencoder(VISIBLE, hidden, backend=backend, dtype=dtype)
    net.initialize(0)
    fun = net.objective(data)
    return repeat(lambda: fun(net.theta), args.repeats, args.min_time)


def time_gemms(n_samples, hidden, dtype, args):
    """Seconds for the five GEMMs of one evaluation alone on the GPU (CuPy)."""
    import cupy

    cupy.random.seed(0)

    def matrix(*shape):
        return cupy.random.rand(*shape).astype(dtype)

    x, w1, w2 = matrix(n_samples, VISIBLE), matrix(hidden, VISIBLE), matrix(VISIBLE, hidden)
    a1, a2, d2, d1 = (matrix(n_samples, hidden), matrix(n_samples, VISIBLE),
                      matrix(n_samples, VISIBLE), matrix(n_samples, hidden))
    g1, g2 = matrix(hidden, VISIBLE), matrix(VISIBLE, hidden)
    device = cupy.cuda.Device()

    def gemms():
        cupy.dot(x, w1.T, out=a1)
        cupy.dot(a1, w2.T, out=a2)
        cupy.dot(d2.T, a1, out=g2)
        cupy.dot(d2, w2, out=d1)
        cupy.dot(d1.T, x, out=g1)
        device.synchronize()

    return repeat(gemms, max(args.repeats, 10), args.min_time)


def train(data, hidden, dtype, max_iter):
    """A full L-BFGS training with CuPy; returns its figures."""
    net = build_autoencoder(VISIBLE, hidden, backend="cupy", dtype=dtype)
    net.initialize(0)
    start = time.perf_counter()
    fun = net.objective(data)
    copy_time = time.perf_counter() - start
    fun(net.theta)  # compile the kernels before the clock starts
    result = LBFGS(max_iter=max_iter, tol=0.0, gtol=0.0).minimize(fun, net.theta)
    figures = {"backend": "cupy", "dtype": dtype, "n_samples": data.shape[0], "hidden": hidden,
               "max_iter": max_iter, "n_iter": result.n_iter,
               "n_evaluations": result.n_evaluations, "wall_time": result.wall_time,
               "seconds_per_evaluation": result.wall_time / max(result.n_evaluations, 1),
               "data_copy_seconds": copy_time, "cost": result.cost, "message": result.message}
    return figures


# ---------------------------------------------------------------- the report
def configurations(args):
    """(backend, dtype) pairs that can run here, and notes on those that cannot."""
    configs, notes = [("numpy", "float64"), ("numpy", "float32")], []
    gpu_reason = cupy_unavailable_reason()
    if gpu_reason is None:
        configs += [("cupy", "float64"), ("cupy", "float32")]
    else:
        notes.append(f"cupy skipped: {gpu_reason}")
    try:
        importlib.import_module("cudamat")  # only to see whether it is there
        configs.append(("cudamat", "float32"))
    except (ImportError, OSError) as error:
        notes.append(f"cudamat skipped: CUDAMat is not installed ({error})")
    wanted = set(args.backends.split(",")) if args.backends else None
    if wanted:
        configs = [c for c in configs if c[0] in wanted or c == REFERENCE]
    return configs, notes, gpu_reason is None


def print_table(rows, stream=sys.stdout):
    """The evaluation timings as a text table."""
    header = f"{'N':>8} {'H':>5}  {'backend':<10} {'dtype':<8} {'ms/eval':>10} {'vs numpy f64':>13}"
    print(header, file=stream)
    print("-" * len(header), file=stream)
    for row in rows:
        print(f"{row['n_samples']:>8} {row['hidden']:>5}  {row['backend']:<10} {row['dtype']:<8} "
              f"{1e3 * row['seconds']:>10.2f} {row['speedup_vs_numpy_float64']:>12.2f}x", file=stream)


def plot(series, hidden, machine, path):
    """Time per evaluation and speed-up against N, one line per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    reference = dict(series.get("numpy float64", []))
    for label, points in series.items():
        sizes, seconds = zip(*points)
        style = "--" if label.startswith("numpy") else "-"
        left.plot(sizes, np.array(seconds) * 1e3, style, marker="o", label=label)
        ratios = [reference[n] / s for n, s in points if n in reference]
        right.plot([n for n, _ in points if n in reference], ratios, style, marker="o", label=label)
    for axis, title in ((left, "time per cost+gradient evaluation (ms)"),
                        (right, "speed-up over numpy float64 (same run)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("training patches N")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    gpu = machine["gpu"]["name"] if machine.get("gpu") else "no GPU"
    figure.suptitle(f"sparse autoencoder 192-{hidden}-192; CPU: {machine['cpu']} "
                    f"({machine['usable_cores']} cores); GPU: {gpu}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test in seconds")
    parser.add_argument("--sizes", type=float, nargs="+", help="N values (default 1e4 1e5)")
    parser.add_argument("--hidden", type=int, nargs="+", help="H values (default 75 400)")
    parser.add_argument("--plot-sizes", type=float, nargs="+",
                        help="N values of the plot (default 1e3 3e3 1e4 3e4 1e5)")
    parser.add_argument("--backends", help="comma-separated subset, e.g. numpy,cupy")
    parser.add_argument("--repeats", type=int, default=3, help="minimum timed calls per point")
    parser.add_argument("--min-time", type=float, default=1.0, help="minimum seconds per point")
    parser.add_argument("--train-iter", type=int, default=400,
                        help="L-BFGS iterations of the GPU training run (0: skip it)")
    parser.add_argument("--threads", type=int,
                        help="CPU threads for numpy's BLAS and element-wise passes (on a loaded "
                        "machine, 1 gives stable timings)")
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--plot", help="write the time-vs-N plot to this PNG file")
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = [int(n) for n in (args.sizes or ([1000, 3000] if quick else [1e4, 1e5]))]
    args.hidden = args.hidden or ([25, 75] if quick else [75, 400])
    args.plot_sizes = [int(n) for n in (args.plot_sizes or
                                        ([300, 1000, 3000] if quick else [1e3, 3e3, 1e4, 3e4, 1e5]))]
    if quick:
        args.min_time, args.train_iter = min(args.min_time, 0.1), min(args.train_iter, 20)
    return args


class Run:
    """One benchmark run; what it measured is kept for the JSON even if it stops early."""

    def __init__(self, args, configs, notes, machine):
        self.args, self.configs, self.notes, self.machine = args, configs, notes, machine
        self.data, self.timings, self.failed = None, {}, set()
        self.rows, self.floors, self.training, self.series = [], [], [], {}

    def section(self, method):
        """Run one section; an error is reported in the notes and the run goes on."""
        try:
            method()
        except Exception as error:  # noqa: BLE001 - keep the other sections' results
            self.notes.append(f"{method.__name__} failed: {type(error).__name__}: {error}")
            print(f"\n{self.notes[-1]}", flush=True)
            release_memory()

    def measure(self, config, n_samples, hidden):
        """Median seconds per evaluation (cached); None once the configuration has failed."""
        key = (config, n_samples, hidden)
        if config in self.failed:
            return None
        if key not in self.timings:
            if self.data is None:
                self.data = sample_patches(max(self.args.sizes + self.args.plot_sizes))
            try:
                self.timings[key] = time_evaluation(config, self.data[:n_samples], hidden, self.args)
            except Exception as error:  # noqa: BLE001 - report, skip this configuration
                self.failed.add(config)
                self.notes.append(f"{config[0]} {config[1]} failed at N={n_samples} H={hidden}: "
                                  f"{type(error).__name__}: {error}")
                print(f"  {config[0]:>10} {config[1]:<8} FAILED: {error!r}", flush=True)
                return None
            finally:
                release_memory()  # the network of this configuration is gone
            print(f"  {config[0]:>10} {config[1]:<8} N={n_samples:<7} H={hidden:<4} "
                  f"{1e3 * statistics.median(self.timings[key]):9.2f} ms  "
                  f"({len(self.timings[key])} calls)", flush=True)
        return statistics.median(self.timings[key])

    def grid(self):
        for n_samples in self.args.sizes:
            for hidden in self.args.hidden:
                reference = self.measure(REFERENCE, n_samples, hidden)
                for config in self.configs:
                    seconds = self.measure(config, n_samples, hidden)
                    if seconds is not None:
                        self.rows.append({
                            "backend": config[0], "dtype": config[1], "n_samples": n_samples,
                            "hidden": hidden, "visible": VISIBLE, "seconds": seconds,
                            "seconds_all": self.timings[(config, n_samples, hidden)],
                            "speedup_vs_numpy_float64": reference / seconds})
        print()
        print_table(self.rows)

    def gemm_floor(self):
        print("\nGPU floor: the 5 matrix products of one evaluation alone")
        for n_samples in self.args.sizes:
            for hidden in self.args.hidden:
                for dtype in ("float64", "float32"):
                    gemm = statistics.median(time_gemms(n_samples, hidden, dtype, self.args))
                    release_memory()
                    entry = {"dtype": dtype, "n_samples": n_samples, "hidden": hidden,
                             "gemm_seconds": gemm}
                    text = f"  N={n_samples:<7} H={hidden:<4} {dtype:<8} GEMMs {1e3 * gemm:8.2f} ms"
                    for label in ("cupy",):
                        evaluation = self.measure((label, dtype), n_samples, hidden)
                        if evaluation is not None:
                            entry[f"{label}_seconds"] = evaluation
                            entry[f"{label}_over_gemm"] = evaluation / gemm
                            text += f"; {label} {evaluation / gemm:.2f}x"
                    self.floors.append(entry)
                    print(text + " the GEMM time", flush=True)

    def train(self):
        n_samples, hidden = max(self.args.sizes), max(self.args.hidden)
        print(f"\nL-BFGS with CuPy, N={n_samples}, H={hidden}, {self.args.train_iter} iterations")
        for dtype in ("float32", "float64"):
            figures = train(self.data[:n_samples], hidden, dtype, self.args.train_iter)
            release_memory()
            self.training.append(figures)
            print(f"  {dtype}: {figures['wall_time']:.2f} s for {figures['n_iter']} iterations, "
                  f"{figures['n_evaluations']} evaluations "
                  f"({1e3 * figures['seconds_per_evaluation']:.2f} ms each), "
                  f"final cost {figures['cost']:.5f}", flush=True)

    def plot(self):
        hidden = max(self.args.hidden)
        for config in self.configs:
            points = [(n, self.measure(config, n, hidden)) for n in sorted(self.args.plot_sizes)]
            if all(seconds is not None for _, seconds in points):
                self.series[f"{config[0]} {config[1]}"] = points
        plot(self.series, hidden, self.machine, self.args.plot)
        print(f"\nplot written to {self.args.plot}")

    def write_json(self, path):
        args = self.args
        settings = {"visible": VISIBLE, "sizes": args.sizes, "hidden": args.hidden,
                    "repeats": args.repeats, "min_time": args.min_time, "statistic": "median",
                    "cpu_threads_limit": args.threads,
                    "data": "8x8x3 patches of scikit-learn's sample images, per channel [0.1, 0.9]"}
        result = {"machine": self.machine, "notes": self.notes, "settings": settings,
                  "evaluations": self.rows, "gemm_floor": self.floors, "training": self.training,
                  "plot": {"hidden": max(args.hidden), "series": self.series}}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=1)
        print(f"results written to {path}", flush=True)


def _stop(signum, frame):
    """SIGTERM (from ``timeout``) stops the run like Ctrl-C, so what was measured is written."""
    raise KeyboardInterrupt


def main(argv=None):
    signal.signal(signal.SIGTERM, _stop)
    args = parse_args(argv)
    configs, notes, has_gpu = configurations(args)
    if args.threads:
        notes.append(limit_cpu_threads(args.threads))
    run = Run(args, configs, notes, machine_description())
    print(f"machine: {json.dumps(run.machine)}", flush=True)
    for note in notes:
        print(f"note: {note}", flush=True)
    sections = [run.grid] + ([run.gemm_floor] if has_gpu else [])
    sections += [run.train] if has_gpu and args.train_iter > 0 else []
    sections += [run.plot] if args.plot else []
    return_code = 0
    try:
        for section in sections:
            run.section(section)
    except KeyboardInterrupt:
        notes.append("stopped early (interrupted or out of time); later sections are missing")
        print(f"\n{notes[-1]}", flush=True)
        return_code = 124
    finally:
        if args.json:
            run.write_json(args.json)
    return return_code


if __name__ == "__main__":
    sys.exit(main())
