"""``nnlite classify``: raw pixels vs learned features under scikit-learn classifiers.

Loads a labelled dataset (the sources of ``nnlite train``), picks the test
set (the source's test split, a separately named one, or a seeded stratified
hold-out), trains autoencoders on patches of the training images only (or
loads them with ``--model``), and runs :func:`nnlite.classify.run_classification`.
The table goes to stdout, progress to stderr; ``--output DIR`` writes
``table.csv``, ``results.json``, ``accuracy.png`` and the trained models,
``--json PATH`` the whole run as JSON.

:func:`add_data_arguments` and :func:`add_autoencoder_arguments` define the
data and training options exactly as ``nnlite train`` names them, so that
both commands read the same flags.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from .train import parse_hidden, parse_image_size, resolve_source

DESCRIPTION = """\
Classify images with scikit-learn models on raw pixels and on features learned by
sparse autoencoders (trained here on patches of the training images, or loaded
with --model), and print the accuracy table.

Test set: the source's test split where it has one (stl10, cifar10, a pickle
folder with test.pk), else a seeded stratified --holdout of the training images,
or a separate labelled set named with --test-data.  STL-10's ten predefined
training folds are also evaluated (mean +- sd) unless --no-folds."""

EPILOG = """\
examples:
  nnlite classify folder ../shared/data/cifar10-jpeg/train --holdout 10000 --classifiers logistic
  nnlite classify folder DIR --strides 1,2,4,8 --pooling sum --pool-grid 2
  nnlite classify folder DIR --hidden 75 --hidden 200,50,200 --feature-layer middle,first,concat
  nnlite classify stl10 data/stl10_binary --patch-split unlabeled --output stl10-results
  nnlite classify folder train/ --test-data test/ --model nnlite-out/model.npz
Exit status: 0 success, 2 bad input (the message names it), 130 interrupted."""


# ---------------------------------------------------------------- options
def add_data_arguments(parser):
    """The data options shared with ``nnlite train`` (SOURCE PATH, --split, --limit...)."""
    parser.add_argument("source", nargs="?", metavar="SOURCE",
                        help="data source: sample, stl10, cifar10, folder or pickle")
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="folder or file of the source (every source but 'sample' needs one)")
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", metavar="SOURCE", help="same as the SOURCE positional")
    data.add_argument("--data", metavar="PATH", help="same as the PATH positional")
    data.add_argument("--split", default="train", choices=("train", "test", "unlabeled"),
                      help="split to read where the source has several (default: train)")
    data.add_argument("--limit", type=int, metavar="N",
                      help="load at most N images (a seeded stratified subset; default: all)")
    data.add_argument("--cache-dir", metavar="DIR",
                      help="folder source: cache decoded images here so the next load is fast")
    data.add_argument("--image-size", metavar="HxW",
                      help="folder source: resize every image to H x W pixels (e.g. 32x32)")
    return data


def add_autoencoder_arguments(parser):
    """Patch, model and training options named as in ``nnlite train``."""
    group = parser.add_argument_group("autoencoder")
    group.add_argument("--patches", type=int, default=10000, metavar="N",
                       help="random patches per autoencoder (default: 10000)")
    group.add_argument("--patch-size", type=int, default=8, metavar="P", help="patch side (default: 8)")
    group.add_argument("--normalization", default="spec", choices=("spec", "mean-removed", "zca"),
                       help="patch preprocessing, fitted on the training patches (default: spec)")
    group.add_argument("--epsilon", type=float, default=0.1, help="ZCA regulariser (default: 0.1)")
    group.add_argument("--rho", type=float, default=0.01, help="sparsity target (default: 0.01)")
    group.add_argument("--lambda", dest="lambda_", type=float, default=1e-4, metavar="LAMBDA",
                       help="weight decay (default: 1e-4)")
    group.add_argument("--beta", type=float, default=3.0, help="sparsity weight (default: 3)")
    group.add_argument("--activation", default="sigmoid", choices=("sigmoid", "relu"),
                       help="hidden activation (default: sigmoid)")
    group.add_argument("--output-activation", choices=("sigmoid", "identity", "relu"),
                       help="output activation (default: sigmoid; identity with --normalization zca)")
    group.add_argument("--iterations", type=int, default=400, metavar="N",
                       help="L-BFGS iterations (per stage and for fine-tuning when stacked; default: 400)")
    group.add_argument("--dtype", default="float64", choices=("float64", "float32"),
                       help="precision of autoencoder training (default: float64)")
    group.add_argument("--backend", default=None, help="array backend: numpy (default), cupy, cudamat")
    return group


def add_parser(subparsers):
    """Register ``nnlite classify`` and its options."""
    parser = subparsers.add_parser(
        "classify", help="classify images on raw pixels vs learned features (the study)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = add_data_arguments(parser)
    data.add_argument("--test-data", metavar="PATH",
                      help="a separate labelled test set (same class names), of --test-source")
    data.add_argument("--test-source", metavar="SOURCE", help="source of --test-data (default: SOURCE)")
    data.add_argument("--test-limit", type=int, metavar="N", help="load at most N test images")
    data.add_argument("--holdout", metavar="N",
                      help="hold out N training images (or a fraction like 0.2) as the stratified "
                           "test set; default 0.2 where the source has no test split")
    data.add_argument("--validation", metavar="N",
                      help="for tuning: score on a stratified validation split (N images or a fraction) "
                           "of the training images instead of the test set, which is left unused")
    data.add_argument("--train-limit", type=int, metavar="N",
                      help="train the classifiers on at most N of the training images (stratified, "
                           "seeded; after the test/validation split)")
    data.add_argument("--no-folds", action="store_true", help="skip the predefined folds (STL-10)")
    data.add_argument("--patch-split", metavar="SPLIT",
                      help="sample the autoencoder patches from this split of SOURCE (e.g. "
                           "unlabeled for STL-10) instead of the training images")
    data.add_argument("--patch-limit", type=int, metavar="N", help="images read from --patch-split")
    group = add_autoencoder_arguments(parser)
    group.add_argument("--model", action="append", default=[], metavar="PATH",
                       help="use a trained model file (nnlite train's model.npz); repeatable")
    group.add_argument("--hidden", action="append", default=[], metavar="SIZES",
                       help="architecture to train, repeatable to compare: --hidden 75 --hidden "
                            "200,50,200 (default: 75 unless --model)")
    group.add_argument("--finetune-iterations", type=int, metavar="N",
                       help="stacked models: L-BFGS iterations of fine-tuning (default: --iterations; "
                            "0 keeps the greedily pretrained stack)")
    features = parser.add_argument_group("features and classifiers")
    features.add_argument("--feature-layer", default="middle", metavar="LIST",
                          help="hidden layer(s) giving the features of deep models: middle, first, "
                               "concat or a layer number; comma list to compare (default: middle)")
    features.add_argument("--strides", default="4", metavar="LIST", help="patch strides, e.g. 1,2,4,8 (default: 4)")
    features.add_argument("--pooling", default="none", choices=("none", "sum", "mean", "max"),
                          help="none: codes of all positions concatenated (default); else pooled")
    features.add_argument("--pool-grid", type=int, default=2, metavar="K",
                          help="pool over K x K regions of the image (default: 2, quadrants)")
    features.add_argument("--classifiers", default="logistic,linear_svm,knn,random_forest", metavar="LIST",
                          help="comma list of logistic, linear_svm, knn, random_forest (default: all)")
    features.add_argument("--set", action="append", default=[], metavar="NAME.PARAM=VALUE",
                          help="classifier parameter, e.g. --set logistic.C=0.01 (repeatable)")
    features.add_argument("--no-raw", action="store_true", help="skip the raw-pixel baseline")
    features.add_argument("--memory-limit", type=float, default=256, metavar="MIB",
                          help="working memory per chunk of feature extraction (default: 256 MiB)")
    output = parser.add_argument_group("output")
    output.add_argument("--seed", type=int, default=0, help="seed of every random step (default: 0)")
    output.add_argument("--output", metavar="DIR",
                        help="write table.csv, results.json, accuracy.png and the trained models here")
    output.add_argument("--json", metavar="PATH", help="write every figure of the run as JSON")
    output.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(func=run)
    return parser


def _split_list(text, flag):
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if not items:
        raise ValueError(f"{flag} needs at least one value, got {text!r}")
    return items


def parse_strides(text):
    """``'1,2,4'`` -> ``[1, 2, 4]``; ValueError naming a bad entry."""
    strides = []
    for item in _split_list(text, "--strides"):
        if not item.isdigit() or int(item) < 1:
            raise ValueError(f"--strides must be positive integers, got {item!r}")
        strides.append(int(item))
    return strides


def parse_feature_layers(text):
    """``'middle,first,2'`` -> ``['middle', 'first', 2]``."""
    layers = []
    for item in _split_list(text, "--feature-layer"):
        if item.isdigit():
            layers.append(int(item))
        elif item in ("middle", "first", "concat"):
            layers.append(item)
        else:
            raise ValueError(f"--feature-layer must be middle, first, concat or a number, got {item!r}")
    return layers


def parse_settings(items):
    """``['logistic.C=0.01']`` -> ``{'logistic': {'C': 0.01}}`` (numbers parsed, else strings)."""
    settings = {}
    for item in items:
        name, _, rest = item.partition(".")
        param, equals, value = rest.partition("=")
        if not name or not param or not equals:
            raise ValueError(f"--set takes NAME.PARAM=VALUE (e.g. logistic.C=0.01), got {item!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        settings.setdefault(name, {})[param] = parsed
    return settings


def parse_holdout(text):
    """``'10000'`` -> 10000, ``'0.2'`` -> 0.2; ValueError otherwise."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"--holdout must be a number of images or a fraction, got {text!r}") from None
    if value >= 1 and value == int(value):
        return int(value)
    if 0 < value < 1:
        return value
    raise ValueError(f"--holdout must be a positive integer or a fraction in (0, 1), got {text!r}")


# ------------------------------------------------------------------- data
def _remap_labels(test, class_names):
    """Test labels as indices into the training ``class_names`` (matched by name)."""
    names = np.asarray(test.class_names, dtype=object)[test.labels]
    unknown = sorted(set(names) - set(class_names))
    if unknown:
        raise ValueError(f"the test set has classes the training set lacks: {unknown}")
    lookup = {name: index for index, name in enumerate(class_names)}
    return np.array([lookup[name] for name in names], dtype=np.int64)


def _has_test_split(source, path):
    if source in ("stl10", "cifar10"):
        return True
    return source == "pickle" and os.path.isdir(path) and os.path.isfile(os.path.join(path, "test.pk"))


def load_data(args, log):
    """Training set, test set (images, labels) and how the test set was chosen.

    Returns
    -------
    train : Dataset
    test_images, test_labels : arrays
    protocol : dict
        JSON-ready description of the data and the split.
    """
    from ..classify import stratified_holdout
    from ..data import load_dataset

    source, path = resolve_source(args)
    options = {"cache_dir": args.cache_dir, "image_size": parse_image_size(args.image_size)}
    log(f"loading {source}" + (f" from {path}" if path else "") + f" ({args.split}) ...")
    data = load_dataset(source, path, split=args.split, limit=args.limit,
                        random_state=args.seed if args.limit else None, **options)
    if data.labels is None:
        raise ValueError(f"{data.name!r} has no labels; classification needs a labelled split")
    protocol = {"source": source, "path": path, "split": args.split, "name": data.name,
                "image_shape": list(data.image_shape), "class_names": list(data.class_names)}
    if args.test_data is not None:
        if args.holdout is not None:
            raise ValueError("use either --test-data or --holdout, not both")
        test_source = args.test_source or source
        log(f"loading the test set {test_source} from {args.test_data} ...")
        test = load_dataset(test_source, args.test_data, split="test", limit=args.test_limit,
                            random_state=args.seed if args.test_limit else None, **options)
        if test.labels is None:
            raise ValueError(f"the test set {args.test_data!r} has no labels")
        if tuple(test.image_shape) != tuple(data.image_shape):
            raise ValueError(f"test images are {test.image_shape}, training images {data.image_shape}; "
                             f"use --image-size to resize both")
        protocol.update(test="separate", test_source=test_source, test_path=args.test_data)
        return data, test.images, _remap_labels(test, data.class_names), protocol
    if args.holdout is None and args.split == "train" and _has_test_split(source, path):
        log(f"loading the {source} test split ...")
        test = load_dataset(source, path, split="test", limit=args.test_limit,
                            random_state=args.seed if args.test_limit else None, **options)
        protocol.update(test="test split")
        return data, test.images, _remap_labels(test, data.class_names), protocol
    holdout = parse_holdout(args.holdout if args.holdout is not None else "0.2")
    train_index, test_index = stratified_holdout(data.labels, holdout, random_state=args.seed)
    log(f"stratified hold-out: {test_index.size} test images, {train_index.size} for training (seed {args.seed})")
    test = data.subset(test_index)
    protocol.update(test="stratified hold-out", holdout=holdout, holdout_seed=args.seed,
                    n_holdout=int(test_index.size))
    return data.subset(train_index), test.images, test.labels, protocol


def narrow_training(args, train, test_images, test_labels, protocol, log):
    """Apply ``--validation`` and ``--train-limit`` to the split made by :func:`load_data`."""
    from ..classify import stratified_holdout
    from ..data import select_subset

    if args.validation is not None:
        train_index, valid_index = stratified_holdout(train.labels, parse_holdout(args.validation),
                                                      random_state=args.seed + 1)
        valid = train.subset(valid_index)
        train, test_images, test_labels = train.subset(train_index), valid.images, valid.labels
        protocol.update(test=f"validation split of the training images ({protocol['test']} unused)",
                        n_validation=int(valid_index.size))
        log(f"validation: {valid_index.size} training images held out for scoring; the test set is unused")
    if args.train_limit is not None:
        index = select_subset(len(train), args.train_limit, train.labels, random_state=args.seed)
        if index is not None:
            train = train.subset(index)
        protocol.update(train_limit=args.train_limit)
    return train, test_images, test_labels


def load_patch_images(args, log):
    """Images of ``--patch-split`` (never the test data), or None."""
    from ..data import load_dataset

    if args.patch_split is None:
        return None
    if args.patch_split == "test" or args.patch_split == args.split:
        raise ValueError(f"--patch-split {args.patch_split!r} would let the autoencoder see test images; "
                         f"use another split (e.g. unlabeled) or leave it out")
    source, path = resolve_source(args)
    log(f"loading the {args.patch_split} split for the autoencoder's patches ...")
    return load_dataset(source, path, split=args.patch_split, limit=args.patch_limit,
                        random_state=args.seed if args.patch_limit else None).images


# ------------------------------------------------------------------ output
def plot_accuracy(table, path):
    """Bar plot of accuracy per feature set (groups) and classifier (bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for row in table if row.get("train_on", "all") == "all"]
    feature_sets = list(dict.fromkeys(row["features"] for row in rows))
    classifiers = list(dict.fromkeys(row["classifier"] for row in rows))
    width = 0.8 / max(1, len(classifiers))
    figure, axes = plt.subplots(figsize=(max(6.0, 1.2 * len(feature_sets) * max(1, len(classifiers)) / 2), 4.5))
    for k, classifier in enumerate(classifiers):
        values = [next((row["accuracy"] for row in rows if row["features"] == name
                        and row["classifier"] == classifier), np.nan) for name in feature_sets]
        positions = np.arange(len(feature_sets)) + (k - (len(classifiers) - 1) / 2) * width
        bars = axes.bar(positions, values, width, label=classifier)
        axes.bar_label(bars, fmt="%.3f", fontsize=7)
    axes.set_xticks(np.arange(len(feature_sets)))
    axes.set_xticklabels(feature_sets, rotation=20, ha="right")
    axes.set_ylabel("test accuracy")
    axes.set_ylim(0, 1)
    axes.legend(fontsize=8)
    axes.set_title("nnlite classify: raw pixels vs learned features")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def write_outputs(args, table):
    """``--output DIR`` files and ``--json PATH``; returns the paths written."""
    written = []
    if args.output:
        folder = os.path.abspath(args.output)
        os.makedirs(folder, exist_ok=True)
        model_files = []
        for model in getattr(table, "models", []):
            if model.training_time > 0:  # trained in this run
                name = "model-" + "-".join(str(size) for size in model.hidden) + ".npz"
                model_files.append(model.save(os.path.join(folder, name)))
        files = {"table": os.path.join(folder, "table.csv"), "results": os.path.join(folder, "results.json"),
                 "plot": os.path.join(folder, "accuracy.png"), "models": model_files}
        table.info["files"] = files
        table.to_csv(files["table"])
        plot_accuracy(table, files["plot"])
        table.to_json(files["results"])
        written += [files["table"], files["plot"], files["results"], *model_files]
    if args.json:
        table.to_json(args.json)
        written.append(args.json)
    return written


# -------------------------------------------------------------------- run
def run(args):
    """Run ``nnlite classify``; returns the exit status."""
    from ..classify import CLASSIFIER_NAMES, run_classification
    from ..features import FeatureModel

    def log(text):
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)

    classifiers = _split_list(args.classifiers, "--classifiers")
    for name in classifiers:
        if name not in CLASSIFIER_NAMES:
            raise ValueError(f"--classifiers: unknown classifier {name!r}; choose from {', '.join(CLASSIFIER_NAMES)}")
    strides, layers = parse_strides(args.strides), parse_feature_layers(args.feature_layer)
    settings = parse_settings(args.set)
    hidden = [parse_hidden(text) for text in args.hidden] or ([] if args.model else [[75]])
    for flag, value in (("--patches", args.patches), ("--iterations", args.iterations),
                        ("--pool-grid", args.pool_grid), ("--limit", args.limit or 1),
                        ("--train-limit", args.train_limit or 1)):
        if value < 1:
            raise ValueError(f"{flag} must be >= 1, got {value}")
    if args.memory_limit <= 0:
        raise ValueError(f"--memory-limit must be > 0 MiB, got {args.memory_limit}")
    for value in (args.holdout, args.validation):
        if value is not None:
            parse_holdout(value)
    started = time.perf_counter()
    train, test_images, test_labels, protocol = load_data(args, log)
    train, test_images, test_labels = narrow_training(args, train, test_images, test_labels, protocol, log)
    patch_images = load_patch_images(args, log)
    loading = time.perf_counter() - started
    models = [FeatureModel.load(path, channels=train.image_shape[2]) for path in args.model]
    folds = None if args.no_folds else train.folds
    autoencoder_options = {"activation": args.activation, "sparsity_param": args.rho, "lambda_": args.lambda_,
                           "beta": args.beta, "epsilon": args.epsilon, "dtype": args.dtype,
                           "backend": args.backend, "verbose": 0 if args.quiet else 50}
    if args.output_activation:
        autoencoder_options["output_activation"] = args.output_activation
    if args.finetune_iterations is not None:
        if args.finetune_iterations < 0:
            raise ValueError(f"--finetune-iterations must be >= 0, got {args.finetune_iterations}")
        autoencoder_options["finetune_iter"] = args.finetune_iterations
    log(f"{len(train)} training and {len(test_labels)} test images ({protocol['test']}), "
        f"{len(train.class_names)} classes" + (f", {len(folds)} folds" if folds else ""))
    table = run_classification(
        train.images, train.labels, test_images, test_labels, image_shape=tuple(train.image_shape),
        classifiers=classifiers, raw_pixels=not args.no_raw, hidden=hidden, models=models,
        feature_layers=layers, strides=strides, pooling=args.pooling, pool_grid=args.pool_grid,
        patch_size=args.patch_size, num_patches=args.patches, normalization=args.normalization,
        max_iter=args.iterations, autoencoder_options=autoencoder_options, classifier_options=settings,
        folds=folds, memory_limit=int(args.memory_limit * 2**20), class_names=train.class_names,
        patch_images=patch_images, random_state=args.seed, progress=log)
    table.info["timings"].insert(0, {"step": "load data", "seconds": loading})
    table.info["timings"].append({"step": "end to end", "seconds": time.perf_counter() - started})
    best = table.best()
    table.info.update(data=protocol, best=best,
                      arguments={key: value for key, value in vars(args).items() if key != "func"})
    print(table.format(), flush=True)
    print(f"best: {best['features']} + {best['classifier']}: accuracy {best['accuracy']:.4f}", flush=True)
    print("time: " + ", ".join(f"{t['step']} {t['seconds']:.1f} s" for t in table.info["timings"]), flush=True)
    for path in write_outputs(args, table):
        log(f"wrote {path}")
    return 0
