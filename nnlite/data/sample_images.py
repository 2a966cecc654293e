"""scikit-learn's two bundled photographs as a Dataset: the default data, no download needed.

:func:`sklearn.datasets.load_sample_images` ships ``china.jpg`` and
``flower.jpg``, both 427 x 640 RGB; they become two rows of
``427 * 640 * 3`` uint8 values in SPEC's layout.
"""

import numpy as np

from .dataset import Dataset, select_subset

SPLITS = ("train", "unlabeled")


def load_sample_images(split="train", limit=None, random_state=None):
    """Load the bundled sample photographs.

    Parameters
    ----------
    split : {'train', 'unlabeled'}
        Both give the same two unlabeled photos (there is no test split).
    limit : int, optional
        Keep at most this many (1 keeps the first photo).
    random_state : None, int or Generator
        Used only with ``limit``.

    Returns
    -------
    Dataset
        ``images`` of shape (2, 819840) uint8, ``labels`` None,
        ``image_shape`` (427, 640, 3), ``name`` ``'sample'``.
    """
    if split not in SPLITS:
        raise ValueError(f"the sample photos have only the splits {SPLITS}, got {split!r}")
    from sklearn.datasets import load_sample_images as sklearn_sample_images

    photos = sklearn_sample_images().images
    shape = photos[0].shape
    if any(photo.shape != shape for photo in photos):  # pragma: no cover - fixed bundled data
        raise ValueError(f"sample photos differ in size: {[photo.shape for photo in photos]}")
    images = np.stack([np.asarray(photo, dtype=np.uint8).reshape(-1) for photo in photos])
    dataset = Dataset(images, None, [], shape, None, "sample")
    indices = select_subset(len(dataset), limit, None, random_state)
    return dataset if indices is None else dataset.subset(indices)
