"""The arrays one evaluation of a network needs, preallocated once per batch size."""


class Workspace:
    """Arrays reused by every evaluation on batches of one size.

    Attributes
    ----------
    n_samples : int
    activations : list of arrays
        ``activations[l]`` has shape ``(n_samples, layers[l].n_out)``.
    deltas : list of arrays, same shapes.
    scratch : dict width -> array of shape (n_samples, width)
    penalty : list of list of dict
        ``penalty[l][r]``: ``(n_units,)`` arrays ``'mean'`` and ``'grad'`` of
        activity regularizer ``r`` on hidden layer ``l``.
    buffers : list of dict
        ``buffers[l]``: the arrays of ``layers[l].buffer_shapes(n_samples)``.
    means, mean_rows : lists of arrays
        ``means[l]`` has shape ``(layers[l].n_out,)``: hidden layer ``l``'s
        mean activations, when the forward pass takes them; ``mean_rows[l]``
        is the same memory as shape ``(1, n_out)``.
    """

    def __init__(self, backend, layers, n_samples, n_activity_regularizers):
        self.n_samples = n_samples
        widths = [layer.n_out for layer in layers]
        self.activations = [backend.empty((n_samples, width)) for width in widths]
        self.deltas = [backend.empty((n_samples, width)) for width in widths]
        self.scratch = {width: backend.empty((n_samples, width)) for width in set(widths)}
        self.penalty = [[{"mean": backend.empty((width,)), "grad": backend.empty((width,))}
                         for _ in range(n_activity_regularizers)] for width in widths[:-1]]
        self.means = [backend.empty((width,)) for width in widths[:-1]]
        self.mean_rows = [backend.view(mean, 0, (1, mean.shape[0])) for mean in self.means]
        self.buffers = [{name: backend.empty(tuple(shape))
                         for name, shape in layer.buffer_shapes(n_samples).items()} for layer in layers]
