"""The cost's terms: reconstruction loss and regularizers (one setting, or one per layer)."""

from .base import Regularizer
from .kl_sparsity import KLSparsity
from .per_layer import LayerSparsity, LayerWeightDecay, layer_regularizers
from .squared_error import SquaredError
from .weight_decay import WeightDecay

__all__ = ["KLSparsity", "LayerSparsity", "LayerWeightDecay", "Regularizer", "SquaredError",
           "WeightDecay", "layer_regularizers"]
