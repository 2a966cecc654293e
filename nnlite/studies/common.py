"""Helpers every study shares: held-out patch metrics, pictures stored in JSON, figure saving.

A study's result must be JSON-serialisable and must be enough to redraw its
figures (the report command resumes from the JSON files alone), so pictures
travel inside the result as PNG images encoded in base64
(:func:`encode_png` / :func:`decode_png`), small enough for filter grids.
"""

import base64
import io
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from ..data.patches import sample_patches_raw
from ..display import tile_grid
from ..patch_model import PatchModel, PatchSettings
from ..validation import check_random_state

__all__ = ["DEAD", "SATURATED", "checkout_file", "encode_png", "decode_png", "filter_picture", "evaluation_patches",
           "unit_statistics", "new_figure", "save_figure", "seed_sequence", "train_variant"]

def checkout_file(*parts):
    """A file of the source checkout (``checkout_file("report", "report.tex")``).

    Looked for beside the package (a checkout or an editable install), then
    in the working folder and each folder above it (an installed package run
    from inside the checkout, e.g. the notebook from ``notebooks/``).

    Returns
    -------
    str
        The first candidate that exists; the first candidate when none does,
        so that an error names a path.
    """
    relative = os.path.join(*parts)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    candidates, folder = [os.path.join(package_root, relative)], os.path.abspath(os.getcwd())
    while True:
        candidates.append(os.path.join(folder, relative))
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return next((path for path in candidates if os.path.exists(path)), candidates[0])


#: A hidden unit whose mean activation is below this is counted as dead.
DEAD = 1e-3
#: A hidden unit whose mean activation is above this is counted as saturated.
SATURATED = 0.99
#: At most this many filters are drawn per model.
MAX_FILTERS = 100


def encode_png(grid):
    """A picture in [0, 1] as a base64 PNG string.

    Parameters
    ----------
    grid : ndarray of shape (h, w) or (h, w, 3)
        Values in [0, 1] (as :func:`nnlite.display.tile_grid` returns).

    Returns
    -------
    str
    """
    pixels = np.rint(np.clip(np.asarray(grid, dtype=np.float64), 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_png(text):
    """Inverse of :func:`encode_png`: ndarray of uint8, shape (h, w) or (h, w, 3)."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text.encode("ascii")))))


def filter_picture(filters, patch_shape):
    """The first :data:`MAX_FILTERS` filters as a tile grid, encoded with :func:`encode_png`.

    Parameters
    ----------
    filters : ndarray of shape (n_units, p*p*c)
    patch_shape : tuple (p, p, c)

    Returns
    -------
    str
    """
    return encode_png(tile_grid(np.asarray(filters)[:MAX_FILTERS], image_shape=tuple(patch_shape)))


def evaluation_patches(images, image_shape, n_patches, patch_size, random_state):
    """Raw patches for held-out measurements, drawn with their own seed.

    Parameters
    ----------
    images : ndarray of shape (n_images, h*w*c)
    image_shape : tuple (h, w, c)
    n_patches, patch_size : int
    random_state : None, int or Generator

    Returns
    -------
    ndarray of shape (n_patches, patch_size*patch_size*c), float64
    """
    patches = sample_patches_raw(images, n_patches, patch_size, image_shape=tuple(image_shape),
                                 random_state=check_random_state(random_state))
    return np.asarray(patches, dtype=np.float64)


def unit_statistics(model, raw_patches):
    """Numbers that track what the filter picture shows, measured on held-out patches.

    Parameters
    ----------
    model : nnlite.patch_model.PatchModel
        Fitted.
    raw_patches : ndarray of shape (n_patches, p*p*c)
        Raw pixel patches (the model's preprocessor is applied here).

    Returns
    -------
    dict
        ``reconstruction_error`` (mean of 0.5 ||h(x) - x||^2 in the model's
        input scale), ``mean_activation`` (mean over units of each unit's
        mean activation), ``dead_fraction`` (units with mean activation
        < :data:`DEAD`), ``saturated_fraction`` (> :data:`SATURATED`).
    """
    data = model.preprocessor_.transform(raw_patches)
    unit_means = np.asarray(model.encoder_.encode(data, layer=1), dtype=np.float64).mean(axis=0)
    return {"reconstruction_error": float(model.encoder_.reconstruction_error(data)),
            "mean_activation": float(unit_means.mean()),
            "dead_fraction": float(np.mean(unit_means < DEAD)),
            "saturated_fraction": float(np.mean(unit_means > SATURATED))}


def train_variant(images, image_shape, base, progress=None, label=None, **changes):
    """Fit a :class:`PatchModel` with ``base``'s settings except ``changes``.

    Parameters
    ----------
    images : ndarray of shape (n_images, h*w*c)
    image_shape : tuple (h, w, c)
    base : PatchSettings
    progress : callable(str), optional
        Receives ``label`` before training.
    label : str, optional
    **changes
        Fields of :class:`PatchSettings`.

    Returns
    -------
    PatchModel
        Fitted.
    """
    if progress and label:
        progress(label)
    settings = PatchSettings.from_dict(dict(base.to_dict(), **changes))
    return PatchModel(settings).fit(images, image_shape)


def seed_sequence(random_state, n_seeds):
    """``n_seeds`` distinct integer seeds derived from ``random_state`` (list of int)."""
    rng = check_random_state(random_state)
    return [int(seed) for seed in rng.choice(2**31 - 1, size=n_seeds, replace=False)]


def new_figure(width, height):
    """A matplotlib Figure on the Agg canvas (no display needed)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure, folder, name):
    """Write ``figure`` as ``<folder>/<name>.png`` and ``.pdf``; return both paths.

    The PDF carries no creation date, so redrawing the same result gives the same file.
    """
    os.makedirs(folder, exist_ok=True)
    paths = []
    for extension in ("png", "pdf"):
        path = os.path.join(os.fspath(folder), f"{name}.{extension}")
        figure.savefig(path, dpi=150, metadata={"CreationDate": None} if extension == "pdf" else None)
        paths.append(path)
    return paths
