"""Pretrain a deep sparse autoencoder on image patches, layer by layer, and fine-tune it.

Run from the repository root::

    python examples/pretrain_deep_autoencoder.py                      # ~1 minute on 2 cores
    python examples/pretrain_deep_autoencoder.py --patches 20000 \\
        --pretrain-iter 400 --finetune-iter 400                       # a full-size run
    python examples/pretrain_deep_autoencoder.py --hidden 400,100,25,100,400 --activation relu

What it does: a :class:`nnlite.patch_model.PatchModel` samples 8x8x3 patches
from scikit-learn's two bundled photos (no download), normalises them (SPEC:
per channel, clip to mean +- 3 sd, map to [0.1, 0.9]) and trains a
:class:`nnlite.stacked.StackedAutoencoder` on them: one sparse autoencoder
per encoder layer of ``--hidden`` is pretrained greedily (``[200, 50, 200]``:
``192 -> 200 -> 192``, then ``200 -> 50 -> 200`` on the first stage's codes),
the stages are unrolled into one deep network, which L-BFGS fine-tunes.  The
example then shows the stages on their own.

What it writes under ``--out`` (default ``nnlite-out/deep-autoencoder``):

* ``stage1.npz``, ``stage2.npz``, ...: every pretraining stage as a model
  file (``nnlite.load_model(path)`` gives a fitted ``SparseAutoencoder``);
* ``stacked.npz``: the patch model (``nnlite.PatchModel.load(path)``; the
  fine-tuned ``StackedAutoencoder`` alone: ``nnlite.load_model(path)``);
* ``filters.png``: the first layer's filters (one tile per hidden unit; the
  default 100 iterations leave them noisy);
* ``summary.json``: the costs and times printed at the end.

The default ``rho`` is 0.1, not SPEC's 0.01: with sigmoid units and ``rho =
0.01`` on every layer the inner stage learns to output a constant and the
whole stack reconstructs every patch as the mean patch (see the Notes of
:class:`~nnlite.stacked.StackedAutoencoder`); try ``--sparsity 0.01``.

With ``--compare-random`` it also trains the same network from random weights
for ``--finetune-iter`` iterations, to show what pretraining buys.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nnlite.data import load_dataset  # noqa: E402
from nnlite.display import display_layer  # noqa: E402
from nnlite.patch_model import PatchModel, PatchSettings  # noqa: E402
from nnlite.stacked import StackedAutoencoder  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="200,50,200",
                        help="symmetric hidden sizes, comma-separated (default: 200,50,200)")
    parser.add_argument("--patches", type=int, default=5000, help="patches to sample (5000)")
    parser.add_argument("--patch-size", type=int, default=8)
    parser.add_argument("--activation", default="sigmoid", choices=("sigmoid", "relu"))
    parser.add_argument("--linear-decoder", action="store_true",
                        help="identity output layer (default: sigmoid)")
    parser.add_argument("--pretrain-iter", type=int, default=100,
                        help="L-BFGS iterations per pretraining stage (100; SPEC-sized runs: 400)")
    parser.add_argument("--finetune-iter", type=int, default=100,
                        help="L-BFGS iterations of fine-tuning (100)")
    parser.add_argument("--sparsity", type=float, default=0.1,
                        help="rho (0.1; SPEC's 0.01 collapses a sigmoid stack, see below)")
    parser.add_argument("--lambda", dest="lambda_", type=float, default=1e-4, help="lambda (1e-4)")
    parser.add_argument("--beta", type=float, default=3.0, help="beta (3)")
    parser.add_argument("--compare-random", action="store_true",
                        help="also train from random weights (no pretraining)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("nnlite-out", "deep-autoencoder"))
    parser.add_argument("--verbose", action="store_true", help="L-BFGS progress on stderr")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    hidden = tuple(int(size) for size in args.hidden.split(","))
    start = time.perf_counter()
    photos = load_dataset("sample")
    settings = PatchSettings(hidden=hidden, patch_size=args.patch_size, num_patches=args.patches,
                             activation=args.activation,
                             output_activation="identity" if args.linear_decoder else "sigmoid",
                             sparsity_param=args.sparsity, lambda_=args.lambda_, beta=args.beta,
                             max_iter=args.pretrain_iter, finetune_iter=args.finetune_iter,
                             random_state=args.seed, verbose=10 if args.verbose else 0)
    patch_model = PatchModel(settings).fit(photos.images, photos.image_shape, progress=print)
    model = patch_model.encoder_
    X = patch_model.training_patches(photos.images, photos.image_shape)
    os.makedirs(args.out, exist_ok=True)
    summary = {"hidden_size": list(hidden), "n_patches": int(X.shape[0]), "stages": []}
    for number, (stage, record) in enumerate(zip(model.stage_models(), model.stage_results_), 1):
        path = stage.save(os.path.join(args.out, f"stage{number}.npz"))
        print(f"stage {number} {record['sizes']}: {record['n_iter']} iterations, cost "
              f"{record['cost']:.5f}, {record['time']:.1f}s -> {path}")
        summary["stages"].append({key: record[key] for key in ("sizes", "n_iter", "cost", "time")})
    path = patch_model.save(os.path.join(args.out, "stacked.npz"), data={"name": photos.name})
    summary.update(
        pretrained_cost=model.loss_curve_[0], finetuned_cost=model.cost_,
        pretrained_reconstruction_error=model.pretrained_reconstruction_error_,
        finetuned_reconstruction_error=model.reconstruction_error(X),
        finetune_iterations=model.n_iter_, pretraining_time=model.pretraining_time_,
        finetuning_time=model.finetuning_time_, training_time=model.training_time_)
    print(f"fine-tuning {model.network_.sizes}: {model.n_iter_} iterations, cost "
          f"{model.loss_curve_[0]:.5f} -> {model.cost_:.5f}, reconstruction error "
          f"{model.pretrained_reconstruction_error_:.5f} -> {summary['finetuned_reconstruction_error']:.5f}, "
          f"{model.finetuning_time_:.1f}s -> {path}")
    if args.compare_random:
        random = StackedAutoencoder(**dict(model.get_params(), pretrain=False)).fit(X)
        summary.update(random_cost=random.cost_, random_reconstruction_error=random.reconstruction_error(X),
                       random_training_time=random.training_time_)
        print(f"from random weights: {random.n_iter_} iterations, cost {random.cost_:.5f}, "
              f"reconstruction error {summary['random_reconstruction_error']:.5f}, "
              f"{random.training_time_:.1f}s")
    filters = os.path.join(args.out, "filters.png")
    display_layer(patch_model.pixel_filters(), filename=filters, image_shape=patch_model.patch_shape_)
    print(f"first-layer filters -> {filters}")
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    print(f"total {time.perf_counter() - start:.1f}s; summary -> {os.path.join(args.out, 'summary.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
