"""The ``nnlite`` command line: ``nnlite train``, ``nnlite classify``, ...

Each sub-command lives in its own module of this package and exposes
``add_parser(subparsers)`` (which registers its options and sets
``func``) ; :func:`main` collects them.
"""

import argparse
import importlib
import sys

from .._version import __version__

#: Sub-command modules, in the order ``--help`` lists them.
COMMAND_MODULES = ("train", "classify", "report")


def build_parser():
    """The top-level ``argparse`` parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="nnlite",
        description="Sparse autoencoders for feature learning on natural images.")
    parser.add_argument("--version", action="version", version=f"nnlite {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"{__name__}.{name}":
                continue
            raise
        module.add_parser(subparsers)
    return parser


def main(argv=None):
    """Entry point of the ``nnlite`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as error:
        print(f"nnlite {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nnlite {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
