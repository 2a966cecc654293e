"""Feature extraction and transform run on the chosen backend and agree with numpy float64.

The CUDAMat adapter runs against the stand-in (``tests/fake_cudamat.py``); the
CuPy case needs a GPU (marked ``gpu``, skipped with the reason otherwise).
"""

import numpy as np
import pytest

from nnlite import SparseAutoencoder
from nnlite.backend.cupy_backend import cupy_unavailable_reason
from nnlite.features import ConvolutionalFeatures

GPU_REASON = cupy_unavailable_reason()


@pytest.fixture(scope="module")
def encoder():
    rng = np.random.default_rng(0)
    patches = rng.uniform(0.1, 0.9, (300, 4 * 4 * 3))
    return SparseAutoencoder(hidden_size=6, max_iter=15, random_state=0).fit(patches)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).uniform(0.1, 0.9, (7, 12 * 12 * 3))


def _features(encoder, images, backend, dtype):
    extractor = ConvolutionalFeatures(encoder, patch_size=4, stride=2, pooling="sum", pool_grid=2,
                                      backend=backend, dtype=dtype)
    return extractor.fit(images).transform(images)


def _compare(encoder, images, backend, dtype, rtol):
    reference = _features(encoder, images, "numpy", "float64")
    features = _features(encoder, images, backend, dtype)
    assert isinstance(features, np.ndarray) and features.shape == reference.shape
    np.testing.assert_allclose(features, reference, rtol=rtol, atol=rtol)
    model = SparseAutoencoder(hidden_size=6).set_params(**encoder.get_params())
    model.network_ = encoder.network_
    model.network_.to_backend(backend, dtype)
    try:
        np.testing.assert_allclose(model.transform(images[:, :48]),
                                   encoder.network_.forward(images[:, :48], stop=1), rtol=rtol)
    finally:
        model.network_.to_backend("numpy", "float64")


def test_features_on_the_cudamat_adapter(encoder, images, fake_cudamat):
    _compare(encoder, images, "cudamat", "float32", 1e-4)


def test_features_on_numpy_float32(encoder, images):
    _compare(encoder, images, "numpy", "float32", 1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(GPU_REASON is not None, reason=f"no GPU: {GPU_REASON}")
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 1e-4)])
def test_features_on_cupy(encoder, images, dtype, rtol):
    _compare(encoder, images, "cupy", dtype, rtol)
