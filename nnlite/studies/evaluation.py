"""The hook through which studies 5 and 6 measure classification accuracy of a trained model.

Studies 5 (sample size) and 6 (ReLU vs sigmoid) train
:class:`~nnlite.patch_model.PatchModel` objects themselves and ask a
``evaluate(model) -> float or None`` callable for the accuracy of a
classifier trained on that model's features.  :func:`classification_hook`
builds that callable from labelled images; it returns ``None`` (no
accuracy measured) while the classification study's API is not wired in,
or when the data carry no labels.
"""

__all__ = ["classification_hook", "accuracy_of"]


def classification_hook(images, labels, image_shape, quick=False, random_state=0):
    """The ``evaluate(model)`` callable for labelled data, or ``None`` without labels.

    Parameters
    ----------
    images : ndarray of shape (n_images, h*w*c)
    labels : ndarray of shape (n_images,) or None
    image_shape : tuple (h, w, c)
    quick : bool
        Small hold-out and a fast classifier.
    random_state : int
        Seeds the hold-out split.

    Returns
    -------
    callable or None
        ``evaluate(model) -> float`` (test accuracy in [0, 1]) or None.

    Notes
    -----
    HOOK: the call into the classification study's API (``nnlite.classify``
    with its settings object) goes here; until it lands, no accuracy is
    measured and the studies report training numbers only.
    """
    if labels is None:
        return None
    return None


def accuracy_of(evaluate, model):
    """``evaluate(model)`` as a float, or ``None`` when there is no hook."""
    if evaluate is None:
        return None
    value = evaluate(model)
    return None if value is None else float(value)
