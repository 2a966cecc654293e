"""``nnlite report``: run every study of the assignment, keep the results, build the PDF.

The command only parses: :func:`nnlite.studies.run_report` runs the studies
(resumable: a study whose ``results/<study>.json`` exists is skipped unless
``--force``), draws the figures, writes the LaTeX inputs and typesets
``report.tex`` with latexmk when it is installed.
"""

import argparse
import sys
import time

from ..data import load_dataset
from ..studies import STUDY_NAMES, run_report
from .options import (EXIT_STATUS, add_data_arguments, add_output_arguments, check_output_folder, data_options,
                      progress_printer, resolve_source, split_list)

DESCRIPTION = """\
Run the assignment's studies (filters, hyper-parameter degradation, classification, depth,
sample size, ReLU, GPU), store each result as JSON with its figures (PNG and PDF), and build
the LaTeX report (report.pdf) when latexmk is available.  Studies whose results are already in
--output are skipped (resumable); --force runs them again."""

EPILOG = """\
examples:
  nnlite report --quick                                  (bundled photos, a few minutes)
  nnlite report folder ../shared/data/cifar10-jpeg/train --output report-out
  nnlite report folder DIR --studies pictures,relu --force
A failed PDF build (latexmk) is an 'error:' line with status 2; the results and figures stay.
""" + EXIT_STATUS


def add_parser(subparsers):
    """Register ``nnlite report`` and its options."""
    parser = subparsers.add_parser(
        "report", help="run every study and build the PDF report",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(parser)
    studies = parser.add_argument_group("studies")
    studies.add_argument("--quick", action="store_true",
                         help="small samples and few iterations (minutes instead of an hour)")
    studies.add_argument("--force", action="store_true", help="run studies whose results exist again")
    studies.add_argument("--studies", metavar="LIST",
                         help=f"comma-separated subset of: {', '.join(STUDY_NAMES)} (default: all)")
    studies.add_argument("--seed", type=int, default=0, help="seeds every random choice (default: 0)")
    studies.add_argument("--no-pdf", action="store_true", help="write results and figures only")
    add_output_arguments(parser, "nnlite-report",
                         help="folder for results/, figures/, generated/ and report.pdf "
                              "(default: ./nnlite-report)")
    parser.set_defaults(func=run)
    return parser


def run(args):
    """Run ``nnlite report``; returns the exit status."""
    source, path = resolve_source(args)
    studies = split_list(args.studies, "--studies") if args.studies else None
    folder = check_output_folder(args.output)
    progress = progress_printer(args)
    say = progress or (lambda text: None)
    started = time.perf_counter()
    say(f"loading {source}" + (f" from {path}" if path else "") + f" ({args.split}) ...")
    dataset = load_dataset(source, path, split=args.split, limit=args.limit,
                           random_state=args.seed if args.limit else None, **data_options(args, source))
    try:
        outcome = run_report(dataset=dataset, output_dir=folder, quick=args.quick, force=args.force,
                             studies=studies, progress=progress, random_state=args.seed,
                             pdf=not args.no_pdf)
    except RuntimeError as error:  # latexmk failed: the results and figures are kept
        print(f"nnlite report: error: {error} (results and figures are kept in {folder}; "
              f"fix the TeX installation and rerun: stored studies are reused)", file=sys.stderr)
        return 2
    for name, seconds in outcome["seconds"].items():
        print(f"{name}: {seconds:.1f} s")
    print(f"ran {len(outcome['ran'])}, reused {len(outcome['skipped'])} stored result(s) "
          f"in {time.perf_counter() - started:.0f} s; output in {folder}")
    if outcome["pdf"]:
        print(f"report: {outcome['pdf']}")
    return 0
