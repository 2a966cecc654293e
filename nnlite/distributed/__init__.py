"""Training and feature extraction on a Dask cluster (optional: ``pip install "nnlite[distributed]"``).

* :class:`DistributedObjective` -- the exact cost and gradient of a network on
  samples sharded across workers, for nnlite's L-BFGS trainers (one round trip
  per evaluation for one hidden layer, two for deeper stacks; see
  :mod:`nnlite.distributed.reduction` for the mathematics).
* :func:`distributed_transform` -- :class:`~nnlite.features.ConvolutionalFeatures`
  on chunks of images spread over the workers, the fitted extractor shipped once.
* :func:`connect` -- a client from ``'local:N'`` or a scheduler address;
  :func:`use_client` / :func:`client_context` -- the client the pipeline
  (:class:`~nnlite.patch_model.PatchModel`) uses inside a block.

Importing this package does not import Dask; the functions that need it do,
through :func:`~nnlite.distributed.cluster.require_distributed`.
See ``docs/distributed.md`` for the cost model and measured figures.
"""

from .cluster import connect, parse_scheduler, require_distributed
from .context import active_client, client_context, use_client
from .extraction import DistributedFeatures, ShippedExtractor, distributed_transform
from .objective import DistributedObjective, objective_on, shard_bounds
from .reduction import Reduction

__all__ = ["DistributedFeatures", "DistributedObjective", "Reduction", "ShippedExtractor", "active_client",
           "client_context", "connect", "distributed_transform", "objective_on", "parse_scheduler", "require_distributed",
           "shard_bounds", "use_client"]
