"""The assignment's studies: each a function returning a JSON-ready result, plus its figures.

One module per study (``pictures``, ``hyperparameters``, ``sample_size``,
``relu``, ...) with ``run_<name>(images, image_shape, ..., quick=False,
random_state=0, progress=None) -> dict`` and ``figures_<name>(result,
folder) -> list of paths``; :mod:`.latex` turns results into the report's
LaTeX inputs and :func:`run_report` runs them all (resumable) and builds the
PDF.
"""

from .runner import REGISTRY, STUDY_NAMES, run_report

__all__ = ["REGISTRY", "STUDY_NAMES", "run_report"]
