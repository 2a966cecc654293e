"""The Dask client nnlite's pipeline uses, set for a block of code.

Code that builds its own models deep inside (the classification study trains
:class:`~nnlite.patch_model.PatchModel` objects and extracts features itself)
cannot be handed a client argument by argument; ``with use_client(client):``
makes ``client`` the one :class:`~nnlite.patch_model.PatchModel` trains and
encodes with inside the block (an explicit ``client=`` argument still wins).
Outside any such block :func:`active_client` is None and everything runs in
one process.  :func:`client_context` is the same for a ``--scheduler``
value: it connects, activates and closes.  Nothing here imports Dask unless
a scheduler is named.
"""

import contextlib

from .cluster import connect

_ACTIVE = []


def active_client():
    """The client of the innermost :func:`use_client` block, or None."""
    return _ACTIVE[-1] if _ACTIVE else None


@contextlib.contextmanager
def use_client(client):
    """Make ``client`` the active client inside the block (None: no change of behaviour).

    Parameters
    ----------
    client : distributed.Client or None
    """
    _ACTIVE.append(client)
    try:
        yield client
    finally:
        _ACTIVE.pop()


@contextlib.contextmanager
def client_context(scheduler):
    """Connect to ``scheduler``, make the client active, close it at the end.

    Parameters
    ----------
    scheduler : str or None
        ``'local:N'``, a scheduler address (see
        :func:`~nnlite.distributed.cluster.parse_scheduler`), or None for
        no cluster (the block runs in one process).

    Yields
    ------
    distributed.Client or None
    """
    if scheduler is None:
        yield None
        return
    client = connect(scheduler)
    try:
        with use_client(client):
            yield client
    finally:
        client.close()
