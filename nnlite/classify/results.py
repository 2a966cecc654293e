"""The result table of a classification study: rows of figures, JSON, CSV and plain text."""

import csv
import io
import json
import os

import numpy as np

from ..staging import StagedOutputs

__all__ = ["ResultTable"]


class ResultTable:
    """Rows of results (dicts) with the run's other figures in ``info``.

    Parameters
    ----------
    rows : list of dict, optional
    info : dict, optional
        Everything else of the run (models, feature sets, timings, settings).

    Attributes
    ----------
    rows : list of dict
        One per feature set x classifier x protocol: ``features``,
        ``classifier``, ``train_on``, ``accuracy``, ``accuracy_sd`` (folds),
        ``n_features``, ``fit_time``, ``predict_time`` and the feature
        set's description.
    models : list of PatchModel
        Every model the study used (loaded ones first).
    trained_models : list of PatchModel
        Those trained by the study.
    """

    #: Columns shown by :meth:`format` and written by :meth:`to_csv`, in order.
    COLUMNS = ("features", "classifier", "train_on", "accuracy", "accuracy_sd", "n_features",
               "fit_time", "predict_time", "extraction_time", "training_time")

    def __init__(self, rows=(), info=None):
        self.rows = [dict(row) for row in rows]
        self.info = dict(info or {})
        self.models, self.trained_models = [], []

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self):
        return f"ResultTable({len(self.rows)} rows)"

    def add(self, **row):
        """Append one row."""
        self.rows.append(row)

    def best(self, key="accuracy"):
        """The row with the highest ``key``."""
        return max(self.rows, key=lambda row: row.get(key, float("-inf")))

    def to_dict(self):
        """``{'results': rows, **info}`` (JSON-ready)."""
        return dict(self.info, results=self.rows)

    def to_json(self, path=None):
        """The whole run as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, default=_json_default)
        if path is not None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        return text

    def to_csv(self, path=None):
        """The table's columns as CSV text; also written to ``path`` when given."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({key: row.get(key, "") for key in self.COLUMNS})
        if path is not None:
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(buffer.getvalue())
        return buffer.getvalue()

    def format(self):
        """An aligned plain-text table (accuracy as a fraction, times in seconds)."""
        header = ["features", "classifier", "train on", "accuracy", "n_features", "fit s", "predict s",
                  "extract s", "train AE s"]
        lines = [header]
        for row in self.rows:
            accuracy = f"{row['accuracy']:.4f}"
            if row.get("accuracy_sd") is not None:
                accuracy += f" +- {row['accuracy_sd']:.4f}"
            lines.append([str(row["features"]), row["classifier"], row.get("train_on", "all"), accuracy,
                          str(row.get("n_features", "")), _seconds(row.get("fit_time")),
                          _seconds(row.get("predict_time")), _seconds(row.get("extraction_time")),
                          _seconds(row.get("training_time"))])
        widths = [max(len(line[k]) for line in lines) for k in range(len(header))]
        return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
                         for line in lines)

    @staticmethod
    def output_names(models):
        """File names :meth:`save` writes for ``models`` (trained models): table, plot, results, models.

        Parameters
        ----------
        models : sequence of PatchModel or of hidden-size lists

        Returns
        -------
        dict
            ``table``, ``plot``, ``results``: names; ``models``: list of names.
        """
        hidden = [getattr(model, "hidden", model) for model in models]
        return {"table": "table.csv", "plot": "accuracy.png", "results": "results.json",
                "models": ["model-" + "-".join(map(str, sizes)) + ".npz" for sizes in hidden]}

    def save(self, folder, data=None, staged=None):
        """Write ``table.csv``, ``results.json``, ``accuracy.png`` and the trained models into ``folder``.

        All or nothing: the files are written beside their destinations and
        moved into place together (:class:`~nnlite.staging.StagedOutputs`),
        so a failure leaves a previous run's files untouched.

        Parameters
        ----------
        folder : str or os.PathLike
            Created if missing.
        data : dict, optional
            JSON-ready description of the training data, stored in the model files.
        staged : StagedOutputs, optional
            Stage the files in this set (the caller commits it, with its other
            outputs); default: a set of their own, committed here.

        Returns
        -------
        dict
            ``table``, ``results``, ``plot``: paths; ``models``: list of paths
            (``model-<sizes>.npz``).  Also kept in ``info['files']``.
        """
        if staged is None:
            with StagedOutputs() as own:
                return self.save(folder, data=data, staged=own)
        folder = os.path.abspath(os.fspath(folder))
        names = self.output_names(self.trained_models)
        files = {key: ([os.path.join(folder, name) for name in value] if key == "models"
                       else os.path.join(folder, value)) for key, value in names.items()}
        for model, path in zip(self.trained_models, files["models"]):
            model.save(staged.path(path), data=data)
        self.info["files"] = files
        self.to_csv(staged.path(files["table"]))
        self.plot(staged.path(files["plot"]))
        self.to_json(staged.path(files["results"]))
        return files

    def plot(self, path):
        """Bar plot of accuracy per feature set (groups) and classifier (bars) into ``path``."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # heavy; only for the picture
        from matplotlib.figure import Figure

        rows = [row for row in self.rows if row.get("train_on", "all") == "all"]
        feature_sets = list(dict.fromkeys(row["features"] for row in rows))
        classifiers = list(dict.fromkeys(row["classifier"] for row in rows))
        accuracy = {(row["features"], row["classifier"]): row["accuracy"] for row in rows}
        width = 0.8 / max(1, len(classifiers))
        figure = Figure(figsize=(max(6.0, 0.6 * len(feature_sets) * max(1, len(classifiers))), 4.5))
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for k, classifier in enumerate(classifiers):
            values = [accuracy.get((name, classifier), np.nan) for name in feature_sets]
            positions = np.arange(len(feature_sets)) + (k - (len(classifiers) - 1) / 2) * width
            bars = axes.bar(positions, values, width, label=classifier)
            axes.bar_label(bars, fmt="%.3f", fontsize=7)
        axes.set_xticks(np.arange(len(feature_sets)))
        axes.set_xticklabels(feature_sets, rotation=20, ha="right")
        axes.set_ylabel("test accuracy")
        axes.set_ylim(0, 1)
        axes.legend(fontsize=8)
        axes.set_title("nnlite classify: raw pixels vs learned features")
        figure.tight_layout()
        figure.savefig(path, dpi=120)
        return path


def _seconds(value):
    return "" if value is None else f"{value:.1f}"


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write a {type(value).__name__} to JSON")
