"""Random-access advice on memory maps while patches are gathered (issue 11, class 7).

The figures for a 1.5 GB file are printed by benchmarks/bench_patches.py;
here a 48 MB STL-10-format file, evicted from the page cache, shows the same
effect at a smaller scale: with the advice, sampling reads the pages the
patches fall on; with the kernel's read-ahead, windows around every fault.
"""

import contextlib
import mmap
import os

import numpy as np
import pytest

import nnlite.data.patches as patches_module
from nnlite.data import load_stl10
from nnlite.data.dataset import MappedImages
from nnlite.data.mapped_io import find_mmap, random_access
from nnlite.data.patches import sample_patches_raw
from nnlite.data.stl10 import IMAGE_BYTES


def test_find_mmap_follows_views(tmp_path):
    path = tmp_path / "rows.npy"
    np.save(path, np.arange(4 * 12, dtype=np.uint8).reshape(4, 12))
    mapped = np.load(path, mmap_mode="r")
    found = find_mmap(mapped)
    assert isinstance(found, mmap.mmap)
    assert find_mmap(mapped[1:3].T) is found and find_mmap(np.asarray(mapped)[::2]) is found
    assert find_mmap(np.zeros(3)) is None and find_mmap(None) is None and find_mmap([1]) is None
    with random_access(mapped, mapped[1:], np.zeros(2)) as advised:
        assert advised == (1 if hasattr(mmap, "MADV_RANDOM") else 0)
    images = MappedImages(mapped.reshape(4, 2, 2, 3), (0, 1, 2, 3))
    with random_access(images.hwc) as advised:
        assert advised == (1 if hasattr(mmap, "MADV_RANDOM") else 0)


def test_advice_does_not_change_the_patches(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "unlabeled_X.bin").write_bytes(rng.integers(0, 256, 5 * IMAGE_BYTES, dtype=np.uint8).tobytes())
    data = load_stl10(tmp_path, "unlabeled")
    advised = sample_patches_raw(data.images, 300, 8, random_state=3)
    in_memory = sample_patches_raw(np.asarray(data.images), 300, 8, random_state=3)
    np.testing.assert_array_equal(advised, in_memory)


def _read_bytes():
    with open("/proc/self/io", encoding="ascii") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("read_bytes:"))


@pytest.mark.skipif(not (os.path.exists("/proc/self/io") and hasattr(os, "posix_fadvise")
                         and hasattr(mmap, "MADV_RANDOM")), reason="Linux-only measurement")
def test_sampling_a_cold_file_reads_far_less_with_the_advice(tmp_path):
    n_images = 1800   # 50 MB
    path = tmp_path / "unlabeled_X.bin"
    rng = np.random.default_rng(1)
    with open(path, "wb") as handle:
        for _ in range(n_images // 300):
            handle.write(rng.integers(0, 256, 300 * IMAGE_BYTES, dtype=np.uint8).tobytes())
        os.fsync(handle.fileno())

    def measure():
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
        data = load_stl10(tmp_path, "unlabeled")
        before = _read_bytes()
        sample_patches_raw(data.images, 200, 8, random_state=5)
        return _read_bytes() - before

    advised = measure()
    original = patches_module.random_access
    patches_module.random_access = lambda *arrays: contextlib.nullcontext(0)
    try:
        plain = measure()
    finally:
        patches_module.random_access = original
    if plain == 0:
        pytest.skip("no disk reads were counted (tmpfs or an overlay without block accounting)")
    # 200 patches touch at most ~6 pages each: <= 5 MB with the advice; read-ahead reads ~10x that.
    print(f"read {advised:,} bytes with the advice, {plain:,} without")
    assert advised <= 200 * 6 * 4096 + 2**20
    assert plain > 3 * advised
