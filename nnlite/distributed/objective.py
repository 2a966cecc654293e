"""The cost and gradient of a network on samples sharded across Dask workers.

:class:`DistributedObjective` is a ``fun(theta) -> (cost, grad)`` for
nnlite's L-BFGS trainers (which stay on the client).  The samples are split
into shards once and each shard is placed on a worker, where it stays
(:class:`~nnlite.distributed.shard.ShardEvaluator`).  One evaluation:

* one hidden layer: ``theta`` is broadcast to the workers (one copy each),
  every shard returns its sums (:meth:`ShardEvaluator.one_trip`) and the
  client combines them (:mod:`nnlite.distributed.reduction`): **one round
  trip**, ``8 P`` bytes out per worker and about ``8 (P + h v + h)`` bytes
  back per shard (``P`` parameters, ``h x v`` the first weight matrix);
* deeper stacks: a first trip returns the loss and every hidden layer's
  column sums, the client sends the rows of the global ``rho_hat`` back (a
  few kilobytes), a second trip returns the gradient sums: **two round
  trips**, ``8 (P + sum h)`` bytes out per worker, ``8 (P + sum h)`` back per
  shard.

Nothing per sample crosses the network after the shards are placed.  The
gradient equals the single-process one up to rounding (sums in a different
order), for any split, shards of one sample included.

A lost worker: see :mod:`nnlite.distributed.faults` (shards re-sent from the
client's copy or recomputed from their loader, the evaluation retried).
"""

import contextlib
import functools
import itertools

import numpy as np

from ..parameters import check_vector
from ..validation import check_int
from .cluster import worker_addresses
from .faults import Resender, lost_worker_errors
from .reduction import Reduction
from .shard import ShardEvaluator, shard_backward, shard_forward, shard_one_trip, shard_size
from .spec import NetworkSpec


@contextlib.contextmanager
def objective_on(network, data, client=None):
    """``fun(theta) -> (cost, grad)`` on ``data``: in this process, or sharded on ``client``'s workers.

    Parameters
    ----------
    network : Network
    data : ndarray of shape (n_samples, n_features)
    client : distributed.Client, optional
        None: ``network.objective(data)``; else a :class:`DistributedObjective`
        (the same cost and gradient), whose shards are released on exit.

    Yields
    ------
    callable
    """
    if client is None:
        yield network.objective(data)
        return
    objective = DistributedObjective(client, network, data)
    try:
        yield objective
    finally:
        objective.close()


def shard_bounds(n_samples, shards):
    """``[(start, stop), ...]`` of consecutive shards.

    Parameters
    ----------
    n_samples : int
    shards : int or sequence of int
        A number of shards (sizes differ by at most one), or the size of
        every shard (they must add up to ``n_samples``; each at least 1).

    Returns
    -------
    list of tuple of int
    """
    if np.ndim(shards) == 0:
        count = check_int(shards, "shards", minimum=1, maximum=n_samples)
        edges = [n_samples * index // count for index in range(count + 1)]
    else:
        sizes = [check_int(size, "shard size", minimum=1) for size in shards]
        if sum(sizes) != n_samples:
            raise ValueError(f"shard sizes {sizes} add up to {sum(sizes)}, not to the {n_samples} samples")
        edges = [0] + list(itertools.accumulate(sizes))
    return list(zip(edges[:-1], edges[1:]))


def _check_shape(data, n_features):
    """Check the shape only; each shard is validated on its worker (a memory map is never read whole here)."""
    if isinstance(data, (list, tuple)):
        data = np.asarray(data)
    if not hasattr(data, "shape") or len(data.shape) != 2 or data.shape[0] < 1 or data.shape[1] != n_features:
        raise ValueError(f"data must be a non-empty array of shape (n_samples, {n_features}), "
                         f"got {getattr(data, 'shape', type(data).__name__)}")
    return data


def _scatter_shard(shard, client, worker):
    return client.scatter(shard, workers=[worker], hash=False)


def _load_shard(spec, loader, block_size, client, worker):
    return client.submit(ShardEvaluator, spec, loader=loader, block_size=block_size, workers=[worker],
                         allow_other_workers=True, pure=False)


def _nbytes(value):
    """Bytes of the arrays and numbers in a (nested) result."""
    if isinstance(value, dict):
        return sum(_nbytes(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(item) for item in value)
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    return 0 if value is None else 8


class DistributedObjective:
    """``fun(theta) -> (cost, grad)`` of ``network``'s cost on data held by Dask workers.

    Parameters
    ----------
    client : distributed.Client
    network : Network
        Dense layers; its regularizers are applied on the client.
    data : array-like of shape (n_samples, n_features), optional
        The samples (a memory-mapped array is read one shard at a time).
        The client keeps a reference, to re-send a shard a lost worker held.
    shards : int or sequence of int, optional
        Number of shards (default: one per worker thread) or their sizes.
    loaders : list of callable, optional
        Instead of ``data``: one picklable zero-argument function per shard,
        called on a worker to produce its samples (a lost shard is
        recomputed by Dask).
    block_size : int, optional
        Rows per pass on a worker (see
        :class:`~nnlite.distributed.shard.ShardEvaluator`); bounds the
        workers' working memory.  Default: a whole shard at once.
    trips : {None, 1, 2}
        Round trips per evaluation.  None: 1 for one hidden layer (or no
        activity penalty), else 2.  ``2`` with one hidden layer saves the
        workers the ``F^T X`` product (a sixth of their work) for one more
        round trip; it pays when shards are evaluated in one block (the
        activations are then kept between the trips) and compute dominates.
        ``1`` is refused for deep stacks with a sparsity penalty.
    max_retries : int, default=3
        Worker losses survived over the objective's life before it raises.

    Attributes
    ----------
    n_samples : int
    n_trips : int
        Round trips per evaluation (1 or 2).
    n_evaluations : int
    bytes_sent, bytes_received : int
        Payload bytes of all evaluations so far (parameters and rows out,
        partial sums back), not counting the shards themselves.
    resender : Resender
    """

    def __init__(self, client, network, data=None, shards=None, loaders=None, block_size=None, trips=None,
                 max_retries=3):
        if (data is None) == (loaders is None):
            raise ValueError("give exactly one of data and loaders")
        self.client = client
        self.n_params = network.n_params
        self.reduction = Reduction(network)
        self.n_trips = self.reduction.n_trips
        if trips is not None:
            if trips not in (1, 2) or (trips == 1 and self.n_trips == 2):
                raise ValueError(f"trips must be None, 1 (one hidden layer or no sparsity) or 2, got {trips!r}")
            self.n_trips = trips
        spec = NetworkSpec(network)
        self._lost_errors = lost_worker_errors()
        if data is not None:
            data = _check_shape(data, network.sizes[0])
            shards = sum(client.nthreads().values()) if shards is None else shards
            bounds = shard_bounds(data.shape[0], min(shards, data.shape[0]) if np.ndim(shards) == 0 else shards)
            makers = [functools.partial(_scatter_shard, ShardEvaluator(spec, data=data[start:stop],
                                                                           block_size=block_size))
                      for start, stop in bounds]
        else:
            makers = [functools.partial(_load_shard, spec, loader, block_size) for loader in loaders]
        self.resender = Resender(client, makers, "shard", max_retries=max_retries)
        self.n_samples = int(sum(self._run(lambda: client.gather(
            [client.submit(shard_size, future, pure=False) for future in self.resender.futures]))))
        self.n_evaluations = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self._token = itertools.count()

    @property
    def n_shards(self):
        """Number of shards."""
        return len(self.resender.futures)

    def _run(self, step):
        """``step()``, re-sending lost shards and retrying when a worker is lost."""
        while True:
            try:
                return step()
            except self._lost_errors as error:
                self.resender.recover(error)

    def _broadcast(self, value):
        workers = worker_addresses(self.client)
        self.bytes_sent += _nbytes(value) * len(workers)
        return self.client.scatter(value, broadcast=True, hash=False)

    def _gather(self, function, *args):
        client = self.client
        futures = [client.submit(function, shard, *args, pure=False) for shard in self.resender.futures]
        results = client.gather(futures)
        self.bytes_received += _nbytes(results)
        return results

    def _evaluate(self, theta):
        theta_future = self._broadcast(theta)
        if self.n_trips == 1:
            parts = self._gather(shard_one_trip, theta_future)
            return self.reduction.combine_one_trip(parts, theta)
        token = next(self._token)
        parts = self._gather(shard_forward, theta_future, token)
        count, cost, rows = self.reduction.activity_rows(parts)
        rows_future = self._broadcast(rows)
        grads = self._gather(shard_backward, theta_future, rows_future, token)
        return self.reduction.combine_gradient(count, cost, grads, theta)

    def __call__(self, theta):
        """Cost and gradient at ``theta``.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)

        Returns
        -------
        cost : float
        grad : ndarray of shape (n_params,)
        """
        theta = np.array(check_vector(theta, self.n_params), dtype=np.float64)
        result = self._run(lambda: self._evaluate(theta))
        self.n_evaluations += 1
        return result

    def close(self):
        """Release the shards on the workers."""
        for future in self.resender.futures:
            future.release()
        self.resender.futures = []
