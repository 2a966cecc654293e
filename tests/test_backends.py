"""Backends agree with numpy float64: registry, environment variable, errors, numpy float32, CUDAMat.

The CUDAMat adapter runs here against ``tests/fake_cudamat.py`` (CUDAMat
cannot be installed without a GPU); CuPy has its own file,
``tests/test_backends_cupy.py``.  The comparisons both use, and the
``fake_cudamat`` fixture, are in ``tests/conftest.py``.
"""

import multiprocessing
import os
import sys
import warnings

import numpy as np
import pytest

from nnlite.autoencoder import build_autoencoder
from nnlite.backend import BACKENDS, ENV_VARIABLE, ArrayBackend, NumpyBackend, get_backend
from nnlite.backend import numpy_backend
from nnlite.backend.base import DenseStep
from nnlite.backend.row_pool import RowPool, blas_threads

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


# ------------------------------------------- numpy: row blocks on several threads
@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 7 rows, so that the small test arrays are cut into several."""
    monkeypatch.setattr(numpy_backend, "BLOCK_BYTES", 1)
    monkeypatch.setattr(numpy_backend, "SPLIT_BYTES", 1)
    monkeypatch.setattr(numpy_backend, "MIN_BLOCK_ROWS", 7)


def test_row_blocks_cover_the_rows_whatever_the_sizes():
    for n_rows in (0, 1, 63, 64, 65, 1000):
        blocks = numpy_backend.row_blocks(n_rows, 192, 8, target_bytes=64 * 192 * 8)
        covered = np.concatenate([np.arange(n_rows)[block] for block in blocks])
        assert np.array_equal(covered, np.arange(n_rows))
        assert len({block.stop - block.start for block in blocks[:-1]}) <= 1


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden, activation", ARCHITECTURES)
def test_numpy_blocks_on_threads_pass_gradient_checks(small_blocks, dtype, hidden, activation):
    assert_gradient_checks(NumpyBackend(dtype, n_threads=3), dtype, hidden, activation)


@pytest.mark.parametrize("hidden, activation", ARCHITECTURES)
def test_numpy_blocks_on_threads_match_reference(small_blocks, hidden, activation):
    assert_matches_reference(NumpyBackend("float64", n_threads=2), "float64", hidden, activation)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_results_are_the_same_bytes_on_every_run_and_thread_count(small_blocks, dtype):
    data = sample_data(n_samples=300)
    results = []
    for n_threads in (1, 2, 4, 2):
        net = build_autoencoder(VISIBLE, [8, 4, 8], backend=NumpyBackend(dtype, n_threads=n_threads))
        net.initialize(3)
        fun = net.objective(data)
        for _ in range(2):
            cost, grad = fun(net.theta.copy())
            results.append((np.float64(cost).tobytes(), grad.tobytes()))
    assert all(result == results[0] for result in results)


def _op_arguments(rng, dtype, rows=45, n_in=11, n_out=6):
    draw = lambda *shape: rng.uniform(0.05, 0.95, shape).astype(dtype)  # noqa: E731
    return {"x": draw(rows, n_in), "w": draw(n_out, n_in) - 0.5, "b": draw(n_out) - 0.5,
            "a": draw(rows, n_out), "d": draw(rows, n_out) - 0.5, "t": draw(rows, n_out),
            "row": draw(n_out) - 0.5}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_threads", [1, 3])
def test_numpy_blocked_ops_equal_the_reference_ops(small_blocks, dtype, n_threads):
    rng = np.random.default_rng(0)
    args = _op_arguments(rng, dtype)
    x, w, b, a, d, t, row = (args[key] for key in ("x", "w", "b", "a", "d", "t", "row"))
    blocked, reference = NumpyBackend(dtype, n_threads=n_threads), ArrayBackend(dtype)
    rtol = 1e-13 if dtype == "float64" else 1e-5  # partial sums are added in another order

    def both(call, arrays, out_shape=None):
        """``call(backend, copies, out)`` on both backends; arrays and ``out`` must agree after."""
        results = []
        for backend in (blocked, reference):
            copies = [array.copy() for array in arrays]
            out = np.full(out_shape, np.nan, dtype=dtype) if out_shape is not None else None
            results.append((call(backend, copies, out), copies, out))
        (value, copies, out), (ref_value, ref_copies, ref_out) = results
        for got, expected in zip(copies + [out], ref_copies + [ref_out]):
            if expected is not None:
                scale = float(np.max(np.abs(expected), initial=0.0))
                np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale)
        return value, ref_value

    for name in ("sigmoid", "relu", "identity"):
        both(lambda be, c, o: be.linear_activate(c[0], c[1], c[2], name, o), [x, w, b], a.shape)
        both(lambda be, c, o: be.activate_(name, c[0]), [d])
        both(lambda be, c, o: be.mul_derivative_(name, c[0], c[1], np.empty_like(a)), [a, d])
        both(lambda be, c, o: be.add_row_mul_derivative_(name, c[0], c[1], c[2], np.empty_like(a)),
             [a, d, row])
        for with_row in (False, True):
            for with_delta_in in (False, True):
                grads = {}

                def backward(be, c, o, name=name, with_row=with_row, with_delta_in=with_delta_in):
                    grads[be] = (np.full(w.shape, np.nan, dtype), np.full(b.shape, np.nan, dtype))
                    return be.dense_backward(name, c[0], c[1], c[2], c[3], *grads[be],
                                             o if with_delta_in else None, 0.25, np.empty_like(a),
                                             c[4] if with_row else None)

                both(backward, [x, a, d, w, row], x.shape)
                for got, expected in zip(grads[blocked], grads[reference]):
                    scale = float(np.max(np.abs(expected)))
                    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale)
    both(lambda be, c, o: be.linear(c[0], c[1], c[2], o), [x, w, b], a.shape)
    both(lambda be, c, o: be.add_row_(c[0], c[1]), [d, row])
    both(lambda be, c, o: be.weight_grad(c[0], c[1], o, 0.25), [d, x], w.shape)
    both(lambda be, c, o: be.backprop(c[0], c[1], o), [d, w], x.shape)
    both(lambda be, c, o: be.column_sum(c[0], o, 0.5), [d], b.shape)
    value, ref_value = both(lambda be, c, o: be.squared_error(c[0], c[1], c[2]), [a, t, d])
    assert value == pytest.approx(ref_value, rel=rtol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_threads", [1, 3])
def test_numpy_fused_output_step_equals_the_reference_ops(small_blocks, dtype, n_threads):
    rng = np.random.default_rng(1)
    args = _op_arguments(rng, dtype)
    x, w, b, t = (args[key] for key in ("x", "w", "b", "t"))
    # The layer below: inputs u (45 x 3), weights v (11 x 3), outputs x (45 x 11).
    u, v = rng.uniform(0.05, 0.95, (45, 3)).astype(dtype), rng.uniform(-0.5, 0.5, (11, 3)).astype(dtype)
    row_below = x[0] - 0.5
    rtol = 1e-13 if dtype == "float64" else 1e-5  # partial sums are added in another order
    for name in ("sigmoid", "relu", "identity"):
        for case in ("no delta_in", "delta_in", "below", "below, no row", "below with delta_in"):
            results = []
            for backend in (NumpyBackend(dtype, n_threads=n_threads), ArrayBackend(dtype)):
                grads = (np.full(w.shape, np.nan, dtype), np.full(b.shape, np.nan, dtype))
                delta_in = None if case == "no delta_in" else np.full(x.shape, np.nan, dtype)
                below, below_out = None, ()
                if case.startswith("below"):
                    below_out = (np.full(v.shape, np.nan, dtype), np.full(x.shape[1], np.nan, dtype),
                                 np.full(u.shape, np.nan, dtype) if case.endswith("delta_in") else None)
                    below = DenseStep(name, u, x, delta_in, v, below_out[0], below_out[1], below_out[2], 0.5,
                                      np.empty_like(x), None if case.endswith("no row") else row_below)
                value = backend.dense_squared_error(name, x.copy(), w.copy(), b.copy(), t.copy(),
                                                    np.empty_like(t), np.empty_like(t), *grads,
                                                    delta_in, 0.25, np.empty_like(t), below)
                kept = grads + ((delta_in,) if below is None else below_out)
                results.append((value, kept))
            (value, kept), (ref_value, ref_kept) = results
            assert value == pytest.approx(ref_value, rel=rtol)
            for got, expected in zip(kept, ref_kept):
                if expected is not None:
                    assert not np.isnan(got).any()
                    scale = float(np.max(np.abs(expected)))
                    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden, fused", [(5, 2), ([8, 4, 8], 2)])
def test_network_fused_top_layers_give_the_same_bytes_as_separate_calls(small_blocks, monkeypatch, dtype,
                                                                        hidden, fused):
    data = sample_data(n_samples=300)
    net = build_autoencoder(VISIBLE, hidden, backend=NumpyBackend(dtype, n_threads=2))
    net.initialize(5)
    assert net._fused_layers() == fused
    results = []
    for layers in (fused, 1, 0):
        monkeypatch.setattr(type(net), "_fused_layers", lambda self, layers=layers: layers)
        cost, grad = net.objective(data)(net.theta.copy())
        results.append((np.float64(cost).tobytes(), grad.tobytes()))
    assert results[0] == results[1] == results[2]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_threads", [1, 3])
def test_numpy_forward_with_column_sums_equals_the_separate_calls(small_blocks, dtype, n_threads):
    rng = np.random.default_rng(2)
    args = _op_arguments(rng, dtype)
    x, w, b = (args[key] for key in ("x", "w", "b"))
    rtol = 1e-13 if dtype == "float64" else 1e-5  # partial sums are added in another order
    for name in ("sigmoid", "relu", "identity"):
        backend = NumpyBackend(dtype, n_threads=n_threads)
        separate = backend.linear_activate(x, w, b, name, np.full((x.shape[0], w.shape[0]), np.nan, dtype))
        for reference in (backend, ArrayBackend(dtype)):
            out, sums = np.full_like(separate, np.nan), np.full(w.shape[0], np.nan, dtype)
            assert reference.linear_activate_column_sum(x, w, b, name, out, sums, 0.25) is out
            if reference is backend:  # the same blocks and arithmetic: the same bytes
                assert out.tobytes() == separate.tobytes()
            np.testing.assert_allclose(out, separate, rtol=rtol, atol=rtol)
            np.testing.assert_allclose(sums, 0.25 * separate.sum(axis=0, dtype=np.float64), rtol=rtol * 10)


@pytest.mark.parametrize("hidden", [5, [8, 4, 8]])
def test_network_takes_the_mean_activations_in_the_forward_pass(small_blocks, monkeypatch, hidden):
    """The KL penalty reads the means the forward step took: no second pass over the activations."""
    data = sample_data(n_samples=300)
    backend = NumpyBackend("float64", n_threads=2)
    net = build_autoencoder(VISIBLE, hidden, backend=backend)
    net.initialize(5)
    n_hidden = len(net.layers) - 1
    assert [net._takes_means(index) for index in range(len(net.layers))] == [True] * n_hidden + [False]
    summed, original = [], NumpyBackend.column_sum

    def column_sum(self, array, out, scale=1.0):
        summed.append(array.shape)
        return original(self, array, out, scale)

    monkeypatch.setattr(NumpyBackend, "column_sum", column_sum)
    cost, grad = net.objective(data)(net.theta.copy())
    assert all(shape[0] == 1 for shape in summed) and len(summed) == n_hidden
    # The same cost and gradient as when every hidden layer's forward step is the plain one.
    monkeypatch.setattr(type(net), "_takes_means", lambda self, index: False)
    summed.clear()
    plain_cost, plain_grad = net.objective(data)(net.theta.copy())
    assert [shape[0] for shape in summed] == [300] * n_hidden
    assert cost == pytest.approx(plain_cost, rel=1e-13)
    np.testing.assert_allclose(grad, plain_grad, rtol=1e-11, atol=1e-14)


def test_thread_buffer_reuses_memory_per_thread_and_grows():
    import threading

    first = numpy_backend.thread_buffer("test", (4, 3), np.float64)
    assert first.shape == (4, 3) and first.flags.c_contiguous
    assert numpy_backend.thread_buffer("test", (4, 3), np.float64) is first  # the same view, no new work
    smaller = numpy_backend.thread_buffer("test", (2, 3), np.float64)
    assert np.shares_memory(smaller, first) and smaller.shape == (2, 3)
    assert not np.shares_memory(numpy_backend.thread_buffer("other", (4, 3), np.float64), first)
    grown = numpy_backend.thread_buffer("test", (40, 3), np.float64)
    assert grown.shape == (40, 3) and not np.shares_memory(grown, first)
    again = numpy_backend.thread_buffer("test", (4, 3), np.float64)  # now a view of the grown buffer
    assert again is not first and np.shares_memory(again, grown)
    elsewhere = []
    thread = threading.Thread(target=lambda: elsewhere.append(numpy_backend.thread_buffer("test", (4, 3), np.float64)))
    thread.start()
    thread.join()
    assert not np.shares_memory(elsewhere[0], grown)
    for count in range(1, 121):  # 120 shapes within the grown buffer: the view cache stays bounded
        view = numpy_backend.thread_buffer("test", (1, count), np.float64)
        assert np.shares_memory(view, grown) and view.shape == (1, count)
    assert len(numpy_backend._LOCAL.views) <= numpy_backend._MAX_VIEWS


def test_numpy_sigmoid_saturates_without_warnings(small_blocks):
    backend = NumpyBackend("float64", n_threads=2)
    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]] * 20)
    out = np.empty_like(z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warning would fail the test
        backend.linear_activate(z, np.eye(5), np.zeros(5), "sigmoid", out)
    assert np.array_equal(out[0], [0.0, 1.0 / (1.0 + np.exp(50.0)), 0.5, 1.0 / (1.0 + np.exp(-50.0)), 1.0])


def test_row_pool_holds_blas_at_one_thread_and_reraises():
    before, seen = blas_threads(), []
    pool = RowPool(3)
    try:
        pool.run(lambda index: seen.append((index, blas_threads())), 9)
        assert sorted(seen) == [(index, 1) for index in range(9)]
        assert blas_threads() == before

        def fail(index):
            if index == 4:
                raise ArithmeticError(f"block {index}")

        with pytest.raises(ArithmeticError, match="block 4"):
            pool.run(fail, 9)
        assert blas_threads() == before
    finally:
        pool.close()


def _evaluate_in_child(connection, n_threads):
    net = build_autoencoder(VISIBLE, 5, backend=NumpyBackend("float64", n_threads=n_threads))
    net.initialize(3)
    connection.send(net.objective(sample_data(n_samples=300))(net.theta.copy())[1].tobytes())
    connection.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_numpy_pool_starts_afresh_in_a_forked_child(small_blocks):
    net = build_autoencoder(VISIBLE, 5, backend=NumpyBackend("float64", n_threads=2))
    net.initialize(3)
    expected = net.objective(sample_data(n_samples=300))(net.theta.copy())[1].tobytes()  # pool now exists
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_evaluate_in_child, args=(sender, 2), daemon=True)
    child.start()
    try:
        assert receiver.poll(60), "the forked child hung (its pool's helper threads did not exist)"
        assert receiver.recv() == expected
    finally:
        child.terminate()
        child.join(10)


def test_numpy_thread_count_is_checked(monkeypatch):
    assert NumpyBackend(n_threads=2).threads() == 2
    for bad in (0, -1, True, 1.5, "2"):
        with pytest.raises((ValueError, TypeError), match="n_threads"):
            NumpyBackend(n_threads=bad)
    monkeypatch.setenv("NNLITE_NUM_THREADS", "3")
    assert NumpyBackend().threads() == 3
    monkeypatch.setenv("NNLITE_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="NNLITE_NUM_THREADS.*many"):
        NumpyBackend()
    monkeypatch.setenv("NNLITE_NUM_THREADS", "")
    assert NumpyBackend().threads() == blas_threads()


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
