"""Study 2: how the filter picture degrades as each hyper-parameter leaves its default.

From the default model (SPEC's), one hyper-parameter at a time moves over a
range on both sides: ``rho``, ``lambda``, ``beta``, the hidden size, the
number of patches, the L-BFGS iterations and the normalisation.  Every
model keeps its filter grid and numbers measured on held-out patches that
track what the eye sees (reconstruction error, mean activation against
``rho``, fractions of dead and saturated units).  The default model is
trained once and shared by every sweep.
"""

from ..patch_model import PatchModel, PatchSettings
from .common import (DEAD, SATURATED, decode_png, evaluation_patches, filter_picture, new_figure,
                     save_figure, unit_statistics)
from .latex import Tex, format_number

__all__ = ["SWEEPS", "QUICK_SWEEPS", "run_hyperparameters", "figures_hyperparameters",
           "macros_hyperparameters", "tables_hyperparameters"]

#: Values tried per hyper-parameter (full mode); the default is among them.  About 17 default-model
#: trainings in all (the costly ends: 150 hidden units, 20,000 patches, 600 iterations), in float32.
SWEEPS = {
    "sparsity_param": [0.001, 0.01, 0.1, 0.3],
    "lambda_": [0.0, 1e-4, 1e-3, 1e-2],
    "beta": [0.0, 0.3, 3.0, 30.0],
    "hidden": [10, 25, 75, 150],
    "num_patches": [1000, 3000, 10000, 20000],
    "max_iter": [10, 50, 400, 600],
    "normalization": ["spec", "mean-removed", "zca"],
}
#: Quick mode: one value on each side of the default.
QUICK_SWEEPS = {
    "sparsity_param": [0.001, 0.01, 0.1],
    "lambda_": [0.0, 1e-4, 1e-2],
    "beta": [0.0, 3.0, 30.0],
    "hidden": [10, 25, 50],
    "num_patches": [200, 1000, 2000],
    "max_iter": [5, 20, 60],
    "normalization": ["spec", "zca"],
}
#: How each hyper-parameter is written in the report.
LABELS = {"sparsity_param": r"$\rho$", "lambda_": r"$\lambda$", "beta": r"$\beta$",
          "hidden": "hidden units", "num_patches": "patches", "max_iter": "iterations",
          "normalization": "normalisation"}
#: Short names used in figure files and macros.
SHORT = {"sparsity_param": "rho", "lambda_": "lambda", "beta": "beta", "hidden": "hidden",
         "num_patches": "patches", "max_iter": "iterations", "normalization": "normalisation"}


def _settings_for(base, name, value):
    """``base`` with one hyper-parameter changed (the normalisation through from_options)."""
    given = base.to_dict()
    if name == "hidden":
        value = [int(value)]
    if name == "normalization":
        for key in ("sparsity_param", "lambda_", "beta", "output_activation"):
            given.pop(key, None)
        given["normalization"] = value
        return PatchSettings.from_options(**given)
    given[name] = value
    return PatchSettings.from_dict(given)


def _value_of(settings, name):
    value = settings.to_dict()[name]
    return int(value[0]) if name == "hidden" else value


def run_hyperparameters(images, image_shape, base=None, sweeps=None, n_eval=2000, quick=False,
                        random_state=0, progress=None):
    """Train one model per hyper-parameter value and measure it.

    Parameters
    ----------
    images : ndarray of shape (n_images, h*w*c)
    image_shape : tuple (h, w, c)
    base : PatchSettings, optional
        The default model: SPEC's, in float32 to fit the report's hour (the
        pictures do not change; quick: 1,000 patches, 20 iterations, 25
        hidden units).
    sweeps : dict, optional
        Hyper-parameter name (a :class:`PatchSettings` field) -> list of
        values; default :data:`SWEEPS` (quick: :data:`QUICK_SWEEPS`).
    n_eval : int, default=2000
        Held-out patches for the measurements (their own seed).
    quick : bool
    random_state : int
        Seeds patches and weights of every model (the same for all).
    progress : callable(str), optional

    Returns
    -------
    dict
        ``base`` (settings dict), ``models`` (list of dicts: ``settings``,
        ``reconstruction_error``, ``mean_activation``, ``dead_fraction``,
        ``saturated_fraction``, ``final_cost``, ``training_time``,
        ``filters_png``), ``sweeps`` (name -> list of indices into
        ``models``, in value order), ``values`` (name -> values).
    """
    if base is None:
        base = (PatchSettings(hidden=(25,), num_patches=1000, max_iter=20) if quick
                else PatchSettings(dtype="float32"))
    base = PatchSettings.from_dict(dict(base.to_dict(), random_state=random_state))
    sweeps = dict(sweeps or (QUICK_SWEEPS if quick else SWEEPS))
    unknown = sorted(set(sweeps) - set(LABELS))
    if unknown:
        raise ValueError(f"cannot sweep {unknown}; choose among {sorted(LABELS)}")
    held_out = evaluation_patches(images, image_shape, n_eval, base.patch_size, random_state + 1)
    models, index_of, result_sweeps = [], {}, {}
    total = sum(len(values) for values in sweeps.values())
    done = 0
    for name, values in sweeps.items():
        result_sweeps[name] = []
        for value in values:
            done += 1
            settings = _settings_for(base, name, value)
            key = repr(sorted(settings.to_dict().items()))
            if key not in index_of:
                if progress:
                    progress(f"hyperparameters: [{done}/{total}] {name} = {value}")
                model = PatchModel(settings).fit(images, image_shape)
                entry = {"settings": settings.to_dict(), "final_cost": float(model.summary_["final_cost"]),
                         "training_time": float(model.training_time_),
                         "filters_png": filter_picture(model.pixel_filters(), model.patch_shape_)}
                entry.update(unit_statistics(model, held_out))
                index_of[key] = len(models)
                models.append(entry)
            result_sweeps[name].append(index_of[key])
    return {"base": base.to_dict(), "models": models, "sweeps": result_sweeps,
            "values": {name: list(values) for name, values in sweeps.items()},
            "n_eval": int(n_eval), "dead_below": DEAD, "saturated_above": SATURATED}


def _format_value(name, value):
    """A swept value as plain text (figure labels)."""
    return value if isinstance(value, str) else format_number(value, plain=True)


def _tex_value(value):
    """A swept value as LaTeX (tables and sentences)."""
    return value if isinstance(value, str) else Tex(format_number(value))


def figures_hyperparameters(result, folder):
    """One filter-grid figure per hyper-parameter (value under each) and one chart of the numbers."""
    paths = []
    for name, indices in result["sweeps"].items():
        figure = new_figure(2.1 * len(indices), 2.6)
        for column, (index, value) in enumerate(zip(indices, result["values"][name])):
            axes = figure.add_subplot(1, len(indices), column + 1)
            axes.imshow(decode_png(result["models"][index]["filters_png"]), interpolation="nearest")
            axes.set_xticks([])
            axes.set_yticks([])
            axes.set_xlabel(f"{SHORT[name]} = {_format_value(name, value)}")
        paths += save_figure(figure, folder, f"hyper_{SHORT[name]}")
    numeric = [name for name in result["sweeps"] if name != "normalization"]
    figure = new_figure(3.0 * len(numeric), 5.0)
    for column, name in enumerate(numeric):
        models = [result["models"][index] for index in result["sweeps"][name]]
        values = result["values"][name]
        positions = range(len(values))
        top = figure.add_subplot(2, len(numeric), column + 1)
        top.plot(positions, [m["reconstruction_error"] for m in models], "o-", label="reconstruction")
        top.set_yscale("log")
        top.set_title(SHORT[name])
        bottom = figure.add_subplot(2, len(numeric), len(numeric) + column + 1)
        bottom.plot(positions, [m["mean_activation"] for m in models], "o-", label="mean activation")
        bottom.plot(positions, [m["dead_fraction"] for m in models], "s--", label="dead")
        bottom.plot(positions, [m["saturated_fraction"] for m in models], "^:", label="saturated")
        if name == "sparsity_param":
            bottom.plot(positions, values, "k:", linewidth=1, label=r"$\rho$")
        for axes in (top, bottom):
            axes.set_xticks(list(positions), [_format_value(name, v) for v in values], rotation=45,
                            fontsize=7)
            axes.grid(True, alpha=0.3)
        if column == 0:
            top.set_ylabel("held-out reconstruction")
            bottom.set_ylabel("fraction")
            bottom.legend(fontsize=7)
    paths += save_figure(figure, folder, "hyper_numbers")
    return paths


def tables_hyperparameters(result):
    """One table of every model: name -> (header, rows)."""
    header = ["parameter", "value", "reconstruction", "mean act.", "dead", "saturated", "cost", "seconds"]
    rows = []
    for name, indices in result["sweeps"].items():
        for index, value in zip(indices, result["values"][name]):
            model = result["models"][index]
            rows.append([Tex(LABELS[name]), _tex_value(value),
                         Tex(format_number(model["reconstruction_error"])),
                         Tex(format_number(model["mean_activation"])),
                         Tex(f"{100 * model['dead_fraction']:.0f}\\%"),
                         Tex(f"{100 * model['saturated_fraction']:.0f}\\%"),
                         Tex(format_number(model["final_cost"])), f"{model['training_time']:.1f}"])
    return {"HyperTable": (header, rows)}


def macros_hyperparameters(result):
    """Numbers and generated sentences the report quotes: name -> text."""
    models = result["models"]
    macros = {"HyperModels": str(len(models)), "HyperEval": f"{result['n_eval']:,}",
              "HyperDtype": result["base"]["dtype"],
              "HyperDeadBelow": Tex(format_number(result["dead_below"])),
              "HyperSaturatedAbove": Tex(format_number(result["saturated_above"])),
              "HyperSeconds": f"{sum(m['training_time'] for m in models):.0f}"}
    if "sparsity_param" in result["sweeps"]:
        rho_models = [models[i] for i in result["sweeps"]["sparsity_param"]]
        means = [m["mean_activation"] for m in rho_models]
        rising = all(b >= a for a, b in zip(means, means[1:]))
        macros["HyperRhoSentence"] = Tex(
            "The mean hidden activation rises with $\\rho$ at every step of the sweep"
            if rising else "The mean hidden activation does not rise with $\\rho$ at every step of the sweep")
    if "max_iter" in result["sweeps"]:
        errors = [models[i]["reconstruction_error"] for i in result["sweeps"]["max_iter"]]
        falling = all(b <= a for a, b in zip(errors, errors[1:]))
        macros["HyperIterSentence"] = Tex(
            "the held-out reconstruction error falls with every increase of the iteration budget"
            if falling else "the held-out reconstruction error does not fall at every increase of the "
            "iteration budget")
    macros["HyperDeadSentence"] = Tex(_unit_sentence(result))
    return macros


def _unit_sentence(result, share=0.1):
    """Which settings leave more than ``share`` of the units dead or saturated (chosen by the data)."""
    parts = []
    for kind, key in (("dead", "dead_fraction"), ("saturated", "saturated_fraction")):
        found = [f"{LABELS[name]} = {_tex_value(value)} ({100 * result['models'][index][key]:.0f}\\%)"
                 for name, indices in result["sweeps"].items()
                 for index, value in zip(indices, result["values"][name])
                 if result["models"][index][key] > share]
        parts.append(f"More than {100 * share:.0f}\\% of the units are {kind} with "
                     + ", ".join(found) + "." if found else
                     f"No model has more than {100 * share:.0f}\\% of its units {kind}.")
    return " ".join(parts)
