"""The labelled-data protocol of the report, and the hook through which studies 5 and 6 measure accuracy.

Every study that classifies uses the same seeded split of the labelled
images (:func:`report_split`):

* a stratified **hold-out** (:data:`HOLDOUT` images, at most a fifth of the
  data; quick mode a fifth) is set aside first; only the classification
  study (3) scores on it, and nothing is tuned on it;
* a stratified **validation** split of the remaining images, on which the
  hook below (and the depth study, with its own sizes) scores;
* the rest are the **training images**: the autoencoders of studies 5 and
  6 draw their patches from them only (the runner passes them instead of
  all images), and the hook's classifier trains on a stratified subset.

Studies 5 (sample size) and 6 (ReLU vs sigmoid) train
:class:`~nnlite.patch_model.PatchModel` objects themselves and ask an
``evaluate(model) -> float`` callable for the accuracy of a classifier
trained on that model's features.  :func:`classification_hook` builds it
(:class:`ClassificationHook`) from labelled images, or returns ``None``
without labels.  The classifier is fixed in advance, never tuned: logistic
regression (``nnlite.classify`` defaults, C = 0.01 on standardised
features) on the codes of patches at stride 4, summed over the four image
quadrants, through :func:`nnlite.classify.run_classification`.
"""

import numpy as np

from ..classify import ClassificationSettings, run_classification, stratified_holdout
from ..data import Dataset, select_subset

__all__ = ["HOLDOUT", "HOOK_SIZES", "QUICK_HOOK_SIZES", "ClassificationHook", "report_split",
           "classification_hook", "accuracy_of", "holdout_size", "labelled_dataset"]

#: Hold-out images set aside in full mode (at most a fifth of the data).
HOLDOUT = 10000
#: (classifier training images, validation images) of the hook in full mode.
HOOK_SIZES = (5000, 2500)
#: The same in quick mode.
QUICK_HOOK_SIZES = (300, 150)
#: The hook's feature extraction: stride, pooling, pool grid.
HOOK_FEATURES = (4, "sum", 2)


def labelled_dataset(images, labels, image_shape, name="report data"):
    """``images`` and ``labels`` as a :class:`~nnlite.data.Dataset` (labels as int64)."""
    return Dataset(images, np.asarray(labels, dtype=np.int64), image_shape=tuple(image_shape), name=name)


def holdout_size(n_images, quick=False):
    """Images in the hold-out: :data:`HOLDOUT` (full) or a fifth (quick), at most a fifth, at least 1.

    Parameters
    ----------
    n_images : int
    quick : bool

    Returns
    -------
    int
    """
    fifth = max(1, int(n_images) // 5)
    return fifth if quick else min(HOLDOUT, fifth)


def report_split(dataset, quick=False, random_state=0, validation=None):
    """The report's seeded, stratified split of a labelled dataset.

    Parameters
    ----------
    dataset : nnlite.data.Dataset
        Labelled images.
    quick : bool
        Hold-out size by :func:`holdout_size`.
    random_state : int
        Seeds the hold-out (``random_state``) and the validation split
        (``random_state + 1``).
    validation : int, optional
        Validation images taken from the non-hold-out part (default: none).

    Returns
    -------
    dict
        ``train`` (Dataset: neither hold-out nor validation), ``holdout``
        (Dataset), ``validation`` (Dataset or None) and ``protocol``
        (JSON-ready sizes and seeds).
    """
    n_holdout = holdout_size(len(dataset), quick)
    rest_index, holdout_index = stratified_holdout(dataset.labels, n_holdout, random_state=random_state)
    rest, holdout = dataset.subset(rest_index), dataset.subset(holdout_index)
    protocol = {"n_images": int(len(dataset)), "n_holdout": int(len(holdout)), "holdout_seed": int(random_state),
                "holdout": "stratified, seeded; set aside before anything else"}
    valid = None
    if validation is not None:
        train_index, valid_index = stratified_holdout(rest.labels, int(validation), random_state=random_state + 1)
        rest, valid = rest.subset(train_index), rest.subset(valid_index)
        protocol.update(n_validation=int(len(valid)), validation_seed=int(random_state + 1))
    protocol["n_train_pool"] = int(len(rest))
    return {"train": rest, "holdout": holdout, "validation": valid, "protocol": protocol}


class ClassificationHook:
    """``evaluate(model) -> float``: validation accuracy of a fixed classifier on ``model``'s features.

    Parameters
    ----------
    train, valid : nnlite.data.Dataset
        The classifier's training images and the images it is scored on.
    patch_images : ndarray of shape (n, h*w*c)
        The images the studies may train autoencoders on (neither hold-out
        nor validation).
    protocol : dict
        JSON-ready description (sizes, seeds, classifier, features).
    random_state : int
        Seeds the classifier.
    """

    def __init__(self, train, valid, patch_images, protocol, random_state=0):
        self.train, self.valid, self.patch_images = train, valid, patch_images
        stride, pooling, grid = HOOK_FEATURES
        self.settings = ClassificationSettings(classifiers=("logistic",), raw_pixels=False, architectures=(),
                                               strides=(stride,), pooling=pooling, pool_grid=grid,
                                               use_folds=False, random_state=int(random_state)).validate()
        self.protocol = dict(protocol, classifier="logistic", stride=stride, pooling=pooling, pool_grid=grid,
                             n_classifier_train=int(len(train)))

    def __call__(self, model):
        """Validation accuracy (in [0, 1]) of the classifier on ``model``'s features."""
        table = run_classification(self.train, self.valid, self.settings, models=[model])
        return float(table.rows[0]["accuracy"])


def classification_hook(images, labels, image_shape, quick=False, random_state=0):
    """The ``evaluate(model)`` callable for labelled data, or ``None`` without labels.

    Parameters
    ----------
    images : ndarray of shape (n_images, h*w*c)
    labels : ndarray of shape (n_images,) or None
    image_shape : tuple (h, w, c)
    quick : bool
        Small training and validation sets (:data:`QUICK_HOOK_SIZES`).
    random_state : int
        Seeds the splits and the classifier.

    Returns
    -------
    ClassificationHook or None
        ``evaluate(model) -> float`` (validation accuracy in [0, 1]); its
        ``patch_images`` are the images the autoencoders may see and its
        ``protocol`` says how the sets were drawn.
    """
    if labels is None:
        return None
    dataset = labelled_dataset(images, labels, image_shape)
    n_train, n_valid = QUICK_HOOK_SIZES if quick else HOOK_SIZES
    n_rest = len(dataset) - holdout_size(len(dataset), quick)
    n_valid = max(1, min(n_valid, n_rest // 3))
    split = report_split(dataset, quick=quick, random_state=random_state, validation=n_valid)
    pool = split["train"]
    index = select_subset(len(pool), n_train, pool.labels, random_state=random_state)
    train = pool if index is None else pool.subset(index)
    return ClassificationHook(train, split["validation"], pool.images, split["protocol"], random_state)


def accuracy_of(evaluate, model):
    """``evaluate(model)`` as a float, or ``None`` when there is no hook."""
    if evaluate is None:
        return None
    value = evaluate(model)
    return None if value is None else float(value)
