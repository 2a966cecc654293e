"""The CuPy backend: on a GPU when there is one, and its logic and kernels on the CPU.

Every test runs twice where possible:

* ``gpu``: with the real CuPy on a CUDA device (marked ``gpu``; skipped with
  the reason when CuPy or a device is missing, as in CI);
* ``emulated``: with a stand-in ``cupy`` module -- numpy for the array
  functions, and the backend's own fused-kernel sources (``KERNELS``)
  compiled as C++ with g++ and run through ctypes with CuPy's argument
  conventions (inputs ``const T&``, outputs ``T&``, broadcasting, an input
  that *is* an output is not copied).  That checks the backend's logic and
  the kernels' arithmetic without a GPU (skipped when g++ is absent).

``test_kernel_sources_compile_with_nvcc`` also compiles the kernel bodies for
the device with nvcc where a CUDA toolkit is installed.
"""

import ctypes
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

from nnlite.autoencoder import build_autoencoder
from nnlite.backend import NumpyBackend, get_backend
from nnlite.backend.cupy_backend import KERNELS, cupy_unavailable_reason

from conftest import ARCHITECTURES, assert_gradient_checks, assert_matches_reference

GPU_REASON = cupy_unavailable_reason()
CTYPES = {"float": np.float32, "double": np.float64}


# ------------------------------------------------------------------ kernel sources
def _params(spec):
    return [tuple(part.split()) for part in spec.split(",") if part.strip()]


def kernel_bodies(device=""):
    """C++ template functions, one per fused kernel, with CuPy's parameter kinds.

    For the device (``device='__device__'``) nothing is included, as under
    NVRTC, where CUDA's own float/double overloads of ``exp`` and ``log`` apply;
    on the host the same overloads come from ``<cmath>``.
    """
    lines = [] if device else ["#include <cmath>", "using std::exp; using std::log;"]
    for name, (in_params, out_params, operation) in KERNELS.items():
        params = [f"const T &{n}" for _, n in _params(in_params)]
        params += [f"T &{n}" for _, n in _params(out_params)]
        lines.append(f"template <typename T> {device} inline void body_{name}({', '.join(params)}) "
                     f"{{ {operation}; }}")
    return "\n".join(lines)


def host_library_source():
    """Loops over index arrays calling each body, for float and double."""
    lines = [kernel_bodies()]
    for name, (in_params, out_params, _) in KERNELS.items():
        count = len(_params(in_params)) + len(_params(out_params))
        for ctype in CTYPES:
            args = ", ".join(f"((T*)raw[{j}])[idx[{j}][i]]" for j in range(count))
            lines.append(f'extern "C" void run_{name}_{ctype}(long long n, void** raw, long long** idx) '
                         f"{{ typedef {ctype} T; for (long long i = 0; i < n; ++i) "
                         f"body_{name}<T>({args}); }}")
    return "\n".join(lines)


@pytest.fixture(scope="session")
def kernel_library(tmp_path_factory):
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ is not installed: the fused kernels cannot be emulated on the CPU")
    folder = tmp_path_factory.mktemp("kernels")
    source, library = folder / "kernels.cpp", folder / "kernels.so"
    source.write_text(host_library_source())
    result = subprocess.run([compiler, "-O1", "-shared", "-fPIC", "-o", str(library), str(source)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"the kernel sources do not compile:\n{result.stderr}"
    return ctypes.CDLL(str(library))


class EmulatedKernel:
    """``cupy.ElementwiseKernel`` for the backend's kernels, run on the CPU."""

    def __init__(self, library, in_params, out_params, operation, name):
        self.key = name[len("nnlite_"):]
        assert KERNELS[self.key] == (in_params, out_params, operation), "unknown kernel source"
        self.library, self.n_in = library, len(_params(in_params))
        self.n_out = len(_params(out_params))

    def __call__(self, *args):
        assert len(args) == self.n_in + self.n_out, "outputs must be passed explicitly"
        inputs, outputs = list(args[:self.n_in]), list(args[self.n_in:])
        dtype = next(a.dtype for a in args if isinstance(a, np.ndarray))
        shape = np.broadcast_shapes(*(a.shape for a in inputs if isinstance(a, np.ndarray)))
        for index, value in enumerate(inputs):
            if isinstance(value, np.ndarray):
                if any(value is not out and np.shares_memory(value, out) for out in outputs):
                    inputs[index] = value.copy()  # CuPy copies an input overlapping an output
            elif isinstance(value, np.generic) and value.dtype != dtype:
                raise TypeError(f"Type is mismatched. {value.dtype} {dtype}")
        raws, indices = [], []
        for value in inputs + outputs:
            array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
            if isinstance(value, np.ndarray):
                if value.dtype != dtype:
                    raise TypeError(f"Type is mismatched. {value.dtype} {dtype}")
                if any(value is out for out in outputs):
                    assert value.shape == shape and value.flags.c_contiguous
                    array = value
            index = np.broadcast_to(np.arange(array.size).reshape(array.shape), shape)
            raws.append(array)
            indices.append(np.ascontiguousarray(index.reshape(-1), dtype=np.int64))
        ctype = {np.float32: "float", np.float64: "double"}[dtype.type]
        count = len(raws)
        run = getattr(self.library, f"run_{self.key}_{ctype}")
        run(ctypes.c_longlong(int(np.prod(shape))),
            (ctypes.c_void_p * count)(*[a.ctypes.data for a in raws]),
            (ctypes.c_void_p * count)(*[i.ctypes.data for i in indices]))
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def emulated_cupy(library):
    """A ``cupy`` stand-in: numpy functions, emulated kernels, one fake device."""
    module = types.ModuleType("cupy")
    for name in ("ndarray", "asarray", "ascontiguousarray", "dot", "add", "subtract", "empty",
                 "zeros", "full", "sum", "float32", "float64"):
        setattr(module, name, getattr(np, name))

    def asnumpy(array, out=None):
        if out is None:
            return np.array(array)
        np.copyto(out, array)
        return out

    module.asnumpy = asnumpy
    module.ElementwiseKernel = lambda *spec: EmulatedKernel(library, *spec)
    module.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
                                        alloc_pinned_memory=bytearray)
    return module


@pytest.fixture(scope="session")
def emulated_module(kernel_library):
    return emulated_cupy(kernel_library)


@pytest.fixture(params=["emulated", pytest.param("gpu", marks=[
    pytest.mark.gpu, pytest.mark.skipif(GPU_REASON is not None, reason=f"no GPU: {GPU_REASON}")])])
def where(request, monkeypatch):
    """Run the test with the emulated CuPy, or with the real one on a GPU."""
    if request.param == "emulated":
        monkeypatch.setitem(sys.modules, "cupy", request.getfixturevalue("emulated_module"))
    return request.param


# --------------------------------------------------------------- whole networks
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden, activation", ARCHITECTURES)
def test_cost_and_gradient_match_numpy(where, dtype, hidden, activation):
    net = assert_matches_reference("cupy", dtype, hidden, activation)
    assert type(net.backend).__name__ == "CupyBackend"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden, activation", [ARCHITECTURES[1], ARCHITECTURES[3]])
def test_gradient_checks(where, dtype, hidden, activation):
    assert_gradient_checks("cupy", dtype, hidden, activation)


# ------------------------------------------------------------- single operations
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["sigmoid", "relu", "identity"])
def test_fused_activations_match_numpy(where, dtype, name):
    backend, reference = get_backend("cupy", dtype), NumpyBackend(dtype)
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(7, 5)), rng.normal(size=(3, 5)), rng.normal(size=3)
    x, w, b = (v.astype(dtype) for v in (x, w, b))

    def on(host):  # a fresh device copy (the emulated asarray may reuse a host array)
        return backend.asarray(host.copy())

    expected = reference.activate_(name, reference.linear(x, w, b, np.empty((7, 3), dtype)))
    plain = backend.activate_(name, backend.linear(on(x), on(w), on(b), backend.empty((7, 3))))
    fused = backend.linear_activate(on(x), on(w), on(b), name, backend.empty((7, 3)))
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for got in (plain, fused):
        np.testing.assert_allclose(backend.to_host(got), expected, rtol=rtol, atol=rtol)
    delta, row = rng.normal(size=(7, 3)).astype(dtype), rng.normal(size=3).astype(dtype)
    expected_delta = reference.mul_derivative_(name, expected, reference.add_row_(delta.copy(), row),
                                               np.empty((7, 3), dtype))
    got = backend.mul_derivative_(name, on(expected), backend.add_row_(on(delta), on(row)), None)
    got_fused = backend.add_row_mul_derivative_(name, on(expected), on(delta), on(row), None)
    for result in (got, got_fused):
        np.testing.assert_allclose(backend.to_host(result), expected_delta, rtol=rtol, atol=rtol)
    with pytest.raises(ValueError, match="unknown activation"):
        backend.activate_("tanh", on(x))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_fused_kl_and_axpy_match_numpy(where, dtype, kind):
    backend, reference = get_backend("cupy", dtype), NumpyBackend(dtype)
    mean = np.array([0.0, 1e-13, 0.005, 0.01, 0.3, 0.99, 1.0 if kind == "bernoulli" else 2.5],
                    dtype=dtype)
    eps = 1e-12 if dtype == "float64" else 1e-6
    out, expected_out = backend.empty((7,)), np.empty(7, dtype)
    value = backend.to_float(backend.kl_sparsity(backend.asarray(mean), 0.01, kind, eps, out))
    expected = float(reference.kl_sparsity(mean, 0.01, kind, eps, expected_out))
    rtol = 1e-12 if dtype == "float64" else 1e-5
    assert value == pytest.approx(expected, rel=rtol)
    np.testing.assert_allclose(backend.to_host(out), expected_out, rtol=rtol, atol=rtol)
    x, y = np.arange(5, dtype=dtype), np.ones(5, dtype=dtype)
    got = backend.axpy_(0.5, backend.asarray(x), backend.asarray(y))
    np.testing.assert_allclose(backend.to_host(got), 1 + 0.5 * x, rtol=rtol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_theta_in_and_gradient_out(where, dtype):
    backend = get_backend("cupy", dtype)
    flat = backend.zeros((6,))
    theta = np.linspace(-1, 1, 6)
    backend.load_flat(theta, flat)
    view = backend.view(flat, 2, (2, 2))
    view *= 2
    out = np.empty(6)
    backend.store_flat(flat, out)
    np.testing.assert_allclose(out, np.r_[theta[:2], 2 * theta[2:]], rtol=1e-7)
    assert backend.to_host(backend.asarray(theta)).dtype == np.dtype(dtype)
    sums = backend.column_sum(backend.asarray(np.ones((4, 3))), backend.empty((3,)), 0.25)
    np.testing.assert_allclose(backend.to_host(sums), np.ones(3))


# ------------------------------------------------------------------- GPU only
@pytest.mark.gpu
@pytest.mark.skipif(GPU_REASON is not None, reason=f"no GPU: {GPU_REASON}")
def test_evaluations_allocate_nothing_after_the_first():
    import cupy

    net = build_autoencoder(192, 75, backend="cupy", dtype="float32")
    net.initialize(0)
    fun = net.objective(np.random.default_rng(0).uniform(0.1, 0.9, (2000, 192)))
    pool = cupy.get_default_memory_pool()
    fun(net.theta)
    used = pool.used_bytes()
    for _ in range(3):
        fun(net.theta)
    assert pool.used_bytes() == used


# ------------------------------------------------------------------ sources
def test_kernel_sources_compile_with_nvcc(tmp_path):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc (CUDA toolkit) is not installed")
    lines = [kernel_bodies(device="__device__")]
    for name, (in_params, out_params, _) in KERNELS.items():
        count = len(_params(in_params)) + len(_params(out_params))
        for ctype in CTYPES:
            args = ", ".join(f"p[{j}]" for j in range(count))
            lines.append(f"__global__ void check_{name}_{ctype}({ctype}* p) "
                         f"{{ body_{name}<{ctype}>({args}); }}")
    source = tmp_path / "kernels.cu"
    source.write_text("\n".join(lines))
    result = subprocess.run([nvcc, "-c", "-o", str(tmp_path / "kernels.o"), str(source)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
