"""Study 5 (bonus): how many training patches the autoencoder needs.

The default model is trained on 10^2 .. 10^5 patches, with several seeds per
size (patches and initial weights change with the seed); each model's
training time, held-out reconstruction error and, through the
classification hook (:mod:`nnlite.studies.evaluation`), the accuracy of a
classifier on its features are kept.  Means and standard deviations over
seeds give the error bars of a log-axis plot.
"""

import numpy as np

from ..patch_model import PatchSettings
from .common import (evaluation_patches, new_figure, save_figure, seed_sequence, train_variant,
                     unit_statistics)
from .evaluation import accuracy_of
from .latex import Tex, format_number

__all__ = ["SIZES", "QUICK_SIZES", "run_sample_size", "figures_sample_size", "macros_sample_size",
           "tables_sample_size"]

SIZES = [100, 1000, 10000, 100000]
QUICK_SIZES = [100, 300, 1000]


def run_sample_size(images, image_shape, sizes=None, n_seeds=3, base=None, evaluate=None, n_eval=2000,
                    quick=False, random_state=0, progress=None):
    """Train the default model on each number of patches, ``n_seeds`` times.

    Parameters
    ----------
    images : ndarray of shape (n_images, h*w*c)
        Unlabeled images to draw patches from.
    image_shape : tuple (h, w, c)
    sizes : list of int, optional
        Numbers of patches; default :data:`SIZES` (quick: :data:`QUICK_SIZES`).
    n_seeds : int, default=3
    base : PatchSettings, optional
        Everything but ``num_patches`` and ``random_state``; default SPEC's
        model in float32 (the 10^5-patch trainings dominate the report's
        hour; float32 halves them and treats every size alike), quick: 25
        hidden units, 30 iterations.
    evaluate : callable(model) -> float or None, optional
        Accuracy of a classifier on the model's features (the hook).
    n_eval : int
        Held-out patches for the reconstruction error.
    quick : bool
    random_state : int
    progress : callable(str), optional

    Returns
    -------
    dict
        ``sizes``, ``seeds``, ``runs`` (one dict per size and seed:
        ``num_patches``, ``seed``, ``training_time``, ``reconstruction_error``,
        ``final_cost``, ``accuracy`` or None), ``base`` (settings dict).
    """
    sizes = [int(size) for size in (sizes or (QUICK_SIZES if quick else SIZES))]
    if base is None:
        base = PatchSettings(hidden=(25,), max_iter=30) if quick else PatchSettings(dtype="float32")
    seeds = seed_sequence(random_state, n_seeds)
    held_out = evaluation_patches(images, image_shape, n_eval, base.patch_size, random_state + 1)
    runs = []
    for size in sizes:
        for seed in seeds:
            model = train_variant(images, image_shape, base, progress,
                                  f"sample_size: {size} patches, seed {seed}", num_patches=size,
                                  random_state=seed)
            runs.append({"num_patches": size, "seed": seed, "training_time": float(model.training_time_),
                         "final_cost": float(model.summary_["final_cost"]),
                         "reconstruction_error": unit_statistics(model, held_out)["reconstruction_error"],
                         "accuracy": accuracy_of(evaluate, model)})
    return {"sizes": sizes, "seeds": seeds, "runs": runs, "base": base.to_dict(), "n_eval": int(n_eval)}


def summarize(result, key):
    """Mean and standard deviation of ``key`` per size: (sizes, means, stds), NaN where missing."""
    sizes = result["sizes"]
    means, stds = [], []
    for size in sizes:
        values = np.array([np.nan if run[key] is None else run[key]
                           for run in result["runs"] if run["num_patches"] == size], dtype=np.float64)
        values = values[np.isfinite(values)]
        means.append(float(values.mean()) if values.size else float("nan"))
        stds.append(float(values.std(ddof=1)) if values.size > 1 else float("nan"))
    return sizes, means, stds


def figures_sample_size(result, folder):
    """Accuracy (when measured), reconstruction error and training time against patches, log axes."""
    panels = [("training_time", "training time (s)"), ("reconstruction_error", "held-out reconstruction")]
    if any(run["accuracy"] is not None for run in result["runs"]):
        panels.insert(0, ("accuracy", "validation accuracy"))
    figure = new_figure(3.6 * len(panels), 3.2)
    for column, (key, label) in enumerate(panels):
        sizes, means, stds = summarize(result, key)
        axes = figure.add_subplot(1, len(panels), column + 1)
        axes.errorbar(sizes, means, yerr=np.nan_to_num(stds), fmt="o-", capsize=3)
        axes.set_xscale("log")
        if key != "accuracy":
            axes.set_yscale("log")
        axes.set_xlabel("training patches")
        axes.set_ylabel(label)
        axes.grid(True, which="both", alpha=0.3)
    return save_figure(figure, folder, "sample_size")


def tables_sample_size(result):
    """Per size: mean +- sd over seeds of accuracy, reconstruction error and time."""
    header = ["patches", "accuracy", "reconstruction", "seconds"]
    columns = {key: summarize(result, key) for key in ("accuracy", "reconstruction_error", "training_time")}
    rows = []
    for index, size in enumerate(result["sizes"]):
        cells = [f"{size:,}"]
        for key, scale in (("accuracy", 100.0), ("reconstruction_error", None), ("training_time", 1.0)):
            mean, std = columns[key][1][index], columns[key][2][index]
            if not np.isfinite(mean):
                cells.append(Tex("--"))
            elif scale is None:
                cells.append(Tex(f"{format_number(mean)} $\\pm$ {format_number(std)}"))
            else:
                cells.append(Tex(f"${scale * mean:.1f} \\pm {scale * std:.1f}$"))
        rows.append(cells)
    return {"SampleSizeTable": (header, rows)}


def macros_sample_size(result):
    """Numbers and the generated conclusion: name -> text."""
    sizes, accuracy, spread = summarize(result, "accuracy")
    _, seconds, _ = summarize(result, "training_time")
    macros = {"SampleSizeSeeds": str(len(result["seeds"])),
              "SampleSizeSmallest": f"{sizes[0]:,}", "SampleSizeLargest": f"{sizes[-1]:,}",
              "SampleSizeTimeRatio": f"{seconds[-1] / seconds[0]:.0f}",
              "SampleSizeIterations": str(result["base"]["max_iter"]),
              "SampleSizeHidden": "-".join(str(size) for size in result["base"]["hidden"]),
              "SampleSizeDtype": result["base"]["dtype"]}
    if np.all(np.isfinite(accuracy)):
        best = int(np.argmax(accuracy))
        macros["SampleSizeSentence"] = (
            f"Accuracy is highest with {sizes[best]:,} patches ({100 * accuracy[best]:.1f}\\%) "
            f"against {100 * accuracy[0]:.1f}\\% with {sizes[0]:,}"
            + (": more patches did not help." if best == 0 else
               ": more patches helped (by more than one standard deviation over seeds at both sizes)."
               if accuracy[best] - accuracy[0] > np.nan_to_num(spread[best]) + np.nan_to_num(spread[0]) else
               ": the gain is within one standard deviation over seeds."))
    else:
        macros["SampleSizeSentence"] = ("No classification accuracy was measured in this run "
                                        "(the data carry no labels or the classifier was not run).")
    macros["SampleSizeSentence"] = Tex(macros["SampleSizeSentence"])
    return macros
