"""The ``nnlite`` command line: ``nnlite train``, ``nnlite classify``, ...

Each sub-command lives in its own module of this package and exposes
``add_parser(subparsers)`` (which registers its options and sets
``func``) ; :func:`main` collects them.

Exit status, the same for every command (:data:`nnlite.cli.options.EXIT_STATUS`,
at the end of each ``--help``): 0 success; 2 bad input -- one ``nnlite CMD: error: ...`` line
naming the input and what to do, no traceback; 130 interrupted (Ctrl-C).
:func:`main` turns the failures a user can cause into that one line: the
``ValueError`` family (bad values, damaged files, not enough memory: the
library's own errors derive from it), ``OSError`` on a path (missing,
unreadable, unwritable, disk full), and ``MemoryError`` as a last resort.
Anything else is a bug and keeps its traceback.
"""

import argparse
import errno
import importlib
import os
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


def describe_os_error(error):
    """One line for an ``OSError`` on a user's path: what failed, on which path, what to do."""
    what = error.strerror or str(error)
    where = " and ".join(repr(os.fspath(name)) for name in (error.filename, error.filename2)
                         if name is not None)
    advice = {errno.ENOSPC: "free some disk space or choose another folder",
              errno.EDQUOT: "free some disk space or choose another folder",
              errno.EACCES: "check the permissions or choose another path",
              errno.EPERM: "check the permissions or choose another path",
              errno.EROFS: "choose a writable folder",
              errno.ENOENT: "check the path",
              errno.EISDIR: "give a file, not a folder",
              errno.ENOTDIR: "a part of the path is a file, not a folder",
              errno.EEXIST: "remove it or choose another path"}.get(error.errno, "check the path")
    return f"{what}" + (f": {where}" if where else "") + f" ({advice})"


def main(argv=None):
    """Entry point of the ``nnlite`` console script; returns the exit status (0, 2 or 130: see above)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ValueError as error:
        message = str(error)
    except OSError as error:
        message = describe_os_error(error)
    except MemoryError as error:
        detail = f" ({error})" if str(error) else ""
        message = (f"ran out of memory{detail}; ask for less (fewer images with --limit, fewer "
                   f"--patches, smaller --hidden layers) or use --dtype float32")
    except KeyboardInterrupt as error:
        detail = f" ({error})" if str(error) else ""
        print(f"nnlite {args.command}: interrupted{detail}", file=sys.stderr)
        return 130
    print(f"nnlite {args.command}: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
