"""Every way an input of the data layer can be unusable is a ValueError subclass naming it (issue 11).

Decompression bombs, unreadable or damaged images, a cache folder that is a
file or cannot be written, damaged pickles and batches that load but hold
the wrong things, and sizes that do not fit in memory (checked before
anything is allocated).  The command-line side is tests/test_data_errors_cli.py.
"""

import os
import pickle
import struct
import sys
import time
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from nnlite import memory
from nnlite.data import (DataError, ImageFileError, MappedImages, PickleDataError, as_float,
                         download, load_assignment_pickle, load_cifar10, load_dataset,
                         load_image_folder)
from nnlite.data import image_folder
from nnlite.data.patches import sample_patches_raw
from nnlite.data.strided import grid_patches
from nnlite.memory import InsufficientMemoryError
from nnlite.validation import check_writable_folder


def png_header_only(path, width, height):
    """A PNG whose header claims ``width x height`` grey pixels (its data is one empty row).

    Pillow reads the size from the header when the file is opened, so this
    stands for a real decompression bomb without writing one.
    """
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
                     + chunk(b"IEND", b""))


def small_folder(root, n=2, side=6):
    rng = np.random.default_rng(3)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for k in range(n):
            Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(root / cls / f"{k}.png")
    return root


# ------------------------------------------------------------------ images
@pytest.mark.parametrize("width,height", [(20000, 20000), (10000, 10000)])
def test_decompression_bomb_is_refused_with_name_size_and_limit(tmp_path, width, height):
    """Over twice the limit Pillow raises, between one and two times it only warns: both are refused."""
    root = small_folder(tmp_path / "imgs")
    png_header_only(root / "b" / "bomb.png", width, height)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning escapes either
        with pytest.raises(ImageFileError) as caught:
            load_image_folder(root, progress=False)
    message = str(caught.value)
    assert "bomb.png" in message and f"{width * height:,} pixels" in message
    assert f"{Image.MAX_IMAGE_PIXELS:,}" in message and "MAX_IMAGE_PIXELS" in message
    assert isinstance(caught.value, ValueError)


def test_bomb_limit_follows_pillow_setting(tmp_path, monkeypatch):
    root = small_folder(tmp_path / "imgs", side=6)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 30)   # 36 pixels > 30: refused, not decoded
    with pytest.raises(ImageFileError, match=r"6x6 = 36 pixels exceeds Pillow's limit of 30"):
        load_image_folder(root, progress=False, n_jobs=1)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 36)
    assert load_image_folder(root, progress=False).images.shape == (4, 108)


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b"GIF89a" + b"\xff" * 20])
def test_damaged_images_name_the_file(tmp_path, content):
    root = small_folder(tmp_path / "imgs")
    (root / "a" / "zz.png").write_bytes(content)
    with pytest.raises(ImageFileError, match=r"zz\.png.*remove or replace it"):
        load_image_folder(root, progress=False)


def test_truncated_png_names_the_file(tmp_path):
    root = small_folder(tmp_path / "imgs", side=32)
    whole = (root / "a" / "0.png").read_bytes()
    (root / "a" / "0.png").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(ImageFileError, match=r"0\.png"):
        load_image_folder(root, progress=False)


def test_unreadable_image_says_so(tmp_path, monkeypatch):
    """Permission problems (untestable with chmod as root) are 'cannot read', not 'damaged'."""
    root = small_folder(tmp_path / "imgs")

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(image_folder.Image, "open", refuse)
    with pytest.raises(ImageFileError, match=r"cannot read image .*0\.png.*Permission denied"):
        load_image_folder(root, progress=False)


def test_failure_stops_the_other_decoders(tmp_path, monkeypatch):
    """A bad file is reported without decoding every remaining file first."""
    root = small_folder(tmp_path / "imgs", n=40, side=4)
    (root / "a" / "1.png").write_bytes(b"junk")
    real, calls = image_folder._decode, []

    def slow_decode(*args):
        calls.append(1)
        time.sleep(0.02)   # leaves the main thread time to see the failure and cancel the rest
        return real(*args)

    monkeypatch.setattr(image_folder, "_decode", slow_decode)
    files = image_folder.list_images(root)[1]
    with pytest.raises(ImageFileError, match=r"1\.png"):
        image_folder.decode_images(str(root), files, n_jobs=1, progress=False, chunk=1)
    assert len(calls) < len(files) // 2


def test_a_cache_that_cannot_be_written_leaves_no_partial_files(tmp_path, monkeypatch):
    root = small_folder(tmp_path / "imgs")

    def disk_full(handle, array):
        handle.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(image_folder.np, "save", disk_full)
    with pytest.raises(DataError, match=r"cannot write the image cache .*No space left.*cache_dir"):
        load_image_folder(root, cache_dir=tmp_path / "cache", progress=False)
    assert os.listdir(tmp_path / "cache") == []


# ------------------------------------------------------------------ folders
def test_cache_dir_that_is_a_file_is_refused_before_decoding(tmp_path, monkeypatch):
    root = small_folder(tmp_path / "imgs")
    not_a_folder = tmp_path / "cache.txt"
    not_a_folder.write_text("x")
    decoded = []
    monkeypatch.setattr("nnlite.data.image_folder.decode_images",
                        lambda *args, **kwargs: decoded.append(1))
    with pytest.raises(ValueError, match=r"cache_dir .*cache\.txt.* is a file, not a folder"):
        load_image_folder(root, cache_dir=not_a_folder, progress=False)
    with pytest.raises(ValueError, match=r"cannot be created: .*cache\.txt.* is a file"):
        load_image_folder(root, cache_dir=not_a_folder / "sub", progress=False)
    assert not decoded


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc, which no one may write")
def test_cache_dir_that_cannot_be_written(tmp_path):
    root = small_folder(tmp_path / "imgs")
    with pytest.raises(ValueError, match=r"cache_dir '/proc/nnlite-cache' cannot be written"):
        load_image_folder(root, cache_dir="/proc/nnlite-cache", progress=False)


def test_check_writable_folder_creates_and_probes(tmp_path):
    made = check_writable_folder(tmp_path / "new" / "deeper", "--output")
    assert os.path.isdir(made) and os.listdir(made) == []       # the probe file is gone
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match=r"--output .* is a file"):
        check_writable_folder(tmp_path / "f", "--output")


def test_download_into_a_file_is_refused_before_connecting(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match=r"dest_dir .* is a file"):
        download("http://127.0.0.1:9/none.tar.gz", tmp_path / "f", progress=False)


# ------------------------------------------------------------------ pickles
@pytest.mark.parametrize("content, pattern", [
    ({"X": np.zeros((2, 12), np.uint8), "y": [1, None]}, "does not hold what nnlite expects"),
    ({"X": np.zeros((2, 12), np.uint8), "fold_indices": 5}, "does not hold"),
    ({"X": np.zeros((2, 12), np.uint8), "fold_indices": [[0, 7]]}, "outside"),
    ({"X": {"a": 1}}, "expected"),
    ({"X": np.array([[1j] * 12])}, "numbers"),
    ({"X": np.zeros((2, 12), np.uint8), "y": np.array([0.5, 1])}, "integer labels"),
    ({"X": np.zeros((2, 12), np.uint8), "y": ["a", "b"]}, "integer labels"),
    ([1, 2], "expected a dict"),
])
def test_assignment_pickle_with_wrong_content(tmp_path, content, pattern):
    path = tmp_path / "train.pk"
    path.write_bytes(pickle.dumps(content, protocol=2))
    with pytest.raises(PickleDataError, match=pattern) as caught:
        load_assignment_pickle(path, image_shape=(2, 2, 3))
    assert "train.pk" in str(caught.value)


@pytest.mark.parametrize("batch", [
    {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, None]},
    {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, -1]},
    {b"data": np.zeros((2, 3071), np.uint8), b"labels": [0, 1]},
    {b"data": np.array([["x"] * 3072] * 2, dtype=object), b"labels": [0, 1]},
    {b"data": 7, b"labels": 8},
    {b"labels": [0]},
])
def test_cifar10_batch_with_wrong_content(tmp_path, batch):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(PickleDataError, match="data_batch_1"):
        load_cifar10(folder)


def test_cifar10_meta_that_is_not_a_dict(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(pickle.dumps(
        {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]}, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(PickleDataError, match="batches.meta"):
        load_cifar10(folder)


def test_user_arguments_stay_plain_value_errors(tmp_path):
    """A bad option is the caller's mistake, not the file's: it is not reported as a damaged pickle."""
    path = tmp_path / "t.pk"
    path.write_bytes(pickle.dumps({"X": np.zeros((1, 12), np.uint8)}))
    for options in ({"layout": "cols"}, {"image_shape": (2, 2)}, {"one_based": "maybe"}):
        with pytest.raises(ValueError) as caught:
            load_assignment_pickle(path, **{"image_shape": (2, 2, 3), **options})
        assert not isinstance(caught.value, PickleDataError)


# ------------------------------------------------------------------ memory
def test_patches_beyond_memory_are_refused_before_allocating():
    images = np.zeros((2, 12 * 12 * 3), np.uint8)
    with pytest.raises(InsufficientMemoryError,
                       match=r"sampling 1000000000000 patches of 192 values needs .*iB \(uint8\); "
                             r"this machine has .* available.*ask for fewer patches") as caught:
        sample_patches_raw(images, 10**12, 8)
    assert isinstance(caught.value, ValueError) and caught.value.nbytes > caught.value.available


def test_grid_patches_and_float_copies_beyond_memory():
    huge = np.broadcast_to(np.zeros(12 * 16 * 3, np.uint8), (10**9, 12 * 16 * 3))  # no memory behind it
    with pytest.raises(InsufficientMemoryError, match=r"6000000000 grid patches .*larger stride"):
        grid_patches(huge, 8, 4, image_shape=(12, 16, 3))
    with pytest.raises(InsufficientMemoryError, match=r"converting 1000000000 images .*float32"):
        as_float(huge)
    mapped = MappedImages(np.broadcast_to(np.zeros((3, 4, 4), np.uint8), (10**9, 3, 4, 4)), (0, 2, 3, 1))
    with pytest.raises(InsufficientMemoryError, match=r"reading 1000000000 images"):
        np.asarray(mapped)
    assert mapped[5].shape == (48,)   # small reads still work


def test_decoded_folder_beyond_memory(tmp_path, monkeypatch):
    root = small_folder(tmp_path / "imgs")
    monkeypatch.setattr(memory, "available_memory", lambda: 100)
    with pytest.raises(InsufficientMemoryError, match=r"decoding 4 images of 6x6 pixels"):
        load_dataset("folder", root, progress=False)


def test_data_errors_are_value_errors():
    for kind in (DataError, PickleDataError, ImageFileError, InsufficientMemoryError):
        assert issubclass(kind, ValueError)
