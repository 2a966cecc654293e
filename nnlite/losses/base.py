"""What a regularizer is: a penalty on parameters or on hidden activations."""


class Regularizer:
    """Base class of penalties added to a network's cost.

    A regularizer acts through one (or both) of two hooks, called by
    :meth:`nnlite.network.Network.loss_and_grad`:

    * :meth:`parameter_penalty` sees the flat parameter and gradient buffers
      and the parameter table (weight decay);
    * :meth:`activity_term` sees the activations of one hidden layer and
      returns its penalty and the row vector it adds to every sample's delta
      before ``f'`` is applied (sparsity).
    """

    acts_on_parameters = False
    acts_on_activations = False
    #: True when :meth:`activity_term` depends on the activations only through
    #: their mean over samples.  The caller may then pass those means as an
    #: array of shape ``(1, n_units)`` instead of the activations (the network
    #: takes them in its forward pass; the distributed reduction has no more
    #: and refuses other activity penalties).
    uses_column_means = False

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

    def activity_term(self, backend, activation, activations, workspace):
        """This penalty's value and its derivative with respect to each sample's activations.

        Parameters
        ----------
        backend : ArrayBackend
        activation : Activation
            The hidden layer's activation function.
        activations : array of shape (n_samples, n_units)
        workspace : dict
            Preallocated ``(n_units,)`` arrays under ``'mean'`` and ``'grad'``,
            owned by this regularizer for this layer.

        Returns
        -------
        penalty : backend scalar
        row : array of shape (n_units,) or None
            ``m * dpenalty/da_i`` (the same for every sample ``i``), added to
            the layer's per-sample delta before ``f'``; None when zero.
        """
        raise NotImplementedError
