"""Connecting to a Dask cluster: ``'local:N'``, a scheduler address, or a client.

Dask is an optional dependency (``pip install "nnlite[distributed]"``), so
nothing in nnlite imports it at module level: :func:`require_distributed` is
the one place that does, when a distributed feature is actually used, and
turns a missing installation into an ``ImportError`` that says what to
install.
"""

import importlib
import re

from ..validation import check_int

#: How to get the optional dependency.
INSTALL_HINT = 'pip install "nnlite[distributed]"  (or: pip install "dask[distributed]>=2023")'

_LOCAL = re.compile(r"^local(?::(.*))?$")


def require_distributed():
    """Return the ``distributed`` module, or raise ``ImportError`` naming the extra to install."""
    try:
        return importlib.import_module("distributed")
    except ImportError as error:
        raise ImportError(f"this feature needs Dask's distributed scheduler: {INSTALL_HINT}") from error


def parse_scheduler(scheduler):
    """Split a ``--scheduler`` value into ``('local', n_workers)`` or ``('address', address)``.

    Parameters
    ----------
    scheduler : str
        ``'local:N'`` (a LocalCluster of N worker processes, one thread
        each), ``'local'`` (N = 2) or a scheduler address such as
        ``'tcp://10.0.0.1:8786'``.

    Returns
    -------
    tuple

    Raises
    ------
    ValueError
        For an empty value or a bad worker count.
    """
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(f"scheduler must be 'local:N' or a scheduler address, got {scheduler!r}")
    match = _LOCAL.match(scheduler.strip())
    if match:
        count = match.group(1)
        if count is None:
            return "local", 2
        if not count.isdigit():
            raise ValueError(f"scheduler 'local:N' needs a whole number of workers, got {scheduler!r}")
        return "local", check_int(int(count), "number of local workers", minimum=1)
    return "address", scheduler.strip()


def connect(scheduler):
    """A Dask client for ``scheduler``.

    Parameters
    ----------
    scheduler : str or distributed.Client
        See :func:`parse_scheduler`; a client is returned unchanged.

    Returns
    -------
    distributed.Client
        For ``'local:N'`` the client owns its LocalCluster (``processes=True``,
        ``threads_per_worker=1``) and closing the client closes the cluster.
    """
    if not isinstance(scheduler, str):
        return scheduler
    kind, value = parse_scheduler(scheduler)
    distributed = require_distributed()
    if kind == "local":
        return distributed.Client(n_workers=value, threads_per_worker=1, processes=True,
                                  dashboard_address=None)
    return distributed.Client(value)


def worker_addresses(client):
    """Addresses of the client's current workers, sorted."""
    return sorted(client.scheduler_info()["workers"])
