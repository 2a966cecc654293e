"""``nnlite classify``: raw pixels vs learned features under scikit-learn classifiers.

Parses the flags into a :class:`~nnlite.classify.ClassificationSettings`
(its autoencoders built by :func:`nnlite.cli.options.patch_settings`, exactly
as ``nnlite train`` builds its one), checks the output paths, loads the
labelled data and picks the test set (the source's test split, a separately
named one, or a seeded stratified hold-out), then runs
:func:`nnlite.classify.run_classification`.  The table goes to stdout,
progress to stderr; ``--output DIR`` writes ``table.csv``, ``results.json``,
``accuracy.png`` and the trained models, ``--json PATH`` the whole run as JSON.
"""

import argparse
import os
import time

from ..classify import ClassificationSettings, ResultTable, run_classification, study_split
from ..classify.study import check_classifier_options
from ..distributed import client_context
from ..memory import format_bytes, peak_resident_memory
from ..encoders import ENCODERS
from ..patch_model import PatchModel
from ..staging import StagedOutputs
from .options import (EXIT_STATUS, add_data_arguments, add_model_arguments, add_output_arguments,
                      check_output_file, check_output_folder, library_error, load_images, parse_classifier_options,
                      parse_feature_layers, parse_holdout, parse_strides, patch_settings,
                      progress_printer, resolve_source, split_list)

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

Ctrl-C stops the study (also while an autoencoder trains: its features would not be
those asked for): nothing is written, the exit status is 130.
""" + EXIT_STATUS

#: ClassificationSettings field -> the flag that sets it.
FLAGS = {"encoding": "--encoder", "alpha": "--alpha", "classifiers": "--classifiers", "classifier_options": "--set", "pool_grid": "--pool-grid",
         "pooling": "--pooling", "memory_limit": "--memory-limit", "stride": "--strides",
         "feature_layers": "--feature-layer"}


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
    groups = add_model_arguments(parser)
    groups["model"].add_argument("--model", action="append", default=[], metavar="PATH",
                                 help="use a trained model file (nnlite train's model.npz); repeatable")
    features = parser.add_argument_group("features and classifiers")
    features.add_argument("--feature-layer", default="middle", metavar="LIST",
                          help="hidden layer(s) giving the features of deep models: middle, first, "
                               "concat or a layer number; comma list to compare (default: middle)")
    features.add_argument("--strides", default="4", metavar="LIST",
                          help="patch strides, e.g. 1,2,4,8 (default: 4)")
    features.add_argument("--pooling", default="none", choices=("none", "sum", "mean", "max"),
                          help="none: codes of all positions concatenated; else pooled (default: none)")
    features.add_argument("--pool-grid", type=int, default=2, metavar="K",
                          help="pool over K x K regions of the image (default: 2, quadrants)")
    features.add_argument("--classifiers", default="logistic,linear_svm,knn,random_forest", metavar="LIST",
                          help="comma list of logistic, linear_svm, knn, random_forest, l2svm "
                               "(default: logistic,linear_svm,knn,random_forest)")
    features.add_argument("--set", action="append", default=[], metavar="NAME.PARAM=VALUE",
                          help="classifier parameter, e.g. --set logistic.C=0.01 (repeatable)")
    features.add_argument("--encoder", default="activation", choices=ENCODERS,
                          help="encoder at feature time: the autoencoder's own activation, or on its "
                               "first layer's unit-norm weights w the soft threshold max(0, w.x - alpha) "
                               "and max(0, -w.x - alpha) (Coates & Ng 2011) or the triangle encoding "
                               "(default: activation)")
    features.add_argument("--alpha", default="auto", metavar="A",
                          help="soft threshold; auto: half the median |w.x| on the training images "
                               "(default: auto)")
    features.add_argument("--select-c", action="store_true",
                          help="choose C of logistic, linear_svm and l2svm from a small grid on a 20%% "
                               "validation split of the training images (reported in the table)")
    features.add_argument("--mirror", action="store_true",
                          help="add the left-right mirror image of every training image to the "
                               "classifiers' training set (the test images and the autoencoder's "
                               "patches are not touched)")
    features.add_argument("--no-raw", action="store_true", help="skip the raw-pixel baseline")
    features.add_argument("--memory-limit", type=float, default=256, metavar="MIB",
                          help="working memory per chunk of feature extraction (default: 256 MiB)")
    output = add_output_arguments(parser, None, help="write table.csv, results.json, accuracy.png and "
                                                     "the trained models here (default: none)")
    output.add_argument("--json", metavar="PATH", help="write every figure of the run as JSON")
    parser.set_defaults(func=run)
    return parser


def parse_alpha(text):
    """``'auto'`` stays, ``'0.25'`` -> 0.25 (the library checks the range)."""
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--alpha takes 'auto' or a number, got {text!r}") from None


def classification_settings(args):
    """The validated :class:`~nnlite.classify.ClassificationSettings` the flags describe."""
    hidden = args.hidden or ([] if args.model else [None])
    settings = ClassificationSettings(
        classifiers=tuple(split_list(args.classifiers, "--classifiers")), raw_pixels=not args.no_raw,
        architectures=tuple(patch_settings(args, text) for text in hidden),
        feature_layers=tuple(parse_feature_layers(args.feature_layer)),
        strides=tuple(parse_strides(args.strides)), pooling=args.pooling, pool_grid=args.pool_grid,
        classifier_options=parse_classifier_options(args.set), use_folds=not args.no_folds,
        memory_limit=int(args.memory_limit * 2**20), random_state=args.seed, encoding=args.encoder,
        alpha=parse_alpha(args.alpha), select_C=args.select_c, mirror=args.mirror)
    try:
        settings.validate()
    except ValueError as error:
        raise library_error(error, FLAGS) from None
    try:
        check_classifier_options(settings)
    except ValueError as error:
        raise ValueError(f"--set: {error}") from None
    return settings


# ------------------------------------------------------------------- data
def _has_test_split(source, path):
    if source in ("stl10", "cifar10"):
        return True
    return source == "pickle" and os.path.isdir(path) and os.path.isfile(os.path.join(path, "test.pk"))


def _load(args, source, path, split, limit, say, labelled=True):
    data = load_images(args, source, path, split, limit, say)
    if labelled and data.labels is None:
        raise ValueError(f"{data.name!r}" + (f" ({path})" if path else "") + " has no labels; "
                         f"classification needs labelled {split} images")
    return data


def load_data(args, source, path, holdout, validation, say):
    """(train, scored, protocol): the Datasets of :func:`~nnlite.classify.study_split` and its record."""
    train = _load(args, source, path, args.split, args.limit, say)
    test, test_name = None, None
    if args.test_data is not None:
        test_name = "separate"
        test = _load(args, args.test_source or source, args.test_data, "test", args.test_limit, say)
    elif args.holdout is None and args.split == "train" and _has_test_split(source, path):
        test_name = "test split"
        test = _load(args, source, path, "test", args.test_limit, say)
    train_part, scored, protocol = study_split(train, test, holdout, validation, args.train_limit,
                                               random_state=args.seed, test_name=test_name)
    say(f"{len(train_part)} training and {len(scored)} scored images ({protocol['test']}, seed {args.seed})")
    protocol = dict({"source": source, "path": path, "split": args.split, "name": train.name,
                     "image_shape": list(train.image_shape), "class_names": list(train.class_names)},
                    **protocol)
    if test_name == "separate":
        protocol.update(test_source=args.test_source or source, test_path=args.test_data)
    return train_part, scored, protocol


# -------------------------------------------------------------------- run
def run(args):
    """Run ``nnlite classify``; returns the exit status.

    With ``--scheduler`` the autoencoders train and the features are extracted
    on that Dask cluster (:func:`nnlite.distributed.client_context`).
    """
    with client_context(getattr(args, "scheduler", None)):
        return _run(args)


def _run(args):
    """The work of :func:`run`, inside the cluster's block (if any)."""
    settings = classification_settings(args)
    source, path = resolve_source(args)
    holdout, validation = (None if value is None else parse_holdout(value, flag)
                           for flag, value in (("--holdout", args.holdout), ("--validation", args.validation)))
    if args.test_data is not None and args.holdout is not None:
        raise ValueError("use either --test-data or --holdout, not both")
    if args.patch_split is not None and args.patch_split in ("test", args.split):
        raise ValueError(f"--patch-split {args.patch_split!r} would let the autoencoder see test images; "
                         f"use another split (e.g. unlabeled) or leave it out")
    names = ResultTable.output_names([architecture.hidden for architecture in settings.architectures])
    folder = check_output_folder(args.output, files=[names["table"], names["plot"], names["results"],
                                                     *names["models"]])
    json_path = check_output_file(args.json, "--json")
    for architecture in settings.architectures:
        PatchModel(architecture).check_memory()
    models = [PatchModel.load(model_path) for model_path in args.model]
    progress = progress_printer(args)
    say = progress or (lambda text: None)
    started = time.perf_counter()
    train, test, protocol = load_data(args, source, path, holdout, validation, say)
    patch_images = None
    if args.patch_split is not None:
        patch_images = _load(args, source, path, args.patch_split, args.patch_limit, say, False).images
    loading = time.perf_counter() - started
    table = run_classification(train, test, settings, models=models, patch_images=patch_images,
                               progress=progress)
    for described, model_path in zip(table.info["models"], args.model):
        described["source"] = str(model_path)
    table.info["timings"].insert(0, {"step": "load data", "seconds": loading})
    table.info["timings"].append({"step": "end to end", "seconds": time.perf_counter() - started})
    best = table.best()
    table.info.update(data=protocol, best=best,
                      arguments={key: value for key, value in vars(args).items() if key != "func"})
    print(table.format(), flush=True)
    print(f"best: {best['features']} + {best['classifier']}: accuracy {best['accuracy']:.4f}", flush=True)
    peak = peak_resident_memory()
    table.info["peak_rss_bytes"] = peak
    print("time: " + ", ".join(f"{t['step']} {t['seconds']:.1f} s" for t in table.info["timings"])
          + ("" if peak is None else f"; peak memory {format_bytes(peak)} (resident, VmHWM)"), flush=True)
    for written in write_outputs(folder, json_path, table, data=protocol):
        say(f"wrote {written}")
    return 0


def write_outputs(folder, json_path, table, data=None):
    """``--output`` files (:meth:`ResultTable.save`) and ``--json``, all or none; the paths the paths written."""
    written = []
    with StagedOutputs() as staged:
        if folder is not None:
            files = table.save(folder, data=data, staged=staged)
            written += [files["table"], files["plot"], files["results"], *files["models"]]
        if json_path is not None:
            table.to_json(staged.path(json_path))
            written.append(json_path)
    return written
