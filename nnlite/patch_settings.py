"""``PatchSettings``: every choice of the patch pipeline, and the named recipes (presets).

:meth:`PatchSettings.from_options` is the *only* place where defaults depend
on the normalisation: with ``'zca'`` the unspecified ``sparsity_param``,
``lambda_``, ``beta`` and ``output_activation`` come from the ``'whitened'``
preset (UFLDL's linear-decoder recipe), otherwise from ``'spec'`` (SPEC's).
:class:`nnlite.patch_model.PatchModel` trains with them.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from .preprocessing import PREPROCESSORS
from .pretraining import encoder_sizes
from .stacked import FINETUNE_SETTINGS, finetune_cost
from .validation import (check_hidden_sizes, check_int, check_non_negative, check_positive,
                         check_open_unit_interval, is_integer)

__all__ = ["NORMALIZATIONS", "PRESETS", "PatchSettings"]

#: Patch normalisations (see :func:`nnlite.preprocessing.make_preprocessor`).
NORMALIZATIONS = PREPROCESSORS
HIDDEN_ACTIVATIONS = ("sigmoid", "relu")
OUTPUT_ACTIVATIONS = ("sigmoid", "identity", "relu")
OPTIMIZERS = ("lbfgs-b", "lbfgs")
DTYPES = ("float64", "float32")

#: Named recipes.  'spec': SPEC's normalisation, sigmoid decoder, rho 0.01, lambda 1e-4, beta 3.
#: 'whitened': mean removal + ZCA (epsilon 0.1), linear decoder and UFLDL's linear-decoder values
#: rho 0.035, lambda 3e-3, beta 5 (with SPEC's weight decay the whitening's amplified weak
#: directions stay undamped and the filters look like noise).
PRESETS = {
    "spec": {"normalization": "spec", "output_activation": "sigmoid", "sparsity_param": 0.01,
             "lambda_": 1e-4, "beta": 3.0},
    "whitened": {"normalization": "zca", "epsilon": 0.1, "output_activation": "identity",
                 "sparsity_param": 0.035, "lambda_": 3e-3, "beta": 5.0},
}
#: Fields whose default follows the normalisation (see :meth:`PatchSettings.from_options`).
NORMALIZATION_DEPENDENT = ("sparsity_param", "lambda_", "beta", "output_activation")
#: Fields for which an explicit None is a value (not "use the default").
NONE_IS_A_VALUE = ("finetune_iter", "backend", "random_state")


@dataclass(frozen=True)
class PatchSettings:
    """Every choice of the patch pipeline (frozen; JSON-ready through :meth:`to_dict`).

    Parameters
    ----------
    hidden : tuple of int, default=(75,)
        ``(75,)``: one hidden layer (:class:`~nnlite.estimator.SparseAutoencoder`);
        a symmetric odd-length tuple such as ``(200, 50, 200)``: a
        :class:`~nnlite.stacked.StackedAutoencoder`.  An int becomes a 1-tuple.
    patch_size : int, default=8
    num_patches : int, default=10000
    normalization : {'spec', 'mean-removed', 'zca'}, default='spec'
    epsilon : float, default=0.1
        ZCA regulariser (``'zca'`` only).
    contrast : float or None, default=None
        Contrast normalisation of each patch after its mean is removed
        (``'mean-removed'`` and ``'zca'``): divide by ``sqrt(variance +
        contrast * mean variance)`` (Coates, Lee & Ng 2011; see
        :class:`~nnlite.preprocessing.PatchNormalizer`).  None: off.
    sparsity_param, lambda_, beta : float
        ``rho``, weight decay, sparsity weight (SPEC's 0.01, 1e-4, 3).
    activation : {'sigmoid', 'relu'}, default='sigmoid'
    output_activation : {'sigmoid', 'identity', 'relu'}, default='sigmoid'
    max_iter : int, default=400
        L-BFGS iterations (per pretraining stage, and fine-tuning, when stacked).
    finetune_iter : int or None, default=None
        Stacked only: fine-tuning iterations; None: ``max_iter``; 0 keeps
        the pretrained stack.
    finetune_sparsity_param, finetune_beta : None, float or tuple of float
        Stacked only: ``rho`` and ``beta`` of fine-tuning, one value or one
        per hidden layer; None: ``sparsity_param``, ``beta``.
    finetune_lambda_ : None, float or tuple of float
        Stacked only: weight decay of fine-tuning, one value or one per
        weight layer (``len(hidden) + 1``); None: ``lambda_``.
    finetune_decoder_penalty : bool, default=True
        Stacked only: False puts no sparsity on the hidden layers past the
        middle one and no weight decay on the decoder's weights during
        fine-tuning (see :class:`~nnlite.stacked.StackedAutoencoder`).
    optimizer : {'lbfgs-b', 'lbfgs'}, default='lbfgs-b'
    dtype : {'float64', 'float32'}, default='float64'
    backend : str or None
        Training backend (None: numpy or ``$NNLITE_BACKEND``).
    random_state : int or None, default=0
        Seeds the patches and the initial weights (None: fresh entropy).
    verbose : int, default=0
        Progress lines every ``verbose`` iterations (0: quiet; ``True`` becomes 10).
    """

    hidden: tuple = (75,)
    patch_size: int = 8
    num_patches: int = 10000
    normalization: str = "spec"
    epsilon: float = 0.1
    contrast: float = None
    sparsity_param: float = 0.01
    lambda_: float = 1e-4
    beta: float = 3.0
    activation: str = "sigmoid"
    output_activation: str = "sigmoid"
    max_iter: int = 400
    finetune_iter: int = None
    finetune_sparsity_param: object = None
    finetune_lambda_: object = None
    finetune_beta: object = None
    finetune_decoder_penalty: bool = True
    optimizer: str = "lbfgs-b"
    dtype: str = "float64"
    backend: str = None
    random_state: int = 0
    verbose: int = 0

    def __post_init__(self):
        hidden = self.hidden
        if is_integer(hidden):
            hidden = (int(hidden),)
        elif isinstance(hidden, (list, tuple, np.ndarray)):
            hidden = tuple(int(v) if is_integer(v) else v for v in hidden)
        object.__setattr__(self, "hidden", hidden)
        for name in FINETUNE_SETTINGS:
            value = getattr(self, name)
            if isinstance(value, (list, tuple, np.ndarray)):
                object.__setattr__(self, name, tuple(np.ravel(value).tolist()))
        if isinstance(self.verbose, bool):
            object.__setattr__(self, "verbose", 10 if self.verbose else 0)

    # ------------------------------------------------------------ building
    @classmethod
    def fields(cls):
        """Names of the settings, in order."""
        return [item.name for item in dataclasses.fields(cls)]

    @classmethod
    def _check_names(cls, given):
        unknown = sorted(set(given) - set(cls.fields()))
        if unknown:
            raise TypeError(f"unknown patch settings {unknown}; known: {', '.join(cls.fields())}")

    @classmethod
    def from_options(cls, **given):
        """Settings from options where None or absent means "the default".

        The one place where defaults depend on the normalisation: with
        ``normalization='zca'`` the unspecified ``sparsity_param``,
        ``lambda_``, ``beta`` and ``output_activation`` take the
        ``'whitened'`` preset's values, otherwise SPEC's.  Explicit values
        always win.  ``finetune_iter``, ``backend`` and ``random_state``
        keep an explicit None (it is a value for them).

        Returns
        -------
        PatchSettings
            Not yet validated (call :meth:`validate`).
        """
        cls._check_names(given)
        chosen = {name: value for name, value in given.items()
                  if value is not None or name in NONE_IS_A_VALUE}
        normalization = chosen.get("normalization", cls.normalization)
        preset = PRESETS["whitened" if normalization == "zca" else "spec"]
        for name in NORMALIZATION_DEPENDENT:
            chosen.setdefault(name, preset[name])
        return cls(**chosen)

    @classmethod
    def preset(cls, name, **overrides):
        """The named recipe (``'spec'`` or ``'whitened'``) with ``overrides`` applied."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        cls._check_names(overrides)
        return cls(**dict(PRESETS[name], **overrides))

    def replace(self, **changes):
        """A copy with ``changes`` applied."""
        self._check_names(changes)
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------ checking
    def validate(self):
        """Check every field; return ``self``.

        Raises
        ------
        ValueError
            Naming the first bad field and its value.
        """
        sizes = check_hidden_sizes(list(self.hidden) if isinstance(self.hidden, tuple) else self.hidden,
                                   name="hidden")
        if len(sizes) > 1:
            encoder_sizes(sizes)
        check_int(self.patch_size, "patch_size", minimum=1)
        check_int(self.num_patches, "num_patches", minimum=1)
        for name, allowed in (("normalization", NORMALIZATIONS), ("activation", HIDDEN_ACTIVATIONS),
                              ("output_activation", OUTPUT_ACTIVATIONS), ("optimizer", OPTIMIZERS),
                              ("dtype", DTYPES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        check_non_negative(self.epsilon, "epsilon")
        if self.contrast is not None:
            check_positive(self.contrast, "contrast")
            if self.normalization == "spec":
                raise ValueError("contrast normalisation needs normalization 'mean-removed' or 'zca', "
                                 "not 'spec'")
        check_open_unit_interval(self.sparsity_param, "sparsity_param")
        check_non_negative(self.lambda_, "lambda_")
        check_non_negative(self.beta, "beta")
        check_int(self.max_iter, "max_iter", minimum=1)
        if self.finetune_iter is not None:
            check_int(self.finetune_iter, "finetune_iter", minimum=0)
        self._check_finetune_cost(sizes)
        if self.backend is not None and not isinstance(self.backend, str):
            raise ValueError(f"backend must be a name (str) or None, got {self.backend!r}")
        if self.random_state is not None:
            check_int(self.random_state, "random_state", minimum=0)
        check_int(self.verbose, "verbose", minimum=0)
        return self

    def _check_finetune_cost(self, sizes):
        """Raise ``ValueError`` for a bad per-layer fine-tuning setting (or one on a single layer)."""
        given = [name for name in FINETUNE_SETTINGS if getattr(self, name) is not None]
        if not isinstance(self.finetune_decoder_penalty, (bool, np.bool_)):
            raise ValueError(f"finetune_decoder_penalty must be True or False, "
                             f"got {self.finetune_decoder_penalty!r}")
        if not self.finetune_decoder_penalty:
            given.append("finetune_decoder_penalty")
        if len(sizes) == 1 and given:
            raise ValueError(f"{given[0]} applies to stacked models only (hidden has one layer: {sizes})")
        if len(sizes) > 1:
            finetune_cost(len(sizes), decoder_penalty=self.finetune_decoder_penalty,
                          **{name: getattr(self, name) if getattr(self, "finetune_" + name) is None
                             else getattr(self, "finetune_" + name)
                             for name in ("sparsity_param", "lambda_", "beta")})

    @property
    def stacked(self):
        """True for several hidden layers."""
        return len(self.hidden) > 1

    # ------------------------------------------------------------------ JSON
    def to_dict(self):
        """JSON-ready dict of every field (``hidden`` as a list)."""
        document = dataclasses.asdict(self)
        document["hidden"] = list(self.hidden)
        for name in FINETUNE_SETTINGS:
            if isinstance(document[name], tuple):
                document[name] = list(document[name])
        return document

    @classmethod
    def from_dict(cls, document):
        """Inverse of :meth:`to_dict` (unknown keys raise ``TypeError``)."""
        cls._check_names(document)
        return cls(**document)
