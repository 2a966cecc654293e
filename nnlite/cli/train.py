"""``nnlite train``: images -> random patches -> normalisation -> sparse autoencoder -> files.

With no arguments it is the README's main job: 10,000 random 8x8 patches of
scikit-learn's two bundled photos, SPEC's normalisation, the default sparse
autoencoder (192 -> 75 -> 192, rho 0.01, lambda 1e-4, beta 3, 400 L-BFGS
iterations), and into ``./nnlite-out``:

* ``model.npz`` -- the model, with the fitted preprocessor stored inside
  (:func:`nnlite.preprocessing.load_model_preprocessor` reads both back);
* ``filters.png`` -- the first layer's filters (rows of ``W1``), one tile each;
* ``patches.png`` -- 100 of the training patches as the network saw them;
* ``loss_curve.png`` -- cost per iteration and per second;
* ``summary.json`` -- settings, data, final cost, mean hidden activation, times.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from .._version import __version__

DESCRIPTION = """\
Train a sparse autoencoder on random patches of images and save the model, a
picture of its filters, the loss curve and a summary.

Data: `nnlite train` alone uses the two photos bundled with scikit-learn (no
download).  Name another source and its path as two positional arguments:

  nnlite train stl10 DIR      STL-10 binary folder (stl10_binary/), e.g. --split unlabeled
  nnlite train cifar10 DIR    CIFAR-10 python batches (cifar-10-batches-py/)
  nnlite train folder DIR     DIR/<class>/<image>.jpg|png (e.g. CIFAR-10 as JPEGs)
  nnlite train pickle FILE    the assignment's train.pk / test.pk / unlabeled.pk

(`--dataset NAME --data PATH` is accepted as a synonym of the two positionals.)"""

EPILOG = """\
examples:
  nnlite train
  nnlite train folder ../shared/data/cifar10-jpeg/train --limit 5000 --cache-dir ~/.cache/nnlite
  nnlite train stl10 data/stl10_binary --split unlabeled --patches 100000 --hidden 400
  nnlite train --hidden 200,50,200 --iterations 200
  nnlite train --normalization zca      (linear decoder, rho 0.035, lambda 3e-3, beta 5)
Exit status: 0 success, 2 bad input (the message names it), 130 interrupted."""


def add_parser(subparsers):
    """Register ``nnlite train`` and its options."""
    parser = subparsers.add_parser(
        "train", help="train a sparse autoencoder on image patches (the main job)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from .classify import add_data_arguments  # shared with nnlite classify (which imports this module)

    add_data_arguments(parser)
    patches = parser.add_argument_group("patches")
    patches.add_argument("--patches", type=int, default=10000, metavar="N",
                         help="number of random patches to train on (default: 10000)")
    patches.add_argument("--patch-size", type=int, default=8, metavar="P",
                         help="patch side in pixels (default: 8, i.e. 8x8x3 = 192 inputs)")
    patches.add_argument("--normalization", default="spec", choices=("spec", "mean-removed", "zca"),
                         help="spec: per-channel clip to mean+-3sd then map to [0.1, 0.9] "
                              "(default); mean-removed: remove each patch's mean first; "
                              "zca: mean-removed then ZCA-whitened (linear decoder by default)")
    patches.add_argument("--epsilon", type=float, default=0.1,
                         help="ZCA regulariser added to the eigenvalues (default: 0.1)")
    model = parser.add_argument_group("model")
    model.add_argument("--hidden", default="75", metavar="SIZES",
                       help="hidden layer size, or symmetric comma list for a stacked "
                            "autoencoder, e.g. 200,50,200 (default: 75)")
    model.add_argument("--rho", type=float, help="sparsity target rho (default: 0.01; 0.035 with zca)")
    model.add_argument("--lambda", dest="lambda_", type=float, metavar="LAMBDA",
                       help="weight decay lambda (default: 1e-4; 3e-3 with zca)")
    model.add_argument("--beta", type=float,
                       help="sparsity weight beta (default: 3; 5 with zca)")
    model.add_argument("--activation", default="sigmoid", choices=("sigmoid", "relu"),
                       help="hidden activation (default: sigmoid)")
    model.add_argument("--output-activation", choices=("sigmoid", "identity", "relu"),
                       help="output activation (default: sigmoid; identity with zca)")
    training = parser.add_argument_group("training")
    training.add_argument("--iterations", type=int, default=400, metavar="N",
                          help="L-BFGS iterations (per stage and for fine-tuning when stacked; "
                               "default: 400)")
    training.add_argument("--optimizer", default="lbfgs-b", choices=("lbfgs-b", "lbfgs"),
                          help="lbfgs-b: scipy's L-BFGS-B (default); lbfgs: nnlite's own L-BFGS, "
                               "less work per iteration (faster on a GPU)")
    training.add_argument("--seed", type=int, default=0,
                          help="seed of the image subset, patches and initial weights (default: 0)")
    training.add_argument("--dtype", default="float64", choices=("float64", "float32"),
                          help="precision of the training arrays (default: float64)")
    training.add_argument("--backend", default=None,
                          help="array backend: numpy (default, or $NNLITE_BACKEND), cupy, cudamat")
    output = parser.add_argument_group("output")
    output.add_argument("--output", default="nnlite-out", metavar="DIR",
                        help="folder for model.npz, filters.png, patches.png, loss_curve.png and "
                             "summary.json (default: ./nnlite-out)")
    output.add_argument("--quiet", action="store_true",
                        help="no progress lines while training (the final summary is still printed)")
    parser.set_defaults(func=run)
    return parser


# ------------------------------------------------------------------ checks
def parse_hidden(text):
    """``'75'`` -> ``[75]``, ``'200,50,200'`` -> ``[200, 50, 200]``; ValueError naming the text."""
    try:
        sizes = [int(part) for part in str(text).replace(" ", "").split(",")]
    except ValueError:
        raise ValueError(f"--hidden must be an integer or a comma list like 200,50,200, "
                         f"got {text!r}") from None
    from ..validation import check_hidden_sizes

    return check_hidden_sizes(sizes, name="--hidden")


def parse_image_size(text):
    """``'32x32'`` or ``'32'`` -> ``(32, 32)``; None stays None."""
    if text is None:
        return None
    parts = str(text).lower().split("x")
    try:
        size = tuple(int(part) for part in parts)
    except ValueError:
        size = ()
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"--image-size must look like 32x32, got {text!r}")
    return size


def resolve_source(args):
    """(source, path) from the positionals or their ``--dataset/--data`` synonyms."""
    from ..data import SOURCES

    source, path = args.source, args.path
    for flag, given, positional in (("--dataset", args.dataset, source), ("--data", args.data, path)):
        if given is not None and positional is not None and given != positional:
            raise ValueError(f"{flag} {given!r} contradicts the positional argument {positional!r}")
    source = source or args.dataset or "sample"
    path = path or args.data
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")
    if source == "sample" and path is not None:
        raise ValueError(f"the 'sample' source takes no path, got {path!r}")
    if source != "sample" and path is None:
        raise ValueError(f"the {source!r} source needs a path: nnlite train {source} PATH")
    return source, path


def check_arguments(args):
    """Validate everything before any data is read; return (source, path, hidden sizes)."""
    for flag, value, minimum in (("--patches", args.patches, 1), ("--patch-size", args.patch_size, 1),
                                 ("--iterations", args.iterations, 1)):
        if value < minimum:
            raise ValueError(f"{flag} must be >= {minimum}, got {value}")
    from ..preprocessing import default_hyperparameters

    # --rho/--lambda/--beta default to SPEC's values, or UFLDL's linear-decoder ones with zca.
    defaults = default_hyperparameters(args.normalization)
    for name, key in (("rho", "sparsity_param"), ("lambda_", "lambda_"), ("beta", "beta")):
        if getattr(args, name) is None:
            setattr(args, name, defaults[key])
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")
    if not 0.0 < args.rho < 1.0:
        raise ValueError(f"--rho must be in (0, 1), got {args.rho}")
    for flag, value in (("--lambda", args.lambda_), ("--beta", args.beta), ("--epsilon", args.epsilon)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{flag} must be a finite number >= 0, got {value}")
    source, path = resolve_source(args)
    return source, path, parse_hidden(args.hidden)


# ------------------------------------------------------------------ the job
def build_model(args, hidden, output_activation):
    """A SparseAutoencoder (one hidden layer) or a StackedAutoencoder (several)."""
    common = dict(hidden_size=hidden if len(hidden) > 1 else hidden[0], activation=args.activation,
                  output_activation=output_activation, sparsity_param=args.rho,
                  lambda_=args.lambda_, beta=args.beta, backend=args.backend, dtype=args.dtype,
                  random_state=args.seed, verbose=not args.quiet, optimizer=args.optimizer)
    if len(hidden) == 1:
        from ..estimator import SparseAutoencoder

        return SparseAutoencoder(max_iter=args.iterations, **common)
    from ..stacked import StackedAutoencoder

    return StackedAutoencoder(pretrain_iter=args.iterations, finetune_iter=args.iterations, **common)


def pixel_filters(model, preprocessor):
    """Rows of ``W1``, mapped back through ZCA whitening when there is one (UFLDL's ``W * ZCAWhite``)."""
    filters = model.components_
    steps = getattr(preprocessor, "steps", [])
    for _, step in steps:
        if hasattr(step, "whitening_"):
            filters = filters @ step.whitening_
    return filters


def log(args, text):
    """A progress line on stderr (silent with --quiet)."""
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


def run(args):
    """Run ``nnlite train``; returns the exit status."""
    from ..data import load_dataset
    from ..data.patches import sample_patches_raw
    from ..preprocessing import default_output_activation, make_preprocessor

    source, path, hidden = check_arguments(args)
    started = time.perf_counter()
    options = {"limit": args.limit, "random_state": args.seed if args.limit else None,
               "cache_dir": args.cache_dir, "image_size": parse_image_size(args.image_size)}
    log(args, f"loading {source}" + (f" from {path}" if path else "") + f" ({args.split}) ...")
    dataset = load_dataset(source, path, split=args.split, **options)
    image_shape = tuple(dataset.image_shape)
    log(args, f"{dataset.images.shape[0]} images of {image_shape[0]}x{image_shape[1]}x"
              f"{image_shape[2]}; sampling {args.patches} patches of {args.patch_size}x{args.patch_size}")
    rng = np.random.default_rng(args.seed)
    raw = sample_patches_raw(dataset.images, args.patches, args.patch_size,
                             image_shape=image_shape, random_state=rng)
    preprocessor = make_preprocessor(args.normalization, epsilon=args.epsilon, channels=image_shape[2])
    patches = preprocessor.fit_transform(raw)
    output_activation = args.output_activation or default_output_activation(args.normalization)
    model = build_model(args, hidden, output_activation)
    sizes = [patches.shape[1]] + hidden + [patches.shape[1]]
    log(args, f"training {' -> '.join(map(str, sizes))} ({args.activation}, output "
              f"{output_activation}) for {args.iterations} L-BFGS iterations ...")
    try:
        model.fit(patches)
    except ImportError as error:
        raise ValueError(f"backend {args.backend!r} is not available here ({error})") from None
    codes = [model.encode(patches, layer=k) for k in range(1, len(hidden) + 1)]
    data = {"source": source, "path": path, "split": args.split, "name": dataset.name,
            "n_images": int(dataset.images.shape[0]), "image_shape": list(image_shape),
            "patches": int(raw.shape[0]), "patch_size": args.patch_size,
            "normalization": args.normalization, "seed": args.seed}
    summary = write_outputs(args, model, preprocessor, patches, codes, data, output_activation,
                            started)
    print_summary(summary)
    return 0


def write_outputs(args, model, preprocessor, patches, codes, data, output_activation, started):
    """Write model.npz, filters.png, patches.png, loss_curve.png, summary.json; return the summary.

    ``patches`` are the preprocessed training rows, ``codes`` the activations
    of each hidden layer on them, ``data`` the description of the data used.
    """
    from ..display import display_layer, plot_loss_curve
    from ..preprocessing import preprocessor_state

    folder = os.path.abspath(args.output)
    os.makedirs(folder, exist_ok=True)
    files = {name: os.path.join(folder, name) for name in
             ("model.npz", "filters.png", "patches.png", "loss_curve.png", "summary.json")}
    patch_shape = (args.patch_size, args.patch_size, data["image_shape"][2])
    metadata, arrays = preprocessor_state(preprocessor)
    model.save(files["model.npz"], arrays=arrays, metadata={"preprocessor": metadata, "data": data})
    display_layer(pixel_filters(model, preprocessor), files["filters.png"], image_shape=patch_shape)
    display_layer(patches[:100], files["patches.png"], image_shape=patch_shape)
    plot_loss_curve(model.loss_curve_, files["loss_curve.png"], time_curve=model.time_curve_,
                    title=f"nnlite train: {data['name']}, {data['patches']} patches")
    summary = {
        "nnlite_version": __version__, "data": data,
        "model": {"class": type(model).__name__, "sizes": model.network_.sizes,
                  "activation": args.activation, "output_activation": output_activation,
                  "rho": args.rho, "lambda": args.lambda_, "beta": args.beta,
                  "iterations": args.iterations, "optimizer": args.optimizer,
                  "backend": args.backend or "default",
                  "dtype": args.dtype},
        "result": {"final_cost": float(model.cost_), "n_iter": int(model.n_iter_),
                   "reconstruction_error": float(model.reconstruction_error(patches)),
                   "mean_hidden_activation": [float(code.mean()) for code in codes],
                   "training_time_s": float(model.training_time_),
                   "total_time_s": float(time.perf_counter() - started),
                   "interrupted": bool(model.interrupted_)},
        "files": files,
    }
    with open(files["summary.json"], "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    return summary


def print_summary(summary):
    """The one-screen report on stdout."""
    data, model, result, files = summary["data"], summary["model"], summary["result"], summary["files"]
    activation = ", ".join(f"{value:.4f}" for value in result["mean_hidden_activation"])
    lines = [
        "nnlite train: done" + (" (interrupted: best parameters kept)" if result["interrupted"] else ""),
        f"  data            {data['name']}: {data['n_images']} images "
        f"{'x'.join(map(str, data['image_shape']))}, {data['patches']} patches "
        f"{data['patch_size']}x{data['patch_size']}, normalization {data['normalization']}",
        f"  network         {' -> '.join(map(str, model['sizes']))} ({model['activation']}, "
        f"output {model['output_activation']}), rho {model['rho']:g}, lambda {model['lambda']:g}, "
        f"beta {model['beta']:g}",
        f"  iterations      {result['n_iter']} of {model['iterations']}",
        f"  final cost      {result['final_cost']:.6g} (reconstruction error "
        f"{result['reconstruction_error']:.6g})",
        f"  mean hidden act {activation} (target rho {model['rho']:g})",
        f"  time            {result['training_time_s']:.1f} s training, "
        f"{result['total_time_s']:.1f} s in all",
    ]
    lines += [f"  {name:<15} {path}" for name, path in files.items()]
    print("\n".join(lines), flush=True)
