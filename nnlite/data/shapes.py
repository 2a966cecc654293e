"""The shape ``(h, w, c)`` of the images whose rows are given: inferred or checked.

Images, patches and filters are rows of ``h * w * c`` values
(``row.reshape(h, w, c)``).  Random patches (:mod:`nnlite.data.patches`),
grid patches (:mod:`nnlite.data.strided`) and tiles (:mod:`nnlite.display`)
all need the shape back from the row length; this module is the one place
that infers it (square images) or checks a shape the caller gives.
"""

import math

from ..validation import check_int, is_integer

__all__ = ["image_side", "resolve_image_shape", "square_side"]


def square_side(row_length, channels):
    """Side ``d`` with ``row_length == d * d * channels``, or None when there is none.

    Parameters
    ----------
    row_length : int
        Values in one row (>= 1).
    channels : int

    Returns
    -------
    int or None
    """
    side = math.isqrt(row_length // channels)
    return side if side > 0 and side * side * channels == row_length else None


def image_side(row_length, channels=3):
    """Side ``d`` of a square image whose row has ``row_length = d * d * channels`` values.

    Parameters
    ----------
    row_length : int
        Number of values in one image row.
    channels : int, default=3

    Returns
    -------
    int

    Raises
    ------
    ValueError
        When ``row_length`` is not ``d * d * channels`` for a positive integer ``d``.
    """
    channels = check_int(channels, "channels", minimum=1)
    row_length = check_int(row_length, "row length", minimum=1)
    side = square_side(row_length, channels)
    if side is None:
        raise ValueError(
            f"row length {row_length} is not d*d*{channels} for an integer d; "
            f"pass image_shape=(height, width, channels) for non-square images")
    return side


def resolve_image_shape(row_length, image_shape=None, channels=3, allowed_channels=None):
    """Return ``(h, w, c)`` for rows of ``row_length`` values.

    Parameters
    ----------
    row_length : int
    image_shape : tuple of int, optional
        ``(h, w, c)`` or ``(h, w)`` (one channel).  ``None``: a square
        ``d x d x channels`` image inferred from ``row_length``.
    channels : int, default=3
        Channels assumed when ``image_shape`` is None.
    allowed_channels : tuple of int, optional
        Channel counts accepted in ``image_shape`` (any when None).

    Returns
    -------
    tuple of (int, int, int)

    Raises
    ------
    ValueError
        When the shape is malformed, has a channel count not in
        ``allowed_channels``, or does not hold ``row_length`` values.
    """
    if image_shape is None:
        side = image_side(row_length, channels)
        return side, side, int(channels)
    shape = tuple(image_shape)
    if len(shape) == 2:
        shape = shape + (1,)
    if len(shape) != 3 or any(not is_integer(v) or v < 1 for v in shape):
        raise ValueError(f"image_shape must be (height, width[, channels]) of positive ints, "
                         f"got {image_shape!r}")
    if allowed_channels is not None and shape[2] not in allowed_channels:
        raise ValueError(f"image_shape must have {' or '.join(map(str, allowed_channels))} "
                         f"channel(s), got {image_shape!r}")
    shape = tuple(int(v) for v in shape)
    if shape[0] * shape[1] * shape[2] != row_length:
        raise ValueError(f"image_shape {shape} holds {shape[0] * shape[1] * shape[2]} values "
                         f"but the rows have {row_length}")
    return shape
