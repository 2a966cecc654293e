"""The options ``nnlite train`` and ``nnlite classify`` share, declared once, and their parsing.

Same names, defaults and meanings in both commands; the defaults ``--help``
shows are read from :class:`~nnlite.patch_settings.PatchSettings` and its
presets.  :func:`patch_settings` is the one place flags become a model's
settings (through :meth:`PatchSettings.from_options`), so the same flags give
the same model in both.  Checking values is the library's job: this module
parses text and puts the flag's name in the library's message.
"""

import argparse
import json
import os
import re
import sys

from ..classify import FEATURE_LAYERS
from ..data import SOURCES, load_dataset
from ..patch_settings import (DTYPES, HIDDEN_ACTIVATIONS, NORMALIZATIONS, OPTIMIZERS, OUTPUT_ACTIVATIONS,
                              PatchSettings)
from ..staging import check_destination
from ..validation import check_writable_folder

#: The library defaults the flags show and use.
DEFAULTS = PatchSettings()
SPEC_DEFAULTS = PatchSettings.from_options(normalization="spec")
ZCA_DEFAULTS = PatchSettings.from_options(normalization="zca")

#: The exit status rule every command's ``--help`` ends with (:func:`nnlite.cli.main` applies it).
EXIT_STATUS = ("Exit status (every nnlite command): 0 success; 2 bad input: one 'error:' line naming it\n"
               "and what to do, and the output folder is left as it was; 130 interrupted by Ctrl-C.")

#: Exit status of a command interrupted by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130

#: Progress lines every this many L-BFGS iterations (none with --quiet).
PROGRESS_EVERY = 10

#: PatchSettings field -> the flag that sets it (its ``args`` attribute: the flag in snake case).
FLAGS = {"hidden": "--hidden", "patch_size": "--patch-size", "num_patches": "--patches",
         "normalization": "--normalization", "epsilon": "--epsilon", "contrast": "--contrast",
         "sparsity_param": "--rho",
         "lambda_": "--lambda", "beta": "--beta", "activation": "--activation",
         "output_activation": "--output-activation", "max_iter": "--iterations",
         "finetune_iter": "--finetune-iterations", "finetune_sparsity_param": "--finetune-rho",
         "finetune_lambda_": "--finetune-lambda", "finetune_beta": "--finetune-beta",
         "finetune_decoder_penalty": "--finetune-decoder-penalty", "optimizer": "--optimizer", "dtype": "--dtype",
         "backend": "--backend", "random_state": "--seed"}


def _preset_help(what, field, text=None):
    spec, zca = getattr(SPEC_DEFAULTS, field), getattr(ZCA_DEFAULTS, field)
    return f"{what} (default: {text or format(spec, 'g')}; {format(zca, 'g')} with zca)"


# ------------------------------------------------------------------ declare
def add_data_arguments(parser):
    """SOURCE PATH and the data group (--split, --limit, --cache-dir, --image-size); returns the group."""
    parser.add_argument("source", nargs="?", metavar="SOURCE",
                        help="data source: photos, sample, stl10, cifar10, folder or pickle (default: "
                             "photos for nnlite train, sample for --preset spec)")
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="folder or file of the source (every source but 'sample' and 'photos' needs one)")
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


def add_model_arguments(parser):
    """The patch, model and training groups; returns them as a dict by name."""
    d = DEFAULTS
    patches = parser.add_argument_group("patches")
    patches.add_argument("--patches", type=int, default=d.num_patches, metavar="N",
                         help=f"random patches per autoencoder (default: {d.num_patches})")
    patches.add_argument("--patch-size", type=int, default=d.patch_size, metavar="P",
                         help=f"patch side in pixels (default: {d.patch_size}, i.e. "
                              f"{d.patch_size}x{d.patch_size}x3 = {3 * d.patch_size ** 2} inputs)")
    patches.add_argument("--normalization", default=d.normalization, choices=NORMALIZATIONS,
                         help=f"fitted on the training patches; spec: per-channel clip to mean+-3sd "
                              f"then map to [0.1, 0.9]; mean-removed: remove each patch's mean first; "
                              f"zca: mean-removed then ZCA-whitened, linear decoder "
                              f"(default: {d.normalization})")
    patches.add_argument("--epsilon", type=float, default=d.epsilon,
                         help=f"ZCA regulariser added to the eigenvalues (default: {d.epsilon:g})")
    patches.add_argument("--contrast", type=float, metavar="C",
                         help="contrast-normalise each patch after removing its mean (mean-removed, zca): "
                              "divide by sqrt(variance + C * mean variance), e.g. 0.01 (default: off)")
    model = parser.add_argument_group("model")
    model.add_argument("--hidden", action="append", metavar="SIZES",
                       help=f"hidden layer size, or a symmetric comma list for a stacked autoencoder, "
                            f"e.g. 200,50,200; nnlite classify: repeat to compare architectures "
                            f"(default: {','.join(map(str, d.hidden))}; classify: none with --model)")
    model.add_argument("--rho", type=float, help=_preset_help("sparsity target rho", "sparsity_param"))
    model.add_argument("--lambda", dest="lambda_", type=float, metavar="LAMBDA",
                       help=_preset_help("weight decay lambda", "lambda_"))
    model.add_argument("--beta", type=float, help=_preset_help("sparsity weight beta", "beta"))
    model.add_argument("--activation", default=d.activation, choices=HIDDEN_ACTIVATIONS,
                       help=f"hidden activation (default: {d.activation})")
    model.add_argument("--output-activation", choices=OUTPUT_ACTIVATIONS,
                       help=(f"output activation (default: {SPEC_DEFAULTS.output_activation}; "
                             f"{ZCA_DEFAULTS.output_activation} with zca)"))
    training = parser.add_argument_group("training")
    training.add_argument("--iterations", type=int, default=d.max_iter, metavar="N",
                          help=f"L-BFGS iterations (per stage and for fine-tuning when stacked; "
                               f"default: {d.max_iter})")
    training.add_argument("--finetune-iterations", type=int, metavar="N",
                          help="stacked models: L-BFGS iterations of fine-tuning (default: "
                               "--iterations; 0 keeps the greedily pretrained stack)")
    for flag, what, count in (("--finetune-rho", "rho", "hidden layer"),
                              ("--finetune-lambda", "lambda", "weight layer"),
                              ("--finetune-beta", "beta", "hidden layer")):
        training.add_argument(flag, type=parse_layer_values, metavar="V[,V...]",
                              help=f"stacked models: {what} of fine-tuning, one value or one per {count} "
                                   f"(default: the model's {what})")
    training.add_argument("--finetune-decoder-penalty", action=argparse.BooleanOptionalAction,
                          help="stacked models: --no-finetune-decoder-penalty fine-tunes without sparsity "
                               "past the middle layer and without weight decay on the decoder "
                               "(default: with both)")
    training.add_argument("--optimizer", default=d.optimizer, choices=OPTIMIZERS,
                          help=f"lbfgs-b: scipy's L-BFGS-B; lbfgs: nnlite's own L-BFGS, less work per "
                               f"iteration (faster on a GPU) (default: {d.optimizer})")
    training.add_argument("--dtype", default=d.dtype, choices=DTYPES,
                          help=f"precision of autoencoder training (default: {d.dtype})")
    training.add_argument("--backend", default=d.backend,
                          help="array backend: numpy, cupy, cudamat (default: numpy, or $NNLITE_BACKEND)")
    training.add_argument("--seed", type=int, default=d.random_state,
                          help=f"seed of every random step: image subset, hold-out, patches, initial "
                               f"weights, classifiers (default: {d.random_state})")
    training.add_argument("--scheduler", metavar="ADDRESS",
                          help="train (stacked models too) and extract features on a Dask cluster: "
                               "a scheduler address (tcp://host:8786) or local:N for N local worker "
                               "processes; the same model as one process (needs: pip install "
                               "'nnlite[distributed]'; default: one process)")
    return {"patches": patches, "model": model, "training": training}


def add_output_arguments(parser, default, help):
    """The output group: ``--output DIR`` (its default and what it holds differ per command), --quiet."""
    output = parser.add_argument_group("output")
    output.add_argument("--output", default=default, metavar="DIR", help=help)
    output.add_argument("--quiet", action="store_true",
                        help="no progress lines on stderr (the results are still printed)")
    return output


# ------------------------------------------------------------- to settings
def library_error(error, flags=None):
    """A ValueError with ``error``'s message, the setting it starts with replaced by its flag.

    ``flags`` maps setting names to flags (default: :data:`FLAGS`, the
    PatchSettings fields).
    """
    flags = FLAGS if flags is None else flags
    message = str(error)
    match = re.match(r"(\w+)", message)
    if match and match.group(1) in flags:
        message = flags[match.group(1)] + message[match.end():]
    return ValueError(message)


def patch_settings(args, hidden=None):
    """The :class:`~nnlite.patch_model.PatchSettings` the flags describe, validated.

    The one place both commands turn flags into a model: flags left unset
    (``--rho``, ``--lambda``, ``--beta``, ``--output-activation``) are None,
    and :meth:`PatchSettings.from_options` gives them the normalisation's
    preset.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by a parser with :func:`add_model_arguments` and --quiet.
    hidden : str, optional
        One ``--hidden`` value (``'75'``, ``'200,50,200'``); None: the
        library default.

    Raises
    ------
    ValueError
        The library's message, naming the flag instead of the field.
    """
    given = {field: getattr(args, "lambda_" if flag == "--lambda" else flag[2:].replace("-", "_"))
             for field, flag in FLAGS.items() if field != "hidden"}
    given["verbose"] = 0 if args.quiet else PROGRESS_EVERY
    if hidden is not None:
        given["hidden"] = tuple(parse_hidden(hidden))
    try:
        return PatchSettings.from_options(**given).validate()
    except ValueError as error:
        raise library_error(error) from None


# ------------------------------------------------------------------- parse
def split_list(text, flag):
    """``'a, b,c'`` -> ``['a', 'b', 'c']``; ValueError naming ``flag`` when empty."""
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if not items:
        raise ValueError(f"{flag} needs at least one value, got {text!r}")
    return items


def parse_integers(text, flag, names=()):
    """``'1, 2,4'`` -> ``[1, 2, 4]``; entries in ``names`` stay strings (the library checks values)."""
    values = []
    for item in split_list(text, flag):
        if item in names:
            values.append(item)
            continue
        try:
            values.append(int(item))
        except ValueError:
            choices = f"{', '.join(names)} or an integer" if names else "integers"
            raise ValueError(f"{flag} takes {choices}, got {item!r}") from None
    return values


def parse_layer_values(text):
    """``'0.1'`` -> ``0.1``, ``'0.1,0.3,0.1'`` -> ``(0.1, 0.3, 0.1)`` (per-layer fine-tuning settings)."""
    values = tuple(float(item) for item in split_list(text, "a per-layer setting"))
    return values[0] if len(values) == 1 else values


def parse_hidden(text):
    """``'75'`` -> ``[75]``, ``'200,50,200'`` -> ``[200, 50, 200]`` (PatchSettings checks the sizes)."""
    return parse_integers(text, "--hidden")


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


#: Sources that are bundled with the installed libraries and take no path.
BUNDLED_SOURCES = ("sample", "photos")


def resolve_source(args, default="sample"):
    """(source, path) from the positionals or their ``--dataset/--data`` synonyms (``default`` when none)."""
    source, path = args.source, args.path
    for flag, given, positional in (("--dataset", args.dataset, source), ("--data", args.data, path)):
        if given is not None and positional is not None and given != positional:
            raise ValueError(f"{flag} {given!r} contradicts the positional argument {positional!r}")
    source = source or args.dataset or default
    path = path or args.data
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")
    if source in BUNDLED_SOURCES and path is not None:
        raise ValueError(f"the {source!r} source takes no path, got {path!r}")
    if source not in BUNDLED_SOURCES and path is None:
        raise ValueError(f"the {source!r} source needs a path: nnlite {args.command} {source} PATH")
    return source, path


def data_options(args, source):
    """Loader options of the data flags for ``source`` (decoding progress off with --quiet)."""
    options = {"cache_dir": args.cache_dir, "image_size": parse_image_size(args.image_size)}
    if source == "folder":
        options["progress"] = not args.quiet
    return options


def load_images(args, source, path, split, limit, say=None):
    """The :class:`~nnlite.data.Dataset` of ``split`` the data flags name.

    A ``limit`` draws a stratified subset seeded with --seed; ``say`` gets a progress line.
    """
    if say is not None:
        say(f"loading {source}" + (f" from {path}" if path else "") + f" ({split}) ...")
    return load_dataset(source, path, split=split, limit=limit, random_state=args.seed if limit else None,
                        **data_options(args, source))


def parse_strides(text):
    """``'1,2,4'`` -> ``[1, 2, 4]``."""
    return parse_integers(text, "--strides")


def parse_feature_layers(text):
    """``'middle,first,2'`` -> ``['middle', 'first', 2]``."""
    return parse_integers(text, "--feature-layer", names=FEATURE_LAYERS)


def parse_classifier_options(items):
    """``['logistic.C=0.01']`` -> ``{'logistic': {'C': 0.01}}`` (JSON values parsed, else strings)."""
    options = {}
    for item in items:
        name, _, rest = item.partition(".")
        param, equals, value = rest.partition("=")
        if not name or not param or not equals:
            raise ValueError(f"--set takes NAME.PARAM=VALUE (e.g. logistic.C=0.01), got {item!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        options.setdefault(name, {})[param] = parsed
    return options


def parse_holdout(text, flag="--holdout"):
    """``'10000'`` -> 10000, ``'0.2'`` -> 0.2; ValueError naming ``flag`` otherwise."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{flag} must be a number of images or a fraction, got {text!r}") from None
    if value >= 1 and value == int(value):
        return int(value)
    if 0 < value < 1:
        return value
    raise ValueError(f"{flag} must be a positive integer or a fraction in (0, 1), got {text!r}")


# ------------------------------------------------------------------ output
def check_output_folder(path, flag="--output", files=()):
    """``path`` made absolute; ValueError unless the folder exists or can be made (checked before any work).

    ``files``: names the command will write into it; none may be a folder there.
    """
    if path is None:
        return None
    target = _check_writable(path, flag, folder=True)
    for name in files:
        check_destination(os.path.join(target, name))
    return target


def check_output_file(path, flag):
    """``path`` made absolute; ValueError unless the file can be written (its folder exists)."""
    return None if path is None else _check_writable(path, flag, folder=False)


def _check_writable(path, flag, folder):
    target = os.path.abspath(os.path.expanduser(path))
    if os.path.exists(target) and os.path.isdir(target) != folder:
        raise ValueError(f"{flag} {path!r} is a {'file' if folder else 'folder'}, not a "
                         f"{'folder' if folder else 'file'}")
    existing = target if folder else os.path.dirname(target)
    while folder and not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        why = "is a file" if os.path.exists(existing) else "does not exist"
        raise ValueError(f"{flag} {path!r} cannot be written: {existing!r} {why}")
    check_writable_folder(existing, flag, create=False)  # a real probe, not os.access (root, read-only disks)
    return target


def progress_printer(args):
    """A callable that prints one progress line on stderr, or None with --quiet."""
    if args.quiet:
        return None
    return lambda text: print(text, file=sys.stderr, flush=True)
