"""Test and training sets of a study: the seeded stratified hold-out, validation, class matching.

:func:`study_split` is the protocol of ``nnlite classify``: a given test set
(its classes matched to the training set's by name), or a stratified
hold-out of the training images; optionally a validation split of the
training images scored instead of the test set; optionally fewer training
images.  Every draw is seeded.
"""

import numpy as np
from sklearn.model_selection import train_test_split

from ..data import Dataset, select_subset
from ..validation import check_random_state

__all__ = ["align_classes", "check_test_classes", "stratified_holdout", "study_split"]


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
    """Raise ``ValueError`` when the test set holds classes the training set lacks.

    Parameters
    ----------
    train_labels, test_labels : array-like of int, shape (n,)
    class_names : list of str, optional
        To name the missing classes.
    """
    missing = np.setdiff1d(np.unique(test_labels), np.unique(train_labels))
    if missing.size:
        names = [class_names[k] if class_names is not None and 0 <= k < len(class_names) else int(k)
                 for k in missing]
        raise ValueError(f"the test set has classes the training set lacks: {names}")


def align_classes(test, train):
    """``test`` with its labels re-indexed to ``train``'s class names (matched by name).

    Parameters
    ----------
    test, train : Dataset
        Labelled, with class names.

    Returns
    -------
    Dataset
        ``test``'s images, labels indexing ``train.class_names``.

    Raises
    ------
    ValueError
        ``test`` has a class ``train`` lacks (named).
    """
    names = np.asarray(test.class_names, dtype=object)[test.labels]
    unknown = sorted(set(names) - set(train.class_names))
    if unknown:
        raise ValueError(f"the test set has classes the training set lacks: {unknown}")
    lookup = {name: index for index, name in enumerate(train.class_names)}
    return Dataset(test.images, [lookup[name] for name in names], list(train.class_names), test.image_shape,
                   None, test.name)


def study_split(train, test=None, holdout=None, validation=None, train_limit=None, random_state=0,
                test_name="test set"):
    """The training and scored sets of a study, and how they were chosen.

    Parameters
    ----------
    train : Dataset
        Labelled training images.
    test : Dataset, optional
        A labelled test set (classes matched by name); None: a stratified
        hold-out of ``train``.
    holdout : int or float, optional
        Hold-out size (images, or a fraction in (0, 1)); default 0.2; only
        without ``test``.
    validation : int or float, optional
        Score on a stratified split of the training images this size
        (seed ``random_state + 1``) instead of the test set, left unused.
    train_limit : int, optional
        Keep at most this many training images (stratified, seeded).
    random_state : int
    test_name : str
        How ``protocol`` names a given test set (``'test split'``, ``'separate'``).

    Returns
    -------
    train, scored : Dataset
    protocol : dict
        JSON-ready: ``test`` (how the scored set was chosen), ``holdout``,
        ``holdout_seed``, ``n_holdout``, ``n_validation``, ``train_limit``
        where they apply.
    """
    if test is not None and holdout is not None:
        raise ValueError("give either a test set or a hold-out size, not both")
    if test is not None:
        scored, protocol = align_classes(test, train), {"test": test_name}
    else:
        holdout = 0.2 if holdout is None else holdout
        train_index, test_index = stratified_holdout(train.labels, holdout, random_state=random_state)
        train, scored = train.subset(train_index), train.subset(test_index)
        protocol = {"test": "stratified hold-out", "holdout": holdout, "holdout_seed": random_state,
                    "n_holdout": len(scored)}
    if validation is not None:
        train_index, valid_index = stratified_holdout(train.labels, validation, random_state=random_state + 1)
        train, scored = train.subset(train_index), train.subset(valid_index)
        protocol.update(test=f"validation split of the training images ({protocol['test']} unused)",
                        n_validation=len(scored))
    if train_limit is not None:
        index = select_subset(len(train), train_limit, train.labels, random_state=random_state)
        if index is not None:
            train = train.subset(index)
        protocol["train_limit"] = train_limit
    return train, scored, protocol
