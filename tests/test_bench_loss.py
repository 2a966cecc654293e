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


def test_each_timed_call_follows_one_untimed_call_unless_told_otherwise():
    calls = []
    contenders = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    preludes = {"b": lambda: calls.append("prelude of b"), "c": None}
    times = bench_loss.best_times(contenders, repeats=2, preludes=preludes)
    assert set(times) == {"a", "b", "c"} and all(np.isfinite(value) for value in times.values())
    warm_up = ["a", "b", "c"]
    one_repeat = ["a", "a", "prelude of b", "b", "c"]  # untimed a, timed a; prelude, b; c alone
    assert calls == warm_up + one_repeat * 2


def test_stolen_share_reads_the_difference_of_two_readings():
    assert bench_loss.stolen_share((10, 1000), (30, 2000)) == "2.0 %"
    assert bench_loss.stolen_share(None, (30, 2000)) == "?"
    assert bench_loss.stolen_share((10, 1000), (10, 1000)) == "?"
    reading = bench_loss.cpu_ticks()
    if os.path.exists("/proc/stat"):
        stolen, total = reading
        assert 0 <= stolen <= total
