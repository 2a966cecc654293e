"""Test and training splits of a labelled set: the seeded stratified hold-out, class checks."""

import numpy as np
from sklearn.model_selection import train_test_split

from ..validation import check_random_state

__all__ = ["check_test_classes", "stratified_holdout"]


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
