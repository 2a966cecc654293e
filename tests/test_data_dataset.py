"""Dataset container, as_float, select_subset, the bundled photos and the load_dataset dispatcher."""

import numpy as np
import pytest

import nnlite.data as data_module
from nnlite.data import SOURCES, Dataset, MappedImages, as_float, load_dataset, select_subset


def test_sample_is_the_default_source():
    data = load_dataset()
    assert data.name == "sample" and data.labels is None and data.folds is None
    assert data.image_shape == (427, 640, 3) and data.images.shape == (2, 427 * 640 * 3)
    assert data.images.dtype == np.uint8
    from sklearn.datasets import load_sample_images

    np.testing.assert_array_equal(data.images[1].reshape(427, 640, 3), load_sample_images().images[1])
    assert len(load_dataset("sample", limit=1)) == 1
    with pytest.raises(ValueError, match="test"):
        load_dataset("sample", split="test")
    with pytest.raises(ValueError, match="no path"):
        load_dataset("sample", "somewhere")


def test_dispatcher_errors(tmp_path):
    with pytest.raises(ValueError, match=r"'mnist'.*'sample', 'stl10', 'cifar10', 'folder', 'pickle'"):
        load_dataset("mnist")
    assert SOURCES == ("sample", "stl10", "cifar10", "folder", "pickle", "photos")
    with pytest.raises(ValueError, match="'validation'"):
        load_dataset("sample", split="validation")
    with pytest.raises(ValueError, match="needs a path"):
        load_dataset("folder")
    missing = tmp_path / "no-such-dir"
    for source in ("stl10", "cifar10", "folder", "pickle"):
        with pytest.raises(FileNotFoundError, match="no-such-dir"):
            load_dataset(source, missing)
    with pytest.raises(ValueError, match=r"\['mmap'\]"):
        load_dataset("sample", mmap=True)
    assert len(load_dataset("sample", cache_dir=None, image_size=None)) == 2  # None options ignored


def test_dataset_validation_and_repr():
    images = np.zeros((4, 12), np.uint8)
    data = Dataset(images, [0, 1, 1, 0], ["a", "b"], (2, 2, 3), [[0, 1], [2, 3]], "toy")
    assert data.labels.dtype == np.int64 and len(data) == 4
    assert "toy" in repr(data) and "(4, 12)" in repr(data)
    with pytest.raises(ValueError, match="image_shape"):
        Dataset(images, None, [], (3, 3, 3))
    with pytest.raises(ValueError, match="3 labels for 4 images"):
        Dataset(images, [0, 1, 1], [], (2, 2, 3))
    with pytest.raises(ValueError, match="fold 0"):
        Dataset(images, None, [], (2, 2, 3), [[0, 4]])
    with pytest.raises(ValueError, match="2-D"):
        Dataset(np.zeros(12), None, [], (2, 2, 3))


def test_subset_reindexes_folds():
    images = np.arange(5 * 3, dtype=np.uint8).reshape(5, 3)
    data = Dataset(images, [0, 1, 0, 1, 0], ["x", "y"], (1, 1, 3), [[0, 2, 4], [1, 3]])
    part = data.subset([1, 2, 4])
    np.testing.assert_array_equal(part.images, images[[1, 2, 4]])
    np.testing.assert_array_equal(part.labels, [1, 0, 0])
    np.testing.assert_array_equal(part.folds[0], [1, 2])
    np.testing.assert_array_equal(part.folds[1], [0])


def test_as_float_in_chunks_matches_astype():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(10, 7), dtype=np.uint8)
    result = as_float(images, chunk_rows=3)
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, images.astype(np.float64))
    scaled = as_float(images, dtype="float32", chunk_rows=4, scale=1 / 255)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled, images / 255, rtol=1e-6)
    with pytest.raises(ValueError, match="int32"):
        as_float(images, dtype="int32")
    with pytest.raises(ValueError, match="chunk_rows"):
        as_float(images, chunk_rows=0)


def test_mapped_images_over_a_plain_array():
    native = np.arange(3 * 2 * 4 * 5).reshape(3, 2, 4, 5)  # (N, c, w, h) like STL-10
    mapped = MappedImages(native, (0, 3, 2, 1))
    expected = native.transpose(0, 3, 2, 1).reshape(3, -1)
    assert mapped.shape == (3, 40) and mapped.image_shape == (5, 4, 2)
    np.testing.assert_array_equal(mapped[[2, 0]], expected[[2, 0]])
    np.testing.assert_array_equal(np.asarray(mapped, dtype=float), expected.astype(float))
    np.testing.assert_array_equal(np.asarray(mapped.subset([0, 2])), expected[[0, 2]])
    with pytest.raises(ValueError, match="axes"):
        MappedImages(native, (1, 0, 2, 3))
    with pytest.raises(IndexError, match="integers"):
        mapped[np.array([0.5])]


def test_select_subset_stratified_first_or_seeded():
    labels = np.repeat([0, 1, 2], [6, 3, 1])
    assert select_subset(10, None, labels) is None and select_subset(10, 10, labels) is None
    first = select_subset(10, 5, labels)
    np.testing.assert_array_equal(first, [0, 1, 2, 6, 7])  # shares 3, 1.5, 0.5 -> 3, 2, 0
    seeded = select_subset(10, 5, labels, random_state=3)
    np.testing.assert_array_equal(seeded, select_subset(10, 5, labels, random_state=3))
    assert np.bincount(labels[seeded], minlength=3).tolist() == [3, 2, 0]
    np.testing.assert_array_equal(select_subset(10, 4), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="limit"):
        select_subset(10, 0)


def test_public_names_are_exported():
    for name in ("Dataset", "load_dataset", "load_stl10", "load_cifar10", "load_image_folder",
                 "load_assignment_pickle", "load_sample_images", "download", "fetch_dataset",
                 "as_float", "MappedImages"):
        assert hasattr(data_module, name)
    assert data_module.__doc__.startswith("Image data")
