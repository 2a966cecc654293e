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

from ..validation import check_data, check_int


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
    block_size : int, optional
        Rows per pass through the network (default: the whole shard).  The
        workspace (activations and deltas, about ``2 (sum of layer widths)``
        values per row) is allocated for one block only, so a worker can
        hold far more samples than it could evaluate at once; the sums are
        added block by block.  A deep stack evaluated in several blocks
        recomputes the forward pass in the second trip instead of keeping
        every block's activations.
    """

    def __init__(self, spec, data=None, loader=None, block_size=None):
        if (data is None) == (loader is None):
            raise ValueError("give exactly one of data and loader")
        self.spec = spec
        self.block_size = None if block_size is None else check_int(block_size, "block_size", minimum=1)
        self._data = data
        self._loader = loader
        self._networks = {}
        self._inputs = None
        self._token = None

    def __getstate__(self):
        return {"spec": self.spec, "data": self._data, "loader": self._loader, "block_size": self.block_size}

    def __setstate__(self, state):
        self.__init__(state["spec"], data=state["data"], loader=state["loader"], block_size=state["block_size"])

    def __sizeof__(self):
        """Bytes held (samples and workspace), so Dask's scheduler does not move shards lightly."""
        data = self._inputs if self._inputs is not None else self._data
        held = 0 if data is None else int(np.asarray(data).nbytes)
        return held * (1 + len(self.spec.layers)) + 1024

    def _blocks(self):
        """The shard's inputs (prepared once) as ``[(network, block), ...]``, one network per block size."""
        if self._inputs is None:
            data = self._data if self._loader is None else self._loader()
            self._inputs = self._network_for(None).prepare(check_data(data, self.spec.layers[0][0], name="shard"))
        n_rows = self._inputs.shape[0]
        step = n_rows if self.block_size is None else min(self.block_size, n_rows)
        return [(self._network_for(min(step, n_rows - start)), self._inputs[start:start + step])
                for start in range(0, n_rows, max(step, 1))]

    def _network_for(self, n_rows):
        if n_rows not in self._networks:
            self._networks[n_rows] = self.spec.build()
        return self._networks[n_rows]

    @property
    def n_samples(self):
        """Rows in the shard (loads it when it comes from a loader)."""
        self._blocks()
        return int(self._inputs.shape[0])

    def _forward_all(self, theta):
        """Summed loss and hidden column sums over every block."""
        loss, hidden = 0.0, None
        for network, block in self._blocks():
            block_loss, block_hidden = network.forward_sums(theta, block)
            loss += block_loss
            hidden = block_hidden if hidden is None else [a + b for a, b in zip(hidden, block_hidden)]
        return {"count": int(self._inputs.shape[0]), "loss": loss, "hidden": hidden}

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
        self._token = None
        result = {"count": 0, "loss": 0.0, "hidden": None, "grad": None, "weight_factor": None,
                  "bias_factor": None}
        for network, block in self._blocks():
            loss, hidden = network.forward_sums(theta, block)
            parts = {"count": int(block.shape[0]), "loss": loss, "hidden": hidden,
                     "grad": network.backward_sums(block)}
            parts["weight_factor"], parts["bias_factor"] = network.derivative_sums(block)
            for key, value in parts.items():
                if result[key] is None:
                    result[key] = value
                elif key == "hidden":
                    result[key] = [a + b for a, b in zip(result[key], value)]
                else:
                    result[key] += value
        return result

    def forward(self, theta, token):
        """First trip of a deep evaluation: the summed loss and hidden column sums.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
        token : hashable
            Names the evaluation; :meth:`backward` with the same token reuses
            the activations kept here (one block only).

        Returns
        -------
        dict
            ``count``, ``loss`` and ``hidden`` as in :meth:`one_trip`.
        """
        result = self._forward_all(theta)
        self._token = token
        return result

    def backward(self, theta, rows, token):
        """Second trip: the summed gradient with the activity rows of the global rho_hat.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The evaluation's parameters (used whenever the activations of
            ``token`` are not held here: several blocks, or state lost).
        rows : list of (ndarray or None)
            One row per hidden layer.
        token : hashable
            As given to :meth:`forward`.

        Returns
        -------
        ndarray of shape (n_params,)
        """
        blocks = self._blocks()
        keep = len(blocks) == 1 and self._token == token
        grad = None
        for network, block in blocks:
            if not keep:
                network.forward_sums(theta, block)
            part = network.backward_sums(block, rows)
            grad = part if grad is None else grad + part
        self._token = token if len(blocks) == 1 else None
        return grad


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
