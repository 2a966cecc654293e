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

Run: ``python benchmarks/bench_patches.py [--images 10000] [--patches 100000] [--repeats 5]``.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nnlite.data.patches import sample_patches_raw  # noqa: E402

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
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    main()
