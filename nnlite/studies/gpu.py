"""Study 7 (bonus): GPU speed-up, from the measured benchmark stored in the repository.

GPU timings cannot be redone on the machine that builds the report, so this
study reads the JSON that ``benchmarks/bench_backends.py`` wrote on a GPU
machine (``benchmarks/results/bench_backends_gpu.json``: the machine, the
seconds per cost-and-gradient evaluation for every backend, dtype, number of
patches and hidden size, and whole trainings) and keeps what the report shows.
"""

import json
import os

import numpy as np

from .common import checkout_file, new_figure, save_figure
from .latex import Tex

__all__ = ["default_benchmark", "run_gpu", "figures_gpu", "tables_gpu", "macros_gpu"]


def default_benchmark():
    """``benchmarks/results/bench_backends_gpu.json`` of the source checkout (:func:`checkout_file`)."""
    return checkout_file("benchmarks", "results", "bench_backends_gpu.json")


def run_gpu(images=None, image_shape=None, benchmark=None, quick=False, random_state=0,
            progress=None):
    """Collect the stored GPU measurements (``images`` and the rest are not used).

    Parameters
    ----------
    images, image_shape, quick, random_state
        Accepted for a uniform study signature; nothing is trained.
    benchmark : str, optional
        The benchmark JSON; default :func:`default_benchmark`.
    progress : callable(str), optional

    Returns
    -------
    dict
        ``source`` (path, relative to the checkout when inside it), ``machine``, ``notes``, ``evaluations`` (list of
        dicts: ``backend``, ``dtype``, ``n_samples``, ``hidden``, ``seconds``),
        ``training`` (list of dicts).

    Raises
    ------
    FileNotFoundError
        When the benchmark file is missing (the message names it).
    """
    benchmark = benchmark or default_benchmark()
    if not os.path.exists(benchmark):
        raise FileNotFoundError(f"GPU benchmark results {benchmark!r} not found: run "
                                f"benchmarks/gpu/run_gpu.sh on a GPU machine first")
    if progress:
        progress(f"gpu: reading {benchmark}")
    with open(benchmark, encoding="utf-8") as handle:
        stored = json.load(handle)
    keys = ("backend", "dtype", "n_samples", "hidden", "seconds")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(benchmark))))
    inside = os.path.abspath(benchmark).startswith(root + os.sep)
    return {"source": os.path.relpath(benchmark, root) if inside else os.path.abspath(benchmark),
            "machine": stored.get("machine", {}), "notes": list(stored.get("notes", [])),
            "evaluations": [{key: entry[key] for key in keys} for entry in stored["evaluations"]],
            "training": list(stored.get("training", []))}


def _series(result):
    """(backend, dtype) -> {hidden: (n_samples array, seconds array)}."""
    series = {}
    for entry in result["evaluations"]:
        key = (entry["backend"], entry["dtype"])
        points = series.setdefault(key, {}).setdefault(entry["hidden"], [])
        points.append((entry["n_samples"], entry["seconds"]))
    return {key: {hidden: tuple(np.array(v) for v in zip(*sorted(points)))
                  for hidden, points in by_hidden.items()} for key, by_hidden in series.items()}


def figures_gpu(result, folder):
    """Seconds per cost-and-gradient evaluation against patches, one panel per hidden size (log-log)."""
    series = _series(result)
    hiddens = sorted({hidden for by_hidden in series.values() for hidden in by_hidden})
    figure = new_figure(4.2 * len(hiddens), 3.4)
    for column, hidden in enumerate(hiddens):
        axes = figure.add_subplot(1, len(hiddens), column + 1)
        for (backend, dtype), by_hidden in sorted(series.items()):
            if hidden in by_hidden:
                sizes, seconds = by_hidden[hidden]
                axes.plot(sizes, seconds, "o-", label=f"{backend} {dtype}")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("patches")
        axes.set_ylabel("seconds per cost + gradient")
        axes.set_title(f"192-{hidden}-192")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7)
    return save_figure(figure, folder, "gpu_speed")


def tables_gpu(result):
    """Seconds per evaluation and speed-up over numpy float64, per size."""
    header = ["backend", "dtype", "patches", "hidden", "ms / evaluation", "speed-up"]
    reference = {(e["n_samples"], e["hidden"]): e["seconds"] for e in result["evaluations"]
                 if e["backend"] == "numpy" and e["dtype"] == "float64"}
    rows = []
    for e in sorted(result["evaluations"], key=lambda e: (e["hidden"], e["n_samples"], e["backend"])):
        base = reference.get((e["n_samples"], e["hidden"]))
        rows.append([e["backend"], e["dtype"], f"{e['n_samples']:,}", str(e["hidden"]),
                     f"{1000 * e['seconds']:.2f}",
                     Tex("--") if base is None else Tex(f"{base / e['seconds']:.1f}$\\times$")])
    return {"GpuTable": (header, rows)}


def macros_gpu(result):
    """Machine, and the largest speed-up measured."""
    machine = result["machine"]
    gpu = machine.get("gpu") or {}
    reference = {(e["n_samples"], e["hidden"]): e["seconds"] for e in result["evaluations"]
                 if e["backend"] == "numpy" and e["dtype"] == "float64"}
    speedups = [(reference[(e["n_samples"], e["hidden"])] / e["seconds"], e)
                for e in result["evaluations"]
                if e["backend"] != "numpy" and (e["n_samples"], e["hidden"]) in reference]
    macros = {"GpuDevice": gpu.get("name", "no GPU recorded"), "GpuCpu": machine.get("cpu", "unknown CPU"),
              "GpuDate": machine.get("date", "date not recorded"), "GpuSource": result["source"],
              "GpuNotes": "; ".join(result["notes"]) or "none"}
    if speedups:
        best, entry = max(speedups, key=lambda pair: pair[0])
        macros["GpuSentence"] = Tex(
            f"The largest speed-up per evaluation, {best:.0f}$\\times$ over numpy float64, was "
            f"{entry['backend']} {entry['dtype']} at {entry['n_samples']:,} patches and "
            f"{entry['hidden']} hidden units.")
    else:
        macros["GpuSentence"] = "No GPU backend was measured."
    return macros
