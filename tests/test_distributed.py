"""Tests of nnlite.distributed on a LocalCluster of two worker processes.

Exactness: the sharded cost and gradient equal the single-process network's
(1e-12 relative, float64) for one and three hidden layers, sigmoid and ReLU,
uneven shards and a shard of one sample; a short L-BFGS training gives the
same parameters (1e-10); distributed feature extraction gives the same
features.  Faults: a worker process killed during training or extraction is
survived with the same result, or ends in a ValueError naming the worker.
Skipped when Dask's distributed scheduler (the ``distributed`` extra) is not
installed.
"""

import functools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from nnlite import SparseAutoencoder, StackedAutoencoder
from nnlite.autoencoder import build_autoencoder
from nnlite.cli import main
from nnlite.distributed import (DistributedFeatures, DistributedObjective, active_client, connect,
                                distributed_transform, parse_scheduler, require_distributed, shard_bounds,
                                use_client)
from nnlite.distributed.reduction import Reduction
from nnlite.features import ConvolutionalFeatures
from nnlite.losses.per_layer import LayerSparsity
from nnlite.layers.dense import Dense
from nnlite.losses.kl_sparsity import KLSparsity
from nnlite.losses.squared_error import SquaredError
from nnlite.losses.weight_decay import WeightDecay
from nnlite.network import Network
from nnlite.optim import make_optimizer
from nnlite.patch_model import PatchModel
from nnlite.preprocessing import PatchNormalizer

SKIP_REASON = "needs the 'distributed' extra: pip install 'nnlite[distributed]'"


@pytest.fixture(scope="module")
def client():
    """One LocalCluster of two single-threaded worker processes for the whole module."""
    pytest.importorskip("distributed", reason=SKIP_REASON)
    cloudpickle = pytest.importorskip("cloudpickle", reason=SKIP_REASON)
    # the test-only classes below (a loss and an extractor that kill their worker once) travel by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    dask_client = connect("local:2")
    dask_client.wait_for_workers(2, timeout=120)
    yield dask_client
    dask_client.close()


def test_nnlite_imports_without_dask():
    # the default path never imports Dask; without it installed, only using a distributed feature fails
    code = ("import sys; import nnlite, nnlite.cli, nnlite.estimator, nnlite.distributed; "
            "print('distributed' in sys.modules); sys.modules['distributed'] = None\n"
            "try:\n    nnlite.distributed.require_distributed()\nexcept ImportError as error:\n    print(error)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, message = result.stdout.splitlines()[:2]
    assert first == "False"
    assert "nnlite[distributed]" in message


def _data(n=157, d=12, seed=0):
    return np.random.default_rng(seed).uniform(0.1, 0.9, size=(n, d))


def _network(hidden, activation, d=12, loss=None):
    if loss is None:
        network = build_autoencoder(d, hidden, activation=activation, lambda_=1e-3, sparsity_param=0.1,
                                    beta=3.0)
    else:
        sizes = [d] + list(hidden) + [d]
        layers = [Dense(a, b, activation) for a, b in zip(sizes[:-2], sizes[1:-1])] + [Dense(sizes[-2], d)]
        network = Network(layers, loss=loss, regularizers=[WeightDecay(1e-3), KLSparsity(0.1, 3.0)])
    network.initialize(7)
    return network


def _relative(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b))


class _PerSampleActivityPenalty(KLSparsity):
    """An activity penalty that says it reads more than the mean activations."""

    uses_column_means = False


def test_reduction_refuses_penalties_beyond_the_mean_activation():
    network = _network([5], "sigmoid")
    assert Reduction(network).activity  # KLSparsity is combined through the means
    network.regularizers = [WeightDecay(1e-3), _PerSampleActivityPenalty(0.1, 3.0)]
    with pytest.raises(ValueError, match="mean activation only"):
        Reduction(network)


@pytest.mark.parametrize("hidden", [[5], [8, 3, 8]])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_cost_and_gradient_equal_single_process(client, hidden, activation):
    X = _data()
    network = _network(hidden, activation)
    theta = network.theta.copy()
    cost, grad = network.loss_and_grad(theta, X)
    for shards in ([1, 60, 96],) if activation == "relu" else ([1, 60, 96], [156, 1]):
        block_size = None if shards[0] == 1 else 23  # several blocks per shard in the second split
        objective = DistributedObjective(client, network, X, shards=shards, block_size=block_size)
        assert objective.n_trips == (1 if len(hidden) == 1 else 2)
        assert objective.n_samples == X.shape[0]
        got_cost, got_grad = objective(theta)
        objective.close()
        assert abs(got_cost - cost) <= 1e-12 * abs(cost)
        assert _relative(got_grad, grad) <= 1e-12
        np.testing.assert_allclose(got_grad, grad, rtol=1e-10, atol=1e-14 * np.abs(grad).max())


def test_two_trips_for_one_hidden_layer(client):
    X = _data()
    network = _network([5], "relu")
    cost, grad = network.loss_and_grad(network.theta, X)
    objective = DistributedObjective(client, network, X, shards=[1, 156], trips=2)
    assert objective.n_trips == 2
    got_cost, got_grad = objective(network.theta)
    assert abs(got_cost - cost) <= 1e-12 * cost and _relative(got_grad, grad) <= 1e-12
    with pytest.raises(ValueError, match="trips"):
        DistributedObjective(client, _network([8, 3, 8], "relu"), X, trips=1)


def test_per_layer_penalties(client):
    # sparsity on chosen layers only (nnlite.losses.per_layer): on the first alone one trip is exact
    X = _data()
    for layers, trips in (([0], 1), ([1, 2], 2)):
        network = _network([8, 3, 8], "sigmoid")
        network.regularizers = [WeightDecay(1e-3), LayerSparsity(0.1, 3.0, layers=layers)]
        cost, grad = network.loss_and_grad(network.theta, X)
        objective = DistributedObjective(client, network, X, shards=[1, 60, 96])
        assert objective.n_trips == trips
        got_cost, got_grad = objective(network.theta)
        assert abs(got_cost - cost) <= 1e-12 * cost and _relative(got_grad, grad) <= 1e-12


def test_gradient_is_sensitive_to_the_global_mean(client):
    # a shard's own rho_hat differs from the global one: summing per-shard costs would be wrong
    X = np.vstack([_data(40, seed=1), _data(40, seed=2) * 0.2])
    network = _network([5], "sigmoid")
    cost, grad = network.loss_and_grad(network.theta, X)
    halves = [network.loss_and_grad(network.theta, X[:40]), network.loss_and_grad(network.theta, X[40:])]
    assert abs(0.5 * (halves[0][0] + halves[1][0]) - cost) > 1e-6 * cost
    objective = DistributedObjective(client, network, X, shards=2)
    got_cost, got_grad = objective(network.theta)
    assert abs(got_cost - cost) <= 1e-12 * cost and _relative(got_grad, grad) <= 1e-12


def test_bytes_per_evaluation_do_not_grow_with_samples(client):
    network = _network([5], "sigmoid")
    moved = []
    for n in (50, 500):
        objective = DistributedObjective(client, network, _data(n), shards=2)
        objective(network.theta)
        moved.append((objective.bytes_sent, objective.bytes_received))
        objective.close()
    assert moved[0] == moved[1]
    assert moved[0][1] <= 2 * 8 * (network.n_params + 5 * 12 + 5 + 16)


def test_shards_from_loaders(client, tmp_path):
    X = _data()
    network = _network([8, 3, 8], "sigmoid")
    paths = []
    for index, (start, stop) in enumerate(shard_bounds(X.shape[0], [100, 57])):
        paths.append(str(tmp_path / f"shard{index}.npy"))
        np.save(paths[-1], X[start:stop])
    objective = DistributedObjective(client, network, loaders=[functools.partial(np.load, p) for p in paths])
    cost, grad = network.loss_and_grad(network.theta, X)
    got_cost, got_grad = objective(network.theta)
    assert objective.n_samples == X.shape[0]
    assert abs(got_cost - cost) <= 1e-12 * cost and _relative(got_grad, grad) <= 1e-12


def _train(fun, theta0):
    return make_optimizer("lbfgs-b", max_iter=15).minimize(fun, theta0).theta


@pytest.mark.parametrize("hidden", [[6], [8, 3, 8]])
def test_short_training_gives_the_same_parameters(client, hidden):
    X = _data(300)
    network = _network(hidden, "sigmoid")
    theta0 = network.theta.copy()
    expected = _train(network.objective(X), theta0)
    objective = DistributedObjective(client, network, X, shards=[120, 179, 1])
    got = _train(objective, theta0)
    assert _relative(got, expected) <= 1e-10
    assert _relative(expected, theta0) > 1e-3  # it did train


# ------------------------------------------------------- estimator, pipeline, CLI
def test_estimator_with_a_client(client, tmp_path):
    X = _data(300)
    options = dict(hidden_size=6, max_iter=15, lambda_=1e-3, sparsity_param=0.1, random_state=3)
    expected = SparseAutoencoder(**options).fit(X)
    model = SparseAutoencoder(client=client, **options).fit(X)
    assert _relative(model.network_.theta, expected.network_.theta) <= 1e-10
    assert model.n_iter_ == expected.n_iter_
    path = model.save(str(tmp_path / "model.npz"))  # the client is not part of the saved model
    assert "client" not in model.get_state()[0]["params"]
    assert _relative(SparseAutoencoder.load(path).network_.theta, model.network_.theta) == 0


def test_stacked_autoencoder_with_a_client(client):
    # every greedy stage and the fine-tuning on the cluster: the same stack as in one process
    X = _data(300)
    options = dict(hidden_size=[6, 3, 6], pretrain_iter=8, finetune_iter=8, sparsity_param=0.1,
                   lambda_=1e-3, random_state=5)
    expected = StackedAutoencoder(**options).fit(X)
    model = StackedAutoencoder(client=client, **options).fit(X)
    for ours, theirs in zip(model.pretrain_networks_, expected.pretrain_networks_):
        assert _relative(ours.theta, theirs.theta) <= 1e-10
    assert _relative(model.network_.theta, expected.network_.theta) <= 1e-10
    assert model.n_iter_ == expected.n_iter_ and "client" not in model.get_state()[0]["params"]


def test_patch_model_in_a_client_block(client):
    images = _images(12)
    options = dict(hidden=(6,), patch_size=4, num_patches=400, max_iter=8, random_state=0)
    expected = PatchModel(**options).fit(images)
    with use_client(client):
        model = PatchModel(**options).fit(images)
        assert model.encoder_.get_params()["client"] is None
        extractor = model.features(stride=4, pooling="sum", memory_limit=1e5)
        assert isinstance(extractor, DistributedFeatures) and extractor.client is client
        features = extractor.fit_transform(images)
    assert _relative(model.encoder_.network_.theta, expected.encoder_.network_.theta) <= 1e-10
    np.testing.assert_array_equal(features, model.encode(images, stride=4, pooling="sum", memory_limit=1e5))


def test_cli_train_on_the_cluster(client, tmp_path, capsys):
    output = tmp_path / "out"
    status = main(["train", "--patches", "300", "--hidden", "6", "--iterations", "3", "--output", str(output),
                   "--scheduler", client.scheduler.address])
    assert status == 0
    captured = capsys.readouterr()
    assert "Dask cluster" in captured.out + captured.err
    with open(output / "summary.json", encoding="utf-8") as handle:
        assert json.load(handle)["result"]["n_iter"] >= 1


# ------------------------------------------------------------------ faults
class KillOnceLoss(SquaredError):
    """SquaredError that ends its worker process (once) after ``armed`` appears on disk."""

    def __init__(self, folder):
        self.folder = folder

    def value_and_delta(self, backend, outputs, targets, delta):
        armed, fired = os.path.join(self.folder, "armed"), os.path.join(self.folder, "fired")
        if os.path.exists(armed) and _first_to_fire(fired):
            os._exit(1)
        return super().value_and_delta(backend, outputs, targets, delta)


def _first_to_fire(fired):
    """Create ``fired``; True only for the one caller that created it (two shards may race)."""
    try:
        os.close(os.open(fired, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _arm_after(objective, folder, evaluations):
    count = [0]

    def fun(theta):
        count[0] += 1
        if count[0] == evaluations:
            open(os.path.join(folder, "armed"), "w").close()
        return objective(theta)
    return fun


def test_worker_killed_mid_training_gives_the_same_parameters(client, tmp_path):
    client.wait_for_workers(2, timeout=120)  # a worker killed by an earlier test restarts first
    X = _data(300)
    reference = _network([6], "sigmoid")
    theta0 = reference.theta.copy()
    expected = _train(reference.objective(X), theta0)
    network = _network([6], "sigmoid", loss=KillOnceLoss(str(tmp_path)))
    objective = DistributedObjective(client, network, X, shards=2)
    got = _train(_arm_after(objective, str(tmp_path), 4), theta0)
    assert os.path.exists(tmp_path / "fired")  # a worker process really died inside a task
    assert objective.resender.retries >= 1
    assert _relative(got, expected) <= 1e-10


def test_worker_lost_without_retries_is_a_clear_error(client, tmp_path):
    client.wait_for_workers(2, timeout=120)
    X = _data(100)
    network = _network([6], "sigmoid", loss=KillOnceLoss(str(tmp_path)))
    objective = DistributedObjective(client, network, X, shards=2, max_retries=0)
    placement = list(objective.resender.placement)
    open(tmp_path / "armed", "w").close()
    with pytest.raises(ValueError, match="lost Dask worker") as info:
        objective(network.theta)
    assert any(address in str(info.value) for address in placement)


# -------------------------------------------------------------- extraction
class KillOnceFeatures(ConvolutionalFeatures):
    """ConvolutionalFeatures that ends its worker process once, inside an extraction task."""

    def transform(self, X):
        folder = getattr(self, "kill_folder", None)
        if folder and _on_worker() and _first_to_fire(os.path.join(folder, "fired")):
            os._exit(1)
        return super().transform(X)


def _on_worker():
    try:
        require_distributed().get_worker()
    except ValueError:
        return False
    return True


def _images(n=23, side=16, seed=3):
    return np.random.default_rng(seed).integers(0, 256, size=(n, side * side * 3)).astype(np.uint8)


def _extractor(preprocessor, **options):
    network = _network([10], "sigmoid", d=4 * 4 * 3)
    return ConvolutionalFeatures(network, patch_size=4, stride=3, preprocessor=preprocessor,
                                 **options).fit(_images())


@pytest.mark.parametrize("pooling", ["none", "mean"])
def test_feature_extraction_identical(client, pooling):
    images = _images()
    # 2 images per chunk in one process; tasks of a multiple of that give the same bits
    extractor = _extractor(PatchNormalizer().fit(images.reshape(-1, 3)), pooling=pooling, memory_limit=1.2e5)
    assert extractor.chunk_size_ == 2
    expected = extractor.transform(images)
    for chunk_size in (None, 2, 6):
        np.testing.assert_array_equal(distributed_transform(client, extractor, images, chunk_size=chunk_size),
                                      expected)
    np.testing.assert_allclose(distributed_transform(client, extractor, images, chunk_size=5), expected,
                               rtol=1e-13, atol=1e-15)


def test_distributed_features_in_a_client_block(client):
    images = _images()
    extractor = _extractor(PatchNormalizer().fit(images.reshape(-1, 3)), pooling="max", memory_limit=1.2e5)
    expected = extractor.transform(images)
    distributed_extractor = DistributedFeatures(**extractor.get_params(deep=False)).fit(images)
    with use_client(client):
        assert active_client() is client
        distributed_extractor.client = active_client()
        np.testing.assert_array_equal(distributed_extractor.transform(images), expected)
    assert active_client() is None


def test_worker_killed_mid_extraction_gives_the_same_features(client, tmp_path):
    client.wait_for_workers(2, timeout=120)
    images = _images()
    preprocessor = PatchNormalizer().fit(images.reshape(-1, 3))
    extractor = _extractor(preprocessor, pooling="sum", memory_limit=None)
    expected = extractor.transform(images)
    killer = KillOnceFeatures(extractor.encoder, patch_size=4, stride=3, preprocessor=preprocessor,
                              pooling="sum", memory_limit=None).fit(images)
    killer.kill_folder = str(tmp_path)
    got = distributed_transform(client, killer, images, chunk_size=len(images))
    assert os.path.exists(tmp_path / "fired")  # a worker process really died inside the task
    np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------ parsing
def test_parse_scheduler():
    assert parse_scheduler("local:3") == ("local", 3)
    assert parse_scheduler("local") == ("local", 2)
    assert parse_scheduler("tcp://10.0.0.1:8786") == ("address", "tcp://10.0.0.1:8786")
    for bad in ("local:0", "local:x", "", None):
        with pytest.raises(ValueError):
            parse_scheduler(bad)


def test_shard_bounds():
    assert shard_bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert shard_bounds(5, [1, 4]) == [(0, 1), (1, 5)]
    with pytest.raises(ValueError, match="add up"):
        shard_bounds(5, [1, 3])
    with pytest.raises(ValueError):
        shard_bounds(5, [0, 5])
