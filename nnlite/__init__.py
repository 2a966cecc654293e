"""nnlite: a small layered neural-network framework for sparse autoencoders.

The pieces, from the bottom up:

* :mod:`nnlite.backend` -- where arrays live (numpy, CuPy, CUDAMat);
* :mod:`nnlite.parameters` -- one flat ``theta``/``grad`` buffer, per-layer views;
* :mod:`nnlite.layers` -- :class:`Dense` layers and activations;
* :mod:`nnlite.losses` -- squared error, weight decay, KL sparsity;
* :mod:`nnlite.network` -- :class:`Network`: forward, backprop, cost and gradient;
* :mod:`nnlite.optim` -- L-BFGS training;
* :mod:`nnlite.model_file` -- the model file (``.npz`` + JSON, format version 2; reads 1);
* :mod:`nnlite.estimator` -- :class:`SparseAutoencoder` (scikit-learn style), save/load;
* :mod:`nnlite.pretraining` -- greedy layer-wise pretraining and unrolling;
* :mod:`nnlite.stacked` -- :class:`StackedAutoencoder`: pretraining, unrolling, fine-tuning;
* :mod:`nnlite.preprocessing` -- SPEC's normalisation, ZCA whitening;
* :mod:`nnlite.features` -- :class:`~nnlite.features.ConvolutionalFeatures` for whole images;
* :mod:`nnlite.patch_model` -- :class:`PatchModel`: images -> patches -> preprocessor ->
  autoencoder -> model file, in one place;
* :mod:`nnlite.gradcheck` -- numerical gradient checks.
"""

from ._version import __version__
from .autoencoder import build_autoencoder
from .estimator import SparseAutoencoder, load_model
from .exceptions import ConvergenceWarning, ModelFileError
from .gradcheck import check_gradient, numerical_gradient, relative_error
from .layers import Dense, get_activation
from .losses import KLSparsity, SquaredError, WeightDecay
from .network import Network
from .optim import LBFGS
from .patch_model import PatchModel, PatchSettings
from .stacked import StackedAutoencoder

__all__ = [
    "ConvergenceWarning", "Dense", "KLSparsity", "LBFGS", "ModelFileError", "Network", "PatchModel",
    "PatchSettings", "SparseAutoencoder",
    "SquaredError", "StackedAutoencoder", "WeightDecay", "__version__", "build_autoencoder", "check_gradient",
    "get_activation", "load_model", "numerical_gradient", "relative_error",
]
