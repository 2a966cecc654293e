"""Describe the machine a benchmark ran on (CPU, BLAS, GPU) and limit its CPU threads.

Used by ``benchmarks/bench_backends.py``; importing this module does not import CuPy
(``gpu_description`` does, when a GPU can be used).
"""

import os
import platform

import numpy as np

from nnlite.backend import NumpyBackend
from nnlite.backend.cupy_backend import cupy_unavailable_reason


def cpu_model():
    """The CPU model name from /proc/cpuinfo (or platform's guess)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_description():
    """numpy's BLAS library and its current thread count (through threadpoolctl when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"library": "unknown", "threads": None}
    pools = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
    return {"library": ", ".join(f"{p.get('internal_api')} {p.get('version')}" for p in pools),
            "threads": max((p["num_threads"] for p in pools), default=None)}


def gpu_description():
    """GPU name, memory and library versions through CuPy, or None without one."""
    if cupy_unavailable_reason() is not None:
        return None
    import cupy

    runtime = cupy.cuda.runtime
    properties = runtime.getDeviceProperties(0)
    name = properties["name"]
    return {"name": name.decode() if isinstance(name, bytes) else str(name),
            "memory_gib": round(properties["totalGlobalMem"] / 2 ** 30, 1), "cupy": cupy.__version__,
            "cuda_runtime": runtime.runtimeGetVersion(), "cuda_driver": runtime.driverGetVersion()}


def machine_description():
    """What the timings were measured on."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model(), "logical_cores": os.cpu_count(), "usable_cores": affinity,
            "python": platform.python_version(), "numpy": np.__version__,
            "blas": blas_description(), "elementwise_threads": NumpyBackend().n_threads,
            "platform": platform.platform(), "gpu": gpu_description(),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}


def limit_cpu_threads(threads):
    """Limit numpy's BLAS (threadpoolctl) and the numpy backend's element-wise pool to ``threads``."""
    os.environ["NNLITE_NUM_THREADS"] = str(threads)  # read by NumpyBackend when it is created
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return (f"element-wise passes limited to {threads} thread(s); threadpoolctl is not "
                f"installed, so BLAS threads are not (pip install nnlite[bench])")
    threadpool_limits(limits=threads, user_api="blas")
    return f"numpy's BLAS and element-wise passes limited to {threads} thread(s)"
