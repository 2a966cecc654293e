"""Penalties with one setting per layer: KL sparsity and weight decay restricted to chosen layers.

SPEC's cost applies one ``rho``, ``beta`` and ``lambda`` to every layer.  A
deep autoencoder being fine-tuned may want them per layer (e.g. a weaker
sparsity target on the narrow middle layer, or no penalty at all on the
decoder half).  Each setting here is a regularizer *instance restricted to
a set of layers* (its ``layers`` attribute):

* :class:`LayerSparsity` -- :class:`~nnlite.losses.KLSparsity` on the hidden
  layers listed (indices into ``network.layers``, 0 = first hidden layer);
  :class:`~nnlite.network.Network` evaluates an activity penalty only on the
  hidden layers its ``layers`` names (every hidden layer when None).
* :class:`LayerWeightDecay` -- :class:`~nnlite.losses.WeightDecay` on the
  weight matrices of the layers listed (0 = the first ``W``).

:func:`layer_regularizers` turns per-layer values into the fewest such
instances (layers sharing a value share an instance; zero weights give
none), so equal values everywhere cost what SPEC's two regularizers cost.
"""

import numpy as np

from .kl_sparsity import KLSparsity
from .weight_decay import WeightDecay
from ..validation import check_int, check_non_negative, check_open_unit_interval

__all__ = ["LayerSparsity", "LayerWeightDecay", "layer_regularizers", "per_item"]


def per_item(value, n_items, name, check=None, unit="layer"):
    """``value`` (a scalar, or a sequence of ``n_items``) as a list of one value per item.

    Parameters
    ----------
    value : scalar or sequence
    n_items : int
    name : str
        The setting's name, for messages (entries are named ``name[i]``).
    check : callable(item, label) -> item, optional
        Validates and returns each entry.
    unit : str
        What an item is, for messages (``'hidden layer'``, ``'pretraining stage'``).

    Returns
    -------
    list of length n_items
        numpy scalars become Python scalars.

    Raises
    ------
    ValueError
        A sequence of the wrong length (or ``check``'s error).
    """
    values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value] * n_items
    if len(values) != n_items:
        raise ValueError(f"{name} must be a single value or a list of {n_items} (one per {unit}), "
                         f"got {list(values)!r}")
    values = [item.item() if isinstance(item, np.generic) else item for item in values]
    return [check(item, f"{name}[{i}]") for i, item in enumerate(values)] if check else values


def _check_layers(layers):
    """``None`` or a sorted tuple of distinct non-negative layer indices."""
    if layers is None:
        return None
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"layers must be None or a sequence of layer indices, got {layers!r}")
    checked = tuple(sorted({check_int(index, "layers[i]", minimum=0) for index in layers}))
    if not checked:
        raise ValueError("layers must name at least one layer (None: every layer), got ()")
    return checked


class LayerSparsity(KLSparsity):
    """KL sparsity on the hidden layers ``layers`` only.

    Parameters
    ----------
    sparsity_param : float in (0, 1)
    beta : float >= 0
    layers : sequence of int or None
        Indices of hidden layers in ``network.layers`` (0-based); None: every
        hidden layer (then it is :class:`~nnlite.losses.KLSparsity`).
    """

    def __init__(self, sparsity_param=0.01, beta=3.0, layers=None):
        super().__init__(sparsity_param, beta)
        self.layers = _check_layers(layers)

    def __repr__(self):
        return (f"LayerSparsity(sparsity_param={self.sparsity_param!r}, beta={self.beta!r}, "
                f"layers={self.layers!r})")


class _LayerSpans:
    """The part of a :class:`~nnlite.parameters.ParameterTable` that belongs to chosen layers."""

    def __init__(self, table, layers):
        self.entries = tuple(entry for entry in table.entries if entry.layer_index in layers)

    def spans(self, tag):
        """``(start, stop)`` of each chosen layer's parameter tagged ``tag``."""
        return [(entry.offset, entry.stop) for entry in self.entries if tag in entry.tags]


class LayerWeightDecay(WeightDecay):
    """Weight decay on the regularizable parameters of the layers ``layers`` only.

    Parameters
    ----------
    lambda_ : float >= 0
    layers : sequence of int or None
        Indices into ``network.layers`` (0-based); None: every layer.
    tag : str, default='regularizable'

    Notes
    -----
    One dot product and one axpy per chosen layer's ``W``.
    """

    def __init__(self, lambda_=1e-4, layers=None, tag="regularizable"):
        super().__init__(lambda_, tag=tag)
        self.layers = _check_layers(layers)

    def __repr__(self):
        return f"LayerWeightDecay(lambda_={self.lambda_!r}, layers={self.layers!r})"

    def parameter_penalty(self, backend, table, theta, grad):
        """As :meth:`WeightDecay.parameter_penalty`, over the chosen layers' parameters."""
        chosen = table if self.layers is None else _LayerSpans(table, self.layers)
        return super().parameter_penalty(backend, chosen, theta, grad)


def _groups(values):
    """Value -> tuple of the indices holding it, in first-seen order."""
    groups = {}
    for index, value in enumerate(values):
        groups.setdefault(value, []).append(index)
    return [(value, tuple(indices)) for value, indices in groups.items()]


def layer_regularizers(n_layers, lambda_, sparsity_param, beta):
    """The regularizers of a network of ``n_layers`` layers with per-layer settings.

    Parameters
    ----------
    n_layers : int
        Weight layers (``n_layers - 1`` hidden layers).
    lambda_ : float or sequence of ``n_layers`` floats
        Weight decay of each layer's ``W``.
    sparsity_param, beta : float or sequence of ``n_layers - 1`` floats
        ``rho`` and ``beta`` of each hidden layer; ``beta = 0`` puts no
        sparsity penalty on that layer.

    Returns
    -------
    list of Regularizer
        :class:`LayerWeightDecay` instances, then :class:`LayerSparsity`
        instances, one per distinct setting (none for zero weights).
    """
    n_layers = check_int(n_layers, "n_layers", minimum=1)
    lambdas = per_item(lambda_, n_layers, "lambda_", check_non_negative, unit="weight layer")
    rhos = per_item(sparsity_param, n_layers - 1, "sparsity_param", check_open_unit_interval,
                    unit="hidden layer")
    betas = per_item(beta, n_layers - 1, "beta", check_non_negative, unit="hidden layer")
    decays = [LayerWeightDecay(value, layers) for value, layers in _groups(lambdas) if value != 0.0]
    sparsities = [LayerSparsity(rho, weight, layers)
                  for (rho, weight), layers in _groups(list(zip(rhos, betas))) if weight != 0.0]
    return decays + sparsities
