"""What to do when a worker is lost: find the lost pieces, re-send them, or give up clearly.

Data that the client scattered lives only on the worker that received it; when
that worker dies, Dask cancels every task that needs it
(``FutureCancelledError``, a ``concurrent.futures.CancelledError``).  Pieces
created by a task (a shard from a loader) Dask recomputes on its own; a task
that keeps killing its workers ends in ``KilledWorker``.  :class:`Resender`
keeps, for every piece, how to make it again (the client's copy of the data,
or the loader), re-creates the pieces whose futures are no longer
``'finished'`` and lets the caller retry; after ``max_retries`` failures it
raises ``ValueError`` naming the workers that were lost.  A retried
evaluation is recomputed from scratch, so a result is either exact or absent.
"""

import concurrent.futures
import logging

from .cluster import require_distributed, worker_addresses

LOGGER = logging.getLogger(__name__)


def lost_worker_errors():
    """The exception types that mean a worker (and what it held) was lost.

    Cancelled futures (their data was lost), ``KilledWorker`` and the
    ``OSError`` of a connection to a worker that went away
    (``CommClosedError`` is one).
    """
    distributed = require_distributed()
    return (concurrent.futures.CancelledError, distributed.KilledWorker, OSError)


class Resender:
    """Pieces placed on workers (scattered or computed), re-created after a loss.

    Parameters
    ----------
    client : distributed.Client
    makers : list of callable
        ``makers[i](client, worker)`` returns a future of piece ``i`` placed
        on ``worker`` (by scatter or submit).
    what : str
        What a piece is, for messages (``'shard'``, ``'image chunk'``).
    max_retries : int
        Re-creations allowed over the object's life before giving up.

    Attributes
    ----------
    futures : list of Future
    placement : list of str
        The worker each piece was sent to.
    retries : int
        Re-creations so far.
    """

    def __init__(self, client, makers, what, max_retries=3):
        self.client = client
        self.makers = list(makers)
        self.what = what
        self.max_retries = max_retries
        self.retries = 0
        workers = worker_addresses(client)
        if not workers:
            raise ValueError(f"the Dask cluster at {client.scheduler.address!r} has no workers")
        self.placement = [None] * len(self.makers)
        self.futures = [None] * len(self.makers)
        for index in range(len(self.makers)):
            self._place(index, workers[index % len(workers):] + workers[:index % len(workers)])

    def _place(self, index, candidates):
        """Make piece ``index`` on the first of ``candidates`` that is still there to take it."""
        errors = lost_worker_errors() + (KeyError,)  # the scheduler's KeyError: a worker that just left
        for worker in candidates:
            try:
                self.futures[index] = self.makers[index](self.client, worker)
            except errors as error:
                LOGGER.warning("could not place %s %d on %s (%s)", self.what, index, worker,
                               type(error).__name__)
                continue
            self.placement[index] = worker
            return
        raise ValueError(f"no Dask worker could take {self.what} {index}; tried {', '.join(candidates)}")

    def lost(self):
        """Indices of the pieces whose futures are no longer usable."""
        return [index for index, future in enumerate(self.futures) if future.status != "finished"]

    def recover(self, error):
        """Re-create the lost pieces on live workers, or raise ``ValueError`` naming the lost workers.

        Parameters
        ----------
        error : Exception
            What the failed step raised (kept as the cause).
        """
        lost = self.lost()
        names = sorted({self.placement[index] for index in lost}) or ["(unknown: a task's worker)"]
        if self.retries >= self.max_retries:
            raise ValueError(f"lost Dask worker(s) {', '.join(names)} holding {self.what}(s) {lost}; gave up "
                             f"after {self.retries} re-sends ({type(error).__name__}: {error})") from error
        self.retries += 1
        workers = [address for address in worker_addresses(self.client) if address not in names] \
            or worker_addresses(self.client)
        if not workers:
            raise ValueError(f"lost Dask worker(s) {', '.join(names)} and no worker is left to take "
                             f"{self.what}(s) {lost}") from error
        LOGGER.warning("lost Dask worker(s) %s (%s); re-sending %s(s) %s", ", ".join(names),
                       type(error).__name__, self.what, lost)
        for position, index in enumerate(lost):
            start = position % len(workers)
            self._place(index, workers[start:] + workers[:start])
        return lost
