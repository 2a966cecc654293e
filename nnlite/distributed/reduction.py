"""Combining the shards' partial sums into the exact cost and gradient (client side).

The cost of SPEC's sparse autoencoder on ``m`` samples split into shards
``S_1 .. S_k`` is::

    J = (1/m) sum_k L_k + sum_l beta sum_j KL(rho || rho_hat_lj) + (lambda/2) sum_l ||W_l||^2,
    rho_hat_l = (1/m) sum_k s_lk,

with ``L_k`` the loss summed over shard ``k`` and ``s_lk`` the column sums of
hidden layer ``l`` on it.  The sparsity term is not a sum of shard terms, but
it depends on the data only through ``rho_hat``; its derivative adds the row
``r_l = beta * dKL/drho_hat(rho_hat_l)`` (the same for every sample) to the
delta of hidden layer ``l`` before ``f'``.  Backpropagation is linear in
those rows, so:

* **one hidden layer** -- the row only reaches ``W_1`` and ``b_1``:
  ``D_1 = (G_1 + r) * F`` with ``F = f'(Z_1)``, hence
  ``sum_i D_1i x_i^T = sum_i (G_1i * F_i) x_i^T + diag(r) F^T X`` and
  ``sum_i D_1i = sum_i G_1i * F_i + r * sum_i F_i``.  Each shard returns its
  row-free summed gradient, ``F^T X`` (``h x v``) and ``sum_i F_i`` (``h``)
  with ``L_k`` and ``s_k`` in **one round trip**; :func:`combine_one_trip`
  applies the row afterwards.
* **deeper stacks** -- the row of hidden layer ``l > 1`` reaches every layer
  below through products with ``f'`` of each sample, a tensor of
  ``h_l x (parameters below)`` per shard, so nnlite uses **two round trips**:
  the column sums of every hidden layer first (:func:`activity_rows`), then
  the gradient sums with the rows (:func:`combine_gradient`).

Parameter penalties (weight decay) are added here, once.  Sums run over the
shards in a fixed order, so the result does not depend on which worker
answered first.  Only penalties that depend on the activations through their
means (``uses_column_means``, as :class:`~nnlite.losses.kl_sparsity.KLSparsity`)
can be combined this way; others raise ``ValueError``.
"""

import numpy as np

from ..backend import get_backend
from ..network import acts_on_layer


class Reduction:
    """Applies a network's regularizers to summed shard statistics.

    Parameters
    ----------
    network : Network
        The client's network: its layout, activations and regularizers.

    Raises
    ------
    ValueError
        For an activity penalty that is not a function of the mean activation.
    """

    def __init__(self, network):
        self.table = network.table
        self.activity = [r for r in network.regularizers if r.acts_on_activations]
        for regularizer in self.activity:
            if not regularizer.uses_column_means:
                raise ValueError(f"distributed training combines activity penalties through the mean "
                                 f"activation only (uses_column_means, as KLSparsity); got {regularizer!r}")
        self.parameter = [r for r in network.regularizers if r.acts_on_parameters]
        self.activations = [layer.activation for layer in network.layers[:-1]]
        self.sizes = network.sizes
        self.activity_backend = get_backend("numpy", network.dtype.name)
        self.parameter_backend = get_backend("numpy", "float64")
        first_weights = self.table.entry(0, "W")
        first_biases = self.table.entry(0, "b")
        self.first_weights = slice(first_weights.offset, first_weights.stop)
        self.first_biases = slice(first_biases.offset, first_biases.stop)

    @property
    def n_trips(self):
        """Round trips per evaluation: 2 when an activity penalty acts beyond the first hidden layer, else 1."""
        deep = any(acts_on_layer(regularizer, index) for regularizer in self.activity
                   for index in range(1, len(self.activations)))
        return 2 if deep else 1

    def activity_rows(self, parts):
        """``rho_hat`` of every hidden layer from the shards' sums; the penalty and the rows.

        Parameters
        ----------
        parts : list of dict
            Per shard (in shard order): ``count``, ``loss``, ``hidden``.

        Returns
        -------
        count : int
            ``m``, all samples.
        cost : float
            ``(1/m) sum_k L_k`` plus the activity penalties.
        rows : list of (ndarray of shape (h_l,) or None)
            Per hidden layer, ``m`` times the penalties' derivative by one
            sample's activation (float64).
        """
        count = sum(part["count"] for part in parts)
        if count == 0:
            raise ValueError("the shards hold no samples")
        loss = 0.0
        for part in parts:
            loss += part["loss"]
        cost = loss * (1.0 / count)
        backend, rows = self.activity_backend, []
        for index, activation in enumerate(self.activations):
            total = np.zeros(self.sizes[index + 1])
            for part in parts:
                total += part["hidden"][index]
            mean = backend.asarray((total * (1.0 / count))[None, :])
            row = None
            for regularizer in self.activity:
                if not acts_on_layer(regularizer, index):
                    continue
                workspace = {"mean": backend.empty((mean.shape[1],)), "grad": backend.empty((mean.shape[1],))}
                penalty, term = regularizer.activity_term(backend, activation, mean, workspace)
                cost = cost + backend.to_float(penalty)
                if term is not None:
                    term = np.asarray(backend.to_host(term), dtype=np.float64)
                    row = term.copy() if row is None else row + term
            rows.append(row)
        return count, float(cost), rows

    def combine_gradient(self, count, cost, grads, theta, rows=None, factors=None):
        """The mean gradient from the shards' summed gradients, plus parameter penalties.

        Parameters
        ----------
        count : int
        cost : float
            From :meth:`activity_rows`.
        grads : list of ndarray of shape (n_params,)
            Summed gradients per shard (in shard order).
        theta : ndarray of shape (n_params,)
        rows : list, optional
            The rows of :meth:`activity_rows`; with ``factors``, the first
            hidden layer's row is applied here (one-trip evaluation).
        factors : list of (ndarray (h, v), ndarray (h,)), optional
            Per shard, ``F^T X`` and ``sum_i F_i`` of the first hidden layer.

        Returns
        -------
        cost : float
        grad : ndarray of shape (n_params,)
        """
        grad = np.zeros(self.table.size)
        for part in grads:
            grad += part
        if factors is not None and rows and rows[0] is not None:
            weight_factor = np.zeros(factors[0][0].shape)
            bias_factor = np.zeros(factors[0][1].shape)
            for weights, biases in factors:
                weight_factor += weights
                bias_factor += biases
            grad[self.first_weights] += (rows[0][:, None] * weight_factor).ravel()
            grad[self.first_biases] += rows[0] * bias_factor
        grad *= 1.0 / count
        theta = np.asarray(theta, dtype=np.float64)
        for regularizer in self.parameter:
            cost = cost + float(regularizer.parameter_penalty(self.parameter_backend, self.table, theta, grad))
        return float(cost), grad

    def combine_one_trip(self, parts, theta):
        """Cost and gradient from the shards' :meth:`ShardEvaluator.one_trip` results.

        Parameters
        ----------
        parts : list of dict
        theta : ndarray of shape (n_params,)

        Returns
        -------
        cost : float
        grad : ndarray of shape (n_params,)
        """
        count, cost, rows = self.activity_rows(parts)
        return self.combine_gradient(count, cost, [part["grad"] for part in parts], theta, rows,
                                     [(part["weight_factor"], part["bias_factor"]) for part in parts])
