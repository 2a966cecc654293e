"""``SparseAutoencoder``: the scikit-learn-style estimator over Network + L-BFGS.

:func:`check_data_range` warns (:class:`~nnlite.exceptions.DataRangeWarning`)
once per fit when a sigmoid decoder is asked to reconstruct data far outside
[0, 1], e.g. raw 0..255 pixels.
"""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .autoencoder import build_autoencoder
from . import model_file
from .exceptions import DataRangeWarning, ModelFileError
from .model_file import register_model
from .distributed.objective import objective_on
from .optim import make_optimizer
from .validation import check_data, check_hidden_sizes, check_int, check_random_state

#: Output activations with values in [0, 1], and how far data may stray outside before fit warns.
BOUNDED_OUTPUTS = ("sigmoid",)
RANGE_MARGIN = 0.25


def check_data_range(X, output_activation, name="X"):
    """Warn when ``X`` lies far outside [0, 1] and the decoder's output cannot (one min and max).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training data.
    output_activation : str
        The decoder's activation; only bounded ones (``'sigmoid'``) are checked.
    name : str
        Named in the warning.

    Returns
    -------
    bool
        True when it warned.
    """
    if getattr(output_activation, "name", output_activation) not in BOUNDED_OUTPUTS or X.size == 0:
        return False
    low, high = float(np.min(X)), float(np.max(X))
    if low >= -RANGE_MARGIN and high <= 1 + RANGE_MARGIN:
        return False
    warnings.warn(DataRangeWarning(
        f"{name} spans [{low:.4g}, {high:.4g}], but the {output_activation} decoder outputs values in "
        f"(0, 1): the cost would measure that mismatch, not the features. Normalise the data to [0, 1] "
        f"(e.g. divide 0..255 pixels by 255, or use PatchModel's normalization='spec'), or use a linear "
        f"decoder (output_activation='identity')"), stacklevel=3)
    return True


@register_model
class SparseAutoencoder(TransformerMixin, BaseEstimator):
    """Sparse autoencoder trained with L-BFGS (SPEC's cost and defaults).

    Parameters
    ----------
    hidden_size : int or sequence of int, default=75
        Symmetric hidden sizes (``75`` or ``[200, 50, 200]``).
    activation : str, default='sigmoid'
        Hidden activation: ``'sigmoid'`` or ``'relu'``.
    output_activation : str, default='sigmoid'
        ``'identity'`` gives a linear decoder.
    sparsity_param : float, default=0.01
        ``rho``.
    lambda_ : float, default=1e-4
        Weight decay.
    beta : float, default=3.0
        Sparsity weight.
    max_iter : int, default=400
        L-BFGS iterations.
    tol : float, default=1e-9
        L-BFGS relative cost tolerance.
    optimizer : {'lbfgs-b', 'lbfgs'}, default='lbfgs-b'
        ``'lbfgs-b'``: scipy's L-BFGS-B (SPEC's choice); ``'lbfgs'``:
        nnlite's own L-BFGS (two-loop recursion, strong-Wolfe line search),
        much less work per iteration, which matters on a GPU where scipy's
        own work dominates (see :mod:`nnlite.optim`).
    backend : str, optional
        Array backend (``'numpy'``, ``'cupy'``, ``'cudamat'``).
    dtype : {'float64', 'float32'}, default='float64'
    random_state : None, int or Generator
        Seeds the initial weights.
    verbose : bool or int, default=False
        Progress every ``verbose`` iterations (``True``: every 10).
    client : distributed.Client, optional
        Train on the Dask cluster of this client (:mod:`nnlite.distributed`,
        ``pip install "nnlite[distributed]"``): the samples are sharded over
        its workers once, each L-BFGS evaluation sends ``theta`` out and sums
        the shards' partial results back; the model equals the one-process
        model up to rounding.  None: one process, no Dask.  Not saved.

    Attributes
    ----------
    network_ : Network
        The trained network.
    n_features_in_ : int
    loss_curve_ : list of float
        Cost after each L-BFGS iteration (index 0: initial cost).
    time_curve_ : list of float
        Seconds since the start of training, matching ``loss_curve_``.
    n_iter_ : int
    cost_ : float
        Final cost.
    training_time_ : float
        Seconds spent in :meth:`fit`.
    interrupted_ : bool
        True when training was ended with Ctrl-C (best parameters kept).

    Examples
    --------
    >>> import numpy as np
    >>> from nnlite import SparseAutoencoder
    >>> X = np.random.default_rng(0).uniform(0.1, 0.9, size=(500, 64))
    >>> model = SparseAutoencoder(hidden_size=25, max_iter=20, random_state=0).fit(X)
    >>> model.transform(X).shape
    (500, 25)
    """

    def __init__(self, hidden_size=75, activation="sigmoid", output_activation="sigmoid",
                 sparsity_param=0.01, lambda_=1e-4, beta=3.0, max_iter=400, tol=1e-9,
                 optimizer="lbfgs-b", backend=None, dtype="float64", random_state=None,
                 verbose=False, client=None):
        self.hidden_size = hidden_size
        self.activation = activation
        self.output_activation = output_activation
        self.sparsity_param = sparsity_param
        self.lambda_ = lambda_
        self.beta = beta
        self.max_iter = max_iter
        self.tol = tol
        self.optimizer = optimizer
        self.backend = backend
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.client = client

    # ------------------------------------------------------------- building
    def _build_network(self, n_features):
        return build_autoencoder(n_features, self.hidden_size, activation=self.activation,
                                 output_activation=self.output_activation, lambda_=self.lambda_,
                                 sparsity_param=self.sparsity_param, beta=self.beta,
                                 backend=self.backend, dtype=self.dtype)

    def _iterations(self):
        """L-BFGS iterations of :meth:`fit` (the stack's fine-tuning overrides it)."""
        return self.max_iter

    def _trainer(self):
        return make_optimizer(self.optimizer, max_iter=self._iterations(), tol=self.tol,
                              verbose=self.verbose)

    def fit(self, X, y=None):
        """Train on the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples, typically patches normalised to [0.1, 0.9].
        y : ignored

        Returns
        -------
        self
        """
        X = check_data(X, name="X")
        check_data_range(X, self.output_activation)
        network = self._build_network(X.shape[1])
        network.initialize(check_random_state(self.random_state))
        with objective_on(network, X, getattr(self, "client", None)) as objective:
            result = self._trainer().minimize(objective, network.theta)
        network.set_theta(result.theta)
        self._set_fitted(network, result)
        return self

    def _set_fitted(self, network, result):
        self.network_ = network
        self.n_features_in_ = network.sizes[0]
        self.loss_curve_ = list(result.loss_curve)
        self.time_curve_ = list(result.time_curve)
        self.n_iter_ = int(result.n_iter)
        self.cost_ = float(result.cost)
        self.training_time_ = float(result.wall_time)
        self.interrupted_ = bool(result.interrupted)

    # ------------------------------------------------------------ inference
    @property
    def code_layer_(self):
        """Layers applied to reach the code (the middle hidden layer)."""
        check_is_fitted(self, "network_")
        return (len(self.network_.layers) - 1) // 2 + 1

    @property
    def components_(self):
        """``W(1)``, shape ``(hidden_size[0], n_features)``: one filter per row (a copy)."""
        check_is_fitted(self, "network_")
        return self.network_.layers[0].W.copy()

    def encode(self, X, layer=None, chunk_size=None):
        """Activations of hidden layer ``layer`` (1 = first hidden) for the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        layer : int, optional
            Default: the code layer (the middle one).
        chunk_size : int, optional
            Rows per pass.

        Returns
        -------
        ndarray of shape (n_samples, size of that layer)
        """
        check_is_fitted(self, "network_")
        n_hidden = len(self.network_.layers) - 1
        layer = self.code_layer_ if layer is None else check_int(layer, "layer", minimum=1, maximum=n_hidden)
        return self.network_.forward(X, stop=layer, chunk_size=chunk_size)

    def transform(self, X):
        """Codes (middle hidden layer activations) of the rows of ``X``.

        Returns
        -------
        ndarray of shape (n_samples, code size)
        """
        return self.encode(X)

    def inverse_transform(self, X):
        """Decode codes back to input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, code size)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "network_")
        return self.network_.forward(X, start=self.code_layer_)

    def reconstruct(self, X):
        """``h(x)`` for the rows of ``X``, shape ``(n_samples, n_features)``."""
        check_is_fitted(self, "network_")
        return self.network_.forward(X)

    def reconstruction_error(self, X):
        """Mean over rows of ``0.5 * ||h(x) - x||^2`` (the cost's data term)."""
        X = check_data(X, self.n_features_in_ if hasattr(self, "n_features_in_") else None, name="X")
        difference = self.reconstruct(X) - X
        return float(0.5 * np.einsum("ij,ij->", difference, difference) / X.shape[0])

    def score(self, X, y=None):
        """Negative reconstruction error (greater is better, as scikit-learn expects)."""
        return -self.reconstruction_error(X)

    # ------------------------------------------------------------ persistence
    def get_state(self):
        """The fitted model as JSON-ready metadata and numeric arrays (no file layout).

        Returns
        -------
        state : dict
            ``params`` (constructor arguments), ``sizes``, ``activations``,
            ``training`` (``n_iter``, ``cost``, ``training_time``,
            ``interrupted``).
        arrays : dict of str -> ndarray
            ``theta`` (SPEC's layout), ``loss_curve``, ``time_curve``.
        """
        check_is_fitted(self, "network_")
        params = self.get_params(deep=False)
        sizes = check_hidden_sizes(params["hidden_size"])
        params["hidden_size"] = sizes[0] if np.ndim(params["hidden_size"]) == 0 else sizes
        params["random_state"] = params["random_state"] if isinstance(params["random_state"], (int, type(None))) else None
        params["backend"] = params["backend"] if isinstance(params["backend"], (str, type(None))) else None
        params.pop("client", None)  # a connection, not a property of the model
        state = {"params": params, "sizes": self.network_.sizes,
                 "activations": self.network_.activation_names,
                 "training": {"n_iter": self.n_iter_, "cost": self.cost_,
                              "training_time": self.training_time_, "interrupted": self.interrupted_}}
        arrays = {"theta": self.network_.theta, "loss_curve": np.asarray(self.loss_curve_),
                  "time_curve": np.asarray(self.time_curve_)}
        return state, arrays

    @classmethod
    def from_state(cls, state, arrays, backend=None, dtype=None):
        """Rebuild a fitted model from :meth:`get_state`'s output.

        Parameters
        ----------
        state : dict
        arrays : dict of str -> ndarray
        backend : str, optional
            Where the network runs; the loader chooses (default: numpy or
            ``$NNLITE_BACKEND``), whatever backend the model was trained on.
        dtype : {'float64', 'float32'}, optional
            Default: the stored one.

        Returns
        -------
        model
        """
        params = dict(state["params"], backend=backend)
        if dtype is not None:
            params["dtype"] = dtype
        model = cls(**params)
        network = model._build_network(state["sizes"][0])
        if network.sizes != list(state["sizes"]) or network.activation_names != list(state["activations"]):
            raise ModelFileError("the saved architecture does not match its hyper-parameters")
        network.set_theta(arrays["theta"])
        model.network_ = network
        model.n_features_in_ = network.sizes[0]
        model.loss_curve_ = [float(v) for v in arrays.get("loss_curve", [])]
        model.time_curve_ = [float(v) for v in arrays.get("time_curve", [])]
        training = state.get("training", {})
        model.n_iter_ = int(training.get("n_iter", 0))
        model.cost_ = float(training.get("cost", np.nan))
        model.training_time_ = float(training.get("training_time", 0.0))
        model.interrupted_ = bool(training.get("interrupted", False))
        return model

    def save(self, path, arrays=None, metadata=None):
        """Save the fitted model to ``path`` (``.npz`` + JSON metadata, no pickle).

        Parameters
        ----------
        path : str or os.PathLike
        arrays : dict of str -> ndarray, optional
            Extra arrays to store.
        metadata : dict, optional
            Extra JSON-serialisable information.

        Returns
        -------
        str
            The path written (see :mod:`nnlite.model_file` for the layout).
        """
        check_is_fitted(self, "network_")
        return model_file.write(path, self, extra=metadata, extra_arrays=arrays)

    @classmethod
    def load(cls, path, backend=None):
        """Load a model saved with :meth:`save` (see :func:`load_model`)."""
        model = load_model(path, backend=backend)
        if not isinstance(model, cls):
            raise ModelFileError(f"{path!r} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def load_model(path, with_extras=False, backend=None):
    """Load any nnlite estimator saved with ``save`` (or inside a patch model file).

    Parameters
    ----------
    path : str or os.PathLike
    with_extras : bool, default=False
        Also return ``{'arrays': ..., 'metadata': ...}`` with what the caller
        stored alongside.
    backend : str, optional
        Where the loaded network runs (default: numpy or ``$NNLITE_BACKEND``).

    Returns
    -------
    model : SparseAutoencoder (or another registered estimator)
    extras : dict, only when ``with_extras``

    Raises
    ------
    ModelFileError
        For a missing, damaged or incompatible file.
    """
    contents = model_file.read(path, backend=backend)
    if not with_extras:
        return contents.estimator
    return contents.estimator, {"arrays": contents.extra_arrays, "metadata": contents.extra}
