"""An image folder ``root/<class>/<image>`` (JPEG/PNG) as Dataset rows, with a decode cache.

Classes are the sub-folders of ``root`` sorted by name (label = position);
files are taken in sorted order, so the result is deterministic.  Every image
becomes RGB (grey, palette and RGBA images are converted; alpha is dropped).
All images must have one size, or ``image_size=(h, w)`` resizes them with
Pillow; otherwise the first mismatch is an error naming both files.

Decoding tens of thousands of files takes a while, so with ``cache_dir`` the
decoded rows are written to ``<cache_dir>/folder-<name>-<hash>.npy`` with the
labels, class names and a fingerprint of the files in a ``.npz`` beside it.
The hash covers the absolute root and the options; the fingerprint (count,
total bytes, newest modification time and a hash of the chosen file names)
is checked on every load, and a stale cache is rebuilt.  A valid cache is
opened with ``np.load(mmap_mode='r')``: the images come back memory-mapped
and read-only.

Every problem with the input is an :class:`~nnlite.data.errors.DataError`
(a ``ValueError``) naming the file: an image that cannot be read or decoded,
an image with more pixels than Pillow's decompression-bomb limit
(``PIL.Image.MAX_IMAGE_PIXELS``; refused, not decoded, also between one and
two times the limit where Pillow itself only warns), a ``cache_dir`` that is
a file or cannot be written (checked before anything is decoded), and an
image stack larger than the memory available (checked before it is
allocated).
"""

import concurrent.futures
import hashlib
import json
import os
import re
import sys
import time
import warnings

import numpy as np
from PIL import Image

from ..memory import check_array_allocation
from ..staging import replaced_file
from ..validation import check_positive_int, check_writable_folder
from .dataset import Dataset, select_subset
from .errors import DataError, ImageFileError

EXTENSIONS = (".jpg", ".jpeg", ".png")
CACHE_VERSION = 1


def list_images(root, extensions=EXTENSIONS):
    """The class names, image files and labels of ``root/<class>/<image>``.

    Parameters
    ----------
    root : str
    extensions : tuple of str
        Lower-case suffixes accepted (compared case-insensitively).

    Returns
    -------
    class_names : list of str, sorted
    files : list of str
        Paths relative to ``root``, by class then file name.
    labels : ndarray of shape (n_files,), int64

    Raises
    ------
    FileNotFoundError
        ``root`` does not exist.
    ValueError
        ``root`` is not a folder, has no class folders, or holds no images.
    """
    root = os.fspath(root)
    if not os.path.exists(root):
        raise FileNotFoundError(f"image folder {root!r} does not exist")
    if not os.path.isdir(root):
        raise ValueError(f"image folder {root!r} is not a directory")
    class_names = sorted(entry.name for entry in _scan(root)
                         if entry.is_dir() and not entry.name.startswith("."))
    if not class_names:
        raise ValueError(f"image folder {root!r} has no class sub-folders (expected root/<class>/<image>)")
    files, labels = [], []
    for label, name in enumerate(class_names):
        found = sorted(entry.name for entry in _scan(os.path.join(root, name)) if entry.is_file()
                       and os.path.splitext(entry.name)[1].lower() in extensions)
        files.extend(f"{name}/{file}" for file in found)
        labels.extend([label] * len(found))
    if not files:
        raise ValueError(f"image folder {root!r} holds no images ({', '.join(extensions)}) "
                         f"in its {len(class_names)} class folder(s)")
    return class_names, files, np.array(labels, dtype=np.int64)


def _scan(folder):
    """The entries of ``folder``; an unreadable folder is a :class:`DataError` naming it."""
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as error:
        raise DataError(f"cannot list the image folder {folder!r}: {error.strerror or error}") from None


def fingerprint(root, files):
    """Count, total size, newest mtime and a name hash of ``files`` (to detect a stale cache)."""
    total = newest = 0
    for file in files:
        try:
            stat = os.stat(os.path.join(root, file))
        except OSError as error:
            raise DataError(f"cannot read image {os.path.join(root, file)!r}: "
                            f"{error.strerror or error}") from None
        total += stat.st_size
        newest = max(newest, stat.st_mtime_ns)
    names = hashlib.sha256("\n".join(files).encode("utf-8")).hexdigest()
    return {"count": len(files), "total_bytes": total, "newest_mtime_ns": newest, "names_sha256": names}


class _Progress:
    """A counter on stderr, written at most every ``interval`` seconds and once at the end."""

    def __init__(self, total, label, enabled=True, interval=2.0, stream=None):
        self.total, self.label, self.enabled, self.interval = total, label, enabled, interval
        self.stream = sys.stderr if stream is None else stream
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.start = self.last = time.perf_counter()

    def _write(self, done, end):
        percent = 100.0 * done / max(self.total, 1)
        elapsed = time.perf_counter() - self.start
        start = "\r" if self.tty else ""
        self.stream.write(f"{start}{self.label} {done:,}/{self.total:,} ({percent:.0f}%) "
                          f"{elapsed:.1f} s{end}")
        self.stream.flush()

    def update(self, done):
        now = time.perf_counter()
        if self.enabled and now - self.last >= self.interval:
            self.last = now
            self._write(done, "" if self.tty else "\n")

    def close(self, done):
        if self.enabled:
            self._write(done, "\n")


def _bomb_error(path, width, height, pillow_message=""):
    """The refusal of a decompression bomb; the size comes from the image or Pillow's own message."""
    limit = Image.MAX_IMAGE_PIXELS
    claimed = re.search(r"\((\d+) pixels\)", pillow_message)
    if width:
        size = f"{width}x{height} = {width * height:,} pixels"
    else:
        size = f"{int(claimed.group(1)):,} pixels" if claimed else "its size"
    return ImageFileError(
        f"refusing to decode image {path!r}: {size} exceeds Pillow's limit of {limit:,} pixels "
        f"(PIL.Image.MAX_IMAGE_PIXELS), a guard against decompression bombs; remove or shrink the "
        f"image, or raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file")


def _decode(path, image_size):
    """One image as an (h, w, 3) uint8 array, converted to RGB and resized if asked.

    Raises :class:`ImageFileError` naming ``path`` for every failure: a file
    that cannot be read, is not an image, is damaged or truncated (Pillow's
    decoders raise ``OSError``, ``SyntaxError``, ``ValueError``,
    ``struct.error``... on bad data), or is a decompression bomb.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            limit = Image.MAX_IMAGE_PIXELS
            if limit is not None and width * height > limit:
                raise _bomb_error(path, width, height)
            image = image.convert("RGB") if image.mode != "RGB" else image
            if image_size is not None and image.size != (image_size[1], image_size[0]):
                bilinear = getattr(Image, "Resampling", Image).BILINEAR  # Pillow < 9.1 lacks Resampling
                image = image.resize((image_size[1], image_size[0]), bilinear)
            return np.asarray(image, dtype=np.uint8)
    except ImageFileError:
        raise
    except Image.DecompressionBombError as error:
        raise _bomb_error(path, 0, 0, str(error)) from None
    except (PermissionError, IsADirectoryError) as error:
        raise ImageFileError(f"cannot read image {path!r}: {error.strerror or error}") from None
    except MemoryError:
        raise ImageFileError(f"cannot decode image {path!r}: it needs more memory than is "
                             f"available; remove or shrink it") from None
    except Exception as error:  # noqa: BLE001 - a decoder fails on bad data with any exception
        raise ImageFileError(f"cannot decode image {path!r} ({type(error).__name__}: {error}); the "
                             f"file is damaged or not an image: remove or replace it") from None


def decode_images(root, files, image_size=None, n_jobs=None, progress=True, chunk=256):
    """Decode ``files`` (relative to ``root``) into one uint8 array of rows.

    Parameters
    ----------
    root : str
    files : list of str
    image_size : tuple (h, w), optional
        Resize every image to it; without it all images must share one size.
    n_jobs : int, optional
        Decoding threads (Pillow releases the GIL); default ``min(4, cpus)``.
    progress : bool
        Report progress on stderr every ~2 s.
    chunk : int
        Files per task.

    Returns
    -------
    images : ndarray of shape (n_files, h*w*3), uint8
    image_shape : tuple (h, w, 3)

    Raises
    ------
    ValueError
        Images of different sizes without ``image_size`` (names two files).
    ImageFileError
        An image cannot be read or decoded, or is a decompression bomb.
    nnlite.memory.InsufficientMemoryError
        The decoded images would not fit in memory.
    """
    with warnings.catch_warnings():
        # _decode refuses images over the limit itself, with the file's name.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return _decode_all(root, files, image_size, n_jobs, progress, chunk)


def _decode_all(root, files, image_size, n_jobs, progress, chunk):
    """:func:`decode_images` without the warning filter around it."""
    first = _decode(os.path.join(root, files[0]), image_size)
    shape = first.shape
    check_array_allocation((len(files), first.size), np.uint8,
                           f"decoding {len(files)} images of {shape[1]}x{shape[0]} pixels from {root!r}",
                           advice="load fewer (limit=) or smaller (image_size=) images")
    images = np.empty((len(files), first.size), dtype=np.uint8)
    images[0] = first.reshape(-1)

    def work(start):
        for index in range(start, min(start + chunk, len(files))):
            if index == 0:
                continue
            pixels = _decode(os.path.join(root, files[index]), image_size)
            if pixels.shape != shape:
                return index, pixels.shape
            images[index] = pixels.reshape(-1)
        return None

    n_jobs = min(4, os.cpu_count() or 1) if n_jobs is None else check_positive_int(n_jobs, "n_jobs")
    counter = _Progress(len(files), f"decoding images in {root}:", enabled=progress)
    starts = range(0, len(files), chunk)
    with concurrent.futures.ThreadPoolExecutor(max_workers=n_jobs) as pool:
        try:
            for position, mismatch in enumerate(pool.map(work, starts)):
                if mismatch is not None:
                    index, other = mismatch
                    raise ValueError(
                        f"images differ in size: {files[0]!r} is {shape[1]}x{shape[0]} (w x h) but "
                        f"{files[index]!r} is {other[1]}x{other[0]}; pass image_size=(h, w) to "
                        f"resize all")
                counter.update(min((position + 1) * chunk, len(files)))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # the files not yet started are skipped
            raise
    counter.close(len(files))
    return images, shape


def _cache_paths(cache_dir, root, options):
    key = json.dumps({"root": os.path.abspath(root), "version": CACHE_VERSION, **options}, sort_keys=True)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    name = os.path.basename(os.path.normpath(os.path.abspath(root))) or "root"
    base = os.path.join(cache_dir, f"folder-{name}-{digest}")
    return base + ".npy", base + ".npz"


def _read_cache(images_path, meta_path, expected):
    """The cached (images, labels, metadata) if they match ``expected``, else None."""
    if not (os.path.isfile(images_path) and os.path.isfile(meta_path)):
        return None
    try:
        with np.load(meta_path, allow_pickle=False) as archive:
            metadata = json.loads(str(archive["metadata"]))
            labels = archive["labels"]
        if metadata.get("fingerprint") != expected:
            return None
        images = np.load(images_path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, KeyError):
        return None
    if images.ndim != 2 or not images.shape[0] == labels.shape[0] == expected["count"]:
        return None
    return images, labels, metadata


def _write_cache(images_path, meta_path, images, labels, metadata):
    """Write the cache atomically: images first, then the metadata that validates them."""
    for path, write in ((images_path, lambda handle: np.save(handle, images)),
                        (meta_path, lambda handle: np.savez(
                            handle, labels=labels, metadata=np.array(json.dumps(metadata))))):
        try:
            with replaced_file(path) as handle:
                write(handle)
        except OSError as error:
            raise DataError(f"cannot write the image cache {path!r} ({error.strerror or error}): "
                            f"free some space or choose another cache_dir") from None


def load_image_folder(root, image_size=None, cache_dir=None, limit=None, random_state=None,
                      n_jobs=None, progress=True, extensions=EXTENSIONS):
    """Load ``root/<class>/<image>`` as labelled image rows.

    Parameters
    ----------
    root : str
    image_size : tuple (h, w), optional
        Resize every image to ``h x w``; without it, mixed sizes are an error.
    cache_dir : str, optional
        Folder for the decoded-image cache (see the module docstring).
    limit : int, optional
        Decode at most this many images, stratified by class (see
        :func:`~nnlite.data.dataset.select_subset`): with ``random_state``
        None, the first files of each class in name order.
    random_state : None, int or Generator
        A seed picks a random stratified subset (only with ``limit``).
    n_jobs : int, optional
        Decoding threads.
    progress : bool, default=True
        Report decoding progress on stderr.
    extensions : tuple of str
        File suffixes taken as images.

    Returns
    -------
    Dataset
        ``images`` (N, h*w*3) uint8 (memory-mapped read-only when read from
        the cache), ``labels`` 0..K-1, ``class_names`` (folder names),
        ``name`` ``'folder-<basename>'``.

    Raises
    ------
    FileNotFoundError
        ``root`` does not exist.
    ValueError
        No class folders or no images, mixed sizes without ``image_size``,
        a bad ``image_size``, or a ``cache_dir`` that is a file or cannot
        be written (checked first).
    ImageFileError
        An image cannot be read or decoded, or is a decompression bomb.
    nnlite.memory.InsufficientMemoryError
        The decoded images would not fit in memory.
    """
    root = os.fspath(root)
    if image_size is not None:
        if np.ndim(image_size) != 1 or len(image_size) != 2:
            raise ValueError(f"image_size must be (height, width), got {image_size!r}")
        image_size = tuple(check_positive_int(size, "image_size") for size in image_size)
    class_names, files, labels = list_images(root, tuple(ext.lower() for ext in extensions))
    if cache_dir is not None:
        cache_dir = check_writable_folder(cache_dir, "cache_dir")
    indices = select_subset(len(files), limit, labels, random_state)
    if indices is not None:
        files, labels = [files[i] for i in indices], labels[indices]
    name = f"folder-{os.path.basename(os.path.normpath(root))}"
    if cache_dir is None:
        images, shape = decode_images(root, files, image_size, n_jobs, progress)
        return Dataset(images, labels, class_names, shape, None, name)
    seed = random_state if random_state is None or isinstance(random_state, int) else "generator"
    options = {"image_size": image_size, "limit": limit, "random_state": seed,
               "extensions": sorted(extensions)}
    images_path, meta_path = _cache_paths(cache_dir, root, options)
    expected = fingerprint(root, files)
    cached = _read_cache(images_path, meta_path, expected)
    if cached is not None:
        images, labels, metadata = cached
        if progress:
            sys.stderr.write(f"using cached images {images_path}\n")
        return Dataset(images, labels, metadata["class_names"], metadata["image_shape"], None, name)
    images, shape = decode_images(root, files, image_size, n_jobs, progress)
    metadata = {"root": os.path.abspath(root), "class_names": class_names, "image_shape": list(shape),
                "fingerprint": expected, "options": options, "version": CACHE_VERSION}
    _write_cache(images_path, meta_path, images, labels, metadata)
    return Dataset(images, labels, class_names, shape, None, name)
