"""Self-taught classification: raw pixels vs features learned by patch autoencoders.

:func:`run_classification` (``study``) is the study behind ``nnlite classify``;
:class:`ClassificationSettings` (``settings``) says what it compares;
:class:`ResultTable` (``results``) holds what it found; the classifiers
(``classifiers``) and the test/training protocol (``splits``) are its parts.
"""

from .classifiers import CLASSIFIER_DEFAULTS, CLASSIFIER_NAMES, make_classifier, raw_features
from .results import ResultTable
from .settings import FEATURE_LAYERS, POOLINGS, ClassificationSettings
from .splits import align_classes, check_test_classes, stratified_holdout, study_split
from .study import run_classification

__all__ = ["CLASSIFIER_DEFAULTS", "CLASSIFIER_NAMES", "FEATURE_LAYERS", "POOLINGS",
           "ClassificationSettings", "ResultTable", "align_classes", "check_test_classes", "make_classifier",
           "raw_features", "run_classification", "stratified_holdout", "study_split"]
