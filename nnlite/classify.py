"""Self-taught classification: raw pixels vs features learned by an autoencoder.

:func:`run_classification` is the study behind ``nnlite classify``: it trains
(or takes) autoencoders on patches of the *training* images only, turns every
train and test image into a feature vector with
:class:`~nnlite.features.ConvolutionalFeatures`, fits several scikit-learn
classifiers on raw pixels and on each learned feature set, and returns a
:class:`ResultTable` with the accuracy and the time of every step.

Options cover the assignment's comparisons: several strides, pooling,
several architectures (one hidden layer vs ``[h1, h2, h1]``) with the choice
of feature layer, and STL-10's protocol (one fit per predefined training
fold, mean and standard deviation of the test accuracy).
"""

import csv
import io
import json
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from .data.dataset import as_float
from .features import ConvolutionalFeatures, resolve_layers, train_feature_model
from .validation import check_hidden_sizes, check_positive_int, check_random_state

__all__ = ["CLASSIFIER_NAMES", "ResultTable", "check_test_classes", "make_classifier",
           "run_classification", "stratified_holdout"]

#: Classifier names understood by :func:`make_classifier`, in table order.
CLASSIFIER_NAMES = ("logistic", "linear_svm", "knn", "random_forest")

_DEFAULTS = {
    "logistic": {"C": 0.01, "max_iter": 500},
    "linear_svm": {"C": 0.01, "max_iter": 5000},
    "knn": {"n_neighbors": 10},
    "random_forest": {"n_estimators": 200, "n_jobs": -1},
}


class ResultTable:
    """Rows of results (dicts) with the run's other figures in ``info``.

    Parameters
    ----------
    rows : list of dict, optional
    info : dict, optional
        Everything else of the run (models, feature sets, timings, settings).

    Attributes
    ----------
    rows : list of dict
        One per feature set x classifier x protocol: ``features``,
        ``classifier``, ``train_on``, ``accuracy``, ``accuracy_sd`` (folds),
        ``n_features``, ``fit_time``, ``predict_time`` and the feature
        set's description.
    """

    #: Columns shown by :meth:`format` and written by :meth:`to_csv`, in order.
    COLUMNS = ("features", "classifier", "train_on", "accuracy", "accuracy_sd", "n_features",
               "fit_time", "predict_time", "extraction_time", "training_time")

    def __init__(self, rows=(), info=None):
        self.rows = [dict(row) for row in rows]
        self.info = dict(info or {})

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self):
        return f"ResultTable({len(self.rows)} rows)"

    def add(self, **row):
        """Append one row."""
        self.rows.append(row)

    def best(self, key="accuracy"):
        """The row with the highest ``key``."""
        return max(self.rows, key=lambda row: row.get(key, float("-inf")))

    def to_dict(self):
        """``{'results': rows, **info}`` (JSON-ready)."""
        return dict(self.info, results=self.rows)

    def to_json(self, path=None):
        """The whole run as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, default=_json_default)
        if path is not None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        return text

    def to_csv(self, path=None):
        """The table's columns as CSV text; also written to ``path`` when given."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({key: row.get(key, "") for key in self.COLUMNS})
        if path is not None:
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(buffer.getvalue())
        return buffer.getvalue()

    def format(self):
        """An aligned plain-text table (accuracy as a fraction, times in seconds)."""
        header = ["features", "classifier", "train on", "accuracy", "n_features", "fit s", "predict s",
                  "extract s", "train AE s"]
        lines = [header]
        for row in self.rows:
            accuracy = f"{row['accuracy']:.4f}"
            if row.get("accuracy_sd") is not None:
                accuracy += f" +- {row['accuracy_sd']:.4f}"
            lines.append([str(row["features"]), row["classifier"], row.get("train_on", "all"), accuracy,
                          str(row.get("n_features", "")), _seconds(row.get("fit_time")),
                          _seconds(row.get("predict_time")), _seconds(row.get("extraction_time")),
                          _seconds(row.get("training_time"))])
        widths = [max(len(line[k]) for line in lines) for k in range(len(header))]
        return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
                         for line in lines)


def _seconds(value):
    return "" if value is None else f"{value:.1f}"


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write a {type(value).__name__} to JSON")


def raw_features(images, dtype="float32"):
    """Pixels as features: ``images`` as floats (uint8 scaled to [0, 1]), shape unchanged."""
    scale = 1.0 / 255 if np.dtype(images.dtype) == np.uint8 else None
    return as_float(images, dtype, scale=scale)


def make_classifier(name, random_state=None, **params):
    """A scikit-learn classifier by name, standardising its input where it needs it.

    Parameters
    ----------
    name : {'logistic', 'linear_svm', 'knn', 'random_forest'}
        Logistic regression, linear SVM and k-NN are pipelines
        ``StandardScaler -> model``; the random forest takes raw features.
    random_state : int, optional
        Seeds the models that draw random numbers.
    **params
        Overrides of the model's parameters (e.g. ``C=0.1``).

    Returns
    -------
    sklearn estimator
    """
    if name not in CLASSIFIER_NAMES:
        raise ValueError(f"unknown classifier {name!r}; choose from {CLASSIFIER_NAMES}")
    options = dict(_DEFAULTS[name], **params)
    if name == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(random_state=random_state, **options))
    if name == "linear_svm":
        return make_pipeline(StandardScaler(), LinearSVC(random_state=random_state, **options))
    if name == "knn":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(**options))
    return RandomForestClassifier(random_state=random_state, **options)


def stratified_holdout(labels, n_test, random_state=0):
    """Split indices into a training part and a stratified, seeded test part.

    Parameters
    ----------
    labels : ndarray of shape (n_images,)
    n_test : int or float
        Test images (an int) or fraction (a float in (0, 1)).
    random_state : int, optional

    Returns
    -------
    train_index, test_index : ndarray of int64, sorted
    """
    labels = np.asarray(labels)
    if isinstance(n_test, (int, np.integer)) and not 0 < n_test < labels.shape[0]:
        raise ValueError(f"the hold-out must hold between 1 and {labels.shape[0] - 1} images, got {n_test}")
    seed = int(check_random_state(random_state).integers(2**31 - 1))
    train, test = train_test_split(np.arange(labels.shape[0]), test_size=n_test,
                                   stratify=labels, random_state=seed)
    return np.sort(train), np.sort(test)


def check_test_classes(train_labels, test_labels, class_names=None):
    """Raise ``ValueError`` when the test set holds classes the training set lacks."""
    missing = np.setdiff1d(np.unique(test_labels), np.unique(train_labels))
    if missing.size:
        names = [class_names[k] if class_names is not None and 0 <= k < len(class_names) else int(k)
                 for k in missing]
        raise ValueError(f"the test set has classes the training set lacks: {names}")


def _architectures(hidden):
    """``75`` -> ``[[75]]``; ``[75, [200, 50, 200]]`` -> ``[[75], [200, 50, 200]]``."""
    if isinstance(hidden, (int, np.integer)):
        return [check_hidden_sizes(hidden)]
    return [check_hidden_sizes(h) for h in hidden]


def _clock():
    return time.perf_counter()


class _Study:
    """The state of one :func:`run_classification` call (data, seeds, output)."""

    def __init__(self, train, test, folds, classifiers, classifier_options, rng, progress, table):
        self.train, self.test, self.folds = train, test, folds
        self.classifiers = classifiers
        self.classifier_options = classifier_options
        self.rng, self.progress, self.table = rng, progress, table

    def seed(self):
        return int(self.rng.integers(2**31 - 1))

    def say(self, message):
        if self.progress is not None:
            self.progress(message)

    def evaluate(self, name, train_features, test_features, info):
        """Fit every classifier on ``train_features`` (all, then each fold) and score on the test set."""
        (_, y_train), (_, y_test) = self.train, self.test
        for classifier in self.classifiers:
            runs = [("all", np.arange(train_features.shape[0]))]
            runs += [(f"fold {k}", fold) for k, fold in enumerate(self.folds or [])]
            fold_scores, fold_fit, fold_predict = [], 0.0, 0.0
            for label, index in runs:
                model = make_classifier(classifier, self.seed(), **self.classifier_options.get(classifier, {}))
                start = _clock()
                model.fit(train_features[index], y_train[index])
                fit_time = _clock() - start
                start = _clock()
                accuracy = float(np.mean(model.predict(test_features) == y_test))
                predict_time = _clock() - start
                self.say(f"  {name} / {classifier} trained on {label} ({index.size} images): "
                         f"accuracy {accuracy:.4f} (fit {fit_time:.1f} s, predict {predict_time:.1f} s)")
                if label == "all":
                    self.table.add(features=name, classifier=classifier, train_on="all",
                                   accuracy=accuracy, n_features=int(train_features.shape[1]),
                                   fit_time=fit_time, predict_time=predict_time, **info)
                else:
                    fold_scores.append(accuracy)
                    fold_fit += fit_time
                    fold_predict += predict_time
            if fold_scores:
                self.table.add(features=name, classifier=classifier, train_on=f"{len(fold_scores)} folds",
                               accuracy=float(np.mean(fold_scores)), accuracy_sd=float(np.std(fold_scores)),
                               fold_accuracies=fold_scores, n_features=int(train_features.shape[1]),
                               fit_time=fold_fit, predict_time=fold_predict, **info)


def run_classification(train_images, train_labels, test_images, test_labels, image_shape=None,
                       classifiers=CLASSIFIER_NAMES, raw_pixels=True, hidden=(75,), models=(),
                       feature_layers=("middle",), strides=(4,), pooling="none", pool_grid=2,
                       patch_size=8, num_patches=10000, normalization="spec", max_iter=400,
                       autoencoder_options=None, classifier_options=None, folds=None,
                       memory_limit=256 * 2**20, feature_dtype="float32", class_names=None,
                       patch_images=None, random_state=0, progress=None):
    """Raw pixels vs learned features under several scikit-learn classifiers.

    Parameters
    ----------
    train_images, test_images : ndarray of shape (n, h * w * c)
        Image rows in SPEC's layout (uint8 or float; memory maps are fine).
    train_labels, test_labels : ndarray of shape (n,)
    image_shape : tuple of int, optional
        ``(h, w, c)``; None: square RGB.
    classifiers : sequence of str
        Names from :data:`CLASSIFIER_NAMES`.
    raw_pixels : bool, default=True
        Also classify the raw pixels (scaled to [0, 1]).
    hidden : int or sequence of (int or list of int)
        Architectures to train, e.g. ``(75, [200, 50, 200])``; empty to use
        only ``models``.
    models : sequence of FeatureModel
        Already trained encoders (see :func:`nnlite.features.FeatureModel.load`).
    feature_layers : sequence of {'middle', 'first', 'concat'} or int
        Which hidden layer(s) give the features; every choice is reported
        (one-hidden-layer models have a single choice).
    strides : sequence of int
        Patch strides to compare.
    pooling, pool_grid
        See :class:`~nnlite.features.ConvolutionalFeatures`.
    patch_size, num_patches, normalization, max_iter, autoencoder_options
        Training of the autoencoders (see
        :func:`nnlite.features.train_feature_model`).
    classifier_options : dict, optional
        Classifier name -> parameter overrides (``{'logistic': {'C': 0.1}}``).
    folds : list of ndarray, optional
        Indices into the training images (STL-10's 10 folds): each
        classifier is also fitted once per fold, mean and sd reported.
    memory_limit : int, optional
        Bytes per chunk for feature extraction.
    feature_dtype : {'float32', 'float64'}
        Precision of the feature matrices.
    class_names : list of str, optional
        For messages.
    patch_images : ndarray of shape (n, h * w * c), optional
        Unlabeled images to sample the autoencoders' patches from (e.g.
        STL-10's unlabeled split); default: the training images.
    random_state : int, optional
        Seeds patch sampling, autoencoders and classifiers.
    progress : callable, optional
        Called with one line of progress at a time.

    Returns
    -------
    ResultTable
        One row per feature set x classifier x protocol; ``info`` holds the
        models, feature sets, timings and settings; ``models`` the
        :class:`~nnlite.features.FeatureModel` objects used.
    """
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    check_test_classes(train_labels, test_labels, class_names)
    for name in classifiers:
        if name not in CLASSIFIER_NAMES:
            raise ValueError(f"unknown classifier {name!r}; choose from {CLASSIFIER_NAMES}")
    for stride in strides:
        check_positive_int(stride, "stride")
    rng = check_random_state(random_state)
    table = ResultTable(info={"timings": [], "models": [], "feature_sets": [], "settings": {
        "classifiers": list(classifiers), "strides": list(strides), "pooling": pooling,
        "pool_grid": pool_grid, "feature_layers": list(feature_layers), "n_train": int(train_labels.size),
        "n_test": int(test_labels.size), "random_state": random_state,
        "folds": None if folds is None else len(folds)}})
    study = _Study((train_images, train_labels), (test_images, test_labels), folds, list(classifiers),
                   dict(classifier_options or {}), rng, progress, table)
    start_all = _clock()

    if raw_pixels:
        start = _clock()
        train_x, test_x = raw_features(train_images, feature_dtype), raw_features(test_images, feature_dtype)
        table.info["timings"].append({"step": "raw pixels", "seconds": _clock() - start})
        study.say(f"raw pixels: {train_x.shape[1]} features")
        study.evaluate("raw pixels", train_x, test_x, {"kind": "raw"})
        del train_x, test_x

    models = list(models)
    model_seed = study.seed()  # every architecture trains on the same patches
    for sizes in _architectures(hidden):
        study.say(f"training autoencoder {sizes} on {num_patches} patches of the "
                  f"{'training' if patch_images is None else 'unlabeled'} images")
        model = train_feature_model(train_images if patch_images is None else patch_images, sizes,
                                    image_shape=image_shape, patch_size=patch_size,
                                    num_patches=num_patches, normalization=normalization,
                                    max_iter=max_iter, random_state=model_seed,
                                    **dict(autoencoder_options or {}))
        table.info["timings"].append({"step": f"autoencoder {model.name}", "seconds": model.training_time})
        study.say(f"  trained in {model.training_time:.1f} s")
        models.append(model)

    for model in models:
        table.info["models"].append(model.describe())
        n_hidden = len(model.network.layers) - 1
        layer_choices, seen = [], set()
        for choice in feature_layers:
            key = tuple(resolve_layers(choice, n_hidden))
            if key not in seen:
                seen.add(key)
                layer_choices.append(choice)
        for choice in layer_choices:
            for stride in strides:
                name = model.feature_name(choice if n_hidden > 1 else None, stride, pooling, pool_grid)
                extractor = ConvolutionalFeatures(
                    model.encoder, patch_size=model.patch_size, stride=stride, pooling=pooling,
                    pool_grid=pool_grid, layer=choice, preprocessor=model.preprocessor,
                    memory_limit=memory_limit, image_shape=image_shape, dtype=feature_dtype)
                start = _clock()
                train_x = extractor.fit_transform(train_images)
                test_x = extractor.transform(test_images)
                seconds = _clock() - start
                table.info["timings"].append({"step": f"features {name}", "seconds": seconds})
                info = {"kind": "autoencoder", "hidden": model.hidden, "layer": str(choice),
                        "stride": int(stride), "pooling": pooling,
                        "pool_grid": int(pool_grid) if pooling != "none" else None,
                        "extraction_time": seconds, "training_time": model.training_time}
                table.info["feature_sets"].append(dict(info, name=name, n_features=int(train_x.shape[1]),
                                                       grid=list(extractor.grid_), layers=extractor.layers_))
                study.say(f"{name}: {train_x.shape[1]} features, extracted in {seconds:.1f} s")
                study.evaluate(name, train_x, test_x, info)
                del train_x, test_x
    table.info["timings"].append({"step": "total", "seconds": _clock() - start_all})
    table.models = models
    return table
