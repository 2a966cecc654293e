"""One flat parameter buffer, and the table that cuts it into per-layer views.

A network owns exactly one contiguous float64 vector ``theta`` and one
gradient vector ``grad`` of the same length.  Every layer's parameters are
views into them, built once from a table of ``(layer, name, offset, shape,
tags)`` entries.  The layout is the one SPEC fixes for the whole project: all
parameters of the ``'weights'`` group (``W(1)``, ``W(2)``, ... raveled in C
order) first, then the ``'biases'`` group (``b(1)``, ``b(2)``, ...).
"""

from dataclasses import dataclass, field

import numpy as np

GROUP_ORDER = ("weights", "biases")


@dataclass(frozen=True)
class ParamSpec:
    """What a layer declares about one parameter before any buffer exists.

    Attributes
    ----------
    name : str
        Attribute name on the layer (``'W'``, ``'b'``).
    shape : tuple of int
    group : {'weights', 'biases'}
        Which block of the flat vector the parameter lives in.
    tags : frozenset of str
        Free-form labels; ``'regularizable'`` marks what weight decay touches.
    """

    name: str
    shape: tuple
    group: str = "weights"
    tags: frozenset = field(default_factory=frozenset)

    @property
    def size(self):
        """Number of scalars in the parameter."""
        return int(np.prod(self.shape))


@dataclass(frozen=True)
class ParamEntry:
    """A parameter's place in the flat vector: ``flat[offset:offset + size]``."""

    layer_index: int
    name: str
    offset: int
    shape: tuple
    tags: frozenset

    @property
    def size(self):
        """Number of scalars in the parameter."""
        return int(np.prod(self.shape))

    @property
    def stop(self):
        """One past the last index of the parameter in the flat vector."""
        return self.offset + self.size


class ParameterTable:
    """The layout of a network's flat parameter vector.

    Parameters
    ----------
    layer_specs : list of list of ParamSpec
        ``layer_specs[i]`` are the parameters layer ``i`` declares.
    """

    def __init__(self, layer_specs):
        entries = []
        offset = 0
        for group in GROUP_ORDER:
            for layer_index, specs in enumerate(layer_specs):
                for spec in specs:
                    if spec.group not in GROUP_ORDER:
                        raise ValueError(f"parameter group must be one of {GROUP_ORDER}, got {spec.group!r}")
                    if spec.group != group:
                        continue
                    entries.append(ParamEntry(layer_index, spec.name, offset, tuple(spec.shape), spec.tags))
                    offset += spec.size
        self.entries = tuple(entries)
        self.size = offset
        self.n_layers = len(layer_specs)

    def __repr__(self):
        return f"ParameterTable(n_layers={self.n_layers}, size={self.size})"

    def __iter__(self):
        return iter(self.entries)

    def entry(self, layer_index, name):
        """The entry of parameter ``name`` of layer ``layer_index``."""
        for entry in self.entries:
            if entry.layer_index == layer_index and entry.name == name:
                return entry
        raise KeyError(f"layer {layer_index} has no parameter {name!r}")

    def spans(self, tag):
        """Contiguous ``(start, stop)`` ranges covering every parameter tagged ``tag``.

        Adjacent parameters are merged, so with SPEC's layout all the weight
        matrices form a single span.
        """
        spans = []
        for entry in self.entries:
            if tag not in entry.tags:
                continue
            if spans and spans[-1][1] == entry.offset:
                spans[-1] = (spans[-1][0], entry.stop)
            else:
                spans.append((entry.offset, entry.stop))
        return spans

    def views(self, flat, view=None):
        """Per-layer dicts of views into ``flat``.

        Parameters
        ----------
        flat : array of shape (size,)
        view : callable, optional
            ``view(flat, offset, shape)``; defaults to slicing and reshaping a
            numpy-style array (backends pass their own).

        Returns
        -------
        list of dict
            ``views[i][name]`` is layer ``i``'s parameter ``name``.
        """
        if view is None:
            def view(buffer, offset, shape):
                return buffer[offset:offset + int(np.prod(shape))].reshape(shape)
        result = [dict() for _ in range(self.n_layers)]
        for entry in self.entries:
            result[entry.layer_index][entry.name] = view(flat, entry.offset, entry.shape)
        return result


def check_vector(vector, size, what="theta"):
    """Return ``vector`` as a 1-D float64 array of length ``size`` or raise ``ValueError``.

    Parameters
    ----------
    vector : array-like
        Candidate parameter vector.
    size : int
        The length the network's table expects.
    what : str
        Name used in error messages.

    Returns
    -------
    ndarray of shape (size,)
    """
    array = np.asarray(vector)
    if array.ndim != 1:
        raise ValueError(f"{what} must be a 1-D vector, got an array of shape {array.shape}")
    if array.shape[0] != size:
        raise ValueError(f"{what} has length {array.shape[0]}, expected {size} for this architecture")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"{what} must hold real numbers, got dtype {array.dtype}")
    return array


class FlatParameters:
    """Owner of a network's ``theta`` and ``grad`` buffers and their views.

    Parameters
    ----------
    table : ParameterTable

    Attributes
    ----------
    theta : ndarray of shape (table.size,)
        The parameters, float64, allocated once.
    grad : ndarray of shape (table.size,)
        The gradient of the last evaluation, float64, allocated once.
    theta_views : list of dict
        ``theta_views[i][name]``: layer ``i``'s parameter ``name``, a view of
        ``theta`` (what the layers are bound to).
    """

    def __init__(self, table):
        self.table = table
        self.theta = np.zeros(table.size, dtype=np.float64)
        self.grad = np.zeros(table.size, dtype=np.float64)
        self.theta_views = table.views(self.theta)

    def assign(self, vector):
        """Copy ``vector`` into ``theta`` in place (no reallocation); return ``theta``."""
        vector = check_vector(vector, self.table.size)
        if vector is not self.theta:
            self.theta[...] = vector
        return self.theta

    def detached(self, layers):
        """Names of layer parameters that no longer share memory with ``theta``.

        A parameter is detached when code replaced the view instead of writing
        into it (``layer.parameters['W'] = ...``); such a layer would silently
        train on stale values, so the network refuses to evaluate.

        Parameters
        ----------
        layers : list of Layer
            The layers bound to :attr:`theta_views`, in table order.

        Returns
        -------
        list of str
            ``"layer i parameter 'name'"`` for each detached parameter; empty
            when every parameter still views ``theta``.
        """
        problems = []
        for entry in self.table:
            current = layers[entry.layer_index].parameters.get(entry.name)
            if current is None or not np.shares_memory(current, self.theta):
                problems.append(f"layer {entry.layer_index} parameter {entry.name!r}")
        return problems
