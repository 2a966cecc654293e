"""Tests of nnlite.stacked: greedy pretraining, unrolling, fine-tuning, the estimator.

Small problems throughout (16 inputs, ``[8, 4, 8]`` or ``[8, 6, 4, 6, 8]``,
a few hundred samples) so that the whole file runs in seconds.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from nnlite.estimator import load_model
from nnlite.gradcheck import check_gradient
from nnlite.losses.per_layer import LayerSparsity, LayerWeightDecay, layer_regularizers
from nnlite.losses import KLSparsity, WeightDecay
from nnlite.network import Network
from nnlite.optim import LBFGS
from nnlite.pretraining import encoder_sizes, per_stage, pretrain_stack, unroll
from nnlite.stacked import StackedAutoencoder, finetune_cost

N_FEATURES = 16
ARCHITECTURES = {"3 hidden": [8, 4, 8], "5 hidden": [8, 6, 4, 6, 8]}
ACTIVATIONS = {"sigmoid": ("sigmoid", "sigmoid"), "relu": ("relu", "identity")}


def structured_data(n_samples=200, seed=0):
    """Rows in [0.1, 0.9] that lie near a 4-dimensional manifold (something to learn)."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_samples, 4)) @ rng.normal(size=(4, N_FEATURES))
    return 0.1 + 0.8 / (1.0 + np.exp(-latent))


def labels_for(X):
    """A learnable binary target: the sign of the first direction of variation."""
    centred = X - X.mean(axis=0)
    return (centred @ np.linalg.svd(centred, full_matrices=False)[2][0] > 0).astype(int)


def preactivations(network, X):
    """``z`` of every layer for the rows of ``X``: list of (n_samples, width) arrays."""
    result, inputs = [], X
    for layer in network.layers:
        result.append(inputs @ layer.W.T + layer.b)
        inputs = network.forward(inputs, start=len(result) - 1, stop=len(result))
    return result


@pytest.fixture(scope="module")
def X():
    return structured_data()


@pytest.fixture(scope="module")
def fitted(X):
    """A small sigmoid stack, pretrained and fine-tuned."""
    return StackedAutoencoder([8, 4, 8], pretrain_iter=60, finetune_iter=60, random_state=0).fit(X)


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("hidden", ARCHITECTURES.values(), ids=ARCHITECTURES.keys())
@pytest.mark.parametrize("activation,output", ACTIVATIONS.values(), ids=ACTIVATIONS.keys())
def test_unrolled_network_gradient_matches_central_differences(X, hidden, activation, output):
    """Full central-difference check of the unrolled deep network's gradient.

    ReLU has a kink at ``z = 0`` where central differences are wrong.  With
    ``epsilon = 1e-6`` a parameter step moves any pre-activation by roughly
    ``epsilon`` times an O(1) factor, far less than ``1e-4``; keeping only
    rows whose pre-activations all lie at least ``1e-4`` from 0 means no
    evaluation crosses the kink, while the truncation (O(epsilon^2)) and
    rounding (~1e-16 / epsilon) errors stay well below the 1e-7 tolerance.
    (The mirrored inner decoder, pretrained as a linear decoder of ReLU codes
    that are often exactly 0, has many pre-activations near 0, hence the
    small margin rather than a wide one.)
    """
    stages = pretrain_stack(X, hidden, activation=activation, output_activation=output,
                            max_iter=15, random_state=1)
    network = unroll(stages, lambda_=1e-3, sparsity_param=0.05, beta=0.5)
    data, epsilon = X, 1e-4
    if activation == "relu":
        margins = np.min([np.abs(z).min(axis=1) for z in preactivations(network, X)[:-1]], axis=0)
        data, epsilon = X[margins > 1e-4], 1e-6
    data = data[:40]
    assert data.shape[0] == 40
    fun = network.objective(data)
    check = check_gradient(fun, network.theta.copy(), epsilon=epsilon)
    assert check.relative_error <= 1e-7, str(check)


# ------------------------------------------------------------------ unrolling
@pytest.mark.parametrize("hidden", ARCHITECTURES.values(), ids=ARCHITECTURES.keys())
@pytest.mark.parametrize("activation,output", ACTIVATIONS.values(), ids=ACTIVATIONS.keys())
def test_unrolled_network_reproduces_every_encoder_exactly(X, hidden, activation, output):
    stages = pretrain_stack(X, hidden, activation=activation, output_activation=output,
                            max_iter=10, random_state=2)
    deep = unroll(stages)
    assert deep.sizes == [N_FEATURES] + hidden + [N_FEATURES]
    codes = X
    for index, stage in enumerate(stages, start=1):
        codes = stage.network.forward(codes, stop=1)
        np.testing.assert_array_equal(deep.forward(X, stop=index), codes)
    last = len(deep.layers) - 1
    for index, stage in enumerate(stages):
        np.testing.assert_array_equal(deep.layers[last - index].W, stage.network.layers[1].W)
        np.testing.assert_array_equal(deep.layers[last - index].b, stage.network.layers[1].b)
    # One flat buffer in SPEC's layout: every W first, then every b.
    n_weights = sum(layer.W.size for layer in deep.layers)
    np.testing.assert_array_equal(deep.theta[:deep.layers[0].W.size], deep.layers[0].W.ravel())
    np.testing.assert_array_equal(deep.theta[n_weights:n_weights + hidden[0]], deep.layers[0].b)


def test_relu_inner_stages_use_a_linear_decoder_and_the_stack_mirrors_activations(X):
    stages = pretrain_stack(X, [8, 4, 8], activation="relu", output_activation="identity",
                            max_iter=5, random_state=0)
    assert [stage.activations for stage in stages] == [["relu", "identity"], ["relu", "identity"]]
    assert unroll(stages).activation_names == ["relu", "relu", "relu", "identity"]
    sigmoid = pretrain_stack(X, [8, 4, 8], max_iter=5, random_state=0)
    assert sigmoid[1].activations == ["sigmoid", "sigmoid"]
    chosen = pretrain_stack(X, [8, 4, 8], activation="relu", inner_output_activation="relu",
                            max_iter=5, random_state=0)
    assert chosen[1].activations == ["relu", "relu"]


def test_unroll_refuses_stages_that_do_not_chain(X):
    stages = pretrain_stack(X, [8, 4, 8], max_iter=3, random_state=0)
    with pytest.raises(ValueError, match="stage 2"):
        unroll([stages[0], stages[0]])
    with pytest.raises(ValueError, match="at least one"):
        unroll([])


def test_ctrl_c_in_a_stage_stops_pretraining(X, monkeypatch):
    original = LBFGS.minimize

    def interrupted(self, fun, theta0):
        result = original(self, fun, theta0)
        result.interrupted = True  # what LBFGS reports after catching KeyboardInterrupt
        return result

    monkeypatch.setattr(LBFGS, "minimize", interrupted)
    with pytest.raises(KeyboardInterrupt, match="stage 1"):
        pretrain_stack(X, [8, 4, 8], max_iter=2, random_state=0)


# ---------------------------------------------------------------- fine-tuning
@pytest.mark.parametrize("activation,output", ACTIVATIONS.values(), ids=ACTIVATIONS.keys())
def test_fine_tuning_lowers_the_cost_below_the_unrolled_stack(X, activation, output):
    model = StackedAutoencoder([8, 4, 8], activation=activation, output_activation=output,
                               pretrain_iter=60, finetune_iter=60, random_state=0).fit(X)
    stacked = unroll(model.pretrain_networks_)
    stacked_cost = stacked.loss_and_grad(stacked.theta, X)[0]
    assert model.loss_curve_[0] == pytest.approx(stacked_cost, rel=1e-12)
    assert model.cost_ < stacked_cost
    assert model.network_.loss_and_grad(model.network_.theta, X)[0] == pytest.approx(model.cost_)
    assert model.reconstruction_error(X) < model.pretrained_reconstruction_error_
    assert model.training_time_ >= model.pretraining_time_ + model.finetuning_time_ > 0


def test_records_of_every_stage(fitted):
    assert [record["sizes"] for record in fitted.stage_results_] == [[16, 8, 16], [8, 4, 8]]
    for record in fitted.stage_results_:
        assert 0 < record["n_iter"] <= 60
        assert len(record["loss_curve"]) == record["n_iter"] + 1
        assert record["cost"] == pytest.approx(min(record["loss_curve"]))
        assert record["time"] > 0
    assert fitted.n_iter_ == len(fitted.loss_curve_) - 1
    assert len(fitted.pretrain_networks_) == 2


def test_per_stage_settings(X):
    model = StackedAutoencoder([8, 4, 8], sparsity_param=[0.05, 0.1], lambda_=[1e-4, 1e-3],
                               beta=[3.0, 1.0], pretrain_iter=[4, 2], finetune_iter=3,
                               random_state=0).fit(X)
    settings = [record["settings"] for record in model.stage_results_]
    assert settings == [{"sparsity_param": 0.05, "lambda_": 1e-4, "beta": 3.0, "max_iter": 4},
                        {"sparsity_param": 0.1, "lambda_": 1e-3, "beta": 1.0, "max_iter": 2}]
    assert [record["n_iter"] for record in model.stage_results_] <= [4, 2]
    penalties = model.network_.regularizers  # fine-tuning uses the first stage's values
    assert [getattr(p, "lambda_", None) for p in penalties][0] == 1e-4
    assert penalties[1].sparsity_param == 0.05 and penalties[1].beta == 3.0
    with pytest.raises(ValueError, match=r"one per pretraining stage"):
        StackedAutoencoder([8, 4, 8], beta=[1.0, 2.0, 3.0]).fit(X)
    with pytest.raises(ValueError, match=r"sparsity_param\[1\]"):
        StackedAutoencoder([8, 4, 8], sparsity_param=[0.1, 1.5]).fit(X)


def test_without_pretraining_trains_from_random_weights(X):
    model = StackedAutoencoder([8, 4, 8], pretrain=False, finetune_iter=30, random_state=0).fit(X)
    assert model.stage_results_ == [] and model.pretrain_networks_ == []
    assert np.isnan(model.pretrained_reconstruction_error_)
    assert 0 < model.n_iter_ <= 30 and model.cost_ < model.loss_curve_[0]
    assert model.transform(X).shape == (X.shape[0], 4)
    with pytest.raises(ValueError, match="finetune_iter"):
        StackedAutoencoder([8, 4, 8], pretrain=False, finetune_iter=0).fit(X)


def test_finetune_iter_zero_keeps_the_unrolled_stack(X):
    model = StackedAutoencoder([8, 4, 8], pretrain_iter=10, finetune_iter=0, random_state=0).fit(X)
    np.testing.assert_array_equal(model.network_.theta, unroll(model.pretrain_networks_).theta)
    assert model.n_iter_ == 0
    assert model.reconstruction_error(X) == pytest.approx(model.pretrained_reconstruction_error_)


def test_same_seed_same_model(X):
    first = StackedAutoencoder([8, 4, 8], pretrain_iter=10, finetune_iter=10, random_state=7).fit(X)
    second = StackedAutoencoder([8, 4, 8], pretrain_iter=10, finetune_iter=10, random_state=7).fit(X)
    other = StackedAutoencoder([8, 4, 8], pretrain_iter=10, finetune_iter=10, random_state=8).fit(X)
    np.testing.assert_array_equal(first.network_.theta, second.network_.theta)
    assert not np.array_equal(first.network_.theta, other.network_.theta)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("hidden", [[8, 4, 6], [8, 4]])
def test_non_symmetric_hidden_size_is_refused(X, hidden):
    with pytest.raises(ValueError, match=r"symmetric.*\[8, 4"):
        StackedAutoencoder(hidden).fit(X)


def test_even_number_of_hidden_layers_is_refused(X):
    with pytest.raises(ValueError, match=r"odd number of layers.*\[8, 4, 4, 8\]"):
        StackedAutoencoder([8, 4, 4, 8]).fit(X)
    assert encoder_sizes([400, 100, 25, 100, 400]) == [400, 100, 25]
    assert per_stage(0.5, 3, "beta") == [0.5, 0.5, 0.5]


# ----------------------------------------------------------- estimator API
def test_encode_every_hidden_layer_and_transform_is_the_middle(X, fitted):
    assert fitted.code_layer_ == 2
    np.testing.assert_array_equal(fitted.transform(X), fitted.encode(X, layer=2))
    assert [fitted.encode(X, layer=k).shape[1] for k in (1, 2, 3)] == [8, 4, 8]
    np.testing.assert_allclose(fitted.inverse_transform(fitted.transform(X)), fitted.reconstruct(X))


def test_save_load_round_trip(tmp_path, X, fitted):
    path = fitted.save(tmp_path / "stacked.npz")
    for loaded in (StackedAutoencoder.load(path), load_model(path)):
        assert type(loaded) is StackedAutoencoder
        assert loaded.get_params() == fitted.get_params()
        np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
        for layer in (1, 3):
            np.testing.assert_array_equal(loaded.encode(X, layer=layer), fitted.encode(X, layer=layer))
        assert loaded.stage_results_ == fitted.stage_results_
        assert loaded.loss_curve_ == fitted.loss_curve_
        assert (loaded.pretraining_time_, loaded.finetuning_time_, loaded.training_time_) == \
            (fitted.pretraining_time_, fitted.finetuning_time_, fitted.training_time_)
        assert loaded.pretrained_reconstruction_error_ == fitted.pretrained_reconstruction_error_


def test_stage_models_are_loadable_sparse_autoencoders(tmp_path, X, fitted):
    codes = X
    for number, (stage, network) in enumerate(zip(fitted.stage_models(), fitted.pretrain_networks_)):
        loaded = load_model(stage.save(tmp_path / f"stage{number}.npz"))
        assert type(loaded).__name__ == "SparseAutoencoder"
        assert loaded.cost_ == fitted.stage_results_[number]["cost"]
        np.testing.assert_array_equal(loaded.transform(codes), network.forward(codes, stop=1))
        codes = loaded.transform(codes)


def test_round_trip_with_list_settings_and_no_pretraining(tmp_path, X):
    model = StackedAutoencoder(np.array([8, 4, 8]), activation=["relu", "relu"],
                               output_activation="identity", sparsity_param=np.array([0.05, 0.1]),
                               pretrain=False, finetune_iter=3, random_state=0).fit(X)
    loaded = load_model(model.save(tmp_path / "relu"))
    assert loaded.sparsity_param == [0.05, 0.1] and loaded.hidden_size == [8, 4, 8]
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    assert np.isnan(loaded.pretrained_reconstruction_error_)


def test_pipeline_and_clone(X):
    y = labels_for(X)
    # rho = 0.1: with 4 code units, rho = 0.01 leaves codes too faint for the classifier.
    model = StackedAutoencoder([8, 4, 8], sparsity_param=0.1, pretrain_iter=20, finetune_iter=20,
                               random_state=0)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "network_")
    pipeline = Pipeline([("features", model), ("classifier", LogisticRegression(C=100.0))]).fit(X, y)
    assert pipeline.predict(X).shape == y.shape
    assert pipeline.score(X, y) > 0.9


# ---------------------------------------------------------------- spec_api
def test_spec_api_agrees_with_the_stacked_network(X, fitted):
    spec = pytest.importorskip("spec_api.autoencoder")
    hidden = np.array([8, 4, 8])
    theta = fitted.network_.theta.copy()
    cost, grad = spec.autoencoder_loss(theta, N_FEATURES, hidden, fitted.lambda_,
                                       fitted.sparsity_param, fitted.beta, X)
    own_cost, own_grad = fitted.network_.loss_and_grad(theta, X)
    assert cost == pytest.approx(own_cost, rel=1e-12) and cost == pytest.approx(fitted.cost_)
    np.testing.assert_allclose(grad, own_grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(spec.autoencoder_transform(theta, N_FEATURES, hidden, 1, X), X)
    for layer_number in (2, 3, 4):
        np.testing.assert_allclose(spec.autoencoder_transform(theta, N_FEATURES, hidden, layer_number, X),
                                   fitted.encode(X, layer=layer_number - 1), rtol=1e-12, atol=0)
    np.testing.assert_allclose(spec.autoencoder_transform(theta, N_FEATURES, hidden, 5, X),
                               fitted.reconstruct(X), rtol=1e-12, atol=0)
    assert spec.initialize(hidden, N_FEATURES).shape == theta.shape


# ------------------------------------------------------ per-layer fine-tuning
PER_LAYER = {
    "per layer": dict(finetune_sparsity_param=[0.05, 0.2, 0.05], finetune_lambda_=[1e-3, 1e-4, 3e-3, 0.0],
                      finetune_beta=[3.0, 0.5, 1.0]),
    "no decoder": dict(finetune_sparsity_param=0.1, finetune_beta=2.0, finetune_decoder_penalty=False),
    "both": dict(finetune_sparsity_param=[0.05, 0.2, 0.05], finetune_lambda_=1e-3,
                 finetune_beta=[3.0, 0.5, 1.0], finetune_decoder_penalty=False),
}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def cost_by_hand(network, X, rhos, lambdas, betas):
    """SPEC's cost with one rho, beta per hidden layer and one lambda per W, in plain numpy (sigmoid)."""
    activations, a = [], X
    for layer in network.layers:
        a = sigmoid(a @ layer.W.T + layer.b)
        activations.append(a)
    cost = 0.5 * np.sum((activations[-1] - X) ** 2) / X.shape[0]
    for layer, lam in zip(network.layers, lambdas):
        cost += 0.5 * lam * np.sum(layer.W ** 2)
    for hidden, rho, beta in zip(activations[:-1], rhos, betas):
        rho_hat = hidden.mean(axis=0)
        cost += beta * np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    return cost


@pytest.fixture(scope="module")
def pretrained(X):
    """A pretrained [8, 4, 8] sigmoid stack, not fine-tuned (the start of every variant)."""
    return StackedAutoencoder([8, 4, 8], pretrain_iter=20, finetune_iter=0, random_state=0).fit(X)


@pytest.mark.parametrize("settings", PER_LAYER.values(), ids=PER_LAYER.keys())
def test_per_layer_finetuning_network_gradient_matches_central_differences(X, pretrained, settings):
    model = StackedAutoencoder([8, 4, 8], finetune_iter=0, **settings).fit(X, pretrained=pretrained)
    check = check_gradient(model.network_.objective(X[:40]), model.network_.theta.copy())
    assert check.relative_error <= 1e-7, str(check)


@pytest.mark.parametrize("activation,output", ACTIVATIONS.values(), ids=ACTIVATIONS.keys())
def test_per_layer_gradient_on_five_hidden_layers(X, activation, output):
    stages = pretrain_stack(X, [8, 6, 4, 6, 8], activation=activation, output_activation=output,
                            max_iter=10, random_state=3)
    cost = finetune_cost(5, [0.05, 0.1, 0.3, 0.1, 0.05], [1e-3, 0.0, 1e-4, 1e-4, 0.0, 1e-3],
                         [1.0, 0.5, 0.2, 0.5, 1.0], decoder_penalty=False)
    assert cost["beta"] == [1.0, 0.5, 0.2, 0.0, 0.0] and cost["lambda_"] == [1e-3, 0.0, 1e-4, 0.0, 0.0, 0.0]
    network = unroll(stages, **cost)
    data, epsilon = X, 1e-4
    if activation == "relu":  # keep rows away from the kink (see the unrolled-network test above)
        margins = np.min([np.abs(z).min(axis=1) for z in preactivations(network, X)[:-1]], axis=0)
        data, epsilon = X[margins > 1e-4], 1e-6
    check = check_gradient(network.objective(data[:40]), network.theta.copy(), epsilon=epsilon)
    assert check.relative_error <= 1e-7, str(check)


@pytest.mark.parametrize("settings", PER_LAYER.values(), ids=PER_LAYER.keys())
def test_per_layer_cost_is_the_cost_by_hand(X, pretrained, settings):
    model = StackedAutoencoder([8, 4, 8], finetune_iter=0, **settings).fit(X, pretrained=pretrained)
    cost = finetune_cost(3, settings.get("finetune_sparsity_param", 0.01), settings.get("finetune_lambda_", 1e-4),
                         settings.get("finetune_beta", 3.0),
                         decoder_penalty=settings.get("finetune_decoder_penalty", True))
    expected = cost_by_hand(model.network_, X, cost["sparsity_param"], cost["lambda_"], cost["beta"])
    assert model.network_.loss_and_grad(model.network_.theta, X)[0] == pytest.approx(expected, rel=1e-12)
    if settings.get("finetune_decoder_penalty") is False:  # nothing past the middle layer
        assert cost["beta"][2] == 0.0 and cost["lambda_"][2:] == [0.0, 0.0]
        assert all(max(penalty.layers) <= 1 for penalty in model.network_.regularizers)


def test_defaults_are_the_uniform_cost_of_before(X, pretrained):
    """No finetune_* setting: SPEC's two regularizers with the first stage's values, exactly."""
    regularizers = pretrained.network_.regularizers
    assert [type(r) for r in regularizers] == [WeightDecay, KLSparsity]
    assert (regularizers[0].lambda_, regularizers[1].sparsity_param, regularizers[1].beta) == (1e-4, 0.01, 3.0)
    uniform = StackedAutoencoder([8, 4, 8], finetune_iter=0, finetune_sparsity_param=[0.01] * 3,
                                 finetune_lambda_=[1e-4] * 4, finetune_beta=[3.0] * 3).fit(X, pretrained=pretrained)
    assert [type(r) for r in uniform.network_.regularizers] == [LayerWeightDecay, LayerSparsity]
    theta = pretrained.network_.theta
    cost, grad = pretrained.network_.loss_and_grad(theta, X)
    same_cost, same_grad = uniform.network_.loss_and_grad(theta, X)
    assert same_cost == pytest.approx(cost, rel=1e-13)
    np.testing.assert_allclose(same_grad, grad, rtol=1e-12, atol=1e-16)
    tuned = StackedAutoencoder([8, 4, 8], pretrain_iter=20, finetune_iter=10, random_state=0).fit(X)
    again = StackedAutoencoder([8, 4, 8], finetune_iter=10).fit(X, pretrained=pretrained)
    np.testing.assert_array_equal(again.network_.theta, tuned.network_.theta)


def test_pretrained_stages_are_reused_not_changed(X, pretrained):
    before = [network.theta.copy() for network in pretrained.pretrain_networks_]
    model = StackedAutoencoder([8, 4, 8], finetune_iter=5, finetune_decoder_penalty=False).fit(
        X, pretrained=pretrained)
    assert model.stage_results_ == pretrained.stage_results_ and model.n_iter_ > 0
    assert model.pretrained_reconstruction_error_ == pretrained.reconstruction_error(X)
    for network, theta in zip(pretrained.pretrain_networks_, before):
        np.testing.assert_array_equal(network.theta, theta)
    with pytest.raises(ValueError, match=r"\[8, 6, 4\]"):
        StackedAutoencoder([8, 6, 4, 6, 8]).fit(X, pretrained=pretrained)
    with pytest.raises(ValueError, match="pretrain=False"):
        StackedAutoencoder([8, 4, 8], pretrain=False).fit(X, pretrained=pretrained)
    with pytest.raises(TypeError, match="StackedAutoencoder"):
        StackedAutoencoder([8, 4, 8]).fit(X, pretrained=pretrained.stage_models()[0])


@pytest.mark.parametrize("settings,match", [
    (dict(finetune_sparsity_param=[0.1, 0.2]), r"finetune_sparsity_param.*one per hidden layer"),
    (dict(finetune_lambda_=[1e-4, 1e-4, 1e-4]), r"finetune_lambda_.*one per weight layer"),
    (dict(finetune_beta=[1.0, -1.0, 1.0]), r"finetune_beta\[1\]"),
    (dict(finetune_sparsity_param=1.5), r"finetune_sparsity_param"),
    (dict(finetune_decoder_penalty="no"), r"finetune_decoder_penalty"),
])
def test_bad_per_layer_settings_are_refused(X, pretrained, settings, match):
    with pytest.raises(ValueError, match=match):
        StackedAutoencoder([8, 4, 8], **settings).fit(X, pretrained=pretrained)


def test_per_layer_settings_round_trip_through_the_model_file(tmp_path, X, pretrained):
    model = StackedAutoencoder([8, 4, 8], finetune_iter=3, finetune_sparsity_param=np.array([0.05, 0.2, 0.05]),
                               finetune_lambda_=(1e-3, 1e-4, 0.0, 0.0), finetune_beta=[3.0, 0.5, 1.0],
                               finetune_decoder_penalty=np.bool_(False)).fit(X, pretrained=pretrained)
    loaded = load_model(model.save(tmp_path / "per-layer"))
    assert loaded.finetune_sparsity_param == [0.05, 0.2, 0.05]
    assert loaded.finetune_lambda_ == [1e-3, 1e-4, 0.0, 0.0] and loaded.finetune_decoder_penalty is False
    theta = model.network_.theta
    assert loaded.network_.loss_and_grad(theta, X)[0] == model.network_.loss_and_grad(theta, X)[0]
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


def test_layer_penalties_act_on_their_layers_only(X, pretrained):
    network = pretrained.network_
    theta = network.theta.copy()
    penalties = [LayerWeightDecay(1e-2, layers=[1]), LayerSparsity(0.2, 2.0, layers=(2,))]
    selected = Network(network.layers, regularizers=penalties)
    cost, grad = selected.loss_and_grad(theta, X)
    assert cost == pytest.approx(cost_by_hand(network, X, [0.2] * 3, [0, 1e-2, 0, 0], [0, 0, 2.0]), rel=1e-12)
    decayed = Network(network.layers, regularizers=penalties[:1]).loss_and_grad(theta, X)[1]
    bare = Network(network.layers).loss_and_grad(theta, X)[1]
    for index in range(4):
        entry = network.table.entry(index, "W")
        expected = bare[entry.offset:entry.stop] + (1e-2 * theta[entry.offset:entry.stop] if index == 1 else 0.0)
        np.testing.assert_allclose(decayed[entry.offset:entry.stop], expected, rtol=1e-13, atol=1e-18)
    assert layer_regularizers(4, 0.0, 0.1, 0.0) == []
    with pytest.raises(ValueError, match="at least one layer"):
        LayerSparsity(layers=[])
    with pytest.raises(TypeError, match="layers"):
        LayerWeightDecay(layers=3)
