"""A feed-forward network whose parameters are views into one flat buffer.

:class:`Network` stacks :class:`~nnlite.layers.Dense` layers, owns the flat
``theta``/``grad`` vectors (see :mod:`nnlite.parameters`) and evaluates the
cost and its gradient with backpropagation, vectorised over samples, on an
array backend (:mod:`nnlite.backend`).

Backpropagation, with samples as rows (``A_0 = X``, ``A_l = f_l(A_{l-1}
W_l^T + b_l)``, ``L`` layers, ``m`` samples)::

    D_L = dloss/dA_L * f_L'(A_L)
    D_l = (D_{l+1} W_{l+1} + sum of activity-penalty terms) * f_l'(A_l)
    dJ/dW_l = D_l^T A_{l-1} / m (+ weight-decay term),  dJ/db_l = sum_rows(D_l) / m
"""

import numpy as np

from .backend import get_backend
from .layers.dense import Dense
from .losses.squared_error import SquaredError
from .parameters import FlatParameters, ParameterTable, check_vector
from .validation import check_data, check_random_state


class Workspace:
    """Arrays reused by every evaluation on batches of one size.

    Attributes
    ----------
    n_samples : int
    activations : list of arrays
        ``activations[l]`` has shape ``(n_samples, layers[l].n_out)``.
    deltas : list of arrays, same shapes.
    scratch : dict width -> array of shape (n_samples, width)
    penalty : list of list of dict
        ``penalty[l][r]``: ``(n_units,)`` arrays ``'mean'`` and ``'grad'`` of
        activity regularizer ``r`` on hidden layer ``l``.
    """

    def __init__(self, backend, layers, n_samples, n_activity_regularizers):
        self.n_samples = n_samples
        widths = [layer.n_out for layer in layers]
        self.activations = [backend.empty((n_samples, width)) for width in widths]
        self.deltas = [backend.empty((n_samples, width)) for width in widths]
        self.scratch = {width: backend.empty((n_samples, width)) for width in set(widths)}
        self.penalty = [[{"mean": backend.empty((width,)), "grad": backend.empty((width,))}
                         for _ in range(n_activity_regularizers)] for width in widths[:-1]]


class Network:
    """A stack of dense layers trained on a loss plus regularizers.

    Parameters
    ----------
    layers : list of Dense
        Consecutive layers; ``layers[i].n_out`` must equal ``layers[i+1].n_in``.
    loss : SquaredError, optional
        Reconstruction loss (the default is the only one nnlite needs).
    regularizers : sequence of Regularizer
        Parameter penalties (weight decay) and activity penalties; activity
        penalties apply to every hidden layer (all layers but the last).
    backend : str or ArrayBackend, default=None
        ``'numpy'``, ``'cupy'``, ``'cudamat'``; None reads ``$NNLITE_BACKEND``.
    dtype : {'float64', 'float32'}, default='float64'
        Precision of the computation.  ``theta`` and ``grad`` stay float64.

    Attributes
    ----------
    theta : ndarray of shape (n_params,)
        The flat parameter vector in SPEC's layout (all ``W`` then all ``b``).
    grad : ndarray of shape (n_params,)
        Gradient from the last :meth:`loss_and_grad`.
    table : ParameterTable
    """

    def __init__(self, layers, loss=None, regularizers=(), backend=None, dtype="float64"):
        layers = list(layers)
        if not layers:
            raise ValueError("a network needs at least one layer, got none")
        for index, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                raise TypeError(f"layer {index} must be a Dense layer, got {type(layer).__name__}")
        for index in range(len(layers) - 1):
            if layers[index].n_out != layers[index + 1].n_in:
                raise ValueError(
                    f"layer {index} outputs {layers[index].n_out} units but layer {index + 1} "
                    f"expects {layers[index + 1].n_in} inputs")
        self.layers = layers
        self.loss = loss if loss is not None else SquaredError()
        self.regularizers = list(regularizers)
        for regularizer in self.regularizers:
            if regularizer.acts_on_activations:
                for layer in layers[:-1]:
                    regularizer.check_activation(layer.activation)
        self.backend = get_backend(backend, dtype)
        self.table = ParameterTable([layer.param_specs() for layer in layers])
        self._flat = FlatParameters(self.table)
        host_views = self._flat.theta_views
        for layer, views in zip(layers, host_views):
            layer.bind(views)
        self._bound_views = host_views
        self._allocate_device_buffers()
        self._workspace = None

    # ------------------------------------------------------------ structure
    def __repr__(self):
        body = ", ".join(repr(layer) for layer in self.layers)
        return (f"Network([{body}], regularizers={self.regularizers!r}, "
                f"backend={self.backend.name!r}, dtype={self.dtype.name!r})")

    @property
    def dtype(self):
        """The computation dtype (numpy dtype)."""
        return self.backend.dtype

    @property
    def theta(self):
        """The flat parameter vector (float64, owned by the network)."""
        return self._flat.theta

    @property
    def grad(self):
        """The gradient buffer written by the last evaluation (float64)."""
        return self._flat.grad

    @property
    def n_params(self):
        """Length of ``theta``."""
        return self.table.size

    @property
    def sizes(self):
        """Layer sizes ``[n_in, n_out_1, ..., n_out_L]``."""
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def activation_names(self):
        """The activation name of every layer."""
        return [layer.activation.name for layer in self.layers]

    def _allocate_device_buffers(self):
        """Device copies of theta/grad; on numpy float64 they are the host buffers."""
        backend = self.backend
        shares_host = backend.name == "numpy" and backend.dtype == np.float64
        if shares_host:
            self._device_theta, self._device_grad = self._flat.theta, self._flat.grad
        else:
            self._device_theta = backend.zeros((self.n_params,))
            self._device_grad = backend.zeros((self.n_params,))
        self._shares_host = shares_host
        self._device_views = self.table.views(self._device_theta, backend.view)
        self._device_grad_views = self.table.views(self._device_grad, backend.view)

    def to_backend(self, backend, dtype=None):
        """Move the computation to another backend (and dtype); parameters are kept.

        Returns
        -------
        self
        """
        self.backend = get_backend(backend, dtype or self.dtype.name)
        self._allocate_device_buffers()
        self._workspace = None
        return self

    def _check_attached(self):
        for layer, views in zip(self.layers, self._bound_views):
            for name, view in views.items():
                if layer.parameters.get(name) is not view:
                    raise RuntimeError(
                        f"parameter {name!r} of {layer!r} was replaced and no longer views the "
                        f"network's flat buffer; write into it instead (layer.{name}[...] = value)")

    # ----------------------------------------------------------- parameters
    def initialize(self, random_state=None):
        """Draw fresh parameters (SPEC's initialisation) in place.

        Parameters
        ----------
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        ndarray of shape (n_params,)
            ``theta`` itself.
        """
        rng = check_random_state(random_state)
        for layer in self.layers:
            layer.initialize(rng)
        return self.theta

    def set_theta(self, theta):
        """Copy ``theta`` into the network's buffer (in place; checks the length)."""
        self._flat.assign(theta)
        return self.theta

    def _load_device(self, theta=None):
        if theta is not None:
            self._flat.assign(theta)
        self._check_attached()
        if not self._shares_host:
            self.backend.load_flat(self._flat.theta, self._device_theta)

    # --------------------------------------------------------------- data
    def prepare(self, data, name="data"):
        """Validate ``data`` for the input layer and return it as a backend array.

        Parameters
        ----------
        data : array-like of shape (n_samples, n_features)

        Returns
        -------
        backend array of shape (n_samples, n_features)
            On numpy with a matching dtype, ``data`` itself (no copy).
        """
        data = check_data(data, self.layers[0].n_in, name=name)
        return self.backend.asarray(data)

    def _activity_regularizers(self):
        return [r for r in self.regularizers if r.acts_on_activations]

    def _get_workspace(self, n_samples):
        if self._workspace is None or self._workspace.n_samples != n_samples:
            self._workspace = None  # release the previous buffers first
            self._workspace = Workspace(self.backend, self.layers, n_samples,
                                        len(self._activity_regularizers()))
        return self._workspace

    # ----------------------------------------------------------- evaluation
    def loss_and_grad(self, theta, data):
        """Cost ``J(theta)`` and its gradient on ``data`` (targets = inputs).

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            Parameter vector; copied into the network's buffer.
        data : array-like of shape (n_samples, n_features)
            Samples as rows.  Validated on every call; use :meth:`objective`
            for repeated evaluations on the same data.

        Returns
        -------
        cost : float
        grad : ndarray of shape (n_params,)
            A float64 copy of the gradient.
        """
        theta = check_vector(theta, self.n_params)
        return self._evaluate(theta, self.prepare(data))

    def objective(self, data):
        """A function ``theta -> (cost, grad)`` on fixed data, for optimisers.

        ``data`` is validated and copied to the backend once; each call then
        only moves ``theta`` in and the gradient out.

        Parameters
        ----------
        data : array-like of shape (n_samples, n_features)

        Returns
        -------
        callable
        """
        prepared = self.prepare(data)

        def fun(theta):
            return self._evaluate(theta, prepared)

        return fun

    def _evaluate(self, theta, inputs):
        self._load_device(theta)
        cost = self._backprop(inputs, inputs)
        if not self._shares_host:
            self.backend.store_flat(self._device_grad, self._flat.grad)
        return cost, self._flat.grad.copy()

    def _backprop(self, inputs, targets):
        """Forward and backward pass on backend arrays; fills the device gradient."""
        backend, layers = self.backend, self.layers
        work = self._get_workspace(inputs.shape[0])
        acts, deltas, params = work.activations, work.deltas, self._device_views
        previous = inputs
        activity = self._activity_regularizers()
        for layer, views, out in zip(layers, params, acts):
            layer.forward(backend, previous, views["W"], views["b"], out)
            previous = out
        cost = self.loss.value_and_delta(backend, acts[-1], targets, deltas[-1])
        last = len(layers) - 1
        layers[last].activation.mul_derivative_(backend, acts[-1], deltas[-1],
                                                work.scratch[layers[last].n_out])
        scale = 1.0 / inputs.shape[0]
        grads = self._device_grad_views
        for index in range(last, -1, -1):
            below = acts[index - 1] if index > 0 else inputs
            backend.weight_grad(deltas[index], below, grads[index]["W"], scale)
            backend.column_sum(deltas[index], grads[index]["b"], scale)
            if index == 0:
                break
            hidden = layers[index - 1]
            backend.backprop(deltas[index], params[index]["W"], deltas[index - 1])
            row = None
            for regularizer, workspace in zip(activity, work.penalty[index - 1]):
                penalty, term = regularizer.activity_term(backend, hidden.activation,
                                                          acts[index - 1], workspace)
                cost = cost + penalty
                if term is not None:
                    row = term if row is None else backend.axpy_(1.0, term, row)
            backend.add_row_mul_derivative_(hidden.activation.name, acts[index - 1],
                                            deltas[index - 1], row, work.scratch[hidden.n_out])
        for regularizer in self.regularizers:
            if regularizer.acts_on_parameters:
                cost = cost + regularizer.parameter_penalty(
                    backend, self.table, self._device_theta, self._device_grad)
        return backend.to_float(cost)

    # ------------------------------------------------------------ inference
    def forward(self, data, start=0, stop=None, chunk_size=None):
        """Activations after layer ``stop`` for inputs entering at layer ``start``.

        Parameters
        ----------
        data : array-like of shape (n_samples, sizes[start])
            Inputs of layer ``start`` (``start=0``: the network's inputs).
        start : int
            Index of the first layer to apply.
        stop : int, optional
            Number of layers applied in all (``0`` returns the inputs,
            ``len(layers)`` the output; default).
        chunk_size : int, optional
            Rows per pass, to bound memory (default: all rows at once).

        Returns
        -------
        ndarray of shape (n_samples, sizes[stop])
            On the host, in the network's dtype.
        """
        n_layers = len(self.layers)
        stop = n_layers if stop is None else stop
        for label, value in (("start", start), ("stop", stop)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= n_layers:
                raise ValueError(f"{label} must be an integer in [0, {n_layers}], got {value!r}")
        if start > stop:
            raise ValueError(f"start ({start}) must not exceed stop ({stop})")
        data = check_data(data, self.sizes[start], name="data")
        if start == stop:
            return np.array(data, dtype=self.dtype)
        self._load_device()
        n_samples = data.shape[0]
        chunk_size = n_samples if chunk_size is None else int(chunk_size)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        result = np.empty((n_samples, self.sizes[stop]), dtype=self.dtype)
        backend = self.backend
        for begin in range(0, n_samples, chunk_size):
            block = backend.asarray(data[begin:begin + chunk_size])
            for index in range(start, stop):
                views = self._device_views[index]
                out = backend.empty((block.shape[0], self.layers[index].n_out))
                block = self.layers[index].forward(backend, block, views["W"], views["b"], out)
            result[begin:begin + chunk_size] = backend.to_host(block)
        return result
