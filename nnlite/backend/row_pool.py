"""Run row blocks of numpy work on the BLAS library's cores without oversubscribing them.

The numpy backend splits each operation of an evaluation (a product and the
element-wise chain on its output, a reduction over samples) into blocks of
rows.  :class:`RowPool` runs those blocks on ``n`` threads -- the calling
thread and ``n - 1`` helpers -- that take blocks from a shared counter, so a
core slowed by other processes simply takes fewer blocks.  numpy releases the
GIL inside ufunc loops and BLAS calls, so the blocks run in parallel.

While the blocks run, :func:`single_threaded_blas` holds BLAS at one thread:
each block's product runs in the thread that asked for it, so at most ``n``
threads compute at once, and BLAS's own worker threads stay asleep instead of
spinning beside ours (measured on 2 cores: element-wise threads beside a
multi-threaded OpenBLAS made evaluations slower, not faster).  The thread
count the backend uses by default is BLAS's own current count
(:func:`blas_threads`), so ``OMP_NUM_THREADS``, ``threadpoolctl`` limits and
the optimiser's thread setting all apply to the element-wise work too.

Which rows form a block never depends on the thread count, and each block's
result lands in a fixed place, so a result is bit-for-bit the same whichever
thread computed which block and however many threads there were.
"""

import contextlib
import itertools
import os
import queue
import threading

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - threadpoolctl is a dependency of nnlite
    ThreadpoolController = None

_BLAS = {"controllers": None}


def _blas_controllers():
    """threadpoolctl's controllers of the BLAS libraries numpy has loaded (cached)."""
    if _BLAS["controllers"] is None:
        if ThreadpoolController is None:  # pragma: no cover
            _BLAS["controllers"] = []
        else:
            _BLAS["controllers"] = list(
                ThreadpoolController().select(user_api="blas").lib_controllers)
    return _BLAS["controllers"]


def blas_threads():
    """The number of threads numpy's BLAS would use for a product now (1 when unknown)."""
    counts = [controller.num_threads for controller in _blas_controllers()]
    return max(counts + [1])


@contextlib.contextmanager
def single_threaded_blas():
    """Context manager: every BLAS library at one thread, each restored to its count after."""
    controllers = _blas_controllers()
    saved = [controller.num_threads for controller in controllers]
    for controller, count in zip(controllers, saved):
        if count != 1:
            controller.set_num_threads(1)
    try:
        yield
    finally:
        for controller, count in zip(controllers, saved):
            if count != 1:
                controller.set_num_threads(count)


class _Job:
    """One call of :meth:`RowPool.run`: blocks handed out by a shared counter."""

    def __init__(self, function, n_blocks):
        self.function = function
        self.n_blocks = n_blocks
        self.counter = itertools.count()
        self.error = None
        self.finished = queue.SimpleQueue()

    def participate(self):
        """Run blocks until none is left (or one failed)."""
        try:
            for index in self.counter:
                if index >= self.n_blocks or self.error is not None:
                    break
                self.function(index)
        except BaseException as error:  # noqa: BLE001 - re-raised by the caller's thread
            self.error = error


class RowPool:
    """``n_threads`` threads (the caller's and ``n_threads - 1`` helpers) sharing blocks.

    Parameters
    ----------
    n_threads : int >= 1

    Notes
    -----
    Helper threads are daemons that sleep on a queue between calls.  One call
    runs at a time; a call made while another is running (from another thread,
    or from inside a block) runs its blocks in the calling thread alone.
    """

    def __init__(self, n_threads):
        self.n_threads = n_threads
        self._lock = threading.Lock()
        self._inboxes = []
        for number in range(n_threads - 1):
            inbox = queue.SimpleQueue()
            thread = threading.Thread(target=self._serve, args=(inbox,),
                                      name=f"nnlite-rows-{number + 1}", daemon=True)
            thread.start()
            self._inboxes.append(inbox)

    @staticmethod
    def _serve(inbox):
        while True:
            job = inbox.get()
            if job is None:
                return
            job.participate()
            job.finished.put(None)

    def run(self, function, n_blocks):
        """Call ``function(index)`` for every ``index`` in ``range(n_blocks)``; re-raise a failure.

        Parameters
        ----------
        function : callable of one int
            Must write its result to a place fixed by ``index``.
        n_blocks : int
        """
        job = _Job(function, n_blocks)
        helpers = self._inboxes[:max(n_blocks - 1, 0)]
        if not helpers or not self._lock.acquire(blocking=False):
            job.participate()
        else:
            try:
                with single_threaded_blas():
                    for inbox in helpers:
                        inbox.put(job)
                    job.participate()
                    for _ in helpers:
                        job.finished.get()
            finally:
                self._lock.release()
        if job.error is not None:
            raise job.error

    def close(self):
        """Stop the helper threads (the pool is unusable afterwards)."""
        for inbox in self._inboxes:
            inbox.put(None)
        self._inboxes = []


_POOLS = {}


def get_pool(n_threads):
    """The process-wide :class:`RowPool` of ``n_threads`` threads (created on first use)."""
    pool = _POOLS.get(n_threads)
    if pool is None:
        pool = _POOLS[n_threads] = RowPool(n_threads)
    return pool


def _forget_pools():
    """After ``fork`` the helper threads are gone in the child: start new pools there."""
    _POOLS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)
