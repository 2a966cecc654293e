"""Study 6 (bonus): ReLU against sigmoid hidden units -- convergence and accuracy.

Both activations train on the same patches (same seed) with the same
iteration budget, for several seeds.  The two costs differ in their
sparsity term (Bernoulli KL for sigmoid units, the generalised KL for ReLU
units: see :mod:`nnlite.losses.kl_sparsity`), so convergence is compared
on each model's own curve: the iterations and seconds it takes to cover
99 % of its own decrease ``J(0) - J(final)``; the report also says whether
ReLU's cost ever fell below the sigmoid's final cost and when.
"""

import numpy as np

from ..patch_model import PatchSettings
from .common import (evaluation_patches, new_figure, save_figure, seed_sequence, train_variant,
                     unit_statistics)
from .evaluation import accuracy_of
from .latex import Tex, format_number

__all__ = ["ACTIVATIONS", "run_relu", "figures_relu", "macros_relu", "tables_relu", "time_to_fraction"]

ACTIVATIONS = ("sigmoid", "relu")
#: Share of a run's own cost decrease that counts as converged.
FRACTION = 0.99


def time_to_fraction(costs, times, fraction=FRACTION):
    """First iteration and second at which ``cost`` has covered ``fraction`` of its decrease.

    Parameters
    ----------
    costs, times : sequence of float, same length
        Cost and seconds per iteration (index 0: the start).
    fraction : float in (0, 1]

    Returns
    -------
    (int, float)
    """
    costs = np.asarray(costs, dtype=np.float64)
    target = costs[0] - fraction * (costs[0] - costs[-1])
    index = int(np.argmax(costs <= target + 1e-12 * abs(target)))
    return index, float(np.asarray(times, dtype=np.float64)[index])


def run_relu(images, image_shape, base=None, n_seeds=3, evaluate=None, n_eval=2000, quick=False,
             random_state=0, progress=None):
    """Train sigmoid and ReLU models on the same data and budget, ``n_seeds`` times.

    Parameters
    ----------
    images : ndarray of shape (n_images, h*w*c)
    image_shape : tuple (h, w, c)
    base : PatchSettings, optional
        Everything but ``activation`` and ``random_state``; default SPEC's
        model (quick: 25 hidden units, 2,000 patches, 40 iterations).
    n_seeds : int, default=3
    evaluate : callable(model) -> float or None, optional
        The classification hook (:mod:`nnlite.studies.evaluation`).
    n_eval : int
    quick : bool
    random_state : int
    progress : callable(str), optional

    Returns
    -------
    dict
        ``runs``: one dict per activation and seed with ``loss_curve``,
        ``time_curve``, ``final_cost``, ``n_iter``, ``iterations_99``,
        ``seconds_99``, ``seconds_per_iteration``, ``reconstruction_error``,
        ``dead_fraction``, ``accuracy``; ``seeds``; ``base``.
    """
    if base is None:
        base = (PatchSettings(hidden=(25,), num_patches=2000, max_iter=40) if quick else PatchSettings())
    seeds = seed_sequence(random_state, n_seeds)
    held_out = evaluation_patches(images, image_shape, n_eval, base.patch_size, random_state + 1)
    runs = []
    for seed in seeds:
        for activation in ACTIVATIONS:
            model = train_variant(images, image_shape, base, progress, f"relu: {activation}, seed {seed}",
                                  activation=activation, random_state=seed)
            costs = [float(value) for value in model.encoder_.loss_curve_]
            times = [float(value) for value in model.encoder_.time_curve_]
            iterations, seconds = time_to_fraction(costs, times)
            run = {"activation": activation, "seed": seed, "loss_curve": costs, "time_curve": times,
                   "final_cost": costs[-1], "n_iter": len(costs) - 1, "iterations_99": iterations,
                   "seconds_99": seconds, "seconds_per_iteration": times[-1] / max(len(costs) - 1, 1),
                   "accuracy": accuracy_of(evaluate, model)}
            statistics = unit_statistics(model, held_out)
            run.update(reconstruction_error=statistics["reconstruction_error"],
                       dead_fraction=statistics["dead_fraction"])
            runs.append(run)
    return {"runs": runs, "seeds": seeds, "base": base.to_dict(), "fraction": FRACTION}


def _runs(result, activation):
    return [run for run in result["runs"] if run["activation"] == activation]


def figures_relu(result, folder):
    """Cost against iteration and against seconds, one line per run, log cost axis."""
    figure = new_figure(10.0, 3.6)
    colours = {"sigmoid": "tab:blue", "relu": "tab:red"}
    for column, (key, label) in enumerate((("iteration", "L-BFGS iteration"), ("time_curve", "seconds"))):
        axes = figure.add_subplot(1, 2, column + 1)
        for activation in ACTIVATIONS:
            for number, run in enumerate(_runs(result, activation)):
                x = np.arange(len(run["loss_curve"])) if key == "iteration" else run["time_curve"]
                axes.plot(x, run["loss_curve"], color=colours[activation], alpha=0.8, linewidth=1.2,
                          label=activation if number == 0 else None)
        axes.set_yscale("log")
        axes.set_xlabel(label)
        axes.set_ylabel("cost J")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
    return save_figure(figure, folder, "relu_convergence")


def _mean(values):
    values = np.array([np.nan if value is None else value for value in values], dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def tables_relu(result):
    """Mean over seeds per activation."""
    header = ["activation", "final cost", "iter. to 99\\%", "s to 99\\%", "s / iter.", "reconstruction",
              "dead", "accuracy"]
    header = [Tex(cell) for cell in header]
    rows = []
    for activation in ACTIVATIONS:
        runs = _runs(result, activation)
        accuracy = _mean([run["accuracy"] for run in runs])
        rows.append([activation, Tex(format_number(_mean([r["final_cost"] for r in runs]))),
                     f"{_mean([r['iterations_99'] for r in runs]):.0f}",
                     f"{_mean([r['seconds_99'] for r in runs]):.2f}",
                     f"{1000 * _mean([r['seconds_per_iteration'] for r in runs]):.1f} ms",
                     Tex(format_number(_mean([r["reconstruction_error"] for r in runs]))),
                     Tex(f"{100 * _mean([r['dead_fraction'] for r in runs]):.0f}\\%"),
                     Tex("--") if not np.isfinite(accuracy) else Tex(f"{100 * accuracy:.1f}\\%")])
    return {"ReluTable": (header, rows)}


def _reach(relu_run, sigmoid_final):
    """Seconds at which a ReLU run first reached ``sigmoid_final``, or None."""
    costs = np.asarray(relu_run["loss_curve"])
    hits = np.flatnonzero(costs <= sigmoid_final)
    return None if hits.size == 0 else float(relu_run["time_curve"][hits[0]])


def macros_relu(result):
    """Numbers and the generated conclusion ("does ReLU converge faster here?")."""
    sigmoid, relu = _runs(result, "sigmoid"), _runs(result, "relu")
    sig_seconds = _mean([r["seconds_99"] for r in sigmoid])
    relu_seconds = _mean([r["seconds_99"] for r in relu])
    sig_iter = _mean([r["iterations_99"] for r in sigmoid])
    relu_iter = _mean([r["iterations_99"] for r in relu])
    faster = relu_seconds < sig_seconds and relu_iter <= sig_iter
    sentence = (f"ReLU covered 99\\% of its cost decrease in {relu_iter:.0f} iterations "
                f"({relu_seconds:.2f}\\,s) against the sigmoid's {sig_iter:.0f} ({sig_seconds:.2f}\\,s), "
                f"mean over {len(result['seeds'])} seeds: "
                + ("ReLU converged faster here." if faster else "ReLU did not converge faster here."))
    reached = [_reach(r_run, s_run["final_cost"]) for r_run, s_run in zip(relu, sigmoid)]
    if all(value is not None for value in reached):
        total = _mean([s_run["time_curve"][-1] for s_run in sigmoid])
        reach_sentence = (f"ReLU reached the sigmoid's final cost in {100 * _mean(reached) / total:.0f}\\% "
                          "of the sigmoid's training time.")
    else:
        reach_sentence = (f"ReLU's cost stayed above the sigmoid's final cost in "
                          f"{sum(value is None for value in reached)} of {len(reached)} seeds "
                          "(the two costs differ in their sparsity term).")
    return {"ReluSeeds": str(len(result["seeds"])), "ReluIterations": str(result["base"]["max_iter"]),
            "ReluPatches": f"{int(result['base']['num_patches']):,}",
            "ReluSentence": Tex(sentence), "ReluReachSentence": Tex(reach_sentence),
            "ReluAccuracySentence": Tex(accuracy_sentence(sigmoid, relu))}


def accuracy_sentence(sigmoid, relu):
    """The accuracy comparison (mean and sd over seeds), or why there is none (LaTeX text)."""
    values = {name: np.array([run["accuracy"] for run in runs if run.get("accuracy") is not None], dtype=np.float64)
              for name, runs in (("sigmoid", sigmoid), ("ReLU", relu))}
    if any(found.size == 0 for found in values.values()):
        return "No classification accuracy was measured in this run (the data carry no labels)."
    means = {name: float(found.mean()) for name, found in values.items()}
    sds = {name: float(found.std(ddof=1)) if found.size > 1 else 0.0 for name, found in values.items()}
    gap = means["ReLU"] - means["sigmoid"]
    verdict = ("the difference is within the spread over seeds" if abs(gap) <= sds["ReLU"] + sds["sigmoid"]
               else "ReLU features are better" if gap > 0 else "sigmoid features are better")
    return (f"Validation accuracy of the classifier on the features: sigmoid "
            f"${100 * means['sigmoid']:.1f} \\pm {100 * sds['sigmoid']:.1f}$\\%, ReLU "
            f"${100 * means['ReLU']:.1f} \\pm {100 * sds['ReLU']:.1f}$\\% (mean $\\pm$ sd over seeds): {verdict}.")
