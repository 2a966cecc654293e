"""Optimisers that train a network's flat parameter vector."""

from .lbfgs import LBFGS, TrainingResult

__all__ = ["LBFGS", "TrainingResult"]
