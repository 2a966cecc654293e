"""A feed-forward network whose parameters are views into one flat buffer.

:class:`Network` stacks :class:`~nnlite.layers.Layer` objects, owns the flat
``theta``/``grad`` vectors (see :mod:`nnlite.parameters`) and the workspace of
one batch size, and evaluates the cost and its gradient by calling each
layer's ``forward`` up and ``backward`` down (see :mod:`nnlite.layers.base`
for the interface), vectorised over samples, on an array backend
(:mod:`nnlite.backend`).  It knows one layer type by name, for speed only:
when the top two layers are plain :class:`~nnlite.layers.Dense` layers and
the loss is the squared error, one backend call
(:meth:`~nnlite.backend.base.ArrayBackend.dense_squared_error`) does their
steps and the loss in one pass over the data, with the same results; and a
plain Dense hidden layer whose activity penalties read only its mean
activations (KL sparsity) takes those means in its forward pass
(:meth:`~nnlite.backend.base.ArrayBackend.linear_activate_column_sum`).

(Over 400 lines: the evaluation, its fused top layers and inference belong to
the one object that owns the workspace and the parameter views.)

Backpropagation, with samples as rows (``A_0 = X``, ``A_l = layer_l(A_{l-1})``,
``L`` layers, ``m`` samples)::

    G_L = dloss/dA_L                             (per sample, the loss writes it)
    r_l = sum of the activity penalties' rows on A_l   (hidden layers, l < L)
    layer_l.backward: grads of its parameters (times 1/m), G_{l-1} = dJ/dA_{l-1}
                      from G_l + r_l            (for a Dense layer:
                      D_l = (G_l + r_l) * f_l'(A_l), dJ/dW_l = D_l^T A_{l-1} / m,
                      dJ/db_l = sum_rows(D_l) / m, G_{l-1} = D_l W_l)
    then tied parameters' contributions (layer.backward_shared), then the
    parameter penalties (weight decay) add their gradient.
"""

import numpy as np

from .backend import get_backend
from .backend.base import DenseStep
from .layers.base import check_layers
from .layers.dense import Dense
from .losses.squared_error import SquaredError
from .memory import check_allocation
from .parameters import FlatParameters, ParameterTable, check_vector
from .shard_sums import ShardSums
from .validation import check_data, check_int, check_random_state
from .workspace import Workspace


def acts_on_layer(regularizer, index):
    """Whether an activity penalty acts on hidden layer ``index``.

    A regularizer with a ``layers`` attribute other than None (see
    :mod:`nnlite.losses.per_layer`) acts on those layers only; otherwise on
    every hidden layer.
    """
    layers = getattr(regularizer, "layers", None)
    return layers is None or index in layers


class Network(ShardSums):
    """A stack of layers trained on a loss plus regularizers.

    Parameters
    ----------
    layers : list of Layer
        Consecutive layers (:class:`~nnlite.layers.Dense` or any subclass of
        :class:`~nnlite.layers.Layer`); ``layers[i].n_out`` must equal
        ``layers[i+1].n_in``.
    loss : SquaredError, optional
        Reconstruction loss (the default is the only one nnlite needs).
    regularizers : sequence of Regularizer
        Parameter penalties (weight decay) and activity penalties; activity
        penalties apply to every hidden layer (all layers but the last), or
        to those their ``layers`` attribute names (:func:`acts_on_layer`).
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

    Raises
    ------
    ValueError
        See :func:`nnlite.layers.base.check_layers`; also when an activity penalty cannot act on
        a hidden layer's activation (e.g. KL sparsity on an identity layer).
    """

    def __init__(self, layers, loss=None, regularizers=(), backend=None, dtype="float64"):
        layers = check_layers(layers)
        self.layers = layers
        self.loss = loss if loss is not None else SquaredError()
        self.regularizers = list(regularizers)
        for regularizer in self.regularizers:
            if regularizer.acts_on_activations:
                for index, layer in enumerate(layers[:-1]):
                    if not acts_on_layer(regularizer, index):
                        continue
                    if layer.activation is None:
                        raise ValueError(f"{regularizer!r} acts on hidden activations, but layer {index} "
                                         f"({layer!r}) declares no activation")
                    regularizer.check_activation(layer.activation)
        self.backend = get_backend(backend, dtype)
        self.table = ParameterTable([layer.param_specs() for layer in layers])
        check_allocation(2 * int(self.table.size) * np.dtype(np.float64).itemsize,
                         f"a network of sizes {' -> '.join(str(layer.n_in) for layer in layers)} -> "
                         f"{layers[-1].n_out} ({int(self.table.size)} parameters and their gradient)",
                         dtype=np.float64, advice="choose smaller layers (nnlite: --hidden)")
        self._flat = FlatParameters(self.table)
        self._owners = [{local: (self._index_of(owner), name)
                         for local, (owner, name) in layer.shared_params().items()} for layer in layers]
        host_views = self._flat.theta_views
        for layer, views, shared in zip(layers, host_views, self._owners):
            layer.bind(dict(views, **{local: host_views[owner][name]
                                      for local, (owner, name) in shared.items()}))
        self._allocate_device_buffers()
        self._workspace = None

    def _index_of(self, layer):
        return next(index for index, other in enumerate(self.layers) if other is layer)

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
        """The activation name of every layer (None for a layer without one)."""
        return [None if layer.activation is None else layer.activation.name for layer in self.layers]

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
        own = self.table.views(self._device_theta, backend.view)
        own_grads = self.table.views(self._device_grad, backend.view)
        #: Per layer: its own and shared parameter views, its own gradient
        #: views, and the owners' gradient views of its shared parameters.
        self._params = [dict(views, **{local: own[owner][name] for local, (owner, name) in shared.items()})
                        for views, shared in zip(own, self._owners)]
        self._grads = own_grads
        self._shared_grads = [{local: own_grads[owner][name] for local, (owner, name) in shared.items()}
                              for shared in self._owners]

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
        """Raise ``RuntimeError`` when a layer's parameter no longer views ``theta``."""
        detached = self._flat.detached(self.layers)
        if detached:
            raise RuntimeError(
                f"{', '.join(detached)} was replaced and no longer views the network's flat buffer; "
                f"write into it instead (layer.W[...] = value, or layer.W = value)")

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

    def _plain_dense(self, index):
        """Whether layer ``index`` is a Dense layer with Dense's own steps and no shared parameters."""
        layer = self.layers[index]
        return (isinstance(layer, Dense) and type(layer).forward is Dense.forward
                and type(layer).backward is Dense.backward and not self._owners[index])

    def _fused_layers(self):
        """How many top layers one backend call runs with the loss (0, 1 or 2).

        1 for a plain Dense output layer (:meth:`_plain_dense`) and the
        :class:`~nnlite.losses.squared_error.SquaredError` loss: then
        :meth:`~nnlite.backend.base.ArrayBackend.dense_squared_error` does
        exactly what the output layer's forward step, the loss and its
        backward step would; 2 when the layer below is a plain Dense layer
        too, whose backward step the call then does as well (its activity row
        depends only on its activations, known before).
        """
        if type(self.loss) is not SquaredError or not self._plain_dense(-1):
            return 0
        return 2 if len(self.layers) > 1 and self._plain_dense(-2) else 1

    def _takes_means(self, index):
        """Whether hidden layer ``index``'s forward step also takes its mean activations.

        True for a plain Dense layer (:meth:`_plain_dense`) whose activity
        penalties all use only those means (``uses_column_means``): the
        backend then sums each block of activations while it is in cache
        (:meth:`~nnlite.backend.base.ArrayBackend.linear_activate_column_sum`)
        instead of reading them all again.
        """
        if index >= len(self.layers) - 1 or not self._plain_dense(index):
            return False
        acting = [r for r in self._activity_regularizers() if acts_on_layer(r, index)]
        return bool(acting) and all(r.uses_column_means for r in acting)

    def _forward_step(self, index, inputs, out, work):
        """Layer ``index``'s forward step into ``out``, with its mean activations when :meth:`_takes_means`."""
        layer, params = self.layers[index], self._params[index]
        if self._takes_means(index):
            self.backend.linear_activate_column_sum(inputs, params["W"], params["b"], layer.activation.name,
                                                    out, work.means[index], 1.0 / inputs.shape[0])
        else:
            layer.forward(self.backend, inputs, params, out)

    def _activity(self, index, activations, work):
        """The activity penalties of hidden layer ``index``: their values (a list) and their summed row."""
        if self._takes_means(index):
            activations = work.mean_rows[index]  # (1, n_units): what these penalties read of them
        penalties, row = [], None
        for regularizer, workspace in zip(self._activity_regularizers(), work.penalty[index]):
            if not acts_on_layer(regularizer, index):
                continue
            penalty, term = regularizer.activity_term(self.backend, self.layers[index].activation, activations,
                                                      workspace)
            penalties.append(penalty)
            if term is not None:
                row = term if row is None else self.backend.axpy_(1.0, term, row)
        return penalties, row

    def _backprop(self, inputs, targets):
        """Forward and backward pass on backend arrays; fills the device gradient, returns the cost."""
        backend, layers = self.backend, self.layers
        work = self._get_workspace(inputs.shape[0])
        acts, deltas, params, grads = work.activations, work.deltas, self._params, self._grads
        below = [inputs] + acts[:-1]
        scale = 1.0 / inputs.shape[0]
        last = len(layers) - 1
        fused = self._fused_layers()
        for index in range(last if fused else last + 1):
            self._forward_step(index, below[index], acts[index], work)
        penalties = []
        if fused:
            step = None
            if fused == 2:
                hidden = last - 1
                penalties, row = self._activity(hidden, acts[hidden], work)
                step = DenseStep(layers[hidden].activation.name, below[hidden], acts[hidden], deltas[hidden],
                                 params[hidden]["W"], grads[hidden]["W"], grads[hidden]["b"],
                                 deltas[hidden - 1] if hidden > 0 else None, scale,
                                 work.scratch[layers[hidden].n_out], row)
            # SquaredError.value_and_delta's value, with the backward step(s) done.
            output = layers[last]
            cost = backend.dense_squared_error(
                output.activation.name, below[last], params[last]["W"], params[last]["b"], targets, acts[last],
                deltas[last], grads[last]["W"], grads[last]["b"], deltas[last - 1] if last > 0 else None, scale,
                work.scratch[output.n_out], step) * (1.0 / inputs.shape[0])
        else:
            cost = self.loss.value_and_delta(backend, acts[-1], targets, deltas[-1])
        for penalty in penalties:
            cost = cost + penalty
        for index in range(last - fused, -1, -1):
            row = None
            if index < last:
                layer_penalties, row = self._activity(index, acts[index], work)
                for penalty in layer_penalties:
                    cost = cost + penalty
            layers[index].backward(backend, below[index], acts[index], deltas[index], params[index], grads[index],
                                   deltas[index - 1] if index > 0 else None, scale,
                                   work.scratch[layers[index].n_out], row, work.buffers[index])
        for index, shared in enumerate(self._shared_grads):
            if shared:
                layers[index].backward_shared(backend, below[index], deltas[index], params[index], shared,
                                              scale, work.buffers[index])
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
        start = check_int(start, "start", minimum=0, maximum=n_layers)
        stop = check_int(n_layers if stop is None else stop, "stop", minimum=0, maximum=n_layers)
        if start > stop:
            raise ValueError(f"start ({start}) must not exceed stop ({stop})")
        data = check_data(data, self.sizes[start], name="data")
        if start == stop:
            return np.array(data, dtype=self.dtype)
        self._load_device()
        n_samples = data.shape[0]
        chunk_size = n_samples if chunk_size is None else check_int(chunk_size, "chunk_size", minimum=1)
        result = np.empty((n_samples, self.sizes[stop]), dtype=self.dtype)
        backend = self.backend
        for begin in range(0, n_samples, chunk_size):
            block = backend.asarray(data[begin:begin + chunk_size])
            for index in range(start, stop):
                out = backend.empty((block.shape[0], self.layers[index].n_out))
                block = self.layers[index].forward(backend, block, self._params[index], out)
            result[begin:begin + chunk_size] = backend.to_host(block)
        return result
