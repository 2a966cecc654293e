"""The report notebook runs top to bottom in quick mode on the bundled photos (nbclient), and is committed run."""

import os
import time

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks",
                        "nnlite_report.ipynb")


def _outputs(cell):
    return [output for output in cell.get("outputs", []) if output.get("output_type") != "stream"]


@pytest.mark.slow
def test_notebook_runs_in_quick_mode(tmp_path, monkeypatch):
    """Every cell executes without error; every study section shows its result or says why not."""
    monkeypatch.setenv("NNLITE_QUICK", "1")
    monkeypatch.setenv("NNLITE_SOURCE", "sample")
    monkeypatch.setenv("NNLITE_DATA", "")
    monkeypatch.setenv("NNLITE_OUTPUT", str(tmp_path / "out"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on any error
    seconds = time.perf_counter() - start
    shows = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.startswith("show(")]
    assert len(shows) == 7
    for cell in shows:
        assert _outputs(cell), f"no output from {cell.source}"
    text = "\n".join(str(output.get("data", {}).get("text/markdown", "")) for cell in shows
                     for output in _outputs(cell))
    assert "no labels" in text  # the classification study says why it has no result
    assert (tmp_path / "out" / "figures" / "pictures.png").exists()
    assert (tmp_path / "out" / "results" / "relu.json").exists()
    print(f"notebook executed in {seconds:.0f} s")


def test_committed_notebook_holds_its_outputs():
    """The committed notebook was executed (every code cell has run; the study sections show figures)."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code)
    images = [output for cell in code for output in _outputs(cell) if "image/png" in output.get("data", {})]
    assert len(images) >= 7
    assert not [output for cell in code for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    parameters = [cell for cell in code if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(parameters) == 1 and "QUICK" in parameters[0].source
