"""The cost benchmark's harness: what it times after what, and its machine readings.

``benchmarks/bench_loss.py`` is a script, not part of the package; its ratios
are only as fair as the order of calls it makes, which is checked here.
"""

import importlib.util
import os

import numpy as np

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks", "bench_loss.py")
_SPEC = importlib.util.spec_from_file_location("bench_loss", _PATH)
bench_loss = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench_loss)


def test_each_timed_call_follows_untimed_calls_unless_told_otherwise():
    calls = []
    contenders = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    preludes = {"b": lambda: calls.append("prelude of b")}
    times = bench_loss.best_times(contenders, repeats=2, preludes=preludes, cold={"c"})
    assert set(times) == {"a", "b", "c"} and all(np.isfinite(value) for value in times.values())
    warm_up = ["a", "b", "c"]
    # untimed a, timed a; untimed b, prelude, timed b; timed c alone
    one_repeat = ["a", "a", "b", "prelude of b", "b", "c"]
    assert calls == warm_up + one_repeat * 2


def test_untimed_calls_last_the_warm_time():
    calls = []
    bench_loss.best_times({"a": lambda: calls.append(bench_loss.time.perf_counter())}, repeats=1, warm=0.05)
    untimed, timed = calls[1:-1], calls[-1]  # calls[0] is the first warm-up
    assert len(untimed) > 1
    assert timed - untimed[0] >= 0.05 - 1e-3  # the timed call comes after warm seconds of untimed ones


def test_stolen_share_reads_the_difference_of_two_readings():
    assert bench_loss.stolen_share((10, 1000), (30, 2000)) == "2.0 %"
    assert bench_loss.stolen_share(None, (30, 2000)) == "?"
    assert bench_loss.stolen_share((10, 1000), (10, 1000)) == "?"
    reading = bench_loss.cpu_ticks()
    if os.path.exists("/proc/stat"):
        stolen, total = reading
        assert 0 <= stolen <= total
