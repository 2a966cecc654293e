"""Layers and activations."""

from .activations import ACTIVATIONS, Activation, Identity, ReLU, Sigmoid, get_activation
from .base import Layer
from .dense import Dense

__all__ = ["ACTIVATIONS", "Activation", "Dense", "Identity", "Layer", "ReLU", "Sigmoid", "get_activation"]
