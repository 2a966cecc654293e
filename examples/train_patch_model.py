"""Train a patch model on the bundled photos, save it, load it back and encode whole images.

Run from the repository root::

    python examples/train_patch_model.py                         # ~10 s on 2 cores
    python examples/train_patch_model.py --normalization zca     # whitened patches, linear decoder
    python examples/train_patch_model.py --patches 10000 --iterations 400   # SPEC's full run

What it does, with :class:`nnlite.patch_model.PatchModel` (the one home of the
pipeline images -> patches -> preprocessor -> autoencoder -> model file):

1. settings from options (:meth:`~nnlite.patch_model.PatchSettings.from_options`:
   ``--normalization zca`` brings the "whitened" preset's rho, lambda, beta
   and linear decoder unless given);
2. ``fit`` on scikit-learn's two photos (427x640x3, no download): random
   8x8x3 patches, the fitted preprocessor, a sparse autoencoder;
3. ``save`` to ``--out``/model.npz, ``PatchModel.load`` it back;
4. ``encode`` each photo: the encoder on a stride-8 grid of patches, summed
   over the four quadrants, one feature vector per photo (the same numbers
   from the saved and the loaded model);
5. the first layer's filters in pixel space -> ``--out``/filters.png.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nnlite.data import load_dataset  # noqa: E402
from nnlite.display import display_layer  # noqa: E402
from nnlite.patch_model import NORMALIZATIONS, PatchModel, PatchSettings  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=75, help="hidden units (75)")
    parser.add_argument("--patches", type=int, default=5000, help="random patches (5000)")
    parser.add_argument("--patch-size", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=100, help="L-BFGS iterations (100)")
    parser.add_argument("--normalization", default="spec", choices=NORMALIZATIONS)
    parser.add_argument("--stride", type=int, default=8, help="grid stride when encoding (8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("nnlite-out", "patch-model"))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    photos = load_dataset("sample")
    settings = PatchSettings.from_options(hidden=args.hidden, patch_size=args.patch_size,
                                          num_patches=args.patches, max_iter=args.iterations,
                                          normalization=args.normalization, random_state=args.seed)
    model = PatchModel(settings).fit(photos.images, photos.image_shape, progress=print)
    print(f"{model.name}: cost {model.summary_['final_cost']:.5f} after {model.summary_['n_iter']} "
          f"iterations, {model.training_time_:.1f}s")

    path = model.save(os.path.join(args.out, "model.npz"), data={"name": photos.name})
    loaded = PatchModel.load(path)
    options = dict(stride=args.stride, pooling="sum", pool_grid=2, image_shape=photos.image_shape)
    features = loaded.encode(photos.images, **options)
    same = bool(np.array_equal(features, model.encode(photos.images, **options)))
    print(f"saved {path}; loaded back: {features.shape[1]} features per photo "
          f"({loaded.feature_name(None, args.stride, 'sum', 2)}), identical to the trained model's: {same}")

    filters = os.path.join(args.out, "filters.png")
    display_layer(loaded.pixel_filters(), filename=filters, image_shape=loaded.patch_shape_)
    with open(os.path.join(args.out, "describe.json"), "w", encoding="utf-8") as handle:
        json.dump(loaded.describe(), handle, indent=2)
    print(f"filters -> {filters}; description -> {os.path.join(args.out, 'describe.json')}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
