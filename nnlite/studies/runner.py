"""Run every study, keep each result as JSON, draw the figures, write the LaTeX inputs, build the PDF.

Layout of the output folder::

    results/<study>.json     one per study (a study whose JSON exists is skipped)
    figures/*.png, *.pdf     redrawn from the JSON on every run
    generated/<study>.tex    macros and tables (see nnlite.studies.latex)
    report.tex, report.pdf   the LaTeX source (copied from report/) and its build

A study whose JSON is there is not run again unless ``force=True`` or the
JSON was written in the other mode (quick vs full).  Figures and generated
LaTeX are always rewritten from the JSON files, so editing a figure function
needs no rerun.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import time

from ..data import load_dataset
from ..staging import replaced_file
from . import classification, depth, gpu, hyperparameters, pictures, relu, sample_size
from .common import checkout_file
from .evaluation import classification_hook
from .latex import write_generated

__all__ = ["Study", "REGISTRY", "STUDY_NAMES", "TEX_INSTALL", "run_report", "build_pdf", "default_template",
           "report_macros"]

#: What to install when latexmk is missing (Debian/Ubuntu).
TEX_INSTALL = ("apt-get install -y --no-install-recommends latexmk texlive-latex-recommended "
               "texlive-latex-extra texlive-fonts-recommended texlive-science lmodern")


@dataclasses.dataclass(frozen=True)
class Study:
    """One study: how to run it and how to turn its result into figures and LaTeX.

    ``run(images, image_shape, quick=, random_state=, progress=[, evaluate=][, labels=])`` returns a
    JSON-ready dict; ``figures(result, folder)`` returns paths; ``macros(result)`` a dict
    name -> text; ``tables(result)`` a dict name -> (header, rows).  ``run=None`` marks a
    study not implemented yet (its generated file says so).

    ``needs_evaluate``: the study gets the classification hook (``evaluate``,
    None without labels) and, with labels, only the images outside the
    report's hold-out and validation split (:mod:`.evaluation`).
    ``needs_labels``: it gets ``labels`` (None when the data have none).
    ``labels_required``: without labels it is skipped, saying so.
    """

    name: str
    run: object = None
    figures: object = None
    macros: object = None
    tables: object = None
    needs_evaluate: bool = False
    needs_labels: bool = False
    labels_required: bool = False


#: The studies in report order.
REGISTRY = (
    Study("pictures", pictures.run_pictures, pictures.figures_pictures, pictures.macros_pictures),
    Study("hyperparameters", hyperparameters.run_hyperparameters, hyperparameters.figures_hyperparameters,
          hyperparameters.macros_hyperparameters, hyperparameters.tables_hyperparameters),
    Study("classification", classification.run_classification_study, classification.figures_classification,
          classification.macros_classification, classification.tables_classification, needs_labels=True,
          labels_required=True),
    Study("depth", depth.run_depth, depth.figures_depth, depth.macros_depth, depth.tables_depth,
          needs_labels=True),
    Study("sample_size", sample_size.run_sample_size, sample_size.figures_sample_size,
          sample_size.macros_sample_size, sample_size.tables_sample_size, needs_evaluate=True),
    Study("relu", relu.run_relu, relu.figures_relu, relu.macros_relu, relu.tables_relu, needs_evaluate=True),
    Study("gpu", gpu.run_gpu, gpu.figures_gpu, gpu.macros_gpu, gpu.tables_gpu),
)
STUDY_NAMES = tuple(study.name for study in REGISTRY)


def default_template():
    """``report/report.tex`` of the source checkout (:func:`~nnlite.studies.common.checkout_file`)."""
    return checkout_file("report", "report.tex")


def _write_json(path, content):
    with replaced_file(path, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=1)


def _read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def build_pdf(folder, name="report.tex", progress=None):
    """Typeset ``<folder>/<name>`` with latexmk (pdflatex); return the PDF path or None.

    Returns None (after saying what to install) when latexmk is not on PATH;
    raises ``RuntimeError`` naming the log when typesetting fails.
    """
    say = progress or (lambda line: None)
    if shutil.which("latexmk") is None:
        say(f"latexmk is not on PATH: the PDF was not built. Install a TeX tool chain "
            f"(Debian/Ubuntu: {TEX_INSTALL}), then run latexmk -pdf {name} in {folder}")
        return None
    command = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", name]
    with open(os.path.join(folder, "build.log"), "w", encoding="utf-8") as log:
        status = subprocess.run(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT).returncode
    if status != 0:
        raise RuntimeError(f"latexmk failed (status {status}); see {os.path.join(folder, 'build.log')}")
    return os.path.join(folder, os.path.splitext(name)[0] + ".pdf")


def _write_outputs(study, result, folders, outcome, say):
    """Figures and ``generated/<study>.tex`` of one result (a placeholder when it is None).

    A stored result that the study's current figure or LaTeX code cannot
    read (written by an older version: a missing key, ...) gets the
    placeholder too, with a line saying how to run the study again;
    ``outcome['results'][name]`` becomes None.
    """
    if result is None:
        write_generated(folders["generated"], study.name)
        return
    try:
        paths = study.figures(result, folders["figures"]) if study.figures is not None else []
        macros = study.macros(result) if study.macros else {}
        tables = study.tables(result) if study.tables else None
    except (KeyError, IndexError, TypeError, ValueError) as error:
        say(f"{study.name}: the stored result does not fit the current code ({type(error).__name__}: {error}); "
            f"left out of the report: run it again with --studies {study.name} --force")
        outcome["results"][study.name] = None
        write_generated(folders["generated"], study.name)
        return
    outcome["study_figures"][study.name] = paths
    outcome["figures"] += paths
    write_generated(folders["generated"], study.name, macros, tables)


def report_macros(data_name, quick, n_images, protocol):
    """The macros of ``generated/report.tex``: data, mode and the labelled-data protocol.

    Parameters
    ----------
    data_name : str
    quick : bool
    n_images : int
    protocol : dict or None
        The classification hook's ``protocol`` (split sizes, macros
        ``Protocol...``); None defines ``ProtocolLabels`` as ``no``.

    Returns
    -------
    dict of str -> str
    """
    macros = {"ReportData": data_name, "ReportMode": "quick" if quick else "full",
              "ReportImages": f"{n_images:,}", "ProtocolLabels": "no" if protocol is None else "yes"}
    if protocol is not None:
        macros.update(ProtocolHoldout=f"{protocol['n_holdout']:,}", ProtocolValidation=f"{protocol['n_validation']:,}",
                      ProtocolPool=f"{protocol['n_train_pool']:,}",
                      ProtocolHookTrain=f"{protocol['n_classifier_train']:,}",
                      ProtocolHookStride=str(protocol["stride"]), ProtocolHookGrid=str(protocol["pool_grid"]),
                      ProtocolSeed=str(protocol["holdout_seed"]))
    return macros


def _select(studies, registry):
    names = tuple(study.name for study in registry)
    if studies is None:
        return list(registry)
    unknown = [name for name in studies if name not in names]
    if unknown:
        raise ValueError(f"unknown studies {unknown}; choose among {list(names)}")
    return [study for study in registry if study.name in studies]


def run_report(source="sample", path=None, output_dir="report-output", quick=False, force=False,
               studies=None, progress=None, limit=None, dataset=None, random_state=0, pdf=True,
               template=None, registry=REGISTRY):
    """Run the studies, store results, draw figures, write LaTeX inputs and build the PDF.

    Parameters
    ----------
    source, path, limit
        The images, as :func:`nnlite.data.load_dataset` takes them (``limit``
        images at most, drawn with ``random_state``).
    output_dir : str
    quick : bool
        Small samples and few iterations (minutes instead of an hour).
    force : bool
        Run again even where ``results/<study>.json`` exists.
    studies : list of str, optional
        Names among :data:`STUDY_NAMES` to run (default: all).  The stored
        results of the others (same mode) still go into the report.
    progress : callable(str), optional
        Receives one line per step.
    dataset : nnlite.data.Dataset, optional
        Used instead of loading ``source``.
    random_state : int
    pdf : bool
        Build the PDF (when latexmk is available).
    template : str, optional
        The LaTeX source; default :func:`default_template`.
    registry : tuple of Study
        The studies to choose from (tests pass their own).

    Returns
    -------
    dict
        ``results`` (name -> result dict or None), ``ran`` / ``skipped``
        (names), ``seconds`` (name -> seconds of this run), ``figures``
        (every path), ``study_figures`` (name -> its paths), ``pdf`` (path
        or None).
    """
    say = progress or (lambda line: None)
    chosen = _select(studies, registry)
    folders = {key: os.path.join(os.fspath(output_dir), key) for key in ("results", "figures", "generated")}
    for folder in folders.values():
        os.makedirs(folder, exist_ok=True)
    if dataset is None:
        say(f"loading images: source {source!r}" + (f" from {path}" if path else ""))
        dataset = load_dataset(source, path, limit=limit, random_state=random_state if limit else None)
    images, shape = dataset.images, tuple(dataset.image_shape)
    evaluate = (classification_hook(images, dataset.labels, shape, quick=quick, random_state=random_state)
                if any(study.needs_evaluate for study in chosen) else None)
    protocol_used = evaluate.protocol if evaluate is not None else None
    outcome = {"results": {}, "ran": [], "skipped": [], "seconds": {}, "figures": [], "study_figures": {},
               "pdf": None}
    chosen_names = [study.name for study in chosen]
    for study in registry:
        target = os.path.join(folders["results"], f"{study.name}.json")
        stored = _read_json(target) if os.path.exists(target) else None
        reusable = stored is not None and stored.get("quick") == bool(quick)
        step = (f"[{chosen_names.index(study.name) + 1}/{len(chosen)}] {study.name}"
                if study.name in chosen_names else None)
        result = None
        if reusable and protocol_used is None:
            protocol_used = stored.get("hook_protocol")
        if step is None:  # not asked for: its stored result (same mode) still goes into the report
            result = stored["result"] if reusable else None
        elif study.run is None:
            say(f"{step}: not implemented yet, skipped")
        elif study.labels_required and dataset.labels is None and not (reusable and not force):
            say(f"{step}: skipped: the data {dataset.name or source!r} carry no labels "
                f"(give labelled images, e.g. a folder with one sub-folder per class)")
        elif reusable and not force:
            say(f"{step}: result exists ({target}), skipped")
            result = stored["result"]
            outcome["skipped"].append(study.name)
        else:
            say(f"{step}: running" + (" (quick)" if quick else ""))
            start = time.perf_counter()
            extra, study_images, protocol = {}, images, None
            if study.needs_evaluate:
                extra["evaluate"] = evaluate
                if evaluate is not None:
                    study_images, protocol = evaluate.patch_images, evaluate.protocol
            if study.needs_labels:
                extra["labels"] = dataset.labels
            result = study.run(study_images, shape, quick=quick, random_state=random_state,
                               progress=progress, **extra)
            seconds = time.perf_counter() - start
            _write_json(target, {"study": study.name, "quick": bool(quick), "data": dataset.name,
                                 "image_shape": list(shape), "n_images": int(len(dataset)),
                                 "n_study_images": int(len(study_images)), "hook_protocol": protocol,
                                 "seconds": seconds, "result": result})
            say(f"{step}: done in {seconds:.1f} s")
            result = _read_json(target)["result"]
            outcome["ran"].append(study.name)
            outcome["seconds"][study.name] = seconds
        outcome["results"][study.name] = result
        _write_outputs(study, result, folders, outcome, say)
    write_generated(folders["generated"], "report", report_macros(dataset.name or source, quick, len(dataset),
                                                                  protocol_used))
    if pdf:
        template = template or default_template()
        if not os.path.exists(template):
            raise FileNotFoundError(f"LaTeX source {template!r} not found (pass template=)")
        shutil.copyfile(template, os.path.join(os.fspath(output_dir), "report.tex"))
        say("building the PDF with latexmk")
        outcome["pdf"] = build_pdf(os.fspath(output_dir), progress=say)
        if outcome["pdf"]:
            say(f"PDF: {outcome['pdf']}")
    return outcome
