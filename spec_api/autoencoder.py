"""The assignment's ``autoencoder`` module: SPEC's signatures over :mod:`nnlite`.

``hidden_size`` is a symmetric 1-D vector (``np.array([75])``,
``np.array([200, 50, 200])``); ``theta`` follows SPEC's layout (all ``W(l)``
raveled in C order, then all ``b(l)``); data has one sample per row.  Every
function builds an :func:`nnlite.build_autoencoder` network (sigmoid
activations, as the assignment prescribes) and delegates to it; networks are
cached by architecture so that repeated calls from an optimiser reuse their
buffers.
"""

from functools import lru_cache

import numpy as np

from nnlite.autoencoder import build_autoencoder, layer_sizes
from nnlite.losses import KLSparsity, WeightDecay
from nnlite.parameters import check_vector
from nnlite.validation import check_int, check_random_state

#: Generator used by :func:`initialize`; reseed with ``set_random_state``.
_RNG = [np.random.default_rng()]


def set_random_state(random_state):
    """Seed the generator behind :func:`initialize` (None, an int or a Generator)."""
    _RNG[0] = check_random_state(random_state)


@lru_cache(maxsize=8)
def _network(visible_size, hidden_size):
    return build_autoencoder(visible_size, list(hidden_size))


def _cached_network(visible_size, hidden_size, lambda_=1e-4, sparsity_param=0.01, beta=3.0):
    sizes = layer_sizes(visible_size, hidden_size)
    network = _network(sizes[0], tuple(sizes[1:-1]))
    network.regularizers = [WeightDecay(lambda_), KLSparsity(sparsity_param, beta)]
    return network


def initialize(hidden_size, visible_size):
    """Initial parameter vector of a sparse autoencoder.

    Parameters
    ----------
    hidden_size : ndarray of shape (k,)
        Symmetric hidden layer sizes, e.g. ``np.array([75])``.
    visible_size : int
        Input and output width (192 for 8x8x3 patches).

    Returns
    -------
    theta : ndarray of shape (n_params,)
        ``W(l)`` uniform on ``±sqrt(6 / (n_in + n_out + 1))``, ``b(l) = 0``,
        in SPEC's layout.  Random numbers come from a module generator
        (:func:`set_random_state` seeds it).
    """
    network = _cached_network(visible_size, hidden_size)
    return network.initialize(_RNG[0]).copy()


def autoencoder_loss(theta, visible_size, hidden_size, lambda_, sparsity_param, beta, data):
    """Sparse-autoencoder cost and gradient.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
    visible_size : int
    hidden_size : ndarray of shape (k,)
    lambda_ : float
        Weight decay (>= 0).
    sparsity_param : float
        Target mean activation ``rho`` in (0, 1).
    beta : float
        Sparsity weight (>= 0).
    data : ndarray of shape (n_samples, visible_size)

    Returns
    -------
    cost : float
    grad : ndarray of shape (n_params,)
    """
    network = _cached_network(visible_size, hidden_size, lambda_, sparsity_param, beta)
    return network.loss_and_grad(theta, data)


def autoencoder_transform(theta, visible_size, hidden_size, layer_number, data):
    """Activations of layer ``layer_number`` for every row of ``data``.

    Parameters
    ----------
    theta, visible_size, hidden_size
        As for :func:`autoencoder_loss`.
    layer_number : int
        1 = the input layer (returns ``data``), 2 = the first hidden layer,
        ..., ``k + 2`` = the output layer (the reconstruction).
    data : ndarray of shape (n_samples, visible_size)

    Returns
    -------
    ndarray of shape (n_samples, size of that layer)
    """
    network = _cached_network(visible_size, hidden_size)
    n_layers = len(network.layers) + 1
    layer_number = check_int(layer_number, "layer_number", minimum=1, maximum=n_layers)
    network.set_theta(check_vector(theta, network.n_params))
    return network.forward(data, stop=layer_number - 1)
