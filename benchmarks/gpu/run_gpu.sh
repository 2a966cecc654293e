#!/usr/bin/env bash
# One prepared run of nnlite's GPU checks and benchmarks, from the repository root:
#
#     bash benchmarks/gpu/run_gpu.sh
#
# It prints the GPU and library versions, runs the GPU tests (pytest -m gpu), then
# benchmarks/bench_backends.py.  Results go to $OUT (a temporary folder when unset):
#   gpu_tests.txt              pytest's report of the GPU tests
#   bench_backends_gpu.txt     the benchmark's tables (stdout)
#   bench_backends_gpu.json    the same figures with the machine's description
#   bench_backends_gpu.png     time per evaluation and speed-up against N, CPU and GPU
#   bench_optim_gpu.{txt,json} scipy's L-BFGS-B vs nnlite's L-BFGS: a 400-iteration CuPy training
# Needs python3 with numpy, scipy, scikit-learn, matplotlib, pytest and CuPy; nnlite
# is used from the checkout (PYTHONPATH=.), nothing is installed or downloaded.
# Without a GPU it still runs: the GPU tests are skipped and the benchmark times the
# CPU only (set BENCH_ARGS=--quick to make that short).  Each step has a time limit
# (TEST_TIMEOUT, BENCH_TIMEOUT seconds) so the whole run stays under about 7 minutes.
# Exit status: the GPU tests' if they failed, else the benchmark's (files are written either way).

set -u
set -x
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset NNLITE_BACKEND
PY="${PYTHON:-python3}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
TEST_TIMEOUT="${TEST_TIMEOUT:-150}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-270}"
OPTIM_TIMEOUT="${OPTIM_TIMEOUT:-150}"
START=$(date +%s)

# -------------------------------------------------------------- the machine
nvidia-smi -L || echo "nvidia-smi: no NVIDIA driver here"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" - <<'EOF'
import platform, numpy, scipy, sklearn
print("python", platform.python_version(), "numpy", numpy.__version__, "scipy", scipy.__version__,
      "scikit-learn", sklearn.__version__)
try:
    import cupy
    runtime = cupy.cuda.runtime
    print("cupy", cupy.__version__, "CUDA runtime", runtime.runtimeGetVersion(),
          "driver", runtime.driverGetVersion(), "devices", runtime.getDeviceCount())
except Exception as error:  # no CuPy or no device: the GPU parts are skipped
    print("cupy unavailable:", error)
EOF
nproc
grep -m1 "model name" /proc/cpuinfo || true

# ------------------------------------------------------------ the GPU tests
timeout "$TEST_TIMEOUT" "$PY" -m pytest tests/test_backends.py tests/test_backends_cupy.py \
    tests/test_backends_cudamat.py tests/test_backends_features.py -q -m gpu -rs --tb=short -p no:cacheprovider \
    2>&1 | tee "$OUT/gpu_tests.txt"
TESTS_STATUS=${PIPESTATUS[0]}
echo "GPU tests exit status: $TESTS_STATUS (5 = none collected/selected)"

# ------------------------------------------------------------- the benchmark
# Defaults: N in {1e4, 1e5}, H in {75, 400}, GEMM floor, 400-iteration L-BFGS with CuPy,
# plot over N in {1e3, 3e3, 1e4, 3e4, 1e5} at H = 400.
timeout "$BENCH_TIMEOUT" "$PY" benchmarks/bench_backends.py --min-time 0.5 \
    --json "$OUT/bench_backends_gpu.json" --plot "$OUT/bench_backends_gpu.png" ${BENCH_ARGS:-} \
    2>&1 | tee "$OUT/bench_backends_gpu.txt"
BENCH_STATUS=${PIPESTATUS[0]}
echo "benchmark exit status: $BENCH_STATUS (124 = stopped by the time limit)"

# ------------------------------------------- optimisers: scipy's L-BFGS-B vs nnlite's L-BFGS
timeout "$OPTIM_TIMEOUT" "$PY" benchmarks/bench_optim.py --backend cupy --n 100000 --hidden 400 \
    --json "$OUT/bench_optim_gpu.json" 2>&1 | tee "$OUT/bench_optim_gpu.txt"
echo "optimiser benchmark exit status: ${PIPESTATUS[0]}"

ls -l "$OUT"
echo "total seconds: $(( $(date +%s) - START ))"
if [ "$TESTS_STATUS" -ne 0 ] && [ "$TESTS_STATUS" -ne 5 ]; then  # 5: no GPU test selected
    exit "$TESTS_STATUS"
fi
exit "$BENCH_STATUS"
