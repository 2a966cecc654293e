"""Building sparse autoencoder networks from SPEC's hyper-parameters (one value, or one per layer)."""

import numpy as np

from .losses.per_layer import layer_regularizers
from .layers.dense import Dense
from .losses.kl_sparsity import KLSparsity
from .losses.weight_decay import WeightDecay
from .network import Network
from .validation import check_hidden_sizes, check_positive_int


def layer_sizes(visible_size, hidden_size):
    """``[visible, h1, ..., hk, visible]`` after validating both arguments."""
    visible_size = check_positive_int(visible_size, "visible_size")
    return [visible_size] + check_hidden_sizes(hidden_size) + [visible_size]


def _activations(activation, output_activation, n_hidden):
    if isinstance(activation, (list, tuple)):
        if len(activation) != n_hidden:
            raise ValueError(f"activation lists one name per hidden layer ({n_hidden}), got {list(activation)}")
        hidden = list(activation)
    else:
        hidden = [activation] * n_hidden
    return hidden + [output_activation]


def build_autoencoder(visible_size, hidden_size, activation="sigmoid", output_activation="sigmoid",
                      lambda_=1e-4, sparsity_param=0.01, beta=3.0, backend=None, dtype="float64"):
    """A symmetric sparse autoencoder ``visible -> h1 -> ... -> hk -> visible``.

    Parameters
    ----------
    visible_size : int
        Input (and output) width, e.g. 192 for 8x8x3 patches.
    hidden_size : int or sequence of int
        Symmetric hidden sizes: ``75``, ``[75]``, ``[200, 50, 200]``.
    activation : str or list of str, default='sigmoid'
        Hidden-layer activation(s): one name, or one per hidden layer.
    output_activation : str, default='sigmoid'
        ``'identity'`` gives a linear decoder.
    lambda_ : float or sequence of float
        Weight decay ``lambda``: one value, or one per weight layer
        (``len(hidden) + 1``).
    sparsity_param, beta : float or sequence of float
        Target activation ``rho`` and sparsity weight ``beta`` of SPEC's
        cost: one value (sparsity on every hidden layer), or one per hidden
        layer (``beta = 0``: none on that layer).
    backend, dtype
        See :class:`~nnlite.network.Network`.

    Returns
    -------
    Network
        With parameters all zero; call ``initialize(random_state)``.  Scalar
        settings give SPEC's two regularizers (:class:`WeightDecay`,
        :class:`KLSparsity`); a list gives per-layer ones
        (:func:`nnlite.losses.per_layer.layer_regularizers`).
    """
    sizes = layer_sizes(visible_size, hidden_size)
    names = _activations(activation, output_activation, len(sizes) - 2)
    layers = [Dense(n_in, n_out, name) for n_in, n_out, name in zip(sizes[:-1], sizes[1:], names)]
    if any(isinstance(value, (list, tuple, np.ndarray)) for value in (lambda_, sparsity_param, beta)):
        regularizers = layer_regularizers(len(layers), lambda_, sparsity_param, beta)
    else:
        regularizers = [WeightDecay(lambda_), KLSparsity(sparsity_param, beta)]
    return Network(layers, regularizers=regularizers, backend=backend, dtype=dtype)
