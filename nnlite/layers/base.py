"""The layer interface: sizes, parameters, forward pass and backward pass.

A :class:`~nnlite.network.Network` knows layers only through this interface,
so a new kind of layer is a new subclass and never an edit of the network.
The network owns the flat parameter buffer and the workspace (activations and
deltas preallocated once per batch size); a layer owns the arithmetic of its
forward and backward passes, written with the array backend's operations
(:mod:`nnlite.backend.base`), on whatever arrays the network hands it.

One evaluation, for ``L`` layers and ``m`` samples (rows), ``A_0 = X``::

    for l = 1..L:      A_l = layers[l].forward(A_{l-1})
    G_L = dloss/dA_L                                  (the loss writes it)
    for l = L..1:      layers[l].backward(A_{l-1}, A_l, G_l, row_l)
                         -> grads of layer l's own parameters (scaled by 1/m)
                         -> G_{l-1} = dJ/dA_{l-1}      (not for l = 1)
    for each layer:    layers[l].backward_shared(...) (tied parameters, if any)

``row_l`` is the sum of the activity penalties' per-unit terms on ``A_l``
(e.g. KL sparsity) for hidden layers, ``None`` otherwise; it enters the
delta of the layer's *outputs*, before the derivative of its activation.
"""

import numpy as np

from ..validation import check_int


class Layer:
    """Base class of nnlite layers.

    A layer declares its sizes (``n_in``, ``n_out``) and its parameters
    (:meth:`param_specs`) at construction, so the owning network can size
    its flat buffer before seeing data.  The network then calls :meth:`bind`
    with host views into that buffer.  Parameters are read as attributes
    (``layer.W``); assigning one (``layer.W = x``) copies ``x`` *into* the
    view, so the flat buffer can never be detached by accident.

    A layer may also *use* parameters that another layer of the same network
    owns (:meth:`shared_params`, e.g. a decoder tied to an encoder's ``W``):
    the network passes their views in ``params``, and the layer adds its part
    of their gradient in :meth:`backward_shared`, after every layer's
    :meth:`backward` has run (the owner's backward *writes* the gradient, so
    contributions of other layers can only be added afterwards).

    Attributes
    ----------
    n_in, n_out : int
        Width of the inputs ``(n_samples, n_in)`` and outputs
        ``(n_samples, n_out)``.
    activation : Activation or None
        The element-wise non-linearity the layer applies last, whose
        derivative is computed from the outputs (``f'`` from ``a = f(z)``).
        Activity penalties on the layer's outputs (KL sparsity) read its
        range from here; ``None`` when the layer has no such non-linearity,
        and then no activity penalty can act on the layer.
    """

    n_in = None
    n_out = None
    activation = None

    def __init__(self):
        object.__setattr__(self, "parameters", {})

    @staticmethod
    def check_size(value, name):
        """Return ``value`` as an int >= 1 or raise ``ValueError`` naming it."""
        return check_int(value, name, minimum=1)

    # ------------------------------------------------------------ parameters
    def param_specs(self):
        """The parameters this layer owns.

        Returns
        -------
        list of ParamSpec
            Each becomes a slice of the network's flat ``theta`` (SPEC's
            layout: the ``'weights'`` group first, then ``'biases'``).
        """
        return []

    def shared_params(self):
        """Parameters of *other* layers this layer uses.

        Returns
        -------
        dict
            ``{local_name: (owner_layer, owner_name)}``; the owner must be a
            layer of the same network.  The network passes the owner's views
            under ``local_name`` in ``params`` (and binds them on the host).
        """
        return {}

    def initialize(self, rng):
        """Draw the layer's own parameters in place (default: nothing to draw).

        Parameters
        ----------
        rng : numpy.random.Generator
        """

    def bind(self, views):
        """Make the layer's parameters the given host views (a dict name -> array)."""
        object.__setattr__(self, "parameters", dict(views))

    def buffer_shapes(self, n_samples):
        """Extra arrays the layer needs during a backward pass, allocated once per batch size.

        Parameters
        ----------
        n_samples : int

        Returns
        -------
        dict
            ``{name: shape}``; the network passes ``{name: array}`` as
            ``buffers`` to :meth:`backward` and :meth:`backward_shared`.
        """
        return {}

    # ----------------------------------------------------------- arithmetic
    def forward(self, backend, inputs, params, out):
        """Write the layer's outputs into ``out`` and return it.

        Parameters
        ----------
        backend : ArrayBackend
        inputs : array of shape (n_samples, n_in)
        params : dict name -> backend array
            Device views of the layer's own and shared parameters.
        out : array of shape (n_samples, n_out)
        """
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    def backward(self, backend, inputs, outputs, delta_out, params, grads, delta_in, scale,
                 scratch, row=None, buffers=None):
        """Gradients of the layer's own parameters and the delta of its inputs.

        Parameters
        ----------
        backend : ArrayBackend
        inputs : array of shape (n_samples, n_in)
            What :meth:`forward` received.
        outputs : array of shape (n_samples, n_out)
            What :meth:`forward` wrote.
        delta_out : array of shape (n_samples, n_out)
            ``dJ_i/d outputs_i`` of every sample ``i`` (without the ``1/m``
            of the mean and without ``row``).  The layer may overwrite it;
            whatever it leaves there is handed to :meth:`backward_shared`.
        params : dict name -> backend array
            As in :meth:`forward`.
        grads : dict name -> backend array
            Device views of the gradients of the layer's *own* parameters;
            the layer overwrites each of them (``scale`` times the sum over
            samples).
        delta_in : array of shape (n_samples, n_in) or None
            Receives ``dJ_i/d inputs_i``; None for the first layer (nothing
            below needs it).
        scale : float
            ``1/m``, the mean over samples.
        scratch : array of shape (n_samples, n_out)
            Free to overwrite.
        row : array of shape (n_out,) or None
            The activity penalties' term (the same for every sample), to be
            added to every row of ``delta_out``; None when there is none.
        buffers : dict name -> array, optional
            The arrays of :meth:`buffer_shapes`.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement backward")

    def backward_shared(self, backend, inputs, delta_out, params, grads, scale, buffers=None):
        """Add the layer's part of the gradient of its shared parameters (default: none).

        Called after every layer's :meth:`backward`.

        Parameters
        ----------
        inputs : array of shape (n_samples, n_in)
        delta_out : array of shape (n_samples, n_out)
            As :meth:`backward` left it.
        params : dict name -> backend array
        grads : dict local_name -> backend array
            The owners' gradient views of the parameters of
            :meth:`shared_params`; add into them.
        scale : float
        buffers : dict name -> array, optional
        """

    # -------------------------------------------------------- attribute access
    def __getattr__(self, name):
        parameters = self.__dict__.get("parameters", {})
        if name in parameters:
            return parameters[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def __setattr__(self, name, value):
        parameters = self.__dict__.get("parameters", {})
        if name in parameters:
            target = parameters[name]
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(
                    f"cannot assign an array of shape {value.shape} to parameter {name!r} "
                    f"of shape {target.shape}")
            target[...] = value
            return
        object.__setattr__(self, name, value)


def check_layers(layers):
    """Return ``layers`` as a list after checking the layer interface and that the sizes chain.

    Parameters
    ----------
    layers : iterable of Layer

    Returns
    -------
    list of Layer

    Raises
    ------
    ValueError
        For an object that is not a :class:`~nnlite.layers.Layer`, no
        layers, a size that is not a positive integer, sizes that do
        not chain (``layers[i].n_out != layers[i+1].n_in``), or a shared
        parameter whose owner is not one of ``layers``.
    """
    layers = list(layers)
    if not layers:
        raise ValueError("a network needs at least one layer, got none")
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise ValueError(f"layer {index} must be an nnlite.layers.Layer (with n_in, n_out, "
                            f"param_specs, forward and backward), got {type(layer).__name__}: {layer!r}")
        for label in ("n_in", "n_out"):
            check_int(getattr(layer, label), f"layer {index} ({type(layer).__name__}) {label}", minimum=1)
    for index in range(len(layers) - 1):
        if layers[index].n_out != layers[index + 1].n_in:
            raise ValueError(
                f"layer {index} outputs {layers[index].n_out} units but layer {index + 1} "
                f"expects {layers[index + 1].n_in} inputs")
    for index, layer in enumerate(layers):
        own = {spec.name for spec in layer.param_specs()}
        for local, (owner, name) in layer.shared_params().items():
            if local in own:
                raise ValueError(f"layer {index} ({layer!r}) names both its own parameter and a shared "
                                 f"one {local!r}")
            if not any(owner is other for other in layers):
                raise ValueError(f"layer {index} ({layer!r}) shares parameter {local!r} with {owner!r}, "
                                 f"which is not a layer of this network")
            if not any(spec.name == name for spec in owner.param_specs()):
                raise ValueError(f"layer {index} ({layer!r}) shares parameter {name!r} of {owner!r}, "
                                 f"which has no such parameter")
    return layers
