"""The reconstruction loss ``(1/m) sum_i 1/2 ||h(x_i) - y_i||^2``."""


class SquaredError:
    """Mean over samples of half the squared Euclidean error.

    Notes
    -----
    ``J = (1/m) sum_i 1/2 ||a_i - y_i||^2``.  The per-sample delta written by
    :meth:`value_and_delta` is ``dJ_i/da_i = a_i - y_i``; the network applies
    ``f'`` and the ``1/m`` of the mean.
    """

    name = "squared_error"

    def __repr__(self):
        return "SquaredError()"

    def value_and_delta(self, backend, outputs, targets, delta):
        """Return ``J`` and write ``outputs - targets`` into ``delta``.

        Parameters
        ----------
        backend : ArrayBackend
        outputs, targets, delta : arrays of shape (n_samples, n_outputs)

        Returns
        -------
        backend scalar
        """
        return backend.squared_error(outputs, targets, delta) * (1.0 / outputs.shape[0])
