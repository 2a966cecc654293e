"""The layer interface: parameters declared up front, held as buffer views."""

import numpy as np


class Layer:
    """Base class of nnlite layers.

    A layer declares its parameters with :meth:`param_specs` at construction,
    so the owning network can size its flat buffer before seeing data.  The
    network then calls :meth:`bind` with views into that buffer.  Parameters
    are read as attributes (``layer.W``); assigning one (``layer.W = x``)
    copies ``x`` *into* the view, so the flat buffer can never be detached by
    accident.
    """

    def __init__(self):
        object.__setattr__(self, "parameters", {})

    def param_specs(self):
        """List of :class:`~nnlite.parameters.ParamSpec` of this layer."""
        return []

    def bind(self, views):
        """Make the layer's parameters the given views (a dict name -> array)."""
        object.__setattr__(self, "parameters", dict(views))

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
