"""The classification study: raw pixels vs features learned by patch autoencoders.

:func:`run_classification` trains the autoencoders a
:class:`~nnlite.classify.ClassificationSettings` names on patches of the
*training* images only (or takes trained :class:`~nnlite.patch_model.PatchModel`
objects), turns every train and test image into a feature vector with
:meth:`PatchModel.features <nnlite.patch_model.PatchModel.features>`, fits
each classifier on raw pixels and on each learned feature set (on all the
training images, then once per predefined fold where there are folds), and
returns a :class:`~nnlite.classify.ResultTable` with the accuracy and the
time of every step.
"""

import time

import numpy as np
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

from ..data import Dataset
from ..data.shapes import resolve_image_shape
from ..features import resolve_layers
from ..patch_model import PatchModel
from ..validation import check_random_state
from .classifiers import C_SELECTABLE, make_classifier, raw_features
from .results import ResultTable
from .settings import ClassificationSettings
from .splits import check_test_classes
from .tuning import ValidatedLinear

__all__ = ["check_classifier_options", "mirror_images", "run_classification"]


def mirror_images(images, image_shape):
    """Left-right mirror images of rows in SPEC's layout.

    Parameters
    ----------
    images : ndarray of shape (n_images, h * w * c)
    image_shape : tuple (h, w, c)

    Returns
    -------
    ndarray of shape (n_images, h * w * c)
        A new array, same dtype: row ``i`` is image ``i`` with its columns reversed.
    """
    h, w, c = image_shape
    return np.ascontiguousarray(np.asarray(images).reshape(-1, h, w, c)[:, :, ::-1, :]).reshape(len(images), -1)


def _as_dataset(data, name):
    """A labelled :class:`~nnlite.data.Dataset` from a Dataset or an ``(images, labels)`` pair."""
    if not isinstance(data, Dataset):
        try:
            images, labels = data
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a Dataset or an (images, labels) pair, "
                            f"got {type(data).__name__}") from None
        data = Dataset(images, labels, image_shape=resolve_image_shape(np.shape(images)[1]), name=name)
    if data.labels is None:
        raise ValueError(f"the {name} set {data.name!r} has no labels; classification needs labels")
    return data


def check_classifier_options(settings):
    """Build every classifier of ``settings`` with its options and check them, before any work.

    scikit-learn refuses an unknown parameter with a ``TypeError`` when the
    model is made and a bad value only when it is fitted, after the
    features were computed; this does both checks up front.

    Parameters
    ----------
    settings : ClassificationSettings

    Raises
    ------
    ValueError
        Naming the classifier, the parameter and, for an unknown one, the
        classifier's valid parameters.
    """
    for name, options in settings.classifier_options.items():
        try:
            model = make_classifier(name, 0, **options)
        except TypeError as error:
            plain = make_classifier(name, 0)
            valid = sorted(getattr(plain, "_final_estimator", plain).get_params(deep=False))
            unknown = sorted(set(options) - set(valid))
            what = (f"has no parameter {', '.join(map(repr, unknown))}" if unknown
                    else f"cannot take these parameters ({error})")
            raise ValueError(f"classifier {name!r} {what}; its parameters are {', '.join(valid)}") from None
        estimator = getattr(model, "_final_estimator", model)
        try:
            estimator._validate_params()
        except (TypeError, ValueError) as error:
            raise ValueError(f"classifier {name!r}: {error}") from None


#: Bytes the temporaries of one column block of a scaler fit may take (scikit-learn's
#: ``StandardScaler.fit`` makes a boolean mask and a float64 difference of its whole input).
SCALER_BLOCK_BYTES = 64 * 2**20


def _fit_scaler_by_columns(scaler, X):
    """Fit ``scaler`` (a StandardScaler) one block of columns at a time.

    Its statistics are per column, each a sum over the rows in order, so
    blocks of two or more columns give the figures of one fit on all of
    ``X`` bit for bit (a test checks it), with temporaries of one block
    instead of 2.5 times ``X``.
    """
    n_rows, n_columns = X.shape
    width = max(2, SCALER_BLOCK_BYTES // (21 * max(n_rows, 1)))
    # A block of one column is a vector, which numpy sums pairwise, not row by row: none is made.
    edges = [*range(0, n_columns - 1 if n_columns % width == 1 < n_columns else n_columns, width), n_columns]
    parts = [clone(scaler).fit(np.ascontiguousarray(X[:, start:stop]))
             for start, stop in zip(edges[:-1], edges[1:])]
    for name in ("mean_", "var_", "scale_"):
        values = [getattr(part, name) for part in parts]
        setattr(scaler, name, None if values[0] is None else np.concatenate(values))
    seen = parts[0].n_samples_seen_
    scaler.n_samples_seen_ = (np.concatenate([part.n_samples_seen_ for part in parts])
                              if np.ndim(seen) else seen)
    scaler.n_features_in_ = n_columns
    return scaler


def _fit(model, X, y, in_place):
    """``model.fit(X, y)``; a pipeline's StandardScaler steps are fitted by columns and scale ``X`` in place.

    ``in_place`` False: a copy of ``X`` is scaled (as the pipeline itself
    would), True: ``X`` itself.  Other models are fitted as they are.
    """
    steps = getattr(model, "steps", None)
    if not steps or not all(isinstance(step, StandardScaler) for _, step in steps[:-1]):
        return model.fit(X, y)
    if not in_place:
        X = X.copy()
    for _, scaler in steps[:-1]:
        X = _fit_scaler_by_columns(scaler, X).transform(X, copy=False)
    steps[-1][1].fit(X, y)
    return model


def _scale_in_place(model, in_place):
    """Let the standardising steps of a pipeline ``model`` overwrite their input (``copy=False``) or not."""
    for name, step in getattr(model, "steps", [])[:-1]:
        if "copy" in step.get_params(deep=False):
            model.set_params(**{f"{name}__copy": not in_place})


class _Study:
    """The state of one :func:`run_classification` call: data, classifier seeds, output."""

    def __init__(self, train, test, settings, progress, table):
        self.train, self.test, self.settings = train, test, settings
        self.folds = train.folds if settings.use_folds else None
        self.rng, self.progress, self.table = check_random_state(settings.random_state), progress, table

    def say(self, message):
        if self.progress is not None:
            self.progress(message)

    def timing(self, step, seconds):
        self.table.info["timings"].append({"step": step, "seconds": seconds})

    def train_labels(self):
        """The labels of the classifiers' training rows: the training labels, twice with ``mirror``."""
        labels = self.train.labels
        return np.concatenate([labels, labels]) if self.settings.mirror else labels

    def both_views(self, extract, images):
        """``extract(images)``, stacked on ``extract(mirrored images)`` with ``mirror``; shape (n or 2n, F)."""
        first = extract(images)
        if not self.settings.mirror:
            return first
        out = np.empty((2 * first.shape[0], first.shape[1]), dtype=first.dtype)
        out[:first.shape[0]] = first
        del first
        out[out.shape[0] // 2:] = extract(mirror_images(images, self.train.image_shape))
        return out

    def evaluate(self, name, train_features, test_features, info, disposable=False):
        """Fit every classifier on ``train_features`` (all, then each fold) and score on the test set.

        Memory: the run on all images fits on ``train_features`` itself (no
        indexed copy), fold runs on their own copies; standardising
        pipelines are fitted by column blocks (:func:`_fit`) and scale those
        copies in place, and, when ``disposable`` (the study made the arrays
        and drops them afterwards), the last use of each array is scaled in
        place too.  The figures are those of ``pipeline.fit``: the same
        operations on the same values.
        """
        y_train, y_test = self.train_labels(), self.test.labels
        n_train = len(self.train.labels)
        n_features = int(train_features.shape[1])
        classifiers = self.settings.classifiers
        for position, classifier in enumerate(classifiers):
            options = self.settings.classifier_options.get(classifier, {})
            runs = [("all", None)] + [(f"fold {k}", fold if not self.settings.mirror
                                       else np.concatenate([fold, np.asarray(fold) + n_train]))
                                      for k, fold in enumerate(self.folds or [])]
            scores, fit_times, predict_times, chosen = [], [], [], None
            for number, (label, index) in enumerate(runs):
                last = disposable and position == len(classifiers) - 1 and number == len(runs) - 1
                model = self._classifier(classifier, options)
                features = train_features if index is None else train_features[index]
                size = y_train.size if index is None else index.size
                self.say(f"  {name} / {classifier}: fitting on {label} ({size} images, {n_features} features) ...")
                start = time.perf_counter()
                _fit(model, features, y_train if index is None else y_train[index], index is not None or last)
                fit_times.append(time.perf_counter() - start)
                _scale_in_place(model, last)
                del features
                start = time.perf_counter()
                scores.append(float(np.mean(model.predict(test_features) == y_test)))
                predict_times.append(time.perf_counter() - start)
                if isinstance(model, ValidatedLinear) and index is None:
                    chosen = {"C": model.C_, "C_grid": {str(C): score for C, score in model.grid_scores_.items()}}
                del model
                self.say(f"  {name} / {classifier} trained on {label} ({size} images): accuracy "
                         f"{scores[-1]:.4f} (fit {fit_times[-1]:.1f} s, predict {predict_times[-1]:.1f} s)")
            shown = classifier if chosen is None else f"{classifier} C={chosen['C']:g}"
            self.table.add(features=name, classifier=shown, train_on="all", accuracy=scores[0],
                           n_features=n_features, fit_time=fit_times[0], predict_time=predict_times[0],
                           **info, **(chosen or {}))
            if len(scores) > 1:
                folds = scores[1:]
                self.table.add(features=name, classifier=classifier, train_on=f"{len(folds)} folds",
                               accuracy=float(np.mean(folds)), accuracy_sd=float(np.std(folds)),
                               fold_accuracies=folds, n_features=n_features, fit_time=sum(fit_times[1:]),
                               predict_time=sum(predict_times[1:]), **info)

    def _classifier(self, classifier, options):
        """A fresh classifier; with ``select_C`` a linear one chooses its C on a validation split."""
        seed = int(self.rng.integers(2**31 - 1))
        if self.settings.select_C and classifier in C_SELECTABLE:
            options = {key: value for key, value in options.items() if key != "C"}
            return ValidatedLinear(classifier, random_state=seed, progress=self.progress, **options)
        return make_classifier(classifier, seed, **options)

    def raw_pixels(self):
        """Classify the pixels themselves (scaled to [0, 1])."""
        start = time.perf_counter()
        dtype = self.settings.feature_dtype
        train_x = self.both_views(lambda images: raw_features(images, dtype), self.train.images)
        test_x = raw_features(self.test.images, dtype)
        self.timing("raw pixels", time.perf_counter() - start)
        self.say(f"raw pixels: {train_x.shape[1]} features")
        disposable = not (np.may_share_memory(train_x, self.train.images)
                          or np.may_share_memory(test_x, self.test.images))
        self.evaluate("raw pixels", train_x, test_x, {"kind": "raw"}, disposable=disposable)

    def train_models(self, patch_images):
        """Train every architecture of the settings; all see the same images (and, seeded alike, patches)."""
        images = self.train.images if patch_images is None else patch_images
        where = "training" if patch_images is None else "given patch"
        models = []
        for settings in self.settings.architectures:
            self.say(f"training autoencoder {list(settings.hidden)} on {settings.num_patches} patches "
                     f"of the {where} images")
            model = PatchModel(settings).fit(images, self.train.image_shape, progress=self.progress)
            if model.summary_["interrupted"]:  # a half-trained autoencoder is not the comparison asked for
                raise KeyboardInterrupt(f"training autoencoder {model.name} was interrupted; the study stops")
            self.timing(f"autoencoder {model.name}", model.training_time_)
            self.say(f"  trained in {model.training_time_:.1f} s")
            models.append(model)
        return models

    def learned_features(self, model):
        """Every distinct feature layer x stride of ``model``, each classified."""
        settings = self.settings
        n_hidden = len(model.hidden)
        choices, seen = [], set()
        for choice in settings.feature_layers:
            key = tuple(resolve_layers(choice, n_hidden))
            if key not in seen:
                seen.add(key)
                choices.append(choice)
        for choice in choices:
            for stride in settings.strides:
                name = model.feature_name(choice if n_hidden > 1 else None, stride, settings.pooling,
                                          settings.pool_grid, settings.encoding)
                extractor = model.features(stride=stride, pooling=settings.pooling,
                                           pool_grid=settings.pool_grid, layer=choice,
                                           memory_limit=settings.memory_limit, dtype=settings.feature_dtype,
                                           image_shape=self.train.image_shape, encoding=settings.encoding,
                                           alpha=settings.alpha, progress=self.progress)
                start = time.perf_counter()
                extractor.fit(self.train.images)
                train_x = self.both_views(extractor.transform, self.train.images)
                test_x = extractor.transform(self.test.images)
                seconds = time.perf_counter() - start
                self.timing(f"features {name}", seconds)
                info = {"kind": "autoencoder", "hidden": model.hidden, "layer": str(choice),
                        "encoding": settings.encoding, "alpha": extractor.alpha_,
                        "stride": int(stride), "pooling": settings.pooling,
                        "pool_grid": int(settings.pool_grid) if settings.pooling != "none" else None,
                        "extraction_time": seconds, "training_time": model.training_time_}
                self.table.info["feature_sets"].append(dict(
                    info, name=name, n_features=int(train_x.shape[1]), grid=list(extractor.grid_),
                    layers=extractor.layers_))
                self.say(f"{name}: {train_x.shape[1]} features, extracted in {seconds:.1f} s")
                self.evaluate(name, train_x, test_x, info, disposable=True)
                del train_x, test_x  # before the next feature set is extracted


def run_classification(train, test, settings=None, models=(), patch_images=None, progress=None):
    """Raw pixels vs learned features under several scikit-learn classifiers.

    Parameters
    ----------
    train, test : Dataset or (images, labels)
        Labelled images as rows (``(n, h * w * c)``, uint8 or float, memory
        maps are fine; labels of shape ``(n,)``, the test labels indexing the
        training set's classes).  A pair means square RGB images.  The
        training set's ``folds`` (STL-10) give the fold protocol.
    settings : ClassificationSettings, optional
        What to compare (default: ``ClassificationSettings()``: every
        classifier, raw pixels and SPEC's autoencoder at stride 4).
        Validated before any work.
    models : sequence of PatchModel
        Trained models to use as well (e.g. ``PatchModel.load(path)``),
        reported before the ones the settings train.
    patch_images : ndarray of shape (n, h * w * c), optional
        Unlabeled images to sample the autoencoders' patches from (STL-10's
        unlabeled split); default: the training images.  Never test images.
    progress : callable, optional
        Called with one line of progress at a time.

    Raises
    ------
    ValueError
        Bad settings, classifier options or data, before any work.
    KeyboardInterrupt
        Ctrl-C while an autoencoder trains (the study stops: its features
        would not be those asked for).

    Returns
    -------
    ResultTable
        One row per feature set x classifier x protocol; ``info`` holds the
        settings, models, feature sets and timings; ``models`` every model
        used, ``trained_models`` those trained here.
    """
    settings = (ClassificationSettings() if settings is None else settings).validate()
    check_classifier_options(settings)
    train, test = _as_dataset(train, "training"), _as_dataset(test, "test")
    check_test_classes(train.labels, test.labels, train.class_names or None)
    if tuple(test.image_shape) != tuple(train.image_shape):
        raise ValueError(f"test images are {test.image_shape}, training images {train.image_shape}")
    models = list(models)
    for model in models:
        if not isinstance(model, PatchModel):
            raise TypeError(f"models must hold PatchModel objects, got {type(model).__name__}")
    if not (settings.raw_pixels or settings.architectures or models):
        raise ValueError("nothing to classify: raw_pixels is False and there are no models or architectures")
    for architecture in settings.architectures:
        PatchModel(architecture).check_memory(train.image_shape[2])
    table = ResultTable(info={"timings": [], "models": [], "feature_sets": [], "settings": dict(
        settings.to_dict(), n_train=len(train), n_test=len(test),
        folds=None if train.folds is None or not settings.use_folds else len(train.folds))})
    study = _Study(train, test, settings, progress, table)
    start = time.perf_counter()
    if settings.raw_pixels:
        study.raw_pixels()
    trained = study.train_models(patch_images)
    for model in models + trained:
        table.info["models"].append(model.describe())
        study.learned_features(model)
    study.timing("total", time.perf_counter() - start)
    table.models, table.trained_models = models + trained, trained
    return table
