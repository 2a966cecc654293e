"""Restricted unpickler and the assignment's dict pickles (train.pk / test.pk / unlabeled.pk)."""

import os
import pickle

import numpy as np
import pytest

from nnlite.data import UnsafePickleError, load_assignment_pickle, load_dataset, safe_load
from nnlite.data.safe_pickle import safe_loads
from nnlite.data.stl10 import rows_to_stl


class RunsCommand:
    """Pickles as a call of os.system: loading it with pickle.load would run the command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_malicious_pickle_is_refused_before_it_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "train.pk"
    payload = {"X": np.zeros((1, 12), np.uint8), "y": RunsCommand(f"touch {marker}")}
    path.write_bytes(pickle.dumps(payload, protocol=protocol))
    with pytest.raises(UnsafePickleError, match=r"system") as caught:
        load_assignment_pickle(path, image_shape=(2, 2, 3))
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert not marker.exists()


def test_other_forbidden_globals_are_named(tmp_path):
    for obj, name in [(eval, "builtins.eval"), (getattr, "builtins.getattr"),
                      (np.load, "numpy.load")]:
        with pytest.raises(UnsafePickleError, match=name.replace(".", r"\.")):
            safe_loads(pickle.dumps({"f": obj}))
    with pytest.raises(UnsafePickleError, match="persistent"):
        safe_loads(b"\x80\x02P1\n.")  # PERSID opcode


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_arrays_and_containers_load(protocol):
    content = {"X": np.arange(12, dtype=np.uint8).reshape(2, 6), "f": np.ones((2, 2), order="F"),
               "o": np.array(["a", 1], dtype=object), "s": np.float32(2.5), "t": (1, [2], {3}),
               "b": b"\x00\xff", "n": None, "c": 1 + 2j, "names": np.array(["cat", "dog"])}
    loaded = safe_loads(pickle.dumps(content, protocol=protocol))
    for key in ("X", "f", "names"):
        np.testing.assert_array_equal(loaded[key], content[key])
    assert loaded["o"].tolist() == ["a", 1] and loaded["s"] == np.float32(2.5)
    assert loaded["t"] == (1, [2], {3}) and loaded["b"] == b"\x00\xff" and loaded["c"] == 1 + 2j


def test_not_a_pickle_and_missing_file(tmp_path):
    path = tmp_path / "x.pk"
    path.write_bytes(b"hello world")
    with pytest.raises(ValueError, match="x.pk"):
        safe_load(path)
    with pytest.raises(FileNotFoundError, match="missing.pk"):
        safe_load(tmp_path / "missing.pk")


def hwc_images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 96, 96, 3), dtype=np.uint8)


def write(path, content, protocol=2):
    path.write_bytes(pickle.dumps(content, protocol=protocol))
    return path


def test_train_pickle_rows_labels_names_folds(tmp_path):
    hwc = hwc_images(6)
    folds = [np.array([0, 1, 2]), np.array([3, 4, 5])]
    path = write(tmp_path / "train.pk", {"X": hwc.reshape(6, -1), "y": np.arange(6) % 3,
                                         "class_names": ["a", "b", "c"], "fold_indices": folds})
    data = load_assignment_pickle(path)
    np.testing.assert_array_equal(data.images, hwc.reshape(6, -1))
    assert data.images.dtype == np.uint8 and data.image_shape == (96, 96, 3)
    np.testing.assert_array_equal(data.labels, np.arange(6) % 3)
    assert data.class_names == ["a", "b", "c"] and data.name == "pickle-train"
    np.testing.assert_array_equal(data.folds[1], folds[1])


def test_layouts_stl_and_4d(tmp_path):
    hwc = hwc_images(3, seed=1)
    rows = hwc.reshape(3, -1)
    stl = write(tmp_path / "a.pk", {"X": rows_to_stl(rows)})
    np.testing.assert_array_equal(load_assignment_pickle(stl, layout="stl").images, rows)
    assert not np.array_equal(load_assignment_pickle(stl).images, rows)  # 'rows' is the default
    as_4d = write(tmp_path / "b.pk", {"X": hwc}, protocol=4)
    np.testing.assert_array_equal(load_assignment_pickle(as_4d).images, rows)
    chw = write(tmp_path / "c.pk", {"X": hwc.transpose(0, 3, 1, 2)}, protocol=5)
    np.testing.assert_array_equal(load_assignment_pickle(chw).images, rows)
    with pytest.raises(ValueError, match="layout"):
        load_assignment_pickle(stl, layout="columns")


def test_python2_style_bytes_keys_and_one_based_labels(tmp_path):
    hwc = hwc_images(4, seed=2)
    path = write(tmp_path / "test.pk", {b"X": hwc.reshape(4, -1), b"y": np.array([[1], [2], [3], [2]]),
                                        b"class_names": [b"x", b"y", b"z"]})
    data = load_assignment_pickle(path)
    np.testing.assert_array_equal(data.labels, [0, 1, 2, 1])
    assert data.class_names == ["x", "y", "z"]
    kept = load_assignment_pickle(path, one_based=False)
    np.testing.assert_array_equal(kept.labels, [1, 2, 3, 2])


def test_bad_contents(tmp_path):
    with pytest.raises(ValueError, match="'X'"):
        load_assignment_pickle(write(tmp_path / "a.pk", {"y": [1]}))
    with pytest.raises(ValueError, match="dict"):
        load_assignment_pickle(write(tmp_path / "b.pk", [1, 2]))
    with pytest.raises(ValueError, match=r"3 labels.*2 images"):
        load_assignment_pickle(write(tmp_path / "c.pk", {"X": np.zeros((2, 27648), np.uint8),
                                                         "y": [0, 1, 1]}))
    with pytest.raises(ValueError, match=r"\(2, 100\)"):
        load_assignment_pickle(write(tmp_path / "d.pk", {"X": np.zeros((2, 100), np.uint8)}))


def test_load_dataset_pickle_file_or_folder_with_split(tmp_path):
    rows = hwc_images(5, seed=3).reshape(5, -1)
    write(tmp_path / "unlabeled.pk", {"X": rows})
    data = load_dataset("pickle", tmp_path, split="unlabeled", limit=2)
    np.testing.assert_array_equal(data.images, rows[:2])
    assert data.labels is None
    same = load_dataset("pickle", tmp_path / "unlabeled.pk")
    np.testing.assert_array_equal(same.images, rows)
    with pytest.raises(FileNotFoundError, match="test.pk"):
        load_dataset("pickle", tmp_path, split="test")
