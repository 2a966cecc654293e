"""What a regularizer is: a penalty on parameters or on hidden activations."""


class Regularizer:
    """Base class of penalties added to a network's cost.

    A regularizer acts through one (or both) of two hooks, called by
    :meth:`nnlite.network.Network.loss_and_grad`:

    * :meth:`parameter_penalty` sees the flat parameter and gradient buffers
      and the parameter table (weight decay);
    * :meth:`activity_penalty` sees the activations of one hidden layer and
      its per-sample delta before ``f'`` is applied (sparsity).
    """

    acts_on_parameters = False
    acts_on_activations = False

    def check_activation(self, activation):
        """Raise ``ValueError`` if an activity penalty cannot act on ``activation``."""

    def parameter_penalty(self, backend, table, theta, grad):
        """Add this penalty's gradient into ``grad`` and return its value.

        Parameters
        ----------
        backend : ArrayBackend
        table : ParameterTable
        theta, grad : backend arrays of shape (table.size,)
        """
        raise NotImplementedError

    def activity_penalty(self, backend, activation, activations, delta, workspace):
        """Add this penalty's delta term into ``delta`` and return its value.

        Parameters
        ----------
        backend : ArrayBackend
        activation : Activation
            The hidden layer's activation function.
        activations : array of shape (n_samples, n_units)
        delta : array of shape (n_samples, n_units)
            Per-sample ``dJ/da`` of the layer (not yet multiplied by ``f'``).
        workspace : dict
            Preallocated ``(n_units,)`` arrays under ``'mean'`` and ``'grad'``.
        """
        raise NotImplementedError
