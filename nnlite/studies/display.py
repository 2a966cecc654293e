"""The report's tables and conclusions as Markdown, for the notebook.

The notebook shows exactly what the PDF shows: the same ``tables(result)``
and ``macros(result)`` of each study (:data:`nnlite.studies.runner.REGISTRY`),
with the little LaTeX they hold (``\\%``, ``$\\pm$``, ``$10^{-3}$``, ...)
turned into plain text by :func:`plain`.
"""

import re

__all__ = ["plain", "markdown_table", "study_markdown"]

_REPLACEMENTS = ((r"\%", "%"), (r"\pm", "±"), (r"\times", "×"), (r"\to", "→"), (r"\rho", "ρ"),
                 (r"\lambda", "λ"), (r"\beta", "β"), (r"\hat", ""), (r"\textasciitilde{}", "~"), (r"\_", "_"),
                 (r"\&", "&"), (r"\#", "#"), (r"\$", "$"), (r"\,", " "), ("--", "–"))


def plain(text):
    """LaTeX of a generated macro or table cell as plain text.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        ``$1.2\\times10^{-3}$`` -> ``1.2×10^-3``, ``95.0\\%`` -> ``95.0%``.
    """
    text = str(text)
    text = re.sub(r"10\^\{(-?\d+)\}", r"10^\1", text)
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    text = re.sub(r"(?<!\\)\$", "", text)
    text = re.sub(r"\\(emph|textit|textbf|texttt)\{([^{}]*)\}", r"\2", text)
    return re.sub(r"\s+", " ", text).strip()


def markdown_table(header, rows):
    """A Markdown table from a study's ``(header, rows)``.

    Parameters
    ----------
    header : list of str
    rows : list of list

    Returns
    -------
    str
    """
    lines = ["| " + " | ".join(plain(cell) for cell in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(plain(cell).replace("|", "/") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def study_markdown(study, result):
    """A study's conclusions (its ``...Sentence`` macros) and tables as one Markdown text.

    Parameters
    ----------
    study : nnlite.studies.runner.Study
    result : dict or None
        Its stored result (None: the study has not run).

    Returns
    -------
    str
    """
    if result is None:
        return f"*{study.name}: no result in this output folder (the study has not run, or was skipped).*"
    parts = []
    macros = study.macros(result) if study.macros else {}
    parts += [plain(value) for name, value in sorted(macros.items()) if name.endswith("Sentence")]
    numbers = [f"{name} = {plain(value)}" for name, value in sorted(macros.items())
               if not name.endswith("Sentence") and len(plain(value)) <= 40]
    if numbers:
        parts.append("Numbers of the report: " + "; ".join(numbers) + ".")
    for name, (header, rows) in sorted((study.tables(result) if study.tables else {}).items()):
        parts.append(f"**{name}**\n\n" + markdown_table(header, rows))
    return "\n\n".join(parts) if parts else f"*{study.name}: no table or conclusion.*"
