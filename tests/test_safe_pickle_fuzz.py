"""Fuzzing the restricted unpickler: every outcome is a correct load or one PickleDataError.

Valid pickles of the two layouts nnlite reads (the assignment's ``.pk`` dict
and a CIFAR-10 batch; protocols 0, 2, 4 and 5) are corrupted byte by byte,
truncated, and spliced; pickles are also written by hand from the admitted
globals used the wrong way (wrong argument types, impossible shapes, length
fields claiming terabytes, deep nesting).  Whatever the bytes, ``safe_loads``
must return an object or raise :class:`~nnlite.data.PickleDataError`
(:class:`~nnlite.data.UnsafePickleError` is a subclass); no ``TypeError``,
``MemoryError``, ``struct.error``... may escape, and a claimed size is
refused *before* memory is allocated for it (the message says so).

The property-based part uses hypothesis with a fixed, derandomised budget
(a few hundred examples); a seeded loop adds a few thousand plain mutations
and runs the loaders themselves on corrupted files.
"""

import pickle
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnlite.data import PickleDataError, UnsafePickleError, load_assignment_pickle, safe_load
from nnlite.data.cifar10 import read_batch
from nnlite.data.safe_pickle import safe_loads

PROTOCOLS = (0, 2, 4, 5)


def assignment_content():
    rng = np.random.default_rng(0)
    return {"X": rng.integers(0, 256, size=(4, 12), dtype=np.uint8), "y": np.array([1, 2, 1, 2]),
            "class_names": np.array(["cat", "dog"], dtype=object),
            "fold_indices": [np.array([0, 1]), np.array([2, 3])]}


def cifar_content(n=2, row=3072):
    rng = np.random.default_rng(1)
    return {b"batch_label": b"training batch 1 of 5", b"labels": [3, 7][:n] * (n // 2 or 1),
            b"data": rng.integers(0, 256, size=(n, row), dtype=np.uint8),
            b"filenames": [b"a.png", b"b.png"][:n]}


#: (name, bytes, the object they hold): small rows keep the structural bytes a large share.
BASES = [(f"{layout}-p{protocol}", pickle.dumps(content, protocol=protocol), content)
         for protocol in PROTOCOLS
         for layout, content in (("assignment", assignment_content()),
                                 ("cifar", cifar_content(row=6)))]


def equal(a, b):
    """Deep equality of the loaded object and the original (arrays compared by value and dtype)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and bool(np.all(a == b)))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(equal, a, b))
    return a == b


def outcome(data):
    """'loaded' or 'refused'; any other exception fails the test with the bytes that caused it."""
    try:
        safe_loads(data)
    except PickleDataError as error:
        assert str(error), data
        return "refused"
    except Exception as error:  # pragma: no cover - this is the failure being searched for
        pytest.fail(f"{type(error).__name__} escaped the unpickler: {error!r} on {data!r}")
    return "loaded"


def test_bases_load_exactly():
    for name, data, content in BASES:
        assert equal(safe_loads(data), content), name


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(range(len(BASES))), edits=st.lists(
    st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), min_size=1, max_size=6))
def test_byte_corruptions(base, edits):
    data = bytearray(BASES[base][1])
    for position, value in edits:
        data[position % len(data)] = value
    outcome(bytes(data))


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(base=st.sampled_from(range(len(BASES))), cut=st.integers(min_value=0),
       insert=st.binary(max_size=12))
def test_truncations_and_insertions(base, cut, insert):
    data = BASES[base][1]
    cut %= len(data)
    assert outcome(data[:cut]) == "refused"   # a pickle cut short never loads
    outcome(data[:cut] + insert + data[cut:])


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(first=st.sampled_from(range(len(BASES))), second=st.sampled_from(range(len(BASES))),
       a=st.integers(min_value=0), b=st.integers(min_value=0))
def test_splices_of_two_pickles(first, second, a, b):
    x, y = BASES[first][1], BASES[second][1]
    outcome(x[:a % len(x)] + y[b % len(y):])


def test_seeded_mutations_of_the_unpickler_and_the_loaders(tmp_path):
    """Plain seeded mutations: 1,000 through ``safe_loads``, 150 through each loader on a file."""
    rng = np.random.default_rng(20261202)
    counts = {"loaded": 0, "refused": 0}
    for _ in range(1000):
        _, data, _ = BASES[rng.integers(len(BASES))]
        data = bytearray(data)
        for position in rng.integers(0, len(data), size=rng.integers(1, 5)):
            data[position] = rng.integers(0, 256)
        counts[outcome(bytes(data))] += 1
    assert counts["refused"] > 500 and counts["loaded"] > 40   # both paths are exercised

    good = {"assignment": pickle.dumps(assignment_content(), protocol=2),
            "cifar": pickle.dumps(cifar_content(), protocol=2)}
    path = tmp_path / "data.pk"
    for layout, data in good.items():
        structure = len(data) - (6144 if layout == "cifar" else 48)   # bytes outside the pixel data
        for _ in range(150):
            corrupted = bytearray(data)
            for position in rng.integers(0, len(data), size=rng.integers(1, 4)):
                near_structure = position % structure if rng.random() < 0.8 else position
                corrupted[near_structure] = rng.integers(0, 256)
            path.write_bytes(bytes(corrupted))
            try:
                if layout == "assignment":
                    load_assignment_pickle(path, image_shape=(2, 2, 3))
                else:
                    read_batch(str(path))
            except PickleDataError as error:
                assert str(path) in str(error)


# --------------------------------------------------------- hand-made pickles
def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def binint(value):
    return b"J" + struct.pack("<i", value)


RECONSTRUCT = glob("numpy.core.multiarray", "_reconstruct")
NDARRAY = glob("numpy", "ndarray")


def object_array_with_shape(count):
    """A real object-array pickle whose state claims ``count`` elements but lists two."""
    data = pickle.dumps(np.array([1, "a"], dtype=object), protocol=2)
    assert data.count(b"K\x02\x85") == 1
    return data.replace(b"K\x02\x85", b"J" + struct.pack("<i", count) + b"\x85")


#: (what, bytes, a pattern of the refusal; None: must load).
CRAFTED = [
    ("ndarray() of 2**31 float64",
     b"\x80\x02" + NDARRAY + b"(" + binint(2**31 - 1) + b"tU\x02f8\x86R.", "could hold"),
    ("ndarray() of 10**12 elements as a tuple of two",
     b"\x80\x02" + NDARRAY + binint(10**6) + binint(10**6) + b"\x86\x85R.", "could hold"),
    ("_reconstruct with a huge shape",
     b"\x80\x02" + RECONSTRUCT + NDARRAY + binint(2**31 - 1) + b"\x85U\x01b\x87R.", "could hold"),
    ("_reconstruct of a set", b"\x80\x02" + RECONSTRUCT + glob("builtins", "set") + b"K\x00\x85U\x01b\x87R.",
     "ndarray only"),
    ("_reconstruct with a string shape", b"\x80\x02" + RECONSTRUCT + NDARRAY + b"U\x03abcU\x01b\x87R.",
     "PickleDataError|not a readable"),
    ("object array whose shape claims 10**9 elements", object_array_with_shape(10**9), "2 elements"),
    ("object array whose shape claims 3 elements", object_array_with_shape(3), "2 elements"),
    ("object array with a negative shape", object_array_with_shape(-5), "negative"),
    ("scalar of a 2 GB void dtype",
     b"\x80\x02" + glob("numpy.core.multiarray", "scalar") + glob("numpy", "dtype")
     + b"U\x0bV2000000000\x85R\x85R.", "could hold"),
    ("bytearray8 claiming 1 TB", b"\x80\x05\x96" + struct.pack("<Q", 10**12) + b".", "could hold"),
    ("binbytes8 claiming 1 TB", b"\x80\x04\x8e" + struct.pack("<Q", 10**12) + b".", "left in the file"),
    ("binunicode8 claiming 1 TB", b"\x80\x04\x8d" + struct.pack("<Q", 10**12) + b".", "left in the file"),
    ("frame claiming 1 TB", b"\x80\x04\x95" + struct.pack("<Q", 10**12) + b"N.", "left in the file"),
    ("binstring claiming 2 GB", b"\x80\x02T" + struct.pack("<i", 2**31 - 1) + b".", "left in the file"),
    ("long4 claiming 2 GB", b"\x80\x02\x8b" + struct.pack("<i", 2**31 - 1) + b".", "left in the file"),
    ("set(range(2**31))",
     b"\x80\x02" + glob("builtins", "set") + glob("builtins", "range") + binint(2**31 - 1)
     + b"\x85R\x85R.", "list, tuple or set"),
    ("frozenset of an int", b"\x80\x02" + glob("builtins", "frozenset") + binint(5) + b"\x85R.",
     "list, tuple or set"),
    ("bytearray(2**31)", b"\x80\x02" + glob("builtins", "bytearray") + binint(2**31 - 1) + b"\x85R.",
     "bytes or latin-1"),
    ("_codecs.encode with another codec",
     b"\x80\x02" + glob("_codecs", "encode") + b"X\x01\x00\x00\x00aX\x04\x00\x00\x00zlib\x86R.", "latin-1"),
    ("_codecs.encode of bytes", b"\x80\x02" + glob("_codecs", "encode") + b"C\x01aX\x06\x00\x00\x00latin1\x86R.",
     "latin-1"),
    ("dtype of a list of ints", b"\x80\x02" + glob("numpy", "dtype") + b"]K\x01a\x85R.", "not a readable"),
    ("complex of a dict", b"\x80\x02" + glob("builtins", "complex") + b"}\x85R.", "not a readable"),
    ("OrderedDict of a range",
     b"\x80\x02" + glob("collections", "OrderedDict") + glob("builtins", "range") + binint(10**9)
     + b"\x85R\x85R.", "list of pairs"),
    ("BUILD on an admitted global", b"\x80\x02" + NDARRAY + b"}U\x01aK\x01sb.", "not a readable"),
    ("BUILD with an ndarray state of wrong types",
     b"\x80\x02" + RECONSTRUCT + NDARRAY + b"K\x00\x85U\x01b\x87R(K\x01U\x02xxNI00\nNtb.", "not a readable"),
    ("a 5000-digit int (beyond Python's limit)", b"L" + b"9" * 5000 + b"L\n.", "not a readable"),
    ("pop from an empty stack", b"\x80\x020.", "not a readable"),
    ("memo get of nothing", b"\x80\x02h\x05.", "not a readable"),
    ("persistent id", b"\x80\x02X\x01\x00\x00\x00aQ.", "persistent"),
    ("out-of-band buffer", b"\x80\x05\x97.", "not a readable"),
    ("empty input", b"", "not a readable|truncated"),
    ("30,000 nested lists", b"\x80\x02" + b"]" * 30000 + b"a" * 29999 + b".", None),
    ("30,000 nested tuples", b"\x80\x02" + b"(" * 30000 + b"t" * 30000 + b".", None),
]


@pytest.mark.parametrize("what, data, pattern", CRAFTED, ids=[case[0] for case in CRAFTED])
def test_crafted_pickles_from_admitted_names(what, data, pattern):
    if pattern is None:
        assert outcome(data) == "loaded"
        return
    with pytest.raises(PickleDataError, match=pattern):
        safe_loads(data)


def test_forbidden_globals_are_the_same_exception_type():
    with pytest.raises(PickleDataError) as caught:
        safe_loads(b"\x80\x02" + glob("os", "system") + b"U\x02lsR.")
    assert isinstance(caught.value, UnsafePickleError)


def test_file_sizes_bound_claims(tmp_path):
    """A length field is compared with the bytes left in the file, not with what the file says."""
    path = tmp_path / "claims.pk"
    path.write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"x" * 100)
    with pytest.raises(PickleDataError, match=r"claims\.pk.* 1,099,511,627,776 more bytes but only 100 "):
        safe_load(path)


def test_admitted_globals_keep_no_state_between_loads():
    """BUILD cannot plant attributes on the admitted callables (they have no __dict__)."""
    for module, name in (("numpy.core.multiarray", "_reconstruct"), ("builtins", "set")):
        with pytest.raises(PickleDataError):
            safe_loads(b"\x80\x02" + glob(module, name) + b"}U\x05checkK\x01sb.")
    assert safe_loads(pickle.dumps({1, 2}, protocol=2)) == {1, 2}
    np.testing.assert_array_equal(safe_loads(pickle.dumps(np.arange(3), protocol=2)), np.arange(3))
