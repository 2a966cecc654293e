"""Benchmark: convolutional feature extraction against the matrix product it is built on.

For synthetic uint8 images (32x32x3 by default), an 8x8x3 -> H encoder and a
fitted SPEC normaliser, it measures in one run:

* ``extraction``  -- :class:`nnlite.features.ConvolutionalFeatures` end to
  end (grid patches, normalisation, encoder, pooling), in patches/s;
* ``matmul only`` -- the product ``(patches x 192) @ (192 x H)`` alone,
  on matrices of the same sizes in the same chunks (a lower bound);
* the ratio of the two, and how the extraction time splits between its
  stages (measured on one chunk);
* the peak memory of extracting features for ``--peak-images`` images
  (50,000 by default) at stride 1 with 2x2 pooling: ``tracemalloc``'s peak
  of the Python/numpy heap and the growth of the process's maximum resident
  set size (``VmHWM``, measured in a fresh process).

``--recipe cifar`` measures the configuration of the best CIFAR-10 figures
instead: 6x6 patches, mean removal + ZCA, 400 units, the soft threshold,
stride 1, 2x2 sum pooling (each of those can also be set on its own:
``--patch-size``, ``--preprocessing``, ``--hidden``, ``--encoding``,
``--strides``, ``--poolings``).

Run: ``python benchmarks/bench_features.py [--quick] [--recipe cifar] [--json out.json]``.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nnlite.autoencoder import build_autoencoder  # noqa: E402
from nnlite.data.strided import grid_patches  # noqa: E402
from nnlite.encoders import ENCODERS  # noqa: E402
from nnlite.features import ConvolutionalFeatures, pool_codes  # noqa: E402
from nnlite.preprocessing import make_preprocessor  # noqa: E402


def synthetic_images(n_images, side, seed=0, chunk=1000):
    """Random uint8 images, shape (n_images, side * side * 3).

    Drawn ``chunk`` rows at a time, so that no large temporary raises the
    process's peak memory before the measurement starts.
    """
    rng = np.random.default_rng(seed)
    images = np.empty((n_images, side * side * 3), dtype=np.uint8)
    for start in range(0, n_images, chunk):
        block = images[start:start + chunk]
        block[...] = rng.integers(0, 256, size=block.shape, dtype=np.uint8)
    return images


def make_extractor(images, hidden, patch_size, stride, pooling, memory_limit, dtype, backend=None,
                   encoding="activation", preprocessing="spec"):
    """A fitted extractor over a randomly initialised encoder and a fitted preprocessor ('spec' or 'zca')."""
    network = build_autoencoder(patch_size * patch_size * 3, hidden, dtype=dtype)
    network.initialize(0)
    normalizer = make_preprocessor(preprocessing).fit(
        grid_patches(images[:200], patch_size, max(1, patch_size // 2))[0].astype(np.float64))
    extractor = ConvolutionalFeatures(network, patch_size=patch_size, stride=stride, pooling=pooling,
                                      preprocessor=normalizer, memory_limit=memory_limit, backend=backend,
                                      encoding=encoding, alpha=0.25)
    return extractor.fit(images)


def time_extraction(extractor, images, repeats):
    """Best wall time of ``extractor.transform(images)`` over ``repeats`` runs."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        extractor.transform(images)
        best = min(best, time.perf_counter() - start)
    return best


def time_matmul(n_patches, chunk_patches, width, hidden, dtype, repeats):
    """Best time of the products ``(chunk x width) @ (width x hidden)`` covering ``n_patches`` rows."""
    rng = np.random.default_rng(1)
    block = rng.uniform(0.1, 0.9, size=(chunk_patches, width)).astype(dtype)
    weights = rng.standard_normal((hidden, width)).astype(dtype)
    out = np.empty((chunk_patches, hidden), dtype=dtype)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        done = 0
        while done < n_patches:
            rows = min(chunk_patches, n_patches - done)
            np.matmul(block[:rows], weights.T, out=out[:rows])
            done += rows
        best = min(best, time.perf_counter() - start)
    return best


def stage_times(extractor, images):
    """Seconds of each stage for one chunk of ``images``, on the reference path (every stage over the chunk).

    The extraction itself runs these stages block by block in cache
    (``ConvolutionalFeatures._encode_blocks``); here each runs over the
    whole chunk, to show their relative weight.
    """
    chunk = images[:extractor.chunk_size_ or images.shape[0]]
    encoder = extractor.patch_encoder_
    times = {}
    start = time.perf_counter()
    floats = encoder.prepare_images(chunk)
    times["images to float (+ clip)"] = time.perf_counter() - start
    start = time.perf_counter()
    patches, grid = grid_patches(floats, extractor.patch_size, extractor.stride)
    patches = np.ascontiguousarray(patches)
    times["grid patches"] = time.perf_counter() - start
    start = time.perf_counter()
    patches = encoder.folded.elementwise_(patches)
    times["per-patch step"] = time.perf_counter() - start
    start = time.perf_counter()
    product = patches @ encoder.weights_
    times["product"] = time.perf_counter() - start
    start = time.perf_counter()
    product += encoder.shift_
    codes = encoder.finish(product, target=np.empty((product.shape[0], encoder.width), product.dtype)
                           if extractor.encoding == "soft-threshold" else None)
    times[f"encoder ({extractor.encoding})"] = time.perf_counter() - start
    start = time.perf_counter()
    pool_codes(codes.reshape(chunk.shape[0], grid[0], grid[1], -1), extractor.pooling, extractor.pool_grid)
    times["pool"] = time.perf_counter() - start
    return chunk.shape[0], times


def peak_rss_bytes():
    """Peak resident set size of this process image: ``VmHWM`` on Linux, else ``ru_maxrss``.

    ``ru_maxrss`` survives ``exec`` on Linux (a child started from a big
    parent reports the parent's peak), ``VmHWM`` does not.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def peak_memory(n_images, side, hidden, memory_limit, dtype, backend=None, encoding="activation", patch_size=8,
                preprocessing="spec"):
    """Peak memory of stride-1, 2x2-sum-pooled extraction for ``n_images`` images.

    Meant to run in a fresh process (see ``--peak-only``), so that the
    growth of the maximum resident set size is this extraction's.
    """
    images = synthetic_images(n_images, side, seed=2)
    extractor = make_extractor(images, hidden, patch_size, 1, "sum", memory_limit, dtype, backend, encoding,
                               preprocessing)
    rss_before = peak_rss_bytes()
    tracemalloc.start()
    start = time.perf_counter()
    features = extractor.transform(images)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = peak_rss_bytes()
    return {"n_images": n_images, "image_bytes": int(images.nbytes), "feature_bytes": int(features.nbytes),
            "n_patches": int(n_images * extractor.grid_[0] * extractor.grid_[1]),
            "seconds": seconds, "chunk_size": extractor.chunk_size_, "memory_limit": memory_limit,
            "tracemalloc_peak_bytes": int(peak), "maxrss_growth_bytes": int(rss_after - rss_before)}


def peak_memory_in_child(args):
    """Run :func:`peak_memory` in a fresh interpreter and return its figures."""
    command = [sys.executable, os.path.abspath(__file__), "--peak-only", "--peak-images", str(args.peak_images),
               "--side", str(args.side), "--hidden", str(args.hidden), "--dtype", args.dtype,
               "--memory-limit", str(args.memory_limit), "--encoding", args.encoding,
               "--patch-size", str(args.patch_size), "--preprocessing", args.preprocessing] \
        + (["--backend", args.backend] if args.backend else [])
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="images for the throughput run")
    parser.add_argument("--side", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=None, help="hidden units (default 75; 400 with --recipe cifar)")
    parser.add_argument("--patch-size", type=int, default=None, help="patch side (default 8; 6 with --recipe cifar)")
    parser.add_argument("--preprocessing", choices=("spec", "zca"), default=None,
                        help="patch preprocessing (default spec; zca with --recipe cifar)")
    parser.add_argument("--strides", default=None, help="comma-separated strides for the throughput run "
                                                        "(default 1,4; 1 with --recipe cifar)")
    parser.add_argument("--poolings", default=None, help="comma-separated poolings (default none,sum; "
                                                         "sum with --recipe cifar)")
    parser.add_argument("--recipe", choices=("default", "cifar"), default="default",
                        help="cifar: 6x6 patches, ZCA, 400 units, soft threshold, stride 1, 2x2 sums")
    parser.add_argument("--dtype", default="float32", choices=("float64", "float32"),
                        help="precision of the extraction (default: float32, PatchModel.features' default)")
    parser.add_argument("--encoding", default=None, choices=ENCODERS,
                        help="encoder at feature time (default: activation; soft-threshold with --recipe cifar)")
    parser.add_argument("--backend", help="array backend of the encoder (numpy, cupy...; default numpy)")
    parser.add_argument("--memory-limit", type=int, default=256 * 2**20, help="bytes per chunk")
    parser.add_argument("--peak-images", type=int, default=50000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, for smoke tests")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--peak-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    presets = {"default": dict(hidden=75, patch_size=8, preprocessing="spec", strides="1,4", poolings="none,sum",
                               encoding="activation"),
               "cifar": dict(hidden=400, patch_size=6, preprocessing="zca", strides="1", poolings="sum",
                             encoding="soft-threshold")}[args.recipe]
    for name, value in presets.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.peak_only:
        print(json.dumps(peak_memory(args.peak_images, args.side, args.hidden, args.memory_limit, args.dtype,
                                     args.backend, args.encoding, args.patch_size, args.preprocessing)))
        return 0
    if args.quick:
        args.images, args.peak_images, args.repeats = 100, 200, 1
    images = synthetic_images(args.images, args.side)
    report = {"settings": {key: value for key, value in vars(args).items() if key != "json"},
              "throughput": []}
    print(f"{args.images} images {args.side}x{args.side}x3, {args.patch_size}x{args.patch_size} patches, "
          f"{args.preprocessing} preprocessing, {args.hidden} hidden, {args.dtype}, "
          f"encoding {args.encoding}, load average {os.getloadavg()[0]:.1f}, "
          f"backend {args.backend or 'numpy'}")
    print(f"{'stride':>6} {'pooling':>7} {'patches':>10} {'extract s':>9} {'patches/s':>11} "
          f"{'matmul s':>9} {'ratio':>6}")
    for stride in (int(s) for s in args.strides.split(",")):
        for pooling in args.poolings.split(","):
            extractor = make_extractor(images, args.hidden, args.patch_size, stride, pooling, args.memory_limit,
                                       args.dtype, args.backend, args.encoding, args.preprocessing)
            positions = extractor.grid_[0] * extractor.grid_[1]
            n_patches = args.images * positions
            chunk_patches = (extractor.chunk_size_ or args.images) * positions
            extract = time_extraction(extractor, images, args.repeats)
            matmul = time_matmul(n_patches, chunk_patches, args.patch_size ** 2 * 3, args.hidden, args.dtype,
                                 args.repeats)
            row = {"stride": stride, "pooling": pooling, "n_patches": n_patches, "extraction_s": extract,
                   "patches_per_s": n_patches / extract, "matmul_s": matmul, "ratio": extract / matmul,
                   "chunk_images": extractor.chunk_size_}
            report["throughput"].append(row)
            print(f"{stride:>6} {pooling:>7} {n_patches:>10} {extract:>9.3f} {n_patches / extract:>11.3g} "
                  f"{matmul:>9.3f} {extract / matmul:>6.1f}")
    n_chunk, times = stage_times(make_extractor(images, args.hidden, args.patch_size, 1, "sum", args.memory_limit,
                                                args.dtype, args.backend, args.encoding, args.preprocessing),
                                 images)
    report["stages_stride1_sum"] = {"chunk_images": n_chunk, "seconds": times}
    print(f"stages (each over a whole chunk, as the reference path runs them), stride 1 + sum pooling, "
          f"one chunk of {n_chunk} images: "
          + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in times.items()))
    peak = peak_memory_in_child(args)
    report["peak_memory"] = peak
    print(f"peak memory, {peak['n_images']} images at stride 1 with 2x2 sum pooling "
          f"({peak['n_patches']} patches, {peak['seconds']:.1f} s, chunks of {peak['chunk_size']} images): "
          f"tracemalloc peak {peak['tracemalloc_peak_bytes'] / 2**20:.0f} MiB, "
          f"peak RSS growth {peak['maxrss_growth_bytes'] / 2**20:.0f} MiB "
          f"(images {peak['image_bytes'] / 2**20:.0f} MiB, features {peak['feature_bytes'] / 2**20:.0f} MiB, "
          f"memory_limit {args.memory_limit / 2**20:.0f} MiB)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
