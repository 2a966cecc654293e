"""``nnlite train``: images -> random patches -> normalisation -> sparse autoencoder -> files.

Parses the flags into a :class:`~nnlite.patch_settings.PatchSettings`
(:func:`nnlite.cli.options.patch_settings`), loads the images, fits a
:class:`~nnlite.patch_model.PatchModel` (which checks every value and does all
the work) and writes :data:`OUTPUT_FILES` into ``--output`` (``./nnlite-out``):
the model file, the first layer's filters in pixel space, 100 training
patches as the network saw them, the loss curve, and a JSON summary.
"""

import argparse
import json
import os
import sys
import time

from .._version import __version__
from ..display import display_layer, plot_loss_curve
from ..distributed import client_context
from ..patch_model import PatchModel
from ..staging import StagedOutputs
from .options import (DEFAULTS, EXIT_STATUS, INTERRUPTED, add_data_arguments, add_model_arguments,
                      add_output_arguments, check_output_folder, load_images, patch_settings, progress_printer,
                      resolve_source)

DESCRIPTION = """\
Train a sparse autoencoder on random patches of images and save the model, a
picture of its filters, the loss curve and a summary.

Recipes (--preset): `nnlite train` alone is the 'edges' recipe: the photographs
bundled with scikit-learn and matplotlib, scaled by 1/2, 1/4 and 1/8 and cut into
32x32 tiles (source 'photos'), mean-removed and ZCA-whitened patches (epsilon 0.1)
and a linear decoder (rho 0.035, lambda 3e-3, beta 5): its filters are oriented
edges and colour-opponent transitions.  `nnlite train --preset spec` is SPEC's
exact recipe: scikit-learn's two photographs at full resolution (source
'sample'), SPEC's normalisation, sigmoid decoder, rho 0.01, lambda 1e-4, beta 3.
A named SOURCE without --preset takes the 'spec' defaults, the same as `nnlite
classify` (so the same flags build the same model in both commands); an explicit
--normalization overrides the preset's.

Data: name another source and its path as two positional arguments:

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
  nnlite train --preset spec            (SPEC's recipe on the two full-size photographs)

Ctrl-C while the autoencoder trains stops it and keeps the best parameters so far:
every output is written (summary.json says "interrupted": true), then the exit
status is 130.  Ctrl-C before training ends otherwise (loading, sampling, the greedy
pretraining of a stacked model, whose partial stack is not the model asked for)
writes nothing and leaves --output as it was, also with status 130.
""" + EXIT_STATUS

#: ``--preset`` -> the source used when none is named, and the normalisation (with its
#: preset's rho, lambda, beta and decoder, see PatchSettings.from_options) unless --normalization is given.
PRESETS = {"edges": {"source": "photos", "normalization": "zca"},
           "spec": {"source": "sample", "normalization": "spec"}}

#: The files ``nnlite train`` writes into ``--output``.
OUTPUT_FILES = ("model.npz", "filters.png", "patches.png", "loss_curve.png", "summary.json")


def add_parser(subparsers):
    """Register ``nnlite train`` and its options."""
    parser = subparsers.add_parser(
        "train", help="train a sparse autoencoder on image patches (the main job)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(parser)
    groups = add_model_arguments(parser)
    groups["patches"].add_argument(
        "--preset", default=None, choices=tuple(PRESETS),
        help="edges: the bundled photographs as a pyramid of 32x32 tiles, zca; spec: "
             "SPEC's recipe on the two full-size photographs (see above) (default: edges "
             "when no SOURCE is named; spec with a named SOURCE, the defaults nnlite "
             "classify uses)")
    parser.set_defaults(normalization=None)
    for action in parser._actions:
        if action.dest == "normalization":
            action.help = action.help.replace(f"(default: {DEFAULTS.normalization})", "(default: the --preset's)")
    add_output_arguments(parser, "nnlite-out",
                         help="folder for model.npz, filters.png, patches.png, loss_curve.png and "
                              "summary.json (default: ./nnlite-out)")
    parser.set_defaults(func=run)
    return parser


def preset_settings(args):
    """The model's settings and the ``(source, path)`` of the flags, unset ones from ``--preset``."""
    named = args.source is not None or args.dataset is not None
    preset = PRESETS[args.preset or ("spec" if named else "edges")]
    if args.normalization is None:
        args.normalization = preset["normalization"]
    settings = patch_settings(args, args.hidden[0] if args.hidden else None)
    return settings, resolve_source(args, default=preset["source"])


def run(args):
    """Run ``nnlite train``; returns the exit status (0 done, 130 interrupted with the outputs written).

    With ``--scheduler`` the autoencoder trains on that Dask cluster
    (:func:`nnlite.distributed.client_context`), the same model as in one process.
    """
    with client_context(getattr(args, "scheduler", None)):
        return _run(args)


def _run(args):
    """The work of :func:`run`, inside the cluster's block (if any)."""
    if args.hidden and len(args.hidden) > 1:
        raise ValueError(f"nnlite train trains one model: give --hidden once, got {args.hidden} "
                         f"(nnlite classify compares several)")
    settings, (source, path) = preset_settings(args)
    folder = check_output_folder(args.output, files=OUTPUT_FILES)
    PatchModel(settings).check_memory()
    progress = progress_printer(args)
    started = time.perf_counter()
    try:
        dataset = load_images(args, source, path, args.split, args.limit, progress)
        model = PatchModel(settings).fit(dataset.images, dataset.image_shape, progress=progress)
    except KeyboardInterrupt as error:
        during = f" ({error})" if str(error) else ""
        raise KeyboardInterrupt(f"before a model was trained{during}; nothing was written to "
                                f"{folder}") from None
    data = {"source": source, "path": path, "split": args.split, "name": dataset.name,
            "n_images": len(dataset), "image_shape": list(dataset.image_shape),
            "patches": model.summary_["n_patches"], "patch_size": settings.patch_size,
            "normalization": settings.normalization, "seed": settings.random_state}
    summary = write_outputs(folder, model, data, started)
    print_summary(summary)
    if summary["result"]["interrupted"]:
        print(f"nnlite train: interrupted after {summary['result']['n_iter']} iterations: wrote the best "
              f"parameters so far to {summary['files']['model.npz']} (and the other outputs)",
              file=sys.stderr, flush=True)
        return INTERRUPTED
    return 0


def write_outputs(folder, model, data, started):
    """Write the :data:`OUTPUT_FILES` of a fitted ``model`` into ``folder``, all or none; return the summary.

    Every file is written beside its destination first and the set is moved
    into place only when all were written (:class:`~nnlite.staging.StagedOutputs`):
    a failure leaves the files of a previous run untouched.  ``data``
    describes the training data (stored in the model file and the summary);
    ``started`` is the ``time.perf_counter()`` of the start.
    """
    files = {name: os.path.join(folder, name) for name in OUTPUT_FILES}
    settings, result = model.settings, model.summary_
    with StagedOutputs() as staged:
        model.save(staged.path(files["model.npz"]), data=data)
        shape = model.patch_shape_
        display_layer(model.pixel_filters(), staged.path(files["filters.png"]), image_shape=shape)
        display_layer(model.example_patches_, staged.path(files["patches.png"]), image_shape=shape)
        plot_loss_curve(model.encoder_.loss_curve_, staged.path(files["loss_curve.png"]),
                        time_curve=model.encoder_.time_curve_,
                        title=f"nnlite train: {data['name']}, {data['patches']} patches")
        summary = {
            "nnlite_version": __version__, "data": data,
            "model": {"class": type(model.encoder_).__name__, "sizes": model.network.sizes,
                      "activation": settings.activation, "output_activation": settings.output_activation,
                      "rho": settings.sparsity_param, "lambda": settings.lambda_, "beta": settings.beta,
                      "iterations": settings.max_iter, "optimizer": settings.optimizer,
                      "backend": settings.backend or "default", "dtype": settings.dtype},
            "settings": settings.to_dict(),
            "result": {"final_cost": result["final_cost"], "n_iter": result["n_iter"],
                       "reconstruction_error": result["reconstruction_error"],
                       "mean_hidden_activation": result["mean_hidden_activation"],
                       "training_time_s": model.training_time_,
                       "total_time_s": float(time.perf_counter() - started),
                       "interrupted": result["interrupted"]},
            "files": files,
        }
        with open(staged.path(files["summary.json"]), "w", encoding="utf-8") as handle:
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
