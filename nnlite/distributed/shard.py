"""One shard of the training samples, held in a worker's memory, and its partial sums.

A :class:`ShardEvaluator` is what the client scatters to a worker: the shard's
samples (or a zero-argument loader that produces them on the worker) and the
architecture of the network
(:class:`~nnlite.distributed.spec.NetworkSpec`).  On the worker it builds
its own :class:`~nnlite.network.Network` without regularizers (the client
applies them, with the global statistics) and answers the evaluation tasks
of :mod:`nnlite.distributed.objective`:

* :meth:`ShardEvaluator.one_trip` (one hidden layer): every sum that does
  not depend on ``rho_hat``, in a single task;
* :meth:`ShardEvaluator.forward` then :meth:`ShardEvaluator.backward` (deep
  stacks): the hidden layers' column sums first, then the gradient sums once
  the client has sent the rows computed from the global ``rho_hat``.  The
  activations stay on the worker between the two; a worker that lost them
  (restarted, or the shard re-sent) recomputes the forward pass from
  ``theta`` before the backward pass, so the result never depends on state
  that may have vanished.

Pickling a shard ships only its samples (or its loader) and the spec, never
the workspace: the network is rebuilt lazily where the shard lands.
Everything here imports numpy and nnlite only, never Dask.
"""

import numpy as np

from ..validation import check_data


class ShardEvaluator:
    """Samples of one shard and the partial sums of the cost on them.

    Parameters
    ----------
    spec : NetworkSpec
    data : ndarray of shape (n_samples, n_features), optional
        The shard's samples (a view is fine: pickling copies only the shard).
    loader : callable, optional
        Instead of ``data``: a picklable function of no arguments returning
        the samples, called on the worker (e.g. reading a file on a shared
        disk); Dask can then recompute a lost shard without the client.
    """

    def __init__(self, spec, data=None, loader=None):
        if (data is None) == (loader is None):
            raise ValueError("give exactly one of data and loader")
        self.spec = spec
        self._data = data
        self._loader = loader
        self._network = None
        self._inputs = None
        self._token = None

    def __getstate__(self):
        return {"spec": self.spec, "data": self._data, "loader": self._loader}

    def __setstate__(self, state):
        self.__init__(state["spec"], data=state["data"], loader=state["loader"])

    def __sizeof__(self):
        """Bytes held (samples and workspace), so Dask's scheduler does not move shards lightly."""
        data = self._inputs if self._inputs is not None else self._data
        held = 0 if data is None else int(np.asarray(data).nbytes)
        return held * (1 + len(self.spec.layers)) + 1024

    def _prepared(self):
        if self._network is None:
            self._network = self.spec.build()
            data = self._data if self._loader is None else self._loader()
            self._inputs = self._network.prepare(check_data(data, self.spec.layers[0][0], name="shard"))
        return self._network, self._inputs

    @property
    def n_samples(self):
        """Rows in the shard (loads it when it comes from a loader)."""
        return int(self._prepared()[1].shape[0])

    def one_trip(self, theta):
        """Every sum of a one-hidden-layer evaluation that does not depend on rho_hat.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)

        Returns
        -------
        dict
            ``count`` (rows), ``loss`` (summed loss), ``hidden`` (list of the
            hidden column sums), ``grad`` (summed gradient without activity or
            parameter penalties, ``(n_params,)``), ``weight_factor``
            (``f'(Z_1)^T X``, ``(h, v)``) and ``bias_factor`` (``(h,)``).
        """
        network, inputs = self._prepared()
        loss, hidden = network.forward_sums(theta, inputs)
        self._token = None
        grad = network.backward_sums(inputs)
        weight_factor, bias_factor = network.derivative_sums(inputs)
        return {"count": int(inputs.shape[0]), "loss": loss, "hidden": hidden, "grad": grad,
                "weight_factor": weight_factor, "bias_factor": bias_factor}

    def forward(self, theta, token):
        """First trip of a deep evaluation: the summed loss and hidden column sums.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
        token : hashable
            Names the evaluation; :meth:`backward` with the same token reuses
            the activations kept here.

        Returns
        -------
        dict
            ``count``, ``loss`` and ``hidden`` as in :meth:`one_trip`.
        """
        network, inputs = self._prepared()
        loss, hidden = network.forward_sums(theta, inputs)
        self._token = token
        return {"count": int(inputs.shape[0]), "loss": loss, "hidden": hidden}

    def backward(self, theta, rows, token):
        """Second trip: the summed gradient with the activity rows of the global rho_hat.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The evaluation's parameters (used only when the activations of
            ``token`` are not held here any more).
        rows : list of (ndarray or None)
            One row per hidden layer.
        token : hashable
            As given to :meth:`forward`.

        Returns
        -------
        ndarray of shape (n_params,)
        """
        network, inputs = self._prepared()
        if self._token != token:
            network.forward_sums(theta, inputs)
            self._token = token
        return network.backward_sums(inputs, rows)


def shard_one_trip(shard, theta):
    """Task body: ``shard.one_trip(theta)`` (a module-level function Dask can ship)."""
    return shard.one_trip(theta)


def shard_forward(shard, theta, token):
    """Task body: ``shard.forward(theta, token)``."""
    return shard.forward(theta, token)


def shard_backward(shard, theta, rows, token):
    """Task body: ``shard.backward(theta, rows, token)``."""
    return shard.backward(theta, rows, token)


def shard_size(shard):
    """Task body: the number of rows of ``shard``."""
    return shard.n_samples
