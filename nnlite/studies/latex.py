"""Study results (JSON) -> LaTeX files the report inputs: macros and tabular bodies.

Every number in the report comes from here: a study gives ``name -> text``
macros and ``name -> (header, rows)`` tables, and :func:`write_generated`
writes ``generated/<study>.tex`` with ``\\newcommand`` definitions (plus
``\\Study<Name>Done`` so the report can tell a study that has not run).
Plain text is escaped (:func:`escape`); text that is already LaTeX is
marked by wrapping it in :class:`Tex`.
"""

import math
import os
import re

__all__ = ["Tex", "escape", "format_number", "macro_name", "macro_definition", "tabular_body",
           "render_study", "write_generated"]

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_SPECIAL_RE = re.compile("|".join(re.escape(key) for key in _SPECIAL))


class Tex(str):
    """Text that is already LaTeX (not escaped by :func:`escape`)."""

    __slots__ = ()


def escape(text):
    """``text`` with LaTeX's special characters escaped; :class:`Tex` is returned unchanged.

    Parameters
    ----------
    text : str or Tex or number

    Returns
    -------
    str
    """
    if isinstance(text, Tex):
        return str(text)
    return _SPECIAL_RE.sub(lambda match: _SPECIAL[match.group(0)], str(text))


def format_number(value, digits=3, plain=False):
    """A number for the report: ``0.0123``, ``1.2\\times10^{-5}``, ``nan`` as an en dash.

    Parameters
    ----------
    value : float or int
    digits : int, default=3
        Significant digits.
    plain : bool, default=False
        Plain text (``1.2e-05``) instead of LaTeX math (for matplotlib labels).

    Returns
    -------
    str
        LaTeX math wrapped in ``$...$`` unless ``plain``.
    """
    value = float(value)
    if not math.isfinite(value):
        return "--" if not plain else "nan"
    if value == 0:
        return "0" if plain else "$0$"
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        if plain:
            return f"{mantissa}e{int(exponent)}"
        body = (f"10^{{{int(exponent)}}}" if mantissa == "1"
                else f"{mantissa}\\times10^{{{int(exponent)}}}")
        return f"${body}$"
    return text if plain else f"${text}$"


def macro_name(name):
    """Check a macro name (letters only, as LaTeX requires) and return it."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z]+", name):
        raise ValueError(f"a LaTeX macro name must be letters only, got {name!r}")
    return name


def macro_definition(name, value):
    """``\\newcommand{\\<name>}{<escaped value>}``."""
    return f"\\newcommand{{\\{macro_name(name)}}}{{{escape(value)}}}"


def tabular_body(header, rows):
    """Rows of a ``tabular`` (header, ``\\midrule``, body), cells escaped.

    Parameters
    ----------
    header : list of str
    rows : list of list
        Every row as long as ``header``.

    Returns
    -------
    str
    """
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"table row {row!r} has {len(row)} cells, the header {len(header)}")
    lines = [" & ".join(escape(cell) for cell in header) + r" \\", r"\midrule"]
    lines += [" & ".join(escape(cell) for cell in row) + r" \\" for row in rows]
    return "\n".join(lines)


def _study_flag(study):
    return "Study" + "".join(part.capitalize() for part in re.split(r"[^A-Za-z]+", study) if part) + "Done"


def render_study(study, macros=None, tables=None):
    """The text of ``generated/<study>.tex``; ``macros=None`` marks a study that has not run.

    Parameters
    ----------
    study : str
        The study's name (``'sample_size'`` -> flag ``\\StudySampleSizeDone``).
    macros : dict of str -> str, optional
    tables : dict of str -> (header, rows), optional
        Each defines a macro holding the tabular body.

    Returns
    -------
    str
    """
    lines = [f"% generated from results/{study}.json by nnlite.studies.latex -- do not edit"]
    if macros is None:
        lines.append(f"% the study {study!r} has not run: \\{_study_flag(study)} stays undefined")
        return "\n".join(lines) + "\n"
    lines.append(macro_definition(_study_flag(study), "1"))
    lines += [macro_definition(name, value) for name, value in sorted(macros.items())]
    for name, (header, rows) in sorted((tables or {}).items()):
        lines.append(f"\\newcommand{{\\{macro_name(name)}}}{{%\n{tabular_body(header, rows)}}}")
    return "\n".join(lines) + "\n"


def write_generated(folder, study, macros=None, tables=None):
    """Write ``<folder>/<study>.tex`` (see :func:`render_study`); return its path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(os.fspath(folder), f"{study}.tex")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(render_study(study, macros, tables))
    return path
