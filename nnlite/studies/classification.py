"""Study 3: scikit-learn classifiers on raw pixels against learned features, and the stride sweep.

Protocol (:func:`nnlite.studies.evaluation.report_split`): the report's
seeded stratified hold-out is set aside first; the autoencoder (SPEC's
model) trains on patches of the other images only; the classifiers train
on a stratified subset of those and are scored once on a stratified subset
of the hold-out.  Every classifier keeps the parameters fixed in
:data:`nnlite.classify.CLASSIFIER_DEFAULTS` (nothing is tuned on the
hold-out).  Two parts, both through :func:`nnlite.classify.run_classification`:

* **models** -- every classifier on raw pixels and on the learned features
  (codes of the patches at stride 4, summed over the four image quadrants);
* **strides** -- logistic regression on the codes at strides 1, 2, 4, 8,
  without pooling (every position's code concatenated) and with sum pooling
  over 2x2 regions, on a smaller training set (stride 1 without pooling
  gives 625 x 75 features per 32x32 image).
"""

import numpy as np

from ..classify import CLASSIFIER_DEFAULTS, ClassificationSettings, run_classification
from ..data import select_subset
from ..patch_model import PatchSettings
from .common import new_figure, save_figure
from .evaluation import labelled_dataset, report_split
from .latex import Tex

__all__ = ["CLASSIFIERS", "STRIDES", "POOLINGS", "run_classification_study", "figures_classification",
           "macros_classification", "tables_classification", "two_standard_errors"]

#: Strides of the sweep.
STRIDES = (1, 2, 4, 8)
#: Poolings of the sweep (``sum`` over ``POOL_GRID`` x ``POOL_GRID`` regions).
POOLINGS = ("none", "sum")
POOL_GRID = 2
#: Stride and pooling of the learned features in the classifier comparison.
MODEL_FEATURES = (4, "sum")
#: Classifiers compared by default.  The linear SVM of nnlite.classify is left out: on standardised
#: raw pixels liblinear needed > 1,500 iterations (4.5 minutes) for 1,000 CIFAR images on one core.
CLASSIFIERS = ("logistic", "knn", "random_forest")
#: Classifier parameters that differ from nnlite.classify's defaults (time: 2 cores).
CLASSIFIER_OPTIONS = {"random_forest": {"n_estimators": 100}}
#: Quick mode: fewer iterations and trees (a few hundred images, minutes in all).
QUICK_CLASSIFIER_OPTIONS = {"logistic": {"max_iter": 100}, "random_forest": {"n_estimators": 30}}
#: (training images, scored hold-out images) of the comparison and of the sweep, full mode.
FULL_SIZES = {"models": (4000, 4000), "strides": (1500, 1500)}
#: The same in quick mode.
QUICK_SIZES = {"models": (200, 100), "strides": (200, 100)}


def _subset(dataset, limit, random_state):
    index = select_subset(len(dataset), limit, dataset.labels, random_state=random_state)
    return dataset if index is None else dataset.subset(index)


def _rows(table):
    """The JSON-ready rows of a ResultTable (features, classifier, accuracy, sizes, times)."""
    keys = ("features", "classifier", "kind", "stride", "pooling", "accuracy", "n_features", "fit_time",
            "predict_time", "extraction_time")
    rows = []
    for row in table.rows:
        rows.append({key: (row[key].item() if isinstance(row.get(key), np.generic) else row.get(key))
                     for key in keys})
    return rows


def run_classification_study(images, image_shape, labels=None, base=None, classifiers=None, strides=None,
                             sizes=None, quick=False, random_state=0, progress=None):
    """Raw pixels against learned features under several classifiers; the stride sweep.

    Parameters
    ----------
    images : ndarray of shape (n_images, h*w*c)
    image_shape : tuple (h, w, c)
    labels : ndarray of shape (n_images,)
        Required.
    base : PatchSettings, optional
        The autoencoder; default SPEC's model in float32 (quick: 16 hidden
        units, 1,000 patches, 20 iterations).
    classifiers : sequence of str, optional
        Names in :data:`nnlite.classify.CLASSIFIER_NAMES`; default :data:`CLASSIFIERS`.
    strides : sequence of int, optional
        Default :data:`STRIDES`.
    sizes : dict, optional
        ``{'models': (n_train, n_test), 'strides': (n_train, n_test)}``;
        default :data:`FULL_SIZES` (quick: :data:`QUICK_SIZES`).
    quick : bool
    random_state : int
        Seeds the split, the subsets, the autoencoder and the classifiers.
    progress : callable(str), optional

    Returns
    -------
    dict
        ``protocol`` (split sizes and seeds), ``base`` (settings dict),
        ``autoencoder`` (training time, cost, iterations), ``models`` and
        ``strides`` (rows: ``features``, ``classifier``, ``kind``,
        ``stride``, ``pooling``, ``accuracy``, ``n_features``, times),
        ``sizes``, ``classifier_options``.
    """
    if labels is None:
        raise ValueError("the classification study needs labels, got labels=None")
    if base is None:
        base = (PatchSettings(hidden=(16,), num_patches=1000, max_iter=20) if quick
                else PatchSettings(dtype="float32"))
    base = base.replace(random_state=random_state)
    sizes = dict(QUICK_SIZES if quick else FULL_SIZES, **(sizes or {}))
    strides = tuple(int(stride) for stride in (strides or STRIDES))
    split = report_split(labelled_dataset(images, labels, image_shape), quick=quick, random_state=random_state)
    pool, holdout = split["train"], split["holdout"]
    n_train, n_test = sizes["models"]
    train, test = _subset(pool, n_train, random_state), _subset(holdout, n_test, random_state)
    options = QUICK_CLASSIFIER_OPTIONS if quick else CLASSIFIER_OPTIONS
    common = {"use_folds": False, "pool_grid": POOL_GRID, "random_state": int(random_state),
              "classifier_options": options}
    stride, pooling = MODEL_FEATURES
    settings = ClassificationSettings(classifiers=tuple(classifiers or CLASSIFIERS), raw_pixels=True,
                                      architectures=(base,), strides=(stride,), pooling=pooling, **common)
    if progress:
        progress(f"classification: classifiers on raw pixels and learned features ({len(train)} training, "
                 f"{len(test)} hold-out images; autoencoder on patches of {len(pool)} images)")
    settings_models = settings
    models_table = run_classification(train, test, settings, patch_images=pool.images, progress=progress)
    model = models_table.trained_models[0]
    n_train, n_test = sizes["strides"]
    train, test = _subset(train if n_train <= len(train) else pool, n_train, random_state), _subset(
        test if n_test <= len(test) else holdout, n_test, random_state)
    sweep = []
    for pooling in POOLINGS:
        if progress:
            progress(f"classification: stride sweep {list(strides)}, pooling {pooling}")
        settings = ClassificationSettings(classifiers=("logistic",), raw_pixels=False, architectures=(),
                                          strides=strides, pooling=pooling, **common)
        sweep += _rows(run_classification(train, test, settings, models=[model], progress=progress))
    summary = model.summary_
    return {"protocol": dict(split["protocol"], n_train_models=sizes["models"][0],
                             n_test_models=sizes["models"][1], n_train_strides=len(train),
                             n_test_strides=len(test), model_stride=stride, model_pooling=MODEL_FEATURES[1],
                             pool_grid=POOL_GRID),
            "base": base.to_dict(), "classifier_options": options,
            "classifier_parameters": {name: dict(CLASSIFIER_DEFAULTS[name], **options.get(name, {}))
                                      for name in settings_models.classifiers},
            "autoencoder": {"training_time": float(model.training_time_),
                            "final_cost": float(summary["final_cost"]), "n_iter": int(summary["n_iter"])},
            "models": _rows(models_table), "strides": sweep,
            "sizes": {key: list(value) for key, value in sizes.items()}}


CLASSIFIER_LABELS = {"logistic": "logistic regression", "linear_svm": "linear SVM", "knn": "k-NN",
                     "random_forest": "random forest"}


def _comparison(result):
    """classifier -> {'raw': accuracy, 'learned': accuracy} (in table order)."""
    found = {}
    for row in result["models"]:
        found.setdefault(row["classifier"], {})["raw" if row["kind"] == "raw" else "learned"] = row["accuracy"]
    return found


def _sweep(result, pooling):
    rows = sorted((row for row in result["strides"] if row["pooling"] == pooling), key=lambda row: row["stride"])
    return [row["stride"] for row in rows], [row["accuracy"] for row in rows], [row["n_features"] for row in rows]


def figures_classification(result, folder):
    """Accuracy bars (raw vs learned per classifier) and the stride curves (with / without pooling).

    Error bars: one binomial standard error of the accuracy on the scored images.
    """
    comparison = _comparison(result)
    names = list(comparison)
    positions = np.arange(len(names))
    figure = new_figure(6.0, 3.2)
    axes = figure.add_subplot(1, 1, 1)
    n_test = min(result["protocol"]["n_test_models"], result["protocol"]["n_holdout"])
    top = 0.0
    for offset, (kind, label) in zip((-0.2, 0.2), (("raw", "raw pixels"), ("learned", "learned features"))):
        values = np.array([comparison[name].get(kind, np.nan) for name in names])
        errors = 100 * np.sqrt(values * (1 - values) / n_test)
        bars = axes.bar(positions + offset, 100 * values, 0.4, yerr=errors, capsize=3, label=label)
        axes.bar_label(bars, fmt="%.1f", fontsize=7, padding=6)
        top = max(top, float(np.nanmax(100 * values)))
    axes.set_xticks(positions, [CLASSIFIER_LABELS.get(name, name) for name in names])
    axes.set_ylabel("hold-out accuracy (%)")
    axes.set_ylim(0, top * 1.25)
    axes.legend(fontsize=8, loc="upper center", ncol=2)
    axes.grid(True, axis="y", alpha=0.3)
    paths = save_figure(figure, folder, "classification_models")
    figure = new_figure(7.2, 3.0)
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    n_sweep = result["protocol"]["n_test_strides"]
    for pooling in POOLINGS:
        strides, accuracy, n_features = _sweep(result, pooling)
        label = "no pooling" if pooling == "none" else f"{pooling} over {POOL_GRID}x{POOL_GRID}"
        values = np.asarray(accuracy, dtype=np.float64)
        left.errorbar(strides, 100 * values, yerr=100 * np.sqrt(values * (1 - values) / n_sweep), fmt="o-",
                      capsize=3, label=label)
        right.plot(strides, n_features, "o-", label=label)
    for axes in (left, right):
        axes.set_xscale("log", base=2)
        axes.set_xticks(strides, [str(stride) for stride in strides])
        axes.set_xlabel("stride (pixels)")
        axes.grid(True, which="both", alpha=0.3)
    left.set_ylabel("hold-out accuracy (%)")
    left.legend(fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("features per image")
    return paths + save_figure(figure, folder, "classification_strides")


def tables_classification(result):
    """The classifier comparison and the stride sweep as tables."""
    comparison = _comparison(result)
    times = {(row["classifier"], row["kind"]): row["fit_time"] for row in result["models"]}
    rows = [[CLASSIFIER_LABELS.get(name, name), Tex(f"{100 * values.get('raw', np.nan):.1f}"),
             Tex(f"{100 * values.get('learned', np.nan):.1f}"),
             f"{times.get((name, 'raw'), np.nan):.1f}", f"{times.get((name, 'autoencoder'), np.nan):.1f}"]
            for name, values in comparison.items()]
    models = (["classifier", Tex("raw pixels (\\%)"), Tex("learned (\\%)"), "fit raw (s)", "fit learned (s)"],
              rows)
    sweep = {pooling: _sweep(result, pooling) for pooling in POOLINGS}
    stride_rows = []
    for index, stride in enumerate(sweep["none"][0]):
        cells = [str(stride)]
        for pooling in POOLINGS:
            cells += [f"{sweep[pooling][2][index]:,}", Tex(f"{100 * sweep[pooling][1][index]:.1f}")]
        stride_rows.append(cells)
    header = ["stride", "features", Tex("no pooling (\\%)"), "features",
              Tex(f"sum {POOL_GRID}$\\times${POOL_GRID} (\\%)")]
    return {"ClassificationTable": models, "ClassificationStrideTable": (header, stride_rows)}


def two_standard_errors(first, second, n_test):
    """Two standard errors of the difference of two accuracies measured on ``n_test`` images each."""
    return 2.0 * float(np.sqrt((first * (1 - first) + second * (1 - second)) / max(int(n_test), 1)))


def _versus(label, raw, learned, n_test):
    """One classifier's raw -> learned change, with whether it exceeds two standard errors."""
    change, noise = 100 * (learned - raw), 100 * two_standard_errors(raw, learned, n_test)
    verdict = "beyond" if abs(change) > noise else "within"
    return (f"{label} {100 * raw:.1f}\\% $\\to$ {100 * learned:.1f}\\% ({change:+.1f} points, {verdict} "
            f"two standard errors, {noise:.1f})")


def macros_classification(result):
    """Numbers and the generated conclusions: name -> text.

    A change counts as real only beyond two binomial standard errors of the
    difference on the scored images.
    """
    protocol, comparison = result["protocol"], _comparison(result)
    n_test = min(protocol["n_test_models"], protocol["n_holdout"])
    best_raw = max(comparison, key=lambda name: comparison[name].get("raw", -1))
    best_learned = max(comparison, key=lambda name: comparison[name].get("learned", -1))
    raw, learned = comparison[best_raw]["raw"], comparison[best_learned]["learned"]
    changes = "; ".join(_versus(CLASSIFIER_LABELS.get(name, name), values["raw"], values["learned"], n_test)
                        for name, values in comparison.items() if "raw" in values and "learned" in values)
    wins = sum(values.get("learned", 0) - values.get("raw", 1)
               > two_standard_errors(values.get("raw", 0), values.get("learned", 0), n_test)
               for values in comparison.values())
    margin, noise = learned - raw, two_standard_errors(raw, learned, n_test)
    verdict = ("the best learned-feature classifier beats the best raw-pixel one" if margin > noise else
               "the best learned-feature and raw-pixel classifiers are within two standard errors"
               if abs(margin) <= noise else "the best raw-pixel classifier beats the best learned-feature one")
    sentence = (f"Raw pixels against learned features, per classifier: {changes}.  Learned features are "
                f"better beyond the noise for {wins} of the {len(comparison)} classifiers.  The best on raw "
                f"pixels ({CLASSIFIER_LABELS.get(best_raw, best_raw)}) reaches {100 * raw:.1f}\\%, the best on "
                f"learned features ({CLASSIFIER_LABELS.get(best_learned, best_learned)}) {100 * learned:.1f}\\%: "
                f"{verdict}.")
    sweeps = {pooling: _sweep(result, pooling) for pooling in POOLINGS}
    parts = []
    for pooling in POOLINGS:
        strides, accuracy, _ = sweeps[pooling]
        best = int(np.argmax(accuracy))
        label = "without pooling" if pooling == "none" else f"with {pooling} pooling"
        parts.append(f"{label} the best stride is {strides[best]} ({100 * accuracy[best]:.1f}\\%)")
    strides, none_accuracy, _ = sweeps["none"]
    pooled_better = sum(p > n for p, n in zip(sweeps["sum"][1], none_accuracy))
    joined = "; ".join(parts)
    every = [value for pooling in POOLINGS for value in sweeps[pooling][1]]
    spread = 100 * (max(every) - min(every))
    noise = 100 * two_standard_errors(max(every), max(every), protocol["n_test_strides"])
    stride_sentence = (joined[:1].upper() + joined[1:] + f"; pooling is better at {pooled_better} of {len(strides)} "
                       f"strides.  All {len(every)} accuracies lie within {spread:.1f} points; two standard errors "
                       f"of a difference on {protocol['n_test_strides']:,} images are {noise:.1f} points, so "
                       + ("only differences larger than that are real." if spread > noise else
                          "no stride or pooling is distinguishable from another here."))
    return {"ClassificationSentence": Tex(sentence), "ClassificationStrideSentence": Tex(stride_sentence),
            "ClassificationTrain": f"{protocol['n_train_models']:,}",
            "ClassificationTest": f"{protocol['n_test_models']:,}",
            "ClassificationSweepTrain": f"{protocol['n_train_strides']:,}",
            "ClassificationSweepTest": f"{protocol['n_test_strides']:,}",
            "ClassificationHoldout": f"{protocol['n_holdout']:,}",
            "ClassificationPool": f"{protocol['n_train_pool']:,}",
            "ClassificationModelStride": str(protocol["model_stride"]),
            "ClassificationGrid": str(protocol["pool_grid"]),
            "ClassificationHidden": "-".join(str(size) for size in result["base"]["hidden"]),
            "ClassificationPatches": f"{result['base']['num_patches']:,}",
            "ClassificationIterations": str(result["autoencoder"]["n_iter"]),
            "ClassificationAeSeconds": f"{result['autoencoder']['training_time']:.0f}",
            "ClassificationClassifiers": Tex(describe_classifiers(_parameters(result)))}


def _parameters(result):
    """Classifier name -> its parameters (stored, or the defaults with the stored options)."""
    if "classifier_parameters" in result:
        return result["classifier_parameters"]
    return {name: dict(CLASSIFIER_DEFAULTS[name], **result["classifier_options"].get(name, {}))
            for name in _comparison(result)}


def describe_classifiers(parameters):
    """LaTeX text naming each classifier with its fixed parameters (name -> parameter dict)."""
    parts = []
    for name, options in parameters.items():
        label = CLASSIFIER_LABELS.get(name, name)
        if name in ("logistic", "linear_svm"):
            parts.append(f"{label} ($C={options['C']:g}$ on standardised features)")
        elif name == "knn":
            parts.append(f"{label} ($k={options['n_neighbors']}$ on standardised features)")
        elif name == "random_forest":
            parts.append(f"a {label} of {options['n_estimators']} trees")
        else:
            parts.append(label)
    return ", ".join(parts)
