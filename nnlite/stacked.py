"""``StackedAutoencoder``: a deep symmetric sparse autoencoder, pretrained, unrolled, fine-tuned.

The greedy stages and the unrolling are in :mod:`nnlite.pretraining`; this
estimator runs them, then fine-tunes the unrolled network with L-BFGS on the
whole sparse-autoencoder cost (by default the first stage's ``rho``,
``beta`` on every hidden layer and its ``lambda`` on every ``W``; the
``finetune_*`` parameters set them per layer, or drop them on the decoder
half), and stores / restores itself through ``get_state``/``from_state``
(:mod:`nnlite.model_file` writes the file).
"""

import sys
import time

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .autoencoder import build_autoencoder
from .distributed.objective import objective_on
from .estimator import SparseAutoencoder, check_data_range
from .losses.per_layer import per_item
from .model_file import register_model
from .optim import TrainingResult
from .pretraining import Stage, encoder_sizes, per_stage, pretrain_stack, stage_settings, unroll
from .validation import (check_data, check_hidden_sizes, check_int, check_non_negative,
                         check_open_unit_interval, check_random_state)

#: The fine-tuning settings that may be given per layer, with their checks.
FINETUNE_SETTINGS = {"finetune_sparsity_param": check_open_unit_interval,
                     "finetune_lambda_": check_non_negative, "finetune_beta": check_non_negative}


def finetune_cost(n_hidden, sparsity_param, lambda_, beta, decoder_penalty=True):
    """The deep network's per-layer cost settings, validated.

    Parameters
    ----------
    n_hidden : int
        Hidden layers of the deep network (odd: ``2k - 1`` for ``k`` stages).
    sparsity_param, beta : float or sequence of ``n_hidden`` floats
        ``rho`` and ``beta`` per hidden layer.
    lambda_ : float or sequence of ``n_hidden + 1`` floats
        Weight decay per weight layer.
    decoder_penalty : bool, default=True
        False: ``beta = 0`` on the hidden layers past the middle one and
        ``lambda = 0`` on the decoder's weights (layers ``k .. 2k - 1``).

    Returns
    -------
    dict
        ``sparsity_param``, ``lambda_``, ``beta``: scalars when every
        argument was a scalar and ``decoder_penalty`` is True (SPEC's cost
        exactly), otherwise lists (one per hidden / weight layer).
    """
    if not isinstance(decoder_penalty, (bool, np.bool_)):
        raise ValueError(f"finetune_decoder_penalty must be True or False, got {decoder_penalty!r}")
    given = {"sparsity_param": sparsity_param, "lambda_": lambda_, "beta": beta}
    if decoder_penalty and not any(isinstance(v, (list, tuple, np.ndarray)) for v in given.values()):
        return {name: FINETUNE_SETTINGS["finetune_" + name](value, "finetune_" + name)
                for name, value in given.items()}
    lists = {name: per_item(value, n_hidden + (name == "lambda_"), "finetune_" + name,
                            FINETUNE_SETTINGS["finetune_" + name],
                            unit="weight layer" if name == "lambda_" else "hidden layer")
             for name, value in given.items()}
    if not decoder_penalty:
        middle = n_hidden // 2  # index of the middle hidden layer; decoder weights start after it
        lists["beta"] = [value if index <= middle else 0.0 for index, value in enumerate(lists["beta"])]
        lists["lambda_"] = [value if index <= middle else 0.0 for index, value in enumerate(lists["lambda_"])]
    return lists


@register_model
class StackedAutoencoder(SparseAutoencoder):
    """Deep symmetric sparse autoencoder: greedy pretraining, unrolling, fine-tuning.

    Parameters
    ----------
    hidden_size : sequence of int, default=(200, 50, 200)
        Symmetric, odd number of hidden layers (``[400, 100, 25, 100, 400]``).
    activation : str or list of str, default='sigmoid'
        Hidden activation, or one per pretraining stage (mirrored in the
        decoder half).
    output_activation : str, default='sigmoid'
        Output activation of stage 1 and of the deep network.
    sparsity_param, lambda_, beta : float or list of float
        ``rho``, ``lambda``, ``beta``: one value, or one per pretraining stage
        (``(len(hidden_size) + 1) // 2`` stages).  Fine-tuning uses the first
        stage's values, on every layer, unless the ``finetune_*`` settings
        say otherwise.
    pretrain_iter : int or list of int, default=400
        L-BFGS iterations per stage.
    finetune_iter : int, default=400
        L-BFGS iterations on the deep network; ``0`` keeps the unrolled stack.
    pretrain : bool, default=True
        False: train the deep network from SPEC's random initialisation for
        ``finetune_iter`` iterations (what pretraining buys).
    tol, backend, dtype, random_state, verbose
        As for :class:`~nnlite.estimator.SparseAutoencoder`; one generator
        seeds every stage (or the random initialisation).
    inner_output_activation : str, optional
        Decoder activation of the inner stages (see the module notes).
    optimizer : {'lbfgs-b', 'lbfgs'}, default='lbfgs-b'
        Used for every stage and for fine-tuning (see
        :func:`nnlite.optim.make_optimizer`).
    finetune_sparsity_param, finetune_beta : None, float or list of float
        ``rho`` and ``beta`` of fine-tuning: None (the first stage's), one
        value, or one per hidden layer (``len(hidden_size)``; ``beta = 0``
        leaves a layer unpenalised).
    finetune_lambda_ : None, float or list of float
        Weight decay of fine-tuning: None (the first stage's), one value, or
        one per weight layer (``len(hidden_size) + 1``).
    finetune_decoder_penalty : bool, default=True
        False: during fine-tuning, no sparsity on the hidden layers past the
        middle one and no weight decay on the decoder's weights.
    client : distributed.Client, optional
        Pretrain every stage and fine-tune on this Dask cluster (the same
        model as in one process; not saved with the model).

    Attributes
    ----------
    network_ : Network
        The deep network; ``transform`` gives the middle layer,
        ``encode(X, layer=k)`` hidden layer ``k`` (1 = first).
    stage_results_ : list of dict
        Per stage: ``sizes``, ``activations``, ``settings``, ``n_iter``,
        ``cost``, ``loss_curve``, ``time_curve``, ``time`` (see :class:`Stage`).
    pretrain_networks_ : list of Network
        The stage networks (not kept by :meth:`save`).
    loss_curve_, time_curve_, n_iter_, cost_
        Fine-tuning record; ``loss_curve_[0]`` is the unrolled stack's cost.
    pretrained_reconstruction_error_ : float
        Reconstruction error of the unrolled stack (NaN without pretraining).
    training_time_, pretraining_time_, finetuning_time_ : float
        Seconds: in all, greedy stages and unrolling, fine-tuning.

    Notes
    -----
    With sigmoid units and SPEC's ``rho = 0.01`` on every layer, the codes of
    stage 1 have mean 0.01: stage 2 can reconstruct them almost perfectly by
    a constant, its sparsity and weight-decay terms dominate, and the stack
    collapses to the constant (mean-patch) output, which 100 iterations of
    fine-tuning did not leave.  On 5,000 8x8x3 patches of the sample photos, ``[200, 50, 200]``
    with 100 + 100 iterations reached a reconstruction error of 1.7066 (the
    mean patch's) with ``rho = 0.01`` and 0.163 (unrolled) / 0.132
    (fine-tuned) with ``rho = 0.1``; a single 200-unit layer reached 0.323
    with ``rho = 0.01``.  Use a larger ``rho`` for deep stacks.

    Examples
    --------
    >>> import numpy as np
    >>> from nnlite.stacked import StackedAutoencoder
    >>> X = np.random.default_rng(0).uniform(0.1, 0.9, size=(200, 16))
    >>> model = StackedAutoencoder([8, 4, 8], pretrain_iter=10, finetune_iter=10,
    ...                            random_state=0).fit(X)
    >>> model.transform(X).shape, model.encode(X, layer=1).shape
    ((200, 4), (200, 8))
    """

    def __init__(self, hidden_size=(200, 50, 200), activation="sigmoid", output_activation="sigmoid",
                 sparsity_param=0.01, lambda_=1e-4, beta=3.0, pretrain_iter=400, finetune_iter=400,
                 pretrain=True, tol=1e-9, backend=None, dtype="float64", random_state=None,
                 verbose=False, inner_output_activation=None, optimizer="lbfgs-b",
                 finetune_sparsity_param=None, finetune_lambda_=None, finetune_beta=None,
                 finetune_decoder_penalty=True, client=None):
        self.hidden_size = hidden_size
        self.activation = activation
        self.output_activation = output_activation
        self.sparsity_param = sparsity_param
        self.lambda_ = lambda_
        self.beta = beta
        self.pretrain_iter = pretrain_iter
        self.finetune_iter = finetune_iter
        self.pretrain = pretrain
        self.tol = tol
        self.backend = backend
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.inner_output_activation = inner_output_activation
        self.optimizer = optimizer
        self.finetune_sparsity_param = finetune_sparsity_param
        self.finetune_lambda_ = finetune_lambda_
        self.finetune_beta = finetune_beta
        self.finetune_decoder_penalty = finetune_decoder_penalty
        self.client = client

    # ------------------------------------------------------------- building
    def _plan(self):
        """Validated per-stage settings (see :func:`stage_settings`)."""
        return stage_settings(len(encoder_sizes(self.hidden_size)), self.activation,
                              self.sparsity_param, self.lambda_, self.beta, self.pretrain_iter)

    def _finetune_cost(self, plan):
        """The deep network's ``lambda_``, ``sparsity_param``, ``beta`` (see :func:`finetune_cost`)."""
        given = {name: getattr(self, "finetune_" + name) for name in ("sparsity_param", "lambda_", "beta")}
        given = {name: plan[name][0] if value is None else value for name, value in given.items()}
        return finetune_cost(len(check_hidden_sizes(self.hidden_size)), decoder_penalty=self.finetune_decoder_penalty,
                             **given)

    def _build_network(self, n_features):
        plan = self._plan()
        hidden = plan["activation"]
        return build_autoencoder(n_features, check_hidden_sizes(self.hidden_size),
                                 activation=hidden + hidden[-2::-1],
                                 output_activation=self.output_activation, backend=self.backend,
                                 dtype=self.dtype, **self._finetune_cost(plan))

    def _iterations(self):
        return self.finetune_iter

    def _reused_stages(self, pretrained, plan, n_features):
        """The stages of a fitted stack, checked against this model's architecture."""
        if not self.pretrain:
            raise ValueError("pretrained stages were given to a model with pretrain=False")
        if not isinstance(pretrained, StackedAutoencoder):
            raise TypeError(f"pretrained must be a fitted StackedAutoencoder, got {type(pretrained).__name__}")
        check_is_fitted(pretrained, "network_")
        if not pretrained.pretrain_networks_:
            raise ValueError("pretrained keeps no stage networks (loaded from a file, or pretrain=False)")
        stages = [Stage(network=network, **record)
                  for network, record in zip(pretrained.pretrain_networks_, pretrained.stage_results_)]
        found = [stage.sizes[1] for stage in stages], [stage.activations[0] for stage in stages]
        wanted = encoder_sizes(self.hidden_size), plan["activation"]
        if found != wanted or stages[0].sizes[0] != n_features:
            raise ValueError(f"pretrained stages have sizes {found[0]} and activations {found[1]} on "
                             f"{stages[0].sizes[0]} inputs; this model needs {wanted[0]}, {wanted[1]} on "
                             f"{n_features}")
        return stages

    def fit(self, X, y=None, pretrained=None):
        """Pretrain (unless ``pretrain=False``), unroll and fine-tune on the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        pretrained : StackedAutoencoder, optional
            A fitted stack (same architecture, trained in this session) whose
            greedy stages are unrolled instead of pretraining again, e.g. to
            compare fine-tuning settings from one pretraining.  Its stages
            are copied, not changed; ``pretraining_time_`` then counts the
            unrolling only.

        Returns
        -------
        self
        """
        X = check_data(X, name="X")
        check_data_range(X, self.output_activation)
        plan = self._plan()
        check_int(self.finetune_iter, "finetune_iter", minimum=0 if self.pretrain else 1)
        rng = check_random_state(self.random_state)
        start = time.perf_counter()
        stages = []
        if pretrained is not None:
            stages = self._reused_stages(pretrained, plan, X.shape[1])
        elif self.pretrain:
            stages = pretrain_stack(
                X, self.hidden_size, activation=plan["activation"],
                output_activation=self.output_activation, sparsity_param=plan["sparsity_param"],
                lambda_=plan["lambda_"], beta=plan["beta"], max_iter=plan["max_iter"],
                tol=self.tol, inner_output_activation=self.inner_output_activation,
                backend=self.backend, dtype=self.dtype, random_state=rng, verbose=self.verbose,
                optimizer=self.optimizer, client=self.client)
        if self.pretrain:
            network = unroll(stages, backend=self.backend, dtype=self.dtype,
                             **self._finetune_cost(plan))
        else:
            network = self._build_network(X.shape[1])
            network.initialize(rng)
        pretraining_time = time.perf_counter() - start
        self.network_, self.n_features_in_ = network, X.shape[1]
        self.pretrained_reconstruction_error_ = (self.reconstruction_error(X) if self.pretrain
                                                 else float("nan"))
        if self.verbose:
            print(f"fine-tuning {network.sizes}", file=sys.stderr, flush=True)
        with objective_on(network, X, self.client) as objective:  # evaluating overwrites network.theta
            if self.finetune_iter:
                result = self._trainer().minimize(objective, network.theta)
            else:
                cost = float(objective(network.theta)[0])
                result = TrainingResult(theta=network.theta.copy(), cost=cost, n_iter=0,
                                        n_evaluations=1, loss_curve=[cost], time_curve=[0.0])
        network.set_theta(result.theta)
        self._set_fitted(network, result)
        self.stage_results_ = [stage.summary() for stage in stages]
        self.pretrain_networks_ = [stage.network for stage in stages]
        self.pretraining_time_ = float(pretraining_time)
        self.finetuning_time_ = float(result.wall_time)
        self.training_time_ = float(time.perf_counter() - start)
        return self

    def stage_models(self):
        """The pretraining stages as fitted :class:`~nnlite.estimator.SparseAutoencoder` models.

        Returns
        -------
        list of SparseAutoencoder
            Sharing ``pretrain_networks_``; empty without pretraining or after
            :meth:`load` (model files keep only the stage records).
        """
        check_is_fitted(self, "network_")
        return [Stage(network=network, **record).as_estimator()
                for network, record in zip(self.pretrain_networks_, self.stage_results_)]

    # ------------------------------------------------------------ persistence
    def get_state(self):
        """As :meth:`SparseAutoencoder.get_state`, plus ``stacked``: stage records and times."""
        state, arrays = super().get_state()
        params = state["params"]
        for name in ("activation", "sparsity_param", "lambda_", "beta", "pretrain_iter", *FINETUNE_SETTINGS):
            if isinstance(params[name], (list, tuple, np.ndarray)):
                params[name] = per_stage(params[name], len(params[name]), name)
        params["finetune_decoder_penalty"] = bool(params["finetune_decoder_penalty"])
        state["stacked"] = {
            "stages": self.stage_results_, "pretraining_time": self.pretraining_time_,
            "finetuning_time": self.finetuning_time_,
            "pretrained_reconstruction_error": self.pretrained_reconstruction_error_}
        return state, arrays

    @classmethod
    def from_state(cls, state, arrays, backend=None, dtype=None):
        """Rebuild a fitted stack from :meth:`get_state`'s output (stage networks are not kept)."""
        model = super().from_state(state, arrays, backend=backend, dtype=dtype)
        stacked = state.get("stacked", {})
        model.stage_results_ = list(stacked.get("stages", []))
        model.pretrain_networks_ = []
        model.pretraining_time_ = float(stacked.get("pretraining_time", 0.0))
        model.finetuning_time_ = float(stacked.get("finetuning_time", 0.0))
        model.pretrained_reconstruction_error_ = float(
            stacked.get("pretrained_reconstruction_error", np.nan))
        return model
