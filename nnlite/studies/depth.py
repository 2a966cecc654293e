"""Study 4: one hidden layer against three (``[h1, h2, h1]``), and fine-tuning with per-layer settings.

One stack is pretrained greedily on whitened patches of the training images;
every fine-tuning variant starts from that same pretrained stack
(:meth:`PatchModel.fit(pretrained=...) <nnlite.patch_model.PatchModel.fit>`):

* ``pretrained`` -- the unrolled stack, not fine-tuned;
* ``uniform`` -- fine-tuned with the first stage's ``rho``, ``lambda``,
  ``beta`` on every layer (what fine-tuning did before per-layer settings);
* per-layer candidates (:data:`VARIANTS`): a weaker sparsity target on the
  middle layer, no penalty on the decoder half, fewer iterations, ...

plus a one-hidden-layer model of ``h1`` units on the same patches.  Each
model's features (first / middle / both layers, strided codes summed over
quadrants) are classified by logistic regression on a training subset and
scored on a *validation* split of the training images (the hold-out is never
touched); each model's reconstruction error is measured on patches of the
validation images.  A stack is encoded once (both layers) and its features
split by layer, so the three feature sets of a model cost one extraction.
"""

import time

import numpy as np

from ..classify import make_classifier, study_split
from ..data import Dataset
from ..patch_model import FINETUNE_FIELDS, PatchModel, PatchSettings
from .common import evaluation_patches, new_figure, save_figure
from .latex import Tex, format_number

__all__ = ["VARIANTS", "FULL_VARIANTS", "QUICK_VARIANTS", "LAYERS", "run_depth", "figures_depth", "macros_depth",
           "tables_depth"]

#: Fine-tuning variants: name -> (description, changes).  Changes are PatchSettings fields, plus
#: ``middle_sparsity_param`` / ``middle_beta``: that value on the middle hidden layer, and
#: ``outer_beta``: that value on the other hidden layers (the base's where not given), and
#: ``encoder_lambda_``: that weight decay on the encoder's weights (the base's on the decoder's).
#: 'pretrained' and 'uniform' are the references.
VARIANTS = {
    "pretrained": ("pretrained only (no fine-tuning)", {"finetune_iter": 0}),
    "uniform": ("fine-tuned, the first stage's rho, lambda, beta on every layer", {}),
    "no-decoder": ("fine-tuned, no sparsity past the middle, no decay on the decoder",
                   {"finetune_decoder_penalty": False}),
    "weak-middle": ("fine-tuned, middle layer rho 0.2, beta 0.5",
                    {"middle_sparsity_param": 0.2, "middle_beta": 0.5}),
    "weak-middle-no-decoder": ("fine-tuned, middle rho 0.2 beta 0.5, nothing on the decoder",
                               {"middle_sparsity_param": 0.2, "middle_beta": 0.5,
                                "finetune_decoder_penalty": False}),
    "short": ("fine-tuned for 20 iterations only", {"finetune_iter": 20}),
    "short-5": ("fine-tuned for 5 iterations only", {"finetune_iter": 5}),
    "short-weak-middle-no-decoder": ("20 iterations, middle rho 0.2 beta 0.5, nothing on the decoder",
                                     {"finetune_iter": 20, "middle_sparsity_param": 0.2, "middle_beta": 0.5,
                                      "finetune_decoder_penalty": False}),
    "no-encoder-decay": ("fine-tuned without weight decay on the encoder's weights",
                         {"encoder_lambda_": 0.0}),
    "no-encoder-decay-no-decoder": ("fine-tuned without weight decay, no sparsity past the middle",
                                    {"encoder_lambda_": 0.0, "finetune_decoder_penalty": False}),
    "no-decay": ("fine-tuned without weight decay", {"finetune_lambda_": 0.0}),
    "strong-first": ("fine-tuned, beta 20 on the outer layers, middle rho 0.2 beta 0.5, nothing on the decoder",
                     {"outer_beta": 20.0, "middle_sparsity_param": 0.2, "middle_beta": 0.5,
                      "finetune_decoder_penalty": False}),
}
#: The variants a full run compares (the others are there to be asked for): the references, no
#: decoder penalty, 20 iterations, and no weight decay (on the encoder, or anywhere), which on
#: CIFAR-10 left the features within about half a point of the pretrained stack's.
FULL_VARIANTS = ("pretrained", "uniform", "no-decoder", "short", "no-encoder-decay", "no-decay")
#: Quick mode: the two reference variants and one per-layer candidate.
QUICK_VARIANTS = ("pretrained", "uniform", "no-decoder")
#: Feature layers of the stack, in table order (the one-layer model has one).
LAYERS = ("first", "middle", "concat")
#: Label of the one-hidden-layer model.
ONE_LAYER = "one-layer"


def default_base(quick=False):
    """The stack's settings: UFLDL's whitened recipe (ZCA, linear decoder) on ``[200, 50, 200]``.

    Quick: ``[12, 4, 12]`` on 600 patches of 6x6, 15 iterations per stage.
    """
    if quick:
        return PatchSettings.preset("whitened", hidden=(12, 4, 12), patch_size=6, num_patches=600,
                                    max_iter=15, epsilon=0.01)
    return PatchSettings.preset("whitened", hidden=(200, 50, 200), num_patches=20000, max_iter=200,
                                epsilon=0.01, dtype="float32")


def _variant_settings(base, changes):
    """``base`` with a variant's changes (see :data:`VARIANTS`), validated."""
    changes = dict(changes)
    middle = len(base.hidden) // 2
    for name in ("sparsity_param", "beta"):
        if "middle_" + name in changes or "outer_" + name in changes:
            values = [changes.pop("outer_" + name, getattr(base, name))] * len(base.hidden)
            values[middle] = changes.pop("middle_" + name, getattr(base, name))
            changes["finetune_" + name] = tuple(values)
    if "encoder_lambda_" in changes:
        values = [base.lambda_] * (len(base.hidden) + 1)
        values[:middle + 1] = [changes.pop("encoder_lambda_")] * (middle + 1)
        changes["finetune_lambda_"] = tuple(values)
    return PatchSettings.from_dict(dict(base.to_dict(), **changes)).validate()


def _dataset(images, labels, image_shape):
    return Dataset(images, np.asarray(labels), image_shape=tuple(image_shape), name="depth study")


def _layer_features(model, images, image_shape, stride):
    """Quadrant-summed features of ``images``: dict layer name -> (n_images, n_features) array.

    A stack is encoded once with ``layer='concat'``; its columns (cell-major,
    then unit: the first layer's units, then the middle layer's) are split
    into the first and middle layers' features.
    """
    if len(model.hidden) == 1:
        extractor = model.features(stride=stride, pooling="sum", pool_grid=2, dtype="float32",
                                   image_shape=image_shape)
        return {"first": extractor.fit_transform(images)}
    extractor = model.features(stride=stride, pooling="sum", pool_grid=2, layer="concat", dtype="float32",
                               image_shape=image_shape)
    both = extractor.fit_transform(images)
    first, middle = model.hidden[0], model.hidden[len(model.hidden) // 2]
    cells = both.reshape(both.shape[0], -1, first + middle)
    return {"first": cells[:, :, :first].reshape(both.shape[0], -1),
            "middle": cells[:, :, first:].reshape(both.shape[0], -1), "concat": both}


def _classify(model, train, valid, stride, seed, say):
    """Validation accuracy of logistic regression per feature layer of one model: dict layer -> accuracy."""
    start = time.perf_counter()
    train_x = _layer_features(model, train.images, train.image_shape, stride)
    valid_x = _layer_features(model, valid.images, valid.image_shape, stride)
    say(f"depth:   features extracted in {time.perf_counter() - start:.1f} s")
    found = {}
    for layer in LAYERS:
        if layer in train_x:
            start = time.perf_counter()
            classifier = make_classifier("logistic", seed).fit(train_x[layer], train.labels)
            found[layer] = float(np.mean(classifier.predict(valid_x[layer]) == valid.labels))
            say(f"depth:   {layer} ({train_x[layer].shape[1]} features): validation accuracy "
                f"{found[layer]:.4f} (fit {time.perf_counter() - start:.1f} s)")
    return found


def _describe(model, held_out):
    encoder = model.encoder_
    data = model.preprocessor_.transform(held_out)
    return {"reconstruction_error": float(encoder.reconstruction_error(data)),
            "training_reconstruction_error": float(model.summary_["reconstruction_error"]),
            "final_cost": float(model.summary_["final_cost"]), "n_iter": int(model.summary_["n_iter"]),
            "training_time": float(model.training_time_),
            "pretrained_reconstruction_error": (float(encoder.pretrained_reconstruction_error_)
                                                if hasattr(encoder, "pretrained_reconstruction_error_") else None),
            "mean_hidden_activation": list(model.summary_["mean_hidden_activation"])}


def _first_stage(stack, settings, patches):
    """The stack's first greedy stage as a one-layer :class:`PatchModel` (the stack's preprocessor)."""
    encoder = stack.encoder_.stage_models()[0]
    record = stack.encoder_.stage_results_[0]
    summary = {"final_cost": float(record["cost"]), "n_iter": int(record["n_iter"]),
               "reconstruction_error": float(encoder.reconstruction_error(patches)),
               "mean_hidden_activation": [float(encoder.encode(patches).mean())],
               "training_time": float(record["time"])}
    return PatchModel.from_parts(settings, encoder, stack.preprocessor_, stack.patch_shape_, summary)


def run_depth(images, image_shape, labels=None, base=None, variants=None, one_layer="train",
              one_layer_iter=None,
              n_train=10000, n_valid=5000, holdout=10000, stride=2, n_eval=5000, quick=False,
              random_state=0, progress=None):
    """Train one stack, fine-tune it several ways, train one layer; classify and measure each.

    Parameters
    ----------
    images : ndarray of shape (n_images, h*w*c)
    image_shape : tuple (h, w, c)
    labels : ndarray of shape (n_images,), optional
        Without labels only reconstruction errors are measured (accuracies None).
    base : PatchSettings, optional
        The stack (symmetric, three or more hidden layers); default
        :func:`default_base`.
    variants : sequence of str, optional
        Names in :data:`VARIANTS` (default :data:`FULL_VARIANTS`; quick: :data:`QUICK_VARIANTS`).
    one_layer : {'train', 'stage', None}, default='train'
        ``'train'``: a one-layer model of ``hidden[0]`` units trained on the
        same patches with its own initial weights; ``'stage'``: the stack's
        first greedy stage itself (the same optimisation, not repeated);
        None: no one-layer model.
    one_layer_iter : int, optional
        ``'train'``: iterations of the one-layer model (default:
        ``base.max_iter``, one stage's).
    n_train, n_valid : int
        Training images of the classifier and validation images it is scored on.
    holdout : int
        Images set aside first and never used (the hold-out of the other studies).
    stride : int
        Patch stride of the features (codes summed over 2x2 quadrants).
    n_eval : int
        Patches of the validation images for the reconstruction errors.
    quick : bool
        Tiny sizes (:func:`default_base` quick, a few hundred images).
    random_state : int
        Seeds the splits, the patches, the weights and the classifiers.
    progress : callable(str), optional

    Returns
    -------
    dict
        ``base`` (settings dict), ``variants`` (list of dicts: ``name``,
        ``description``, ``settings``, ``accuracy`` (layer -> validation
        accuracy, or None without labels), ``reconstruction_error`` (held-out
        patches), ``training_reconstruction_error``, ``final_cost``,
        ``n_iter``, ``training_time``, ``mean_hidden_activation``, ...),
        ``layers``, ``protocol`` (split sizes and seeds), ``stride``, ``one_layer``,
        ``mean_patch_error`` (the error of reconstructing every held-out
        patch by their mean: a stack that reaches it has collapsed), ``seconds``.
    """
    say = progress or (lambda line: None)
    base = default_base(quick) if base is None else base
    base = PatchSettings.from_dict(dict(base.to_dict(), random_state=random_state)).validate()
    if not base.stacked or len(base.hidden) < 3:
        raise ValueError(f"base must be a stacked model (three or more hidden layers), got {base.hidden}")
    names = list(variants or (QUICK_VARIANTS if quick else FULL_VARIANTS))
    if one_layer not in ("train", "stage", None):
        raise ValueError(f"one_layer must be 'train', 'stage' or None, got {one_layer!r}")
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; choose among {list(VARIANTS)}")
    if quick:
        n_train, n_valid, holdout, n_eval = min(n_train, 300), min(n_valid, 150), min(holdout, 100), min(n_eval, 500)
    start = time.perf_counter()
    protocol, train, valid = {"labels": labels is not None}, None, None
    if labels is not None:
        train, valid, split = study_split(_dataset(images, labels, image_shape), holdout=holdout,
                                          validation=n_valid, train_limit=n_train, random_state=random_state)
        protocol.update(split)
        patch_images, eval_images = train.images, valid.images
    else:
        patch_images, eval_images = images, images
    held_out = evaluation_patches(eval_images, image_shape, n_eval, base.patch_size, random_state + 1)
    models = {}
    say(f"depth: pretraining {list(base.hidden)} on {base.num_patches} patches")
    stack = PatchModel(base.replace(finetune_iter=0)).fit(patch_images, image_shape)
    inputs = stack.preprocessor_.transform(held_out)
    mean_patch_error = float(0.5 * np.mean(np.sum((inputs - inputs.mean(axis=0)) ** 2, axis=1)))
    for name in names:
        settings = _variant_settings(base, VARIANTS[name][1])
        if settings.finetune_iter == 0:
            models[name] = stack
            continue
        say(f"depth: fine-tuning variant {name!r}")
        models[name] = PatchModel(settings).fit(patch_images, image_shape, pretrained=stack)
    if one_layer is not None:
        say(f"depth: one hidden layer of {base.hidden[0]} units ({one_layer})")
    one = base.replace(hidden=base.hidden[:1], max_iter=base.max_iter if one_layer_iter is None
                       or one_layer == "stage" else int(one_layer_iter),
                       **{name: getattr(PatchSettings, name) for name in FINETUNE_FIELDS})
    if one_layer == "stage":
        models[ONE_LAYER] = _first_stage(stack, one, stack.training_patches(patch_images, image_shape))
    elif one_layer == "train":
        models[ONE_LAYER] = PatchModel(one).fit(patch_images, image_shape)
    entries = []
    for name, model in models.items():
        entry = {"name": name, "description": VARIANTS[name][0] if name in VARIANTS else
                 f"one hidden layer of {base.hidden[0]} units", "settings": model.settings.to_dict(),
                 "hidden": list(model.hidden), "accuracy": None}
        entry.update(_describe(model, held_out))
        if name == "pretrained":
            entry["training_time"] = float(stack.encoder_.pretraining_time_)
        if train is not None:
            say(f"depth: classifying the features of {name!r}")
            entry["accuracy"] = _classify(model, train, valid, stride, random_state, say)
        entries.append(entry)
    return {"base": base.to_dict(), "variants": entries, "layers": list(LAYERS), "stride": int(stride),
            "one_layer": one_layer, "protocol": protocol, "n_eval": int(n_eval),
            "mean_patch_error": mean_patch_error, "pretraining_time": float(stack.encoder_.pretraining_time_),
            "seconds": float(time.perf_counter() - start)}


def _accuracy(entry, layer):
    accuracy = entry["accuracy"]
    if accuracy is None:
        return float("nan")
    return float(accuracy.get(layer, float("nan")))


def figures_depth(result, folder):
    """Validation accuracy per variant x feature layer (bars), and each variant's reconstruction error."""
    entries, layers = result["variants"], result["layers"]
    names = [entry["name"] for entry in entries]
    positions = np.arange(len(entries))
    figure = new_figure(max(6.0, 1.1 * len(entries) + 2), 3.4)
    axes = figure.add_subplot(1, 2, 1)
    width = 0.8 / len(layers)
    for column, layer in enumerate(layers):
        values = [100 * _accuracy(entry, layer) for entry in entries]
        axes.bar(positions + (column - (len(layers) - 1) / 2) * width, values, width, label=layer)
    axes.set_xticks(positions, names, rotation=35, ha="right", fontsize=7)
    axes.set_ylabel("validation accuracy (%)")
    finite = [100 * _accuracy(e, layer) for e in entries for layer in layers if np.isfinite(_accuracy(e, layer))]
    if finite:
        axes.set_ylim(max(0.0, min(finite) - 5), max(finite) + 3)
    axes.legend(fontsize=7, title="features", title_fontsize=7)
    axes.grid(True, axis="y", alpha=0.3)
    right = figure.add_subplot(1, 2, 2)
    right.bar(positions, [entry["reconstruction_error"] for entry in entries], color="tab:gray")
    right.set_xticks(positions, names, rotation=35, ha="right", fontsize=7)
    right.axhline(result["mean_patch_error"], color="k", linestyle="--", linewidth=1, label="mean patch")
    right.legend(fontsize=7)
    right.set_ylabel("held-out reconstruction error")
    right.grid(True, axis="y", alpha=0.3)
    return save_figure(figure, folder, "depth")


def tables_depth(result):
    """One row per model: accuracy of each feature layer, reconstruction error, iterations, seconds;
    and what each model is."""
    layers = result["layers"]
    header = ["model", *[f"{layer} (\\%)" for layer in layers], "reconstruction", "iterations", "seconds"]
    header = [Tex(text) if "\\" in text else text for text in header]
    rows = []
    for entry in result["variants"]:
        cells = [entry["name"]]
        for layer in layers:
            value = _accuracy(entry, layer)
            cells.append(Tex(f"{100 * value:.1f}") if np.isfinite(value) else Tex("--"))
        cells += [Tex(format_number(entry["reconstruction_error"])), str(entry["n_iter"]),
                  f"{entry['training_time']:.0f}"]
        rows.append(cells)
    described = [[entry["name"], entry["description"]] for entry in result["variants"]]
    return {"DepthTable": (header, rows), "DepthVariantTable": (["model", "what it is"], described)}


def macros_depth(result):
    """Numbers and the generated conclusion: name -> text."""
    entries = {entry["name"]: entry for entry in result["variants"]}
    base = result["base"]
    macros = {"DepthHidden": "-".join(map(str, base["hidden"])), "DepthPatches": f"{base['num_patches']:,}",
              "DepthIterations": str(base["max_iter"]), "DepthStride": str(result["stride"]),
              "DepthSeconds": f"{result['seconds']:.0f}"}
    reference = entries.get("pretrained")
    if reference is None or reference["accuracy"] is None:
        macros["DepthSentence"] = Tex("No classification accuracy was measured in this run.")
        return macros
    first = _accuracy(reference, "first")
    tuned = [entry for entry in result["variants"] if entry["name"] not in ("pretrained", ONE_LAYER)]
    best = max(tuned, key=lambda entry: max(_accuracy(entry, layer) for layer in result["layers"]),
               default=None)
    sentence = f"Pretrained only, the first layer gives {100 * first:.1f}\\%"
    if "uniform" in entries:
        sentence += f"; fine-tuned with one setting for every layer, {100 * _accuracy(entries['uniform'], 'first'):.1f}\\%"
    if best is not None:
        top_layer = max(result["layers"], key=lambda layer: _accuracy(best, layer))
        top = _accuracy(best, top_layer)
        verdict = ("fine-tuning this way does not hurt (within half a point)" if top >= first - 0.005
                   else "every fine-tuning tried here hurts")
        sentence += (f". The best fine-tuned variant, {best['name']}, reaches {100 * top:.1f}\\% "
                     f"({top_layer} layer): {verdict}")
    if ONE_LAYER in entries:
        sentence += f". One hidden layer: {100 * _accuracy(entries[ONE_LAYER], 'first'):.1f}\\%"
    if reference["reconstruction_error"] >= 0.95 * result["mean_patch_error"]:
        sentence += (". The pretrained stack reconstructs no better than the mean patch (it has collapsed), "
                     "so fine-tuning can lower only the penalties")
    sentence += "."
    macros["DepthSentence"] = Tex(sentence)
    return macros
