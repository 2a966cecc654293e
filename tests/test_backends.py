"""Backends agree with numpy float64: registry, environment variable, errors, numpy float32, CUDAMat.

The CUDAMat adapter runs here against ``tests/fake_cudamat.py`` (CUDAMat
cannot be installed without a GPU); CuPy has its own file,
``tests/test_backends_cupy.py``.  The comparisons both use, and the
``fake_cudamat`` fixture, are in ``tests/conftest.py``.
"""

import sys

import numpy as np
import pytest

from nnlite.autoencoder import build_autoencoder
from nnlite.backend import BACKENDS, ENV_VARIABLE, NumpyBackend, get_backend

from conftest import ARCHITECTURES, VISIBLE, assert_gradient_checks, assert_matches_reference, sample_data

# ------------------------------------------------------------ registry and errors
def test_registry_names_every_backend():
    assert {"numpy", "cupy", "cudamat"} <= set(BACKENDS)


def test_environment_variable_picks_the_backend(monkeypatch, fake_cudamat):
    monkeypatch.setenv(ENV_VARIABLE, "numpy")
    assert isinstance(get_backend(None), NumpyBackend)
    monkeypatch.setenv(ENV_VARIABLE, "cudamat")
    backend = get_backend(None, "float32")
    assert backend.name == "cudamat"
    net = build_autoencoder(VISIBLE, 5, dtype="float32")
    assert net.backend.name == "cudamat"
    monkeypatch.setenv(ENV_VARIABLE, "nonsense")
    with pytest.raises(ValueError, match="unknown backend 'nonsense'"):
        get_backend(None)


def test_unknown_backend_lists_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        get_backend("theano")


def test_absent_cupy_fails_clearly(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    with pytest.raises(ValueError, match=r"pip install nnlite\[gpu\]") as info:
        get_backend("cupy")
    assert isinstance(info.value, RuntimeError)
    assert "cupy-cuda13x" in str(info.value)


def test_absent_cudamat_fails_clearly(monkeypatch):
    from nnlite.backend import _cudamat_array

    monkeypatch.setitem(sys.modules, "cudamat", None)
    monkeypatch.setitem(_cudamat_array._STATE, "module", None)
    with pytest.raises(RuntimeError, match="cudamat/cudamat") as info:
        build_autoencoder(VISIBLE, 5, backend="cudamat", dtype="float32")
    assert isinstance(info.value, ValueError)
    assert "NNLITE_BACKEND=cudamat" in str(info.value)


def test_cudamat_without_a_gpu_fails_clearly(monkeypatch, fake_cudamat):
    def no_device(*args, **kwargs):
        raise fake_cudamat.CUDAMatException("CUBLAS error.")

    monkeypatch.setattr(fake_cudamat, "cublas_init", no_device)
    with pytest.raises(RuntimeError, match="could not initialise the GPU"):
        get_backend("cudamat", "float32")


def test_backend_instances_pass_through_or_change_dtype():
    backend = NumpyBackend("float32")
    assert get_backend(backend, "float32") is backend
    assert get_backend(backend, "float64").dtype == np.float64


# ------------------------------------------------------------------ numpy
@pytest.mark.parametrize("hidden, activation", ARCHITECTURES)
def test_numpy_float32_matches_float64(hidden, activation):
    assert_matches_reference("numpy", "float32", hidden, activation)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden, activation", ARCHITECTURES)
def test_numpy_gradient_checks(dtype, hidden, activation):
    assert_gradient_checks("numpy", dtype, hidden, activation)


# ---------------------------------------------------------------- CUDAMat
@pytest.mark.parametrize("hidden, activation", ARCHITECTURES)
def test_cudamat_adapter_matches_numpy(fake_cudamat, hidden, activation):
    net = assert_matches_reference("cudamat", "float32", hidden, activation)
    assert type(net.backend).__name__ == "CudamatBackend"


@pytest.mark.parametrize("hidden, activation", ARCHITECTURES)
def test_cudamat_adapter_gradient_checks(fake_cudamat, hidden, activation):
    assert_gradient_checks("cudamat", "float32", hidden, activation)


def test_cudamat_accepts_float64_with_a_warning(fake_cudamat):
    with pytest.warns(UserWarning, match="float32 only"):
        net = build_autoencoder(VISIBLE, 5, backend="cudamat", dtype="float64")
    assert net.dtype == np.float32


def test_same_script_runs_on_every_backend_by_one_argument(fake_cudamat):
    from nnlite.optim.lbfgs import LBFGS

    data = sample_data()
    costs = {}
    for backend in ("numpy", "cudamat"):
        net = build_autoencoder(VISIBLE, 5, backend=backend, dtype="float32")
        net.initialize(0)
        result = LBFGS(max_iter=15).minimize(net.objective(data), net.theta)
        costs[backend] = result.cost
    assert costs["cudamat"] == pytest.approx(costs["numpy"], rel=1e-3)
