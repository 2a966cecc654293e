"""Activation functions, looked up by name.

An :class:`Activation` names a non-linearity and states its range, which the
sparsity penalty needs; the arithmetic itself runs in the array backend
(:meth:`nnlite.backend.base.ArrayBackend.activate_` and
``mul_derivative_``), where the derivative is always computed from the
*output* ``a = f(z)``:

=========  =====================  ========================  ==============
name       ``f(z)``               ``f'(z)`` from ``a``      range
=========  =====================  ========================  ==============
sigmoid    ``1 / (1 + exp(-z))``  ``a (1 - a)``             (0, 1)
relu       ``max(z, 0)``          ``1 if a > 0 else 0``     [0, inf)
identity   ``z``                  ``1``                     (-inf, inf)
=========  =====================  ========================  ==============
"""


class Activation:
    """A named element-wise non-linearity.

    Attributes
    ----------
    name : str
    sparsity_kind : {'bernoulli', 'poisson'} or None
        Which KL sparsity penalty suits the activation's range: the Bernoulli
        KL for outputs in (0, 1), the generalised (Poisson) KL for outputs in
        [0, inf), none for outputs that can be negative.
    """

    name = None
    sparsity_kind = None

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        return isinstance(other, Activation) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def apply_(self, backend, z):
        """Overwrite the pre-activations ``z`` with ``f(z)``; return it."""
        return backend.activate_(self.name, z)

    def mul_derivative_(self, backend, activations, delta, scratch):
        """``delta *= f'(z)`` computed from ``activations = f(z)``; return ``delta``."""
        return backend.mul_derivative_(self.name, activations, delta, scratch)


class Sigmoid(Activation):
    """Logistic sigmoid ``f(z) = 1 / (1 + exp(-z))``; ``f' = a (1 - a)``."""

    name = "sigmoid"
    sparsity_kind = "bernoulli"


class ReLU(Activation):
    """Rectified linear unit ``f(z) = max(z, 0)``; ``f' = [z > 0]`` (0 at ``z = 0``)."""

    name = "relu"
    sparsity_kind = "poisson"


class Identity(Activation):
    """Identity ``f(z) = z`` (a linear decoder); ``f' = 1``."""

    name = "identity"
    sparsity_kind = None


ACTIVATIONS = {cls.name: cls for cls in (Sigmoid, ReLU, Identity)}


def get_activation(activation):
    """Return the :class:`Activation` for a name (or an instance, unchanged).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the choices.
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str) and activation.lower() in ACTIVATIONS:
        return ACTIVATIONS[activation.lower()]()
    raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
