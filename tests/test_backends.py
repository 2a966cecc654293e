"""Backends agree with numpy float64: registry, environment variable, errors, numpy float32, CUDAMat.

The CUDAMat adapter runs here against ``tests/fake_cudamat.py`` (CUDAMat
cannot be installed without a GPU); CuPy has its own file,
``tests/test_backends_cupy.py``.  The helpers below are shared with it.
"""

import sys

import numpy as np
import pytest

from nnlite.autoencoder import build_autoencoder
from nnlite.backend import BACKENDS, ENV_VARIABLE, NumpyBackend, get_backend
from nnlite.gradcheck import check_gradient

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
