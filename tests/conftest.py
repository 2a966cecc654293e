"""Shared fixtures and helpers of the nnlite test suite.

Test files take the fixtures by name and the plain helpers with
``from conftest import ...`` (pytest puts ``tests/`` on ``sys.path``); no test
file imports another.
"""

import os
import sys

import numpy as np
import pytest

from nnlite.autoencoder import build_autoencoder
from nnlite.gradcheck import check_gradient

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


# ---------------------------------------------------------------- images
def synthetic_images(n=90, side=12, n_classes=3, seed=0):
    """uint8 images whose class brightens one horizontal band of one channel."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    images = rng.integers(0, 160, size=(n, side, side, 3))
    band = side // n_classes
    for k in range(n_classes):
        images[labels == k, k * band:(k + 1) * band, :, k] += 90
    return images.reshape(n, -1).astype(np.uint8), labels


#: STL-10's class names, in the order of its labels.
STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def stl10_bytes(hwc):
    """The official encoding, written out independently of the loader.

    For each image, each channel's 96x96 plane is stored column-major
    (Fortran order), red plane first.
    """
    parts = []
    for image in hwc:
        for channel in range(3):
            parts.append(image[:, :, channel].flatten(order="F"))
    return np.concatenate(parts).astype(np.uint8).tobytes()


def write_stl10_split(folder, name, n, rng, labels=True):
    """Write ``<name>_X.bin`` (and ``<name>_y.bin``) of ``n`` random 96x96 images in the official format.

    Returns
    -------
    rows : ndarray of shape (n, 27648), uint8
        The images in SPEC's row layout.
    labels : ndarray of shape (n,) or None
        0-based labels (stored 1-based), ``k % 10`` for image ``k``.
    """
    hwc = rng.integers(0, 256, size=(n, 96, 96, 3), dtype=np.uint8)
    (folder / f"{name}_X.bin").write_bytes(stl10_bytes(hwc))
    y = None
    if labels:
        y = np.arange(n) % 10  # 0-based truth, stored 1-based
        (folder / f"{name}_y.bin").write_bytes((y + 1).astype(np.uint8).tobytes())
    return hwc.reshape(n, -1), y


# ---------------------------------------------------------------- backends
#: Relative tolerance of cost and gradient against numpy float64, by dtype.
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}

#: (hidden sizes, activation) of the networks every backend is checked on.
ARCHITECTURES = [(5, "sigmoid"), ([8, 4, 8], "sigmoid"), (5, "relu"), ([8, 4, 8], "relu")]

VISIBLE = 12


def sample_data(n_samples=40, visible=VISIBLE, seed=0):
    """Patches-like data in [0.1, 0.9]."""
    return np.random.default_rng(seed).uniform(0.1, 0.9, (n_samples, visible))


def reference_network(hidden, activation, data, seed=1):
    """A numpy float64 autoencoder with SPEC's initialisation.

    In ReLU networks each hidden bias is then set to minus the median of its
    unit's pre-activation on ``data``: every unit is active on about half of
    the samples, so the derivative's mask is exercised and no unit is dead (a
    dead unit's sparsity term depends on the dtype's clipping margin, see
    :mod:`nnlite.losses.kl_sparsity`, which is not what these tests compare).
    """
    net = build_autoencoder(VISIBLE, hidden, activation=activation, backend="numpy")
    net.initialize(seed)
    if activation == "relu":
        for index, layer in enumerate(net.layers[:-1]):
            z = net.forward(data, stop=index) @ layer.W.T
            layer.b = -np.median(z, axis=0) + 1e-3
    return net


def relative(a, b):
    """Norm-wise relative difference of ``a`` from the reference ``b``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def assert_matches_reference(backend, dtype, hidden, activation):
    """Cost, gradient and forward pass of ``backend`` agree with numpy float64."""
    data = sample_data()
    reference = reference_network(hidden, activation, data)
    ref_cost, ref_grad = reference.objective(data)(reference.theta)
    net = build_autoencoder(VISIBLE, hidden, activation=activation, backend=backend, dtype=dtype)
    assert net.backend.name == (backend if isinstance(backend, str) else backend.name)
    fun = net.objective(data)
    for _ in range(2):  # a second evaluation reuses every buffer
        cost, grad = fun(reference.theta)
        assert isinstance(cost, float)
        assert grad.dtype == np.float64 and grad.shape == ref_grad.shape
        tolerance = TOLERANCE[net.dtype.name]
        assert abs(cost - ref_cost) <= tolerance * abs(ref_cost), (cost, ref_cost)
        assert relative(grad, ref_grad) <= tolerance
    codes = net.forward(data, stop=1)
    assert codes.dtype == net.dtype
    assert relative(codes, reference.forward(data, stop=1)) <= tolerance
    return net


def assert_gradient_checks(backend, dtype, hidden, activation):
    """Central differences agree with the backend's own gradient.

    float64: full check, relative error <= 1e-7.  float32: the cost has ~7
    significant digits, so random directions with a larger step, <= 2e-3
    (1e-2 for sigmoid; 1e-3 for ReLU, whose kinks a larger step would cross).
    """
    data = sample_data(n_samples=20)
    reference = reference_network(hidden, activation, data)
    net = build_autoencoder(VISIBLE, hidden, activation=activation, backend=backend, dtype=dtype)
    fun = net.objective(data)
    if net.dtype == np.float64:
        result = check_gradient(fun, reference.theta, epsilon=1e-5)
        assert result.relative_error <= 1e-7, str(result)
    else:
        epsilon = 1e-2 if activation == "sigmoid" else 1e-3
        result = check_gradient(fun, reference.theta, epsilon=epsilon, n_directions=6, random_state=0)
        assert result.relative_error <= 2e-3, str(result)


@pytest.fixture
def fake_cudamat(monkeypatch):
    """Inject ``tests/fake_cudamat.py`` as ``cudamat`` with fresh state."""
    import fake_cudamat as fake

    from nnlite.backend import _cudamat_array

    fake.reset()
    monkeypatch.setitem(sys.modules, "cudamat", fake)
    monkeypatch.setitem(_cudamat_array._STATE, "module", None)
    yield fake
    _cudamat_array.shutdown()
    fake.reset()
