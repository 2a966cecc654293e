"""The graded interface of the assignment, as thin adapters over nnlite.

Modules: ``sample_patches``, ``gradient``, ``autoencoder``, ``display_layer``
(see SPEC for the exact signatures).
"""
