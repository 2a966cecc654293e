"""nnlite.memory: the available-memory probe and the check made before large allocations."""

import numpy as np
import pytest

from nnlite import memory
from nnlite.memory import (InsufficientMemoryError, array_nbytes, available_memory, check_allocation,
                           check_array_allocation, format_bytes)


def test_available_memory_is_a_plausible_byte_count():
    available = available_memory()
    assert available is None or (isinstance(available, int) and 2**20 < available < 2**60)


def test_fallbacks_when_proc_is_missing(monkeypatch):
    monkeypatch.setattr(memory, "_meminfo_available", lambda: None)
    monkeypatch.setattr(memory, "_cgroup_headroom", lambda: None)
    monkeypatch.setattr(memory, "_sysconf_available", lambda: 12345678)
    monkeypatch.setattr(memory, "_windows_available", lambda: 12345678)
    assert available_memory() == 12345678
    monkeypatch.setattr(memory, "_sysconf_available", lambda: None)
    monkeypatch.setattr(memory, "_windows_available", lambda: None)
    assert available_memory() is None
    assert check_allocation(10**30, "anything") == 10**30   # unknown: never refuses


def test_a_cgroup_limit_caps_meminfo(monkeypatch):
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 64 * 2**30)
    monkeypatch.setattr(memory, "_cgroup_headroom", lambda: 2 * 2**30)
    assert available_memory() == 2 * 2**30


@pytest.mark.parametrize("nbytes, text", [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"),
                                          (22.1 * 2**30, "22.1 GiB"), (1.5 * 2**50, "1.5 PiB"),
                                          (2**70, "1.02e+03 EiB")])
def test_format_bytes(nbytes, text):
    assert format_bytes(nbytes) == text


def test_array_nbytes_does_not_overflow():
    assert array_nbytes((10**12, 192), "float64") == 10**12 * 192 * 8
    assert array_nbytes(5, np.uint8) == 5


def test_the_message_names_the_work_the_need_and_the_machine():
    with pytest.raises(InsufficientMemoryError) as caught:
        check_allocation(10**12 * 192 * 8, "sampling 1000000000000 patches of 192 values",
                         dtype="float64", available=int(22.1 * 2**30), fraction=1.0)
    assert str(caught.value) == ("sampling 1000000000000 patches of 192 values needs 1.36 PiB (float64); "
                                 "this machine has 22.1 GiB available: ask for fewer")
    assert isinstance(caught.value, ValueError) and not isinstance(caught.value, MemoryError)
    assert caught.value.nbytes == 10**12 * 192 * 8 and caught.value.available == int(22.1 * 2**30)


def test_fraction_and_limits():
    assert check_allocation(80, "x", available=100) == 80
    with pytest.raises(InsufficientMemoryError, match=r"at most 80% .*: fewer, please"):
        check_allocation(81, "x", available=100, advice="fewer, please")
    assert check_allocation(100, "x", available=100, fraction=1.0) == 100
    for fraction in (0, 1.5, -1):
        with pytest.raises(ValueError, match="fraction"):
            check_allocation(1, "x", fraction=fraction)
    with pytest.raises(ValueError, match="nbytes"):
        check_allocation(-1, "x")


def test_check_array_allocation_uses_the_live_probe(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    assert check_array_allocation((10, 10), np.float64, "a small array") == 800
    with pytest.raises(InsufficientMemoryError, match=r"theta of 1000 values needs 7.81 KiB \(float64\)"):
        check_array_allocation(1000, "float64", "theta of 1000 values")
