"""CIFAR-10 python batches, written here in the official format (Python-2 style bytes keys)."""

import pickle

import numpy as np
import pytest

from nnlite.data import UnsafePickleError, load_cifar10, load_dataset

NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship",
         b"truck"]


def planar(hwc):
    """Official row order, written independently: the R plane, then G, then B, each row-major."""
    return np.stack([np.concatenate([image[:, :, c].ravel() for c in range(3)]) for image in hwc])


def write_batch(path, hwc, labels):
    content = {b"batch_label": b"batch", b"labels": [int(v) for v in labels],
               b"data": planar(hwc), b"filenames": [b"f%d.png" % i for i in range(len(labels))]}
    path.write_bytes(pickle.dumps(content, protocol=2))


@pytest.fixture
def cifar_dir(tmp_path):
    rng = np.random.default_rng(5)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    truth = {}
    parts = []
    for k in range(1, 6):
        hwc = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
        labels = (np.arange(4) + 2 * k) % 10
        write_batch(folder / f"data_batch_{k}", hwc, labels)
        parts.append((hwc.reshape(4, -1), labels))
    truth["train"] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    hwc = rng.integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    write_batch(folder / "test_batch", hwc, [9, 0, 4])
    truth["test"] = (hwc.reshape(3, -1), np.array([9, 0, 4]))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": NAMES,
                                                        b"num_vis": 3072}, protocol=2))
    return folder, truth


def test_train_and_test_rows_labels_names(cifar_dir):
    folder, truth = cifar_dir
    for split in ("train", "test"):
        data = load_cifar10(folder, split)
        np.testing.assert_array_equal(data.images, truth[split][0])
        np.testing.assert_array_equal(data.labels, truth[split][1])
        assert data.images.dtype == np.uint8 and data.image_shape == (32, 32, 3)
        assert data.class_names[1] == "automobile" and data.name == f"cifar10-{split}"


def test_known_pixel(tmp_path):
    hwc = np.zeros((1, 32, 32, 3), np.uint8)
    hwc[0, 3, 30, 1] = 77  # row 3, column 30, green
    folder = tmp_path / "c"
    folder.mkdir()
    write_batch(folder / "test_batch", hwc, [0])
    raw = planar(hwc)[0]
    assert raw[1024 + 3 * 32 + 30] == 77
    assert load_cifar10(folder, "test").images[0].reshape(32, 32, 3)[3, 30, 1] == 77


def test_limit_is_stratified(cifar_dir):
    folder, truth = cifar_dir
    data = load_dataset("cifar10", folder, limit=10, random_state=1)
    assert len(data) == 10 and sorted(np.bincount(data.labels, minlength=10)) == [1] * 10


def test_errors(cifar_dir, tmp_path):
    folder, _ = cifar_dir
    with pytest.raises(ValueError, match="unlabeled"):
        load_cifar10(folder, "unlabeled")
    with pytest.raises(FileNotFoundError, match="data_batch"):
        load_cifar10(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope"):
        load_dataset("cifar10", tmp_path / "nope")
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8),
                                                      b"labels": [1]}))
    with pytest.raises(ValueError, match=r"1 labels for 2 images"):
        load_cifar10(folder, "test")
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 3000), np.uint8),
                                                      b"labels": [1, 2]}))
    with pytest.raises(ValueError, match="3072"):
        load_cifar10(folder, "test")
    (folder / "test_batch").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    with pytest.raises(UnsafePickleError, match="os.system"):
        load_cifar10(folder, "test")
