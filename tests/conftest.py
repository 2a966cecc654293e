"""Shared fixtures and markers for the nnlite test suite."""

import os

import numpy as np
import pytest

#: The read-only data folder laid beside the checkout (absent on some machines).
SHARED_DATA = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
CIFAR_JPEG_TRAIN = os.path.join(SHARED_DATA, "cifar10-jpeg", "train")


@pytest.fixture
def rng():
    """A seeded generator, fresh for every test."""
    return np.random.default_rng(12345)


@pytest.fixture
def cifar_jpeg_train():
    """Path of the real CIFAR-10 JPEG folder, or skip the test when it is absent."""
    if not os.path.isdir(CIFAR_JPEG_TRAIN):
        pytest.skip(f"real images not found at {CIFAR_JPEG_TRAIN} (../shared/data is absent here)")
    return CIFAR_JPEG_TRAIN


def small_patches(rng, n_samples=30, n_features=12):
    """Random data in [0.1, 0.9], the range SPEC's normalisation produces."""
    return rng.uniform(0.1, 0.9, size=(n_samples, n_features))


def low_rank_patches(rng, n=400, d=16):
    """Smooth-ish data in [0.1, 0.9] with low-rank structure, so an autoencoder has something to learn."""
    basis = rng.uniform(0, 1, (4, d))
    return 0.1 + 0.8 * (rng.uniform(0, 1, (n, 4)) @ basis) / basis.sum(axis=0)
