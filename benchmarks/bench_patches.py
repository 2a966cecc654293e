"""Benchmark: random-patch sampling against one plain gather of the same number of bytes.

For ``--patches`` random 8x8x3 patches from ``--images`` synthetic uint8
96x96x3 images (STL-10's size) it times :func:`nnlite.data.patches.sample_patches_raw`
on

* ``in memory``        -- an ndarray of rows;
* ``memory-mapped``    -- the same rows saved as ``.npy`` and opened with
  ``np.load(mmap_mode='r')`` (the file is in the page cache: this measures the
  gather, not the disk);
* ``stl10 layout map`` -- a :class:`~nnlite.data.dataset.MappedImages` over a
  memory map stored column-major, channel by channel (STL-10's binary layout);

next to the floor: ``np.take`` of as many 192-byte rows of a flat array (the
same bytes, contiguous, one index per patch).  Each line gives patches per
second and the ratio of its time to the floor's (best of ``--repeats``
interleaved repeats, so background load hits every contender alike).

A second part measures what sampling from a large memory-mapped file costs
in *disk reads* (issue 11, class 7): it writes an STL-10-format
``unlabeled_X.bin`` of ``--disk-images`` random images (60,000: 1.66 GB) to a
temporary folder under ``--disk-dir`` (default ``/tmp``; it must be a real
disk, not tmpfs), and for each setting evicts the file from the page cache
(``posix_fadvise(POSIX_FADV_DONTNEED)``: no root needed, other files are left
alone), samples ``--disk-patches`` patches through ``load_stl10`` and reports
the bytes this process read from disk (``read_bytes`` of ``/proc/self/io``),
the growth of its resident file pages (``RssFile``) and of its private memory
(``RssAnon``), and the wall time.  The settings are the library's default
(``madvise(MADV_RANDOM)`` on the mapping while patches are gathered) and the
kernel's default read-ahead (the advice switched off).  Linux only; the file
is deleted afterwards.

Run: ``python benchmarks/bench_patches.py [--images 10000] [--patches 100000] [--repeats 5]
[--disk-images 60000] [--disk-patches 10000] [--skip-disk]``.
"""

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import nnlite.data.patches as patches_module  # noqa: E402
from nnlite.data.patches import sample_patches_raw  # noqa: E402
from nnlite.data.stl10 import IMAGE_BYTES, load_stl10  # noqa: E402

SIDE, CHANNELS = 96, 3


def best_time(function, repeats):
    """Smallest wall time of ``repeats`` calls (and the last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--patches", type=int, default=100000)
    parser.add_argument("--patch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--disk-images", type=int, default=60000)
    parser.add_argument("--disk-patches", type=int, default=10000)
    parser.add_argument("--disk-dir", default="/tmp")
    parser.add_argument("--skip-disk", action="store_true", help="skip the disk-read measurement")
    args = parser.parse_args(argv)
    gather_speed(args)
    if not args.skip_disk:
        disk_reads(args)


def gather_speed(args):
    """Patches per second of each contender against the ``np.take`` floor."""

    rng = np.random.default_rng(0)
    row = SIDE * SIDE * CHANNELS
    images = rng.integers(0, 256, size=(args.images, row), dtype=np.uint8)
    patch_bytes = args.patch_size * args.patch_size * CHANNELS
    print(f"{args.patches:,} random {args.patch_size}x{args.patch_size}x{CHANNELS} patches from "
          f"{args.images:,} images of {SIDE}x{SIDE}x{CHANNELS} uint8 "
          f"({images.nbytes / 2**20:.0f} MiB); best of {args.repeats}")

    with tempfile.TemporaryDirectory() as folder:
        np.save(os.path.join(folder, "rows.npy"), images)
        mapped = np.load(os.path.join(folder, "rows.npy"), mmap_mode="r")
        contenders = [("in memory", images), ("memory-mapped .npy", mapped)]
        try:
            from nnlite.data.dataset import MappedImages
        except ImportError:  # pragma: no cover - the loaders are part of nnlite
            MappedImages = None
        if MappedImages is not None:
            native = images.reshape(-1, SIDE, SIDE, CHANNELS).transpose(0, 3, 2, 1)
            np.save(os.path.join(folder, "native.npy"), np.ascontiguousarray(native))
            stl = MappedImages(np.load(os.path.join(folder, "native.npy"), mmap_mode="r"), (0, 3, 2, 1))
            contenders.append(("stl10 layout map", stl))

        flat = images.reshape(-1)[:images.size // patch_bytes * patch_bytes].reshape(-1, patch_bytes)
        take_index = rng.integers(0, flat.shape[0], size=args.patches)
        times = {name: float("inf") for name, _ in contenders}
        floor = float("inf")
        for repeat in range(args.repeats):   # interleaved: load hits everyone alike
            floor = min(floor, best_time(lambda: np.take(flat, take_index, axis=0), 1)[0])
            for name, source in contenders:
                elapsed, patches = best_time(
                    lambda: sample_patches_raw(source, args.patches, args.patch_size,
                                               random_state=repeat), 1)
                times[name] = min(times[name], elapsed)
                assert patches.shape == (args.patches, patch_bytes) and patches.dtype == np.uint8
        del mapped, stl

    print(f"{'contender':<22}{'ms':>10}{'patches/s':>16}{'x np.take':>12}")
    print(f"{'np.take floor':<22}{floor * 1e3:>10.2f}{args.patches / floor:>16,.0f}{1.0:>12.2f}")
    for name, elapsed in times.items():
        print(f"{name:<22}{elapsed * 1e3:>10.2f}{args.patches / elapsed:>16,.0f}"
              f"{elapsed / floor:>12.2f}")


def _proc_value(path, key):
    """An integer field of a ``/proc/self`` file (``read_bytes`` of io, ``RssFile`` of status, in bytes)."""
    with open(path, encoding="ascii") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                value = line.split()[1]
                return int(value) * (1024 if line.rstrip().endswith("kB") else 1)
    raise KeyError(key)


def _write_stl10_file(path, n_images, rng, chunk=1000):
    """Random bytes in STL-10's unlabeled format (the layout does not matter for disk reads)."""
    with open(path, "wb") as handle:
        for start in range(0, n_images, chunk):
            count = min(chunk, n_images - start)
            handle.write(rng.integers(0, 256, size=count * IMAGE_BYTES, dtype=np.uint8).tobytes())
        handle.flush()
        os.fsync(handle.fileno())


def _evict(path):
    """Drop ``path``'s pages from the page cache (they are clean: written and synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _no_advice():
    """Run with the kernel's default read-ahead: the library's random-access advice switched off."""
    original = patches_module.random_access
    patches_module.random_access = lambda *arrays: contextlib.nullcontext(0)
    try:
        yield
    finally:
        patches_module.random_access = original


def disk_reads(args):
    """Bytes read from disk to sample patches from a cold, memory-mapped STL-10 file, with and without advice."""
    if not (os.path.exists("/proc/self/io") and hasattr(os, "posix_fadvise")):
        print("\ndisk reads: skipped (needs Linux's /proc/self/io and posix_fadvise)")
        return
    folder = tempfile.mkdtemp(prefix="nnlite-bench-stl10-", dir=args.disk_dir)
    path = os.path.join(folder, "unlabeled_X.bin")
    try:
        _write_stl10_file(path, args.disk_images, np.random.default_rng(1))
        size = os.path.getsize(path)
        print(f"\n{args.disk_patches:,} random {args.patch_size}x{args.patch_size}x3 patches from a "
              f"memory-mapped STL-10 unlabeled_X.bin of {args.disk_images:,} images "
              f"({size / 2**30:.2f} GiB) in {folder}, evicted from the page cache before each run")
        print(f"{'setting':<34}{'read from disk':>16}{'RssFile +':>12}{'RssAnon +':>12}{'s':>8}")
        rows = (("madvise(MADV_RANDOM) (default)", contextlib.nullcontext),
                ("kernel read-ahead (no advice)", _no_advice))
        for repeat in range(2):
            for name, setting in rows:
                _evict(path)
                data = load_stl10(folder, "unlabeled")
                io_before = _proc_value("/proc/self/io", "read_bytes")
                file_before = _proc_value("/proc/self/status", "RssFile")
                anon_before = _proc_value("/proc/self/status", "RssAnon")
                start = time.perf_counter()
                with setting():
                    patches = sample_patches_raw(data.images, args.disk_patches, args.patch_size,
                                                 random_state=repeat)
                elapsed = time.perf_counter() - start
                read = _proc_value("/proc/self/io", "read_bytes") - io_before
                file_rss = _proc_value("/proc/self/status", "RssFile") - file_before
                anon = _proc_value("/proc/self/status", "RssAnon") - anon_before
                assert patches.shape == (args.disk_patches, args.patch_size ** 2 * 3)
                print(f"{name:<34}{read / 2**20:>12,.0f} MiB{file_rss / 2**20:>8,.0f} MiB"
                      f"{anon / 2**20:>8,.0f} MiB{elapsed:>8.2f}")
                del data, patches
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
