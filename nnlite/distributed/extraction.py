"""Feature extraction on a Dask cluster: image chunks on the workers, features gathered in order.

:func:`distributed_transform` runs a fitted
:class:`~nnlite.features.ConvolutionalFeatures` on chunks of images spread
over the workers.  The fitted extractor (its preprocessor and encoder
weights) is shipped to every worker once, as a :class:`ShippedExtractor`
(the encoder travels as its architecture and ``theta``, since a network
cannot be pickled as it is); each chunk of images is scattered to a worker,
encoded there with ``extractor.transform`` and its features written back
into their rows.  Every image is encoded by the same code as in one process,
so the features are the same (bit for bit when the tasks' chunks are
multiples of the extractor's own chunk, the default); a chunk whose worker is lost is re-sent from
the client's images and encoded again (:mod:`nnlite.distributed.faults`).
"""

import functools

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..features import ConvolutionalFeatures
from ..validation import check_int
from .faults import Resender, lost_worker_errors
from .spec import NetworkSpec


class ShippedExtractor:
    """A fitted :class:`~nnlite.features.ConvolutionalFeatures` in a form that pickles.

    Parameters
    ----------
    extractor : ConvolutionalFeatures
        Fitted.

    Attributes
    ----------
    extractor : ConvolutionalFeatures
        On a worker: a copy with the same fitted attributes, whose
        ``network_`` was rebuilt from the shipped architecture and weights.
    """

    def __init__(self, extractor):
        check_is_fitted(extractor, "network_")
        self.extractor = extractor

    def __getstate__(self):
        state = dict(vars(self.extractor))
        network = state.pop("network_")
        state.pop("client", None)  # on a worker the extractor runs there, in one process
        state["encoder"] = None
        state["progress"] = None
        return {"class": type(self.extractor), "state": state, "spec": NetworkSpec(network),
                "theta": np.array(network.theta)}

    def __setstate__(self, payload):
        extractor = object.__new__(payload["class"])
        extractor.__dict__.update(payload["state"])
        extractor.network_ = payload["spec"].build(payload["theta"])
        extractor.encoder = extractor.network_
        self.extractor = extractor


class DistributedFeatures(ConvolutionalFeatures):
    """:class:`~nnlite.features.ConvolutionalFeatures` whose :meth:`transform` runs on a Dask cluster.

    The constructor's parameters are ConvolutionalFeatures'; the client is
    set as an attribute (``extractor.client = client``; None: one process).
    :meth:`nnlite.patch_model.PatchModel.features` returns one when a client
    is active.
    """

    client = None

    def transform(self, X):
        """Features of the images in ``X`` on ``client``'s workers (see :func:`distributed_transform`)."""
        if self.client is None:
            return super().transform(X)
        return distributed_transform(self.client, self, X)


def encode_chunk(shipped, images):
    """Task body: the features of one chunk of images."""
    return shipped.extractor.transform(images)


def _scatter_chunk(images, client, worker):
    return client.scatter(images, workers=[worker], hash=False)


def _ship(client, extractor):
    return client.scatter(ShippedExtractor(extractor), broadcast=True, hash=False)


def distributed_transform(client, extractor, X, chunk_size=None, max_retries=3):
    """``extractor.transform(X)`` computed on the workers of ``client``.

    Parameters
    ----------
    client : distributed.Client
    extractor : ConvolutionalFeatures
        Fitted (on the client).
    X : ndarray of shape (n_images, h * w * c)
        The images (a memory-mapped array is read one chunk at a time).
    chunk_size : int, optional
        Images per task; default: the images split evenly over the worker
        threads, rounded up to a multiple of ``extractor.chunk_size_`` (at
        most 4 of them per task).  With a multiple of ``chunk_size_`` every
        matrix product has the shape it has in one process and the features
        are bit-for-bit those of ``extractor.transform(X)``; other chunk
        sizes change the products' shapes and may move the last bit (as
        ``memory_limit`` does in one process).
    max_retries : int, default=3
        Worker losses survived before giving up with ``ValueError``.

    Returns
    -------
    ndarray of shape (n_images, extractor.n_features_out_)
        The same values as ``extractor.transform(X)``.
    """
    check_is_fitted(extractor, "network_")
    if not hasattr(X, "shape") or len(X.shape) != 2:
        raise ValueError(f"X must be a 2-D array (n_images, h*w*c), got {getattr(X, 'shape', type(X).__name__)}")
    if X.shape[1] != extractor.n_features_in_:
        raise ValueError(f"images have {X.shape[1]} values per row but the extractor was fitted on "
                         f"{extractor.n_features_in_}")
    n_images = X.shape[0]
    features = np.empty((n_images, extractor.n_features_out_), dtype=extractor.network_.dtype)
    if n_images == 0:
        return features
    if chunk_size is None:
        threads = max(1, sum(client.nthreads().values()))
        chunk_size = -(-n_images // threads)
        if extractor.chunk_size_ is not None:
            step = extractor.chunk_size_
            chunk_size = step * min(4, -(-chunk_size // step))
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    starts = list(range(0, n_images, chunk_size))
    resender = Resender(client, [functools.partial(_scatter_chunk, X[start:start + chunk_size])
                                 for start in starts], "image chunk", max_retries=max_retries)
    shipped = _ship(client, extractor)
    errors = lost_worker_errors()
    done, tasks = [False] * len(starts), {}
    while not all(done):
        for index, finished in enumerate(done):
            if not finished and (index not in tasks or tasks[index].status in ("error", "cancelled", "lost")):
                tasks[index] = client.submit(encode_chunk, shipped, resender.futures[index], pure=False)
        try:
            for index, task in tasks.items():
                if not done[index]:
                    features[starts[index]:starts[index] + chunk_size] = task.result()
                    done[index] = True
        except errors as error:
            for index in resender.recover(error):
                tasks.pop(index, None)
            if shipped.status != "finished":
                shipped = _ship(client, extractor)
                tasks = {index: task for index, task in tasks.items() if done[index]}
    return features
