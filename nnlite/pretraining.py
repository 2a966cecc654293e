"""Greedy layer-wise pretraining of a deep symmetric autoencoder, and unrolling the stages.

For a symmetric ``hidden_size = [h1, ..., hk, ..., h1]`` (an odd number of
hidden layers, ``k`` pretraining stages):

1. **Pretrain** (:func:`pretrain_stack`): stage 1 is a sparse autoencoder
   ``V -> h1 -> V`` trained on the data (SPEC's cost, L-BFGS); its hidden
   activations ("codes") are the data of stage 2, ``h1 -> h2 -> h1``; and so
   on up to the middle layer ``h(k-1) -> hk -> h(k-1)``.
2. **Unroll** (:func:`unroll`): one network ``V -> h1 -> ... -> hk -> ... ->
   h1 -> V`` built with :func:`~nnlite.autoencoder.build_autoencoder` (so its
   parameters sit in one flat buffer in SPEC's layout) receives encoder ``i``
   (``W``, ``b`` of stage ``i``'s first layer) in layer ``i`` and decoder
   ``i`` in the mirrored layer ``2k - 1 - i`` (0-based).
3. **Fine-tune**: :class:`nnlite.stacked.StackedAutoencoder` runs L-BFGS on
   the whole network's cost (by default KL sparsity on every hidden layer,
   weight decay on every ``W``; per-layer settings are possible).

**Output activation of the inner stages.**  Stage 1 reconstructs the data
with ``output_activation`` (sigmoid, or identity for a linear decoder).  An
inner stage reconstructs the codes of the stage below, so its decoder must
cover their range: sigmoid codes lie in (0, 1) and keep a sigmoid decoder;
ReLU codes are unbounded, so their decoder is linear (``'identity'``) by
default.  ``inner_output_activation`` overrides this (``'relu'`` also fits
ReLU codes).  In the unrolled network a decoder's output is a *hidden* layer,
which carries the sparsity penalty and therefore the hidden activation of
the layer it mirrors: a linear inner decoder becomes ``relu(z)`` there.
Since the codes it reconstructs are non-negative, ``|relu(z) - t| <= |z - t|``
and the unrolled network reconstructs at least as well as the stage did.
"""

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .autoencoder import build_autoencoder
from .distributed.objective import objective_on
from .estimator import SparseAutoencoder
from .losses.per_layer import per_item
from .layers.activations import get_activation
from .network import Network
from .optim import TrainingResult, make_optimizer
from .validation import (check_data, check_hidden_sizes, check_non_negative,
                         check_open_unit_interval, check_positive_int, check_random_state)


def encoder_sizes(hidden_size):
    """``[h1, ..., hk]``: the encoder half of a symmetric ``hidden_size``.

    Raises
    ------
    ValueError
        When ``hidden_size`` is not symmetric or has an even number of layers
        (a stack needs a single middle layer).
    """
    sizes = check_hidden_sizes(hidden_size)
    if len(sizes) % 2 == 0:
        raise ValueError(f"hidden_size needs an odd number of layers (one middle code layer) "
                         f"for a stack, got {sizes}")
    return sizes[:(len(sizes) + 1) // 2]


def per_stage(value, n_stages, name, check=None):
    """``value`` (a scalar, or a sequence of ``n_stages``) as a list of one value per stage.

    ``check(item, label) -> item`` validates each entry; errors name ``name[i]``
    (see :func:`nnlite.losses.per_layer.per_item`).
    """
    return per_item(value, n_stages, name, check, unit="pretraining stage")


def stage_settings(n_stages, activation, sparsity_param, lambda_, beta, max_iter):
    """Validated per-stage hyper-parameters: dict name -> list of ``n_stages`` values.

    Keys ``'activation'`` (names), ``'sparsity_param'``, ``'lambda_'``,
    ``'beta'``, ``'max_iter'``; each argument is one value or one per stage.
    """
    return {"activation": per_stage(activation, n_stages, "activation",
                                    lambda item, _: get_activation(item).name),
            "sparsity_param": per_stage(sparsity_param, n_stages, "sparsity_param",
                                        check_open_unit_interval),
            "lambda_": per_stage(lambda_, n_stages, "lambda_", check_non_negative),
            "beta": per_stage(beta, n_stages, "beta", check_non_negative),
            "max_iter": per_stage(max_iter, n_stages, "max_iter", check_positive_int)}


def _inner_output(code_activation, inner_output_activation):
    """Decoder activation of a stage whose data are ``code_activation`` outputs."""
    if inner_output_activation is not None:
        return get_activation(inner_output_activation).name
    return "sigmoid" if code_activation == "sigmoid" else "identity"


@dataclass
class Stage:
    """One greedy pretraining stage and its training record.

    Attributes
    ----------
    network : Network
        The stage autoencoder, ``sizes`` ``[n_in, n_hidden, n_in]``, with the
        hidden and output ``activations`` (names).
    settings : dict
        ``sparsity_param``, ``lambda_``, ``beta``, ``max_iter`` of the stage.
    n_iter, cost, loss_curve, time_curve
        L-BFGS iterations, final cost, cost after each iteration (index 0:
        start) and the matching seconds.
    time : float
        Seconds spent on the stage (encoding its output included).
    """

    network: Network
    sizes: list
    activations: list
    settings: dict
    n_iter: int = 0
    cost: float = float("nan")
    loss_curve: list = field(default_factory=list)
    time_curve: list = field(default_factory=list)
    time: float = 0.0

    def as_estimator(self):
        """The stage as a fitted :class:`~nnlite.estimator.SparseAutoencoder` (shares the network).

        Its ``save`` writes a model file that :func:`~nnlite.estimator.load_model` reads back.
        """
        model = SparseAutoencoder(
            hidden_size=self.sizes[1], activation=self.activations[0],
            output_activation=self.activations[1], sparsity_param=self.settings["sparsity_param"],
            lambda_=self.settings["lambda_"], beta=self.settings["beta"],
            max_iter=self.settings["max_iter"], backend=self.network.backend.name,
            dtype=self.network.dtype.name)
        model._set_fitted(self.network, TrainingResult(
            theta=self.network.theta, cost=self.cost, n_iter=self.n_iter, n_evaluations=0,
            loss_curve=self.loss_curve, time_curve=self.time_curve, wall_time=self.time))
        return model

    def summary(self):
        """The record without the network, as a JSON-serialisable dict."""
        return {"sizes": list(self.sizes), "activations": list(self.activations),
                "settings": dict(self.settings), "n_iter": int(self.n_iter), "cost": float(self.cost),
                "loss_curve": list(map(float, self.loss_curve)),
                "time_curve": list(map(float, self.time_curve)), "time": float(self.time)}


def pretrain_stack(X, hidden_size, activation="sigmoid", output_activation="sigmoid",
                   sparsity_param=0.01, lambda_=1e-4, beta=3.0, max_iter=400, tol=1e-9,
                   inner_output_activation=None, backend=None, dtype="float64",
                   random_state=None, verbose=False, optimizer="lbfgs-b", client=None):
    """Greedy layer-wise pretraining of the encoder half of a symmetric stack.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training samples (e.g. patches normalised to [0.1, 0.9]).
    hidden_size : sequence of int
        Symmetric, odd length: ``[200, 50, 200]`` gives stages
        ``V -> 200 -> V`` and ``200 -> 50 -> 200``.
    activation : str or list of str, default='sigmoid'
        Hidden activation, or one per stage.
    output_activation : str, default='sigmoid'
        Decoder activation of stage 1 (``'identity'``: linear decoder).
    sparsity_param, lambda_, beta, max_iter : scalar or list
        SPEC's ``rho``, ``lambda``, ``beta`` and the L-BFGS iterations
        (defaults 0.01, 1e-4, 3, 400): one value, or one per stage.
    tol : float, default=1e-9
    inner_output_activation : str, optional
        Decoder activation of stages 2.. (default: sigmoid after sigmoid
        codes, identity after ReLU codes; see the module notes).
    backend, dtype
        See :class:`~nnlite.network.Network`.
    random_state : None, int or Generator
        One generator draws every stage's seed, so a seed fixes the stack.
    verbose : bool or int
        Stage headers and L-BFGS progress on stderr.
    optimizer : {'lbfgs-b', 'lbfgs'}, default='lbfgs-b'
        See :func:`nnlite.optim.make_optimizer`.
    client : distributed.Client, optional
        Train every stage on this Dask cluster (:func:`nnlite.distributed.objective_on`:
        the same cost and gradient as in one process).

    Returns
    -------
    list of Stage
        One per encoder layer; ``stage.network.forward(codes, stop=1)`` encodes.

    Raises
    ------
    KeyboardInterrupt
        When Ctrl-C ends a stage (the remaining stages are not trained).
    """
    X = check_data(X, name="X")
    sizes = encoder_sizes(hidden_size)
    settings = stage_settings(len(sizes), activation, sparsity_param, lambda_, beta, max_iter)
    activations = settings.pop("activation")
    rng = check_random_state(random_state)
    seeds = rng.integers(0, 2**63 - 1, size=len(sizes))
    stages, data = [], X
    for index, n_hidden in enumerate(sizes):
        start = time.perf_counter()
        decoder = (output_activation if index == 0
                   else _inner_output(activations[index - 1], inner_output_activation))
        chosen = {name: values[index] for name, values in settings.items()}
        network = build_autoencoder(data.shape[1], n_hidden, activation=activations[index],
                                    output_activation=decoder, lambda_=chosen["lambda_"],
                                    sparsity_param=chosen["sparsity_param"],
                                    beta=chosen["beta"], backend=backend, dtype=dtype)
        network.initialize(np.random.default_rng(seeds[index]))
        if verbose:
            print(f"stage {index + 1}/{len(sizes)}: {network.sizes} ({network.activation_names})",
                  file=sys.stderr, flush=True)
        with objective_on(network, data, client) as objective:
            result = make_optimizer(optimizer, max_iter=chosen["max_iter"], tol=tol,
                                    verbose=verbose).minimize(objective, network.theta)
        if result.interrupted:  # a partial stack has not the requested architecture
            raise KeyboardInterrupt(f"pretraining interrupted in stage {index + 1}")
        network.set_theta(result.theta)
        if index + 1 < len(sizes):
            data = network.forward(data, stop=1)
        stages.append(Stage(network=network, sizes=network.sizes,
                            activations=network.activation_names, settings=chosen,
                            n_iter=result.n_iter, cost=result.cost,
                            loss_curve=list(result.loss_curve), time_curve=list(result.time_curve),
                            time=time.perf_counter() - start))
    return stages


def unroll(stages, lambda_=1e-4, sparsity_param=0.01, beta=3.0, backend=None, dtype=None):
    """Assemble pretrained stages into one deep autoencoder.

    Parameters
    ----------
    stages : list of Stage or list of Network
        Stage ``i`` maps ``h(i-1) -> h(i) -> h(i-1)`` (``h(0)`` = visible).
    lambda_, sparsity_param, beta : float or list of float
        The deep network's cost: one value (sparsity on every hidden layer),
        or one per layer (``lambda_``: per weight layer; ``sparsity_param``,
        ``beta``: per hidden layer; see :func:`~nnlite.autoencoder.build_autoencoder`).
    backend, dtype : optional
        Default: those of the first stage.

    Returns
    -------
    Network
        ``V -> h1 -> ... -> hk -> ... -> h1 -> V`` with encoder ``i`` in layer
        ``i`` and decoder ``i`` in layer ``2k - 1 - i`` (0-based); hidden
        layers mirror the encoders' activations, the output layer keeps stage
        1's decoder activation.
    """
    networks = [stage.network if isinstance(stage, Stage) else stage for stage in stages]
    if not networks:
        raise ValueError("unroll needs at least one pretrained stage, got none")
    for index, network in enumerate(networks):
        if not isinstance(network, Network) or len(network.layers) != 2:
            raise ValueError(f"stage {index + 1} must be a one-hidden-layer Network, got {network!r}")
        n_in, n_hidden, n_out = network.sizes
        expected = networks[index - 1].sizes[1] if index else n_in
        if n_out != n_in or n_in != expected:
            raise ValueError(f"stage {index + 1} has sizes {network.sizes}; it must map "
                             f"{expected} -> hidden -> {expected}")
    encoders = [network.sizes[1] for network in networks]
    hidden_activations = [network.activation_names[0] for network in networks]
    first = networks[0]
    deep = build_autoencoder(first.sizes[0], encoders + encoders[-2::-1],
                             activation=hidden_activations + hidden_activations[-2::-1],
                             output_activation=first.activation_names[1], lambda_=lambda_,
                             sparsity_param=sparsity_param, beta=beta,
                             backend=backend or first.backend.name,
                             dtype=dtype or first.dtype.name)
    last = len(deep.layers) - 1
    for index, network in enumerate(networks):
        encoder, decoder = network.layers
        deep.layers[index].W = encoder.W
        deep.layers[index].b = encoder.b
        deep.layers[last - index].W = decoder.W
        deep.layers[last - index].b = decoder.b
    return deep
