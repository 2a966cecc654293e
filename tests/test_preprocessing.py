"""SPEC's normalisation, the fitted PatchNormalizer, ZCA whitening, their states (storage: test_model_file.py)."""

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from nnlite.preprocessing import (PREPROCESSORS, PatchNormalizer, ZCAWhitening, make_preprocessor,
                                  normalize_data)


def reference_normalize(images):
    """SPEC's rule written channel by channel with a Python loop (the obvious way)."""
    X = np.asarray(images, dtype=np.float64)
    out = np.empty_like(X)
    for channel in range(3):
        values = X[:, channel::3]
        mean, sd = values.mean(), values.std()
        low, high = mean - 3 * sd, mean + 3 * sd
        out[:, channel::3] = 0.1 + 0.8 * (np.clip(values, low, high) - low) / (high - low)
    return out


def channel_images(rng, n=40, pixels=64):
    """uint8 rows whose three channels have very different ranges, plus a few outliers."""
    X = np.empty((n, pixels, 3))
    X[..., 0] = rng.normal(60, 5, size=(n, pixels))
    X[..., 1] = rng.normal(128, 30, size=(n, pixels))
    X[..., 2] = rng.normal(200, 10, size=(n, pixels))
    X[0, 0] = [0, 255, 0]
    return np.clip(X, 0, 255).astype(np.uint8).reshape(n, -1)


def test_normalize_data_matches_the_per_channel_rule(rng):
    images = channel_images(rng)
    out = normalize_data(images)
    assert out.shape == images.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, reference_normalize(images), atol=1e-12)
    assert out.min() >= 0.1 and out.max() <= 0.9
    # Each channel separately: its mean lands near 0.5 and the outliers are clipped to the ends.
    view = out.reshape(len(images), -1, 3)
    np.testing.assert_allclose(view.mean(axis=(0, 1)), 0.5, atol=0.02)
    assert view[0, 0, 0] == pytest.approx(0.1) and view[0, 0, 1] == pytest.approx(0.9)


def test_normalize_data_any_row_length_and_float32(rng):
    X = rng.normal(size=(7, 5 * 3)).astype(np.float32)   # 5 pixels: not a square image
    out = normalize_data(X)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, reference_normalize(X), atol=1e-5)


def test_constant_channel_maps_to_mid_value(rng):
    X = rng.uniform(0, 1, size=(10, 12))
    X[:, 1::3] = 7.0
    out = normalize_data(X)
    np.testing.assert_array_equal(out[:, 1::3], 0.5)
    assert np.all(np.isfinite(out))


def test_normalize_data_rejects_bad_rows():
    with pytest.raises(ValueError, match="multiple of channels=3"):
        normalize_data(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="2-D"):
        normalize_data(np.zeros(12))
    with pytest.raises(ValueError, match="NaN"):
        normalize_data(np.full((2, 3), np.nan))


def test_fitted_normalizer_equals_normalize_data_and_reapplies_the_same_mapping(rng):
    images = channel_images(rng)
    scaler = PatchNormalizer().fit(images)
    np.testing.assert_allclose(scaler.transform(images), normalize_data(images))
    np.testing.assert_allclose(PatchNormalizer().fit_transform(images), normalize_data(images))
    assert scaler.mean_.shape == scaler.std_.shape == (3,)
    np.testing.assert_allclose(scaler.high_ - scaler.low_, 6 * scaler.std_)
    # New rows (another length: whole images vs patches) use the stored statistics.
    new = channel_images(rng, n=5, pixels=16)
    expected = (np.clip(new.reshape(5, -1, 3), scaler.low_, scaler.high_) - scaler.low_) \
        / (scaler.high_ - scaler.low_) * 0.8 + 0.1
    np.testing.assert_allclose(scaler.transform(new), expected.reshape(5, -1))


def test_inverse_transform_undoes_the_mapping_inside_the_clip_interval(rng):
    X = rng.uniform(0, 255, size=(30, 48))   # uniform: every value within mean +- 3 sd
    scaler = PatchNormalizer().fit(X)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(X)), X)


def test_transform_does_not_modify_its_input(rng):
    X = rng.normal(size=(6, 12))
    copy = X.copy()
    for remove_mean in (False, True):
        PatchNormalizer(remove_mean=remove_mean).fit(X).transform(X)
    np.testing.assert_array_equal(X, copy)


def test_mean_removal_subtracts_each_patch_mean_first(rng):
    X = rng.normal(size=(50, 27)) + rng.normal(scale=10, size=(50, 1))  # brightness per patch
    scaler = PatchNormalizer(remove_mean=True).fit(X)
    centred = X - X.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(scaler.transform(X), normalize_data(centred))
    # A brightness shift of a patch does not change its normalised values.
    np.testing.assert_allclose(scaler.transform(X + 5.0), scaler.transform(X))


def test_contrast_normalisation_by_hand():
    # Two rows of four grey values: centred (-3, -1, 1, 3) with variance 5, and (-1, 1, -1, 1)
    # with variance 1; mean variance 3, so contrast=1/3 adds 1 to each row's variance.
    X = np.array([[7.0, 9.0, 11.0, 13.0], [4.0, 6.0, 4.0, 6.0]])
    scaler = PatchNormalizer(remove_mean=True, channels=1, contrast=1 / 3).fit(X)
    assert scaler.row_variance_ == pytest.approx(3.0)
    assert scaler.variance_offset() == pytest.approx(1.0)
    divided = np.array([[-3.0, -1.0, 1.0, 3.0]]) / np.sqrt(6.0), np.array([[-1.0, 1.0, -1.0, 1.0]]) / np.sqrt(2.0)
    expected = normalize_data(np.vstack(divided).reshape(2, -1, 1).repeat(3, axis=2).reshape(2, -1))
    np.testing.assert_allclose(scaler.transform(X), expected[:, ::3])
    # A patch and the same patch at ten times the contrast become nearly the same row.
    Y = np.vstack([X[0], 10.0 + 10.0 * (X[0] - 10.0)])
    out = scaler.transform(Y)
    assert np.abs(out[0] - out[1]).max() < 0.25 * np.abs(out[1] - out[1].mean()).max()
    plain = PatchNormalizer(remove_mean=True, channels=1).fit(X).transform(Y)
    assert np.abs(plain[0] - plain[1]).max() > np.abs(out[0] - out[1]).max()


def test_contrast_needs_mean_removal_and_a_positive_value(rng):
    X = rng.normal(size=(10, 12))
    with pytest.raises(ValueError, match="remove_mean"):
        PatchNormalizer(contrast=0.01).fit(X)
    for bad in (0.0, -1.0, float("nan"), "0.1"):
        with pytest.raises(ValueError, match="contrast"):
            PatchNormalizer(remove_mean=True, contrast=bad).fit(X)
    with pytest.raises(ValueError, match="'spec'"):
        make_preprocessor("spec", contrast=0.01)


def test_grey_channels(rng):
    X = rng.normal(size=(20, 16))
    scaler = PatchNormalizer(channels=1).fit(X)
    mean, sd = X.mean(), X.std()
    np.testing.assert_allclose(scaler.transform(X),
                               0.1 + 0.8 * (np.clip(X, mean - 3 * sd, mean + 3 * sd)
                                            - (mean - 3 * sd)) / (6 * sd))


def test_zca_whitens_and_inverts(rng):
    mixing = rng.normal(size=(6, 6))
    X = rng.normal(size=(4000, 6)) @ mixing + 3.0
    zca = ZCAWhitening(epsilon=1e-8).fit(X)
    white = zca.transform(X)
    np.testing.assert_allclose(white.mean(axis=0), 0, atol=1e-8)
    np.testing.assert_allclose(np.cov(white, rowvar=False, bias=True), np.eye(6), atol=1e-5)
    np.testing.assert_allclose(zca.whitening_, zca.whitening_.T, atol=1e-10)
    np.testing.assert_allclose(zca.inverse_transform(white), X, atol=1e-8)
    assert np.all(np.diff(zca.eigenvalues_) <= 0)


def test_zca_epsilon_damps_small_directions(rng):
    X = rng.normal(size=(2000, 4)) * np.array([10.0, 1.0, 0.1, 0.01])
    white = ZCAWhitening(epsilon=0.1).fit_transform(X)
    variances = white.var(axis=0)
    assert variances[0] == pytest.approx(100 / 100.1, rel=0.05)
    assert variances[3] < 0.01


def test_zca_bad_input(rng):
    with pytest.raises(ValueError, match="epsilon"):
        ZCAWhitening(epsilon=-1).fit(rng.normal(size=(10, 3)))
    with pytest.raises(ValueError, match="singular"):
        ZCAWhitening(epsilon=0).fit(np.ones((10, 3)))
    zca = ZCAWhitening().fit(rng.normal(size=(10, 3)))
    with pytest.raises(ValueError, match="fitted on 3"):
        zca.transform(rng.normal(size=(2, 4)))


@pytest.mark.parametrize("name, contrast", [("spec", None), ("mean-removed", None), ("zca", None),
                                            ("zca", 0.01)])
def test_state_round_trip(name, contrast, rng):
    X = channel_images(rng, n=60, pixels=4)
    preprocessor = make_preprocessor(name, contrast=contrast).fit(X)
    steps = [step for _, step in preprocessor.steps] if isinstance(preprocessor, Pipeline) else [preprocessor]
    rebuilt = [type(step).from_state(*step.get_state()) for step in steps]
    data = X
    for original, copy in zip(steps, rebuilt):
        np.testing.assert_array_equal(copy.transform(data), original.transform(data))
        data = original.transform(data)
    np.testing.assert_array_equal(data, preprocessor.transform(X))


def test_named_preprocessors():
    assert isinstance(make_preprocessor("spec"), PatchNormalizer)
    assert make_preprocessor("mean-removed").remove_mean is True
    zca = make_preprocessor("zca", epsilon=0.5)
    assert isinstance(zca, Pipeline) and zca.named_steps["zca"].epsilon == 0.5
    assert PREPROCESSORS == ("spec", "mean-removed", "zca")
    with pytest.raises(ValueError, match="'pca'"):
        make_preprocessor("pca")
