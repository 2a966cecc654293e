"""The version of nnlite; saved models record it."""
__version__ = "0.1.0"
