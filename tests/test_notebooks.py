"""The notebooks run headless, as a person would run them top to bottom."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_train_and_evaluate_notebook_runs(tmp_path):
    import papermill as pm

    out = tmp_path / "executed.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / "train_and_evaluate.ipynb"),
        str(out),
        cwd=str(ROOT),
        parameters={"out_dir": str(tmp_path / "run")},
        kernel_name="python3",
        progress_bar=False,
    )
    import nbformat

    nb = nbformat.read(out, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert '"auc"' in printed and "notebook-model" in printed
    assert printed.count('"n_no_face"') == 2  # the held-out evaluation and the self-blend check both printed
    assert (tmp_path / "run" / "plots" / "roc.png").exists()
    assert (tmp_path / "run" / "model" / "notebook-model.json").exists()
