"""Layers (the :class:`Layer` interface and :class:`Dense`) and activations.

A layer owns its forward and backward passes; see :mod:`nnlite.layers.base`
for the interface a new layer type implements.
"""

from .activations import ACTIVATIONS, Activation, Identity, ReLU, Sigmoid, get_activation
from .base import Layer
from .dense import Dense

__all__ = ["ACTIVATIONS", "Activation", "Dense", "Identity", "Layer", "ReLU", "Sigmoid", "get_activation"]
