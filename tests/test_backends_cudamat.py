"""The CUDAMat adapter, operation by operation, against ``tests/fake_cudamat.py``.

The fake follows CUDAMat's semantics (float32, Fortran order, ``target=``,
views, shape errors); the first tests pin those semantics down, the rest check
each backend method against numpy and the adapter's memory and shutdown rules.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nnlite.autoencoder import build_autoencoder
from nnlite.backend import NumpyBackend, _cudamat_array, get_backend

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)


@pytest.fixture
def cm(fake_cudamat):
    """The fake CUDAMat (``conftest.fake_cudamat``), injected as ``cudamat``."""
    return fake_cudamat


@pytest.fixture
def backend(cm):
    return get_backend("cudamat", "float32")


def rand(*shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


# ------------------------------------------------------- the stand-in's semantics
def test_fake_stores_float32_in_fortran_order(cm):
    cm.cublas_init()
    host = rand(3, 4)
    mat = cm.CUDAMatrix(host)
    assert mat.shape == (3, 4)
    assert mat.numpy_array.dtype == np.float32 and mat.numpy_array.flags.f_contiguous
    np.testing.assert_array_equal(mat.asarray(), host.astype(np.float32))


def test_fake_refuses_what_cudamat_refuses(cm):
    with pytest.raises(cm.CUDAMatException, match="CUBLAS"):
        cm.empty((2, 2))  # before cublas_init
    cm.cublas_init()
    a, b = cm.empty((2, 3)), cm.empty((3, 2))
    with pytest.raises(cm.CUDAMatException, match="Incompatible matrix dimensions"):
        a.add(b)
    with pytest.raises(cm.CUDAMatException, match="Incompatible matrix dimensions"):
        cm.dot(a, a, target=cm.empty((2, 2)))
    with pytest.raises(ValueError, match="int, or float"):
        a.mult(np.float32(2.0))  # numpy scalars are not Python floats
    with pytest.raises(IndexError):
        cm.CUDAMatrix(np.zeros(3))  # 2-D only


def test_fake_views_share_memory_and_reshape_in_place(cm):
    cm.cublas_init()
    flat = cm.CUDAMatrix(np.arange(6, dtype=np.float32).reshape(6, 1))
    view = flat.get_col_slice(2, 6).reshape((2, 2))
    np.testing.assert_array_equal(view.asarray(), [[2, 4], [3, 5]])  # column-major
    view.assign(0.0)
    np.testing.assert_array_equal(flat.asarray().ravel(), [0, 1, 0, 0, 0, 0])
    target = cm.empty((2, 2))
    cm.dot(view.T, view, target=target)  # .T is a transposed operand of dot
    np.testing.assert_array_equal(target.asarray(), np.zeros((2, 2)))


def test_fake_reports_frees_after_shutdown(cm):
    cm.cublas_init()
    mat = cm.empty((2, 2))
    cm.shutdown()
    with pytest.raises(cm.CUDAMatException, match="invalid resource handle"):
        mat.assign(1.0)
    del mat
    assert "free after shutdown" in cm.STATE["events"]


# ------------------------------------------------------------ layout and copies
@pytest.mark.parametrize("shape", [(7,), (5, 3)])
def test_round_trip_and_transposed_storage(backend, shape):
    host = rand(*shape)
    array = backend.asarray(host)
    assert array.shape == shape and array.mat.shape == _cudamat_array.storage_shape(shape)
    back = backend.to_host(array)
    assert back.dtype == np.float32 and back.flags.c_contiguous
    np.testing.assert_array_equal(back, host.astype(np.float32))


def test_views_load_and_store_the_flat_buffer(backend):
    flat = backend.zeros((2 * 3 + 2,))
    weights, bias = backend.view(flat, 0, (2, 3)), backend.view(flat, 6, (2,))
    theta = np.arange(8, dtype=np.float64)
    backend.load_flat(theta, flat)
    np.testing.assert_array_equal(backend.to_host(weights), theta[:6].reshape(2, 3))
    np.testing.assert_array_equal(backend.to_host(bias), theta[6:])
    weights *= 2.0
    out = np.empty(8)
    backend.store_flat(flat, out)
    np.testing.assert_array_equal(out, np.r_[2 * theta[:6], theta[6:]])


def test_foreign_arrays_and_shapes_are_refused(backend):
    with pytest.raises(TypeError, match="its own arrays"):
        backend.add_row_(np.zeros((2, 2)), backend.zeros((2,)))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        backend.asarray(np.zeros((2, 2, 2)))


# ------------------------------------------------------- operations against numpy
def _pair(backend, host):
    return backend.asarray(host), host.astype(np.float32).astype(np.float64)


def test_dense_products_match_numpy(backend):
    reference = NumpyBackend("float64")
    inputs, x = _pair(backend, rand(6, 4, seed=1))
    weights, w = _pair(backend, rand(3, 4, seed=2))
    bias, b = _pair(backend, rand(3, seed=3))
    delta, d = _pair(backend, rand(6, 3, seed=4))
    checks = [
        (backend.linear(inputs, weights, bias, backend.empty((6, 3))),
         reference.linear(x, w, b, np.empty((6, 3)))),
        (backend.weight_grad(delta, inputs, backend.empty((3, 4)), 0.25),
         reference.weight_grad(d, x, np.empty((3, 4)), 0.25)),
        (backend.backprop(delta, weights, backend.empty((6, 4))),
         reference.backprop(d, w, np.empty((6, 4)))),
        (backend.column_sum(delta, backend.empty((3,)), 0.5),
         reference.column_sum(d, np.empty(3), 0.5)),
        (backend.add_row_(backend.asarray(d), bias), reference.add_row_(d.copy(), b)),
    ]
    for got, expected in checks:
        np.testing.assert_allclose(backend.to_host(got), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["sigmoid", "relu", "identity"])
def test_activations_and_derivatives_match_numpy(backend, name):
    reference = NumpyBackend("float64")
    z = rand(5, 4, seed=5, low=-3, high=3)
    got = backend.activate_(name, backend.asarray(z))
    expected = reference.activate_(name, z.copy())
    np.testing.assert_allclose(backend.to_host(got), expected, rtol=1e-6, atol=1e-7)
    delta = rand(5, 4, seed=6)
    got = backend.mul_derivative_(name, got, backend.asarray(delta), backend.empty((5, 4)))
    expected = reference.mul_derivative_(name, expected, delta.copy(), np.empty((5, 4)))
    np.testing.assert_allclose(backend.to_host(got), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="unknown activation"):
        backend.activate_("tanh", backend.asarray(z))


def test_losses_match_numpy(backend):
    reference = NumpyBackend("float64")
    outputs, targets = rand(6, 3, seed=7), rand(6, 3, seed=8)
    delta = backend.empty((6, 3))
    value = backend.squared_error(backend.asarray(outputs), backend.asarray(targets), delta)
    expected_delta = np.empty((6, 3))
    expected = reference.squared_error(outputs, targets, expected_delta)
    assert value == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(backend.to_host(delta), expected_delta, rtol=1e-5, atol=1e-6)
    x, y = rand(9, seed=9), rand(9, seed=10)
    assert backend.sum_squares(backend.asarray(x)) == pytest.approx(x @ x, rel=1e-5)
    got = backend.axpy_(0.3, backend.asarray(x), backend.asarray(y))
    np.testing.assert_allclose(backend.to_host(got), y + 0.3 * x, rtol=1e-5)


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_kl_sparsity_matches_numpy(backend, kind):
    reference = NumpyBackend("float32")
    mean = np.array([0.0, 1e-7, 0.005, 0.01, 0.3, 0.99, 1.0], dtype=np.float32)
    if kind == "poisson":
        mean[-1] = 2.5
    grad, expected_grad = backend.empty((7,)), np.empty(7, dtype=np.float32)
    value = backend.kl_sparsity(backend.asarray(mean), 0.01, kind, 1e-6, grad)
    expected = reference.kl_sparsity(mean, 0.01, kind, 1e-6, expected_grad)
    assert value == pytest.approx(float(expected), rel=1e-5)
    np.testing.assert_allclose(backend.to_host(grad), expected_grad, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="kind"):
        backend.kl_sparsity(backend.asarray(mean), 0.01, "gauss", 1e-6, grad)


# ------------------------------------------------------------- memory and lifetime
def test_temporaries_are_allocated_once_per_batch_size(cm):
    net = build_autoencoder(12, [6, 3, 6], backend="cudamat", dtype="float32")
    net.initialize(0)
    fun = net.objective(rand(30, 12, low=0.1, high=0.9))
    fun(net.theta)
    after_first = cm.STATE["allocations"]
    for _ in range(3):
        fun(net.theta)
    assert cm.STATE["allocations"] == after_first
    net.objective(rand(20, 12, low=0.1, high=0.9))(net.theta)  # a new batch size allocates again
    assert cm.STATE["allocations"] > after_first


def test_shutdown_frees_every_matrix_first(cm):
    net = build_autoencoder(12, 5, backend="cudamat", dtype="float32")
    net.objective(rand(10, 12, low=0.1, high=0.9))(net.theta)
    assert cm.STATE["live"]
    _cudamat_array.shutdown()
    assert cm.STATE["events"] == ["cublas_init", "shutdown live=0"]
    del net
    assert "free after shutdown" not in cm.STATE["events"]
    _cudamat_array.shutdown()  # a second call does nothing
    assert cm.STATE["events"].count("shutdown live=0") == 1


def test_shutdown_is_skipped_when_cupy_shares_the_process(cm, monkeypatch):
    get_backend("cudamat", "float32").zeros((3,))
    monkeypatch.setitem(sys.modules, "cupy", object())
    _cudamat_array.shutdown()
    assert not any(event.startswith("shutdown") for event in cm.STATE["events"])


def test_process_exits_cleanly_and_never_imports_cupy():
    script = textwrap.dedent("""
        import atexit, sys
        import numpy as np
        import fake_cudamat
        sys.modules["cudamat"] = fake_cudamat
        atexit.register(lambda: print("events", fake_cudamat.STATE["events"], "cupy" in sys.modules))
        from nnlite.autoencoder import build_autoencoder
        net = build_autoencoder(12, 5, backend="cudamat", dtype="float32")
        net.initialize(0)
        cost, grad = net.objective(np.random.default_rng(0).uniform(0.1, 0.9, (30, 12)))(net.theta)
        print("cost", cost)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, TESTS]))
    env.pop("NNLITE_BACKEND", None)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "events ['cublas_init', 'shutdown live=0'] False" in result.stdout
    assert "invalid resource handle" not in result.stderr
    assert "Exception ignored" not in result.stderr
