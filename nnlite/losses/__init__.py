"""The cost's terms: reconstruction loss and regularizers."""

from .base import Regularizer
from .kl_sparsity import KLSparsity
from .squared_error import SquaredError
from .weight_decay import WeightDecay

__all__ = ["KLSparsity", "Regularizer", "SquaredError", "WeightDecay"]
