"""The bundled photographs as a pyramid of tiles: the default training data of ``nnlite train``.

At full resolution an 8x8 patch of a 640-pixel photograph is nearly flat (a
patch covers 1 % of the picture's width), so an autoencoder trained on such
patches learns smooth colour blobs.  Scaled down by 1/2, 1/4 and 1/8 (with
anti-aliasing: Pillow's Lanczos filter widens with the scale factor), the
same photographs put edges, corners and colour transitions inside 8x8
windows, as in the 32x32 images of CIFAR-10.  Each level is cut into
non-overlapping ``tile x tile`` squares; the squares are the dataset's rows.

The photographs, all installed with the libraries nnlite already needs (no
download):

* ``china.jpg``, ``flower.jpg`` -- scikit-learn's sample images
  (:func:`sklearn.datasets.load_sample_images`), Flickr photographs under
  CC BY 2.0 (by danielbuechele and vultilion; see scikit-learn's
  ``datasets/images/README.txt``);
* ``grace_hopper.jpg`` -- matplotlib's sample data, a U.S. Navy photograph
  of Grace Hopper (public domain); skipped when matplotlib's sample data
  is absent.
"""

import os

import numpy as np
from PIL import Image

from .dataset import Dataset, select_subset

#: Down-scaling factors of the pyramid.
SCALES = (2, 4, 8)
#: Side of the square tiles (CIFAR-10's).
TILE = 32
SPLITS = ("train", "unlabeled")


def bundled_photographs():
    """The bundled photographs as (name, (h, w, 3) uint8 array) pairs."""
    from sklearn.datasets import load_sample_images as sklearn_sample_images

    photos = list(zip(("china", "flower"), sklearn_sample_images().images))
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - a dependency of nnlite (display)
        return photos
    path = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data", "grace_hopper.jpg")
    if os.path.isfile(path):
        with Image.open(path) as image:
            photos.append(("grace_hopper", np.asarray(image.convert("RGB"), dtype=np.uint8)))
    return photos


def pyramid_tiles(photo, scales=SCALES, tile=TILE):
    """Non-overlapping ``tile x tile`` squares of ``photo`` scaled by ``1/s`` for each ``s`` in ``scales``.

    Parameters
    ----------
    photo : ndarray of shape (h, w, 3), uint8
    scales : sequence of int
        Down-scaling factors (Lanczos, anti-aliased); levels smaller than
        one tile give no tile.
    tile : int

    Returns
    -------
    ndarray of shape (n_tiles, tile * tile * 3), uint8
        Level by level, row-major within a level.
    """
    image = Image.fromarray(np.asarray(photo, dtype=np.uint8))
    lanczos = getattr(Image, "Resampling", Image).LANCZOS
    rows = []
    for scale in scales:
        width, height = image.size[0] // scale, image.size[1] // scale
        if min(width, height) < tile:
            continue
        level = np.asarray(image.resize((width, height), lanczos), dtype=np.uint8)
        n_rows, n_cols = height // tile, width // tile
        cut = level[:n_rows * tile, :n_cols * tile].reshape(n_rows, tile, n_cols, tile, 3)
        rows.append(cut.transpose(0, 2, 1, 3, 4).reshape(n_rows * n_cols, tile * tile * 3))
    return np.concatenate(rows) if rows else np.empty((0, tile * tile * 3), dtype=np.uint8)


def load_photo_pyramid(split="train", limit=None, random_state=None):
    """The bundled photographs at scales 1/2, 1/4, 1/8, cut into 32x32 tiles.

    Parameters
    ----------
    split : {'train', 'unlabeled'}
        Both give the same unlabeled tiles.
    limit : int, optional
        Keep at most this many tiles (a seeded subset).
    random_state : None, int or Generator
        Used only with ``limit``.

    Returns
    -------
    Dataset
        ``images`` of shape (n_tiles, 3072) uint8 (246 tiles with the three
        photographs), ``labels`` None, ``image_shape`` (32, 32, 3), ``name``
        ``'photos'``.
    """
    if split not in SPLITS:
        raise ValueError(f"the bundled photos have only the splits {SPLITS}, got {split!r}")
    images = np.concatenate([pyramid_tiles(photo) for _, photo in bundled_photographs()])
    dataset = Dataset(images, None, [], (TILE, TILE, 3), None, "photos")
    indices = select_subset(len(dataset), limit, None, random_state)
    return dataset if indices is None else dataset.subset(indices)
