"""Sums of a network's cost over one shard of the samples, for evaluations spread over machines.

:class:`ShardSums` is a part of :class:`~nnlite.network.Network` (a base
class: it uses the network's workspace, device buffers and layers) that
:mod:`nnlite.distributed` needs: a shard returns sums that do not depend on
``rho_hat`` (the mean activation over *all* samples); the caller adds the
shards and applies the activity penalties with the global ``rho_hat``
(:mod:`nnlite.distributed.reduction` has the mathematics).  The three steps
reuse the workspace of one evaluation:

* :meth:`ShardSums.forward_sums` -- forward pass, the summed loss and each
  hidden layer's column sums;
* :meth:`ShardSums.backward_sums` -- the backward pass with activity rows
  given from outside (or none), summed (``scale = 1``), without parameter
  penalties;
* :meth:`ShardSums.derivative_sums` -- ``f'(Z_1)^T X`` and ``sum_i f'(Z_1)_i``,
  through which a row on the first hidden layer acts once it is known.

``Network.loss_and_grad`` does not use them; its results are unaffected.
"""

import numpy as np


class ShardSums:
    """Shard-sum evaluation methods of :class:`~nnlite.network.Network` (see the module notes)."""

    def forward_sums(self, theta, inputs):
        """Forward pass on one shard: the summed loss and every hidden layer's column sums.

        The activations stay in the workspace for :meth:`backward_sums` and
        :meth:`derivative_sums` (same ``inputs``).

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
        inputs : backend array of shape (n_samples, sizes[0])
            From :meth:`prepare`; targets = inputs.

        Returns
        -------
        loss_sum : float
            ``m`` times the loss (the sum over samples of ``1/2 ||h(x) - x||^2``).
        hidden_sums : list of ndarray of shape (sizes[l],)
            ``sum_i a_l(x_i)`` for every hidden layer ``l`` (float64, host).
        """
        backend = self.backend
        self._load_device(theta)
        work = self._get_workspace(inputs.shape[0])
        below = [inputs] + work.activations[:-1]
        for layer, layer_inputs, layer_params, out in zip(self.layers, below, self._params, work.activations):
            layer.forward(backend, layer_inputs, layer_params, out)
        loss = self.loss.value_and_delta(backend, work.activations[-1], inputs, work.deltas[-1])
        hidden_sums = []
        for activations in work.activations[:-1]:
            column = backend.empty((activations.shape[1],))
            backend.column_sum(activations, column, 1.0)
            hidden_sums.append(np.asarray(backend.to_host(column), dtype=np.float64))
        return backend.to_float(loss) * inputs.shape[0], hidden_sums

    def backward_sums(self, inputs, rows=None):
        """Backward pass after :meth:`forward_sums`: the gradient summed over the shard.

        Parameters
        ----------
        inputs : backend array of shape (n_samples, sizes[0])
            The same array :meth:`forward_sums` received.
        rows : list of (ndarray of shape (sizes[l],) or None), optional
            Per hidden layer, the activity penalties' row (``m`` times their
            derivative by each sample's activation, computed from the global
            rho_hat); None leaves them out.

        Returns
        -------
        ndarray of shape (n_params,)
            ``m`` times the gradient of the loss (plus the rows' terms),
            without parameter penalties; a float64 host copy.  The output
            delta is rewritten from the kept activations, so a repeated call
            gives the same result.
        """
        backend, layers = self.backend, self.layers
        work = self._get_workspace(inputs.shape[0])
        acts, deltas = work.activations, work.deltas
        self.loss.value_and_delta(backend, acts[-1], inputs, deltas[-1])
        below = [inputs] + acts[:-1]
        rows = [None] * (len(layers) - 1) if rows is None else list(rows)
        if len(rows) != len(layers) - 1:
            raise ValueError(f"rows must give one entry per hidden layer ({len(layers) - 1}), got {len(rows)}")
        for index in range(len(layers) - 1, -1, -1):
            row = rows[index] if index < len(rows) else None
            layers[index].backward(backend, below[index], acts[index], deltas[index], self._params[index],
                                   self._grads[index], deltas[index - 1] if index > 0 else None, 1.0,
                                   work.scratch[layers[index].n_out],
                                   None if row is None else backend.asarray(row), work.buffers[index])
        for index, shared in enumerate(self._shared_grads):
            if shared:
                layers[index].backward_shared(backend, below[index], deltas[index], self._params[index],
                                              shared, 1.0, work.buffers[index])
        backend.store_flat(self._device_grad, self._flat.grad)
        return self._flat.grad.copy()

    def derivative_sums(self, inputs):
        """The first hidden layer's derivative sums after :meth:`forward_sums`.

        With ``F = f'(Z_1)`` (shape ``(m, h)``) these are ``F^T X`` and the
        column sums of ``F``: an activity row ``r`` on the first hidden layer
        adds ``diag(r) F^T X`` to the summed ``dJ/dW_1`` and ``r * sum_i F_i``
        to the summed ``dJ/db_1`` (the row is the same for every sample), so
        a caller can apply a row known only after summing the shards.

        Parameters
        ----------
        inputs : backend array of shape (n_samples, sizes[0])

        Returns
        -------
        weight_factor : ndarray of shape (sizes[1], sizes[0])
        bias_factor : ndarray of shape (sizes[1],)
            Float64 host arrays.
        """
        backend, layer = self.backend, self.layers[0]
        work = self._get_workspace(inputs.shape[0])
        derivative = work.deltas[0]
        derivative[...] = 1.0
        layer.activation.mul_derivative_(backend, work.activations[0], derivative, work.scratch[layer.n_out])
        weight_factor = backend.empty((layer.n_out, layer.n_in))
        bias_factor = backend.empty((layer.n_out,))
        backend.weight_grad(derivative, inputs, weight_factor, 1.0)
        backend.column_sum(derivative, bias_factor, 1.0)
        return (np.asarray(backend.to_host(weight_factor), dtype=np.float64),
                np.asarray(backend.to_host(bias_factor), dtype=np.float64))
