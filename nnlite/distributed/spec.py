"""A network's architecture as a small picklable value, rebuilt where it is shipped.

A :class:`~nnlite.network.Network` cannot be pickled as it is (its layers'
parameters are views into one flat buffer, which pickling would break apart),
so what travels to a Dask worker is a :class:`NetworkSpec` (and, when the
parameters are needed, ``theta``).
"""

from ..layers.dense import Dense
from ..network import Network


class NetworkSpec:
    """The architecture of a network of Dense layers, enough to rebuild it on a worker.

    Parameters
    ----------
    network : Network
        Its layers must all be :class:`~nnlite.layers.Dense` without shared
        parameters.

    Attributes
    ----------
    layers : list of tuple
        ``(n_in, n_out, activation name)`` per layer.
    backend : str
        Name of the network's array backend.
    dtype : str

    Raises
    ------
    ValueError
        For a layer that is not a plain Dense layer (e.g. tied weights).
    """

    def __init__(self, network):
        for index, layer in enumerate(network.layers):
            if type(layer) is not Dense or layer.shared_params():
                raise ValueError(f"distributed training supports Dense layers only; layer {index} is {layer!r}")
        self.layers = [(layer.n_in, layer.n_out, layer.activation.name) for layer in network.layers]
        self.loss = network.loss
        self.backend = network.backend.name
        self.dtype = network.dtype.name

    def build(self, theta=None):
        """A new :class:`Network` of these layers, with no regularizers.

        Parameters
        ----------
        theta : ndarray of shape (n_params,), optional
            Parameters to copy in (default: all zero).
        """
        network = Network([Dense(n_in, n_out, name) for n_in, n_out, name in self.layers], loss=self.loss,
                          backend=self.backend, dtype=self.dtype)
        if theta is not None:
            network.set_theta(theta)
        return network
