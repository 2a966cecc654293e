"""Study 1: the three pictures of the assignment's header.

Source images, the patches sampled from them (after preprocessing), and the
filters (rows of ``W(1)`` in pixel space) that the default model learns.
"""

import numpy as np

from ..display import tile_grid
from ..patch_model import PatchModel, PatchSettings
from ..validation import check_int, check_random_state
from .common import decode_png, encode_png, filter_picture, new_figure, save_figure

__all__ = ["run_pictures", "figures_pictures", "macros_pictures"]

#: Longest side (pixels) of a source image in the picture; larger images are reduced.
SOURCE_SIDE = 160


def _reduce(images, image_shape, side=SOURCE_SIDE):
    """Images as (n, h', w', c) float in [0, 1], block-averaged so the longest side is <= side."""
    height, width, channels = image_shape
    factor = max(1, -(-max(height, width) // side))
    h, w = height // factor * factor, width // factor * factor
    stack = np.asarray(images, dtype=np.float64).reshape(-1, height, width, channels)[:, :h, :w]
    blocks = (stack.shape[0], h // factor, factor, w // factor, factor, channels)
    stack = stack.reshape(blocks).mean(axis=(2, 4))
    return stack / max(float(stack.max()), 1.0) if stack.max() > 1.0 else stack


def run_pictures(images, image_shape, settings=None, n_images=16, quick=False, random_state=0,
                 progress=None):
    """Train the default model and keep the three pictures.

    Parameters
    ----------
    images : ndarray of shape (n_images, h*w*c)
        Training images (uint8 or float).
    image_shape : tuple (h, w, c)
    settings : PatchSettings, optional
        Default: SPEC's model (``PatchSettings()``); quick mode trains 36
        hidden units on 2,000 patches for 40 iterations.
    n_images : int, default=16
        Source images shown (fewer when there are fewer).
    quick : bool
    random_state : int
        Seeds the images shown, the patches and the weights.
    progress : callable(str), optional

    Returns
    -------
    dict
        ``source_png``, ``patches_png``, ``filters_png`` (base64 PNG grids),
        ``settings``, ``summary`` (the model's), ``training_time``.
    """
    n_images = check_int(n_images, "n_images", minimum=1)
    if settings is None:
        settings = PatchSettings(hidden=(36,), num_patches=2000, max_iter=40) if quick else PatchSettings()
    settings = PatchSettings.from_dict(dict(settings.to_dict(), random_state=random_state))
    rng = check_random_state(random_state)
    shown = np.sort(rng.choice(images.shape[0], size=min(n_images, images.shape[0]), replace=False))
    reduced = _reduce(np.asarray(images[shown]), tuple(image_shape))
    source = tile_grid(reduced.reshape(reduced.shape[0], -1), image_shape=reduced.shape[1:], padding=2)
    if progress:
        progress(f"pictures: training {settings.hidden} on {settings.num_patches} patches, "
                 f"{settings.max_iter} iterations")
    model = PatchModel(settings).fit(images, image_shape, progress=progress)
    return {"settings": settings.to_dict(),
            "n_images": int(shown.size),
            "source_png": encode_png(source),
            "patches_png": encode_png(tile_grid(model.example_patches_[:100],
                                                image_shape=model.patch_shape_)),
            "filters_png": filter_picture(model.pixel_filters(), model.patch_shape_),
            "summary": model.summary_,
            "training_time": float(model.training_time_)}


def figures_pictures(result, folder):
    """Draw the source images, patches and filters side by side; return the paths written."""
    figure = new_figure(10.5, 3.8)
    titles = (("source_png", "(a) source images"), ("patches_png", "(b) sampled patches"),
              ("filters_png", "(c) learned filters"))
    for index, (key, title) in enumerate(titles):
        axes = figure.add_subplot(1, 3, index + 1)
        axes.imshow(decode_png(result[key]), interpolation="nearest", cmap="gray")
        axes.set_title(title)
        axes.set_axis_off()
    return save_figure(figure, folder, "pictures")


def macros_pictures(result):
    """Numbers the report quotes: name -> text."""
    summary = result["summary"]
    return {"PicturesHidden": "-".join(str(size) for size in result["settings"]["hidden"]),
            "PicturesPatches": f"{int(result['settings']['num_patches']):,}",
            "PicturesIterations": str(int(summary.get("n_iter", result["settings"]["max_iter"]))),
            "PicturesImages": str(result["n_images"]),
            "PicturesSeconds": f"{result['training_time']:.1f}",
            "PicturesCost": f"{summary['final_cost']:.4g}"}
