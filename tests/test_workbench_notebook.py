"""`dfd notebook`: the parameterized case notebook runs headless (papermill) into the case folder and is logged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.mark.slow
def test_dfd_notebook_triages_renders_and_logs(tmp_path: Path, tiny_weights: Path, examples: Path, capsys) -> None:
    import nbformat

    from dfd_lib.case import open_case
    from dfd_lib.cli import main

    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for name in ("astronaut_blended_face.jpg", "coffee_no_face.jpg"):
        shutil.copy2(examples / name, evidence / name)
    cases = tmp_path / "cases"
    rc = main(
        [
            "notebook",
            "NB case 1",
            "--evidence",
            str(evidence),
            "--cases-dir",
            str(cases),
            "--weights-dir",
            str(tiny_weights),
            "--examiner",
            "Insp. Rao",
            "--seed",
            "7",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    written = sorted((cases / "nb-case-1" / "notebooks").glob("case_notebook_*.ipynb"))
    assert len(written) == 1 and str(written[0]) in out

    nb = nbformat.read(written[0], as_version=4)
    texts = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    record = json.loads(texts[texts.rindex('{\n  "case"') :])  # the run record printed by the last cell
    assert record["seed"] == 7 and record["model"]["name"] == "tiny-test-model"
    assert record["model"]["sha256"] and record["versions"]["torch"] and record["case_intact"]
    assert record["items"] == 2 and record["scored"] == 1
    images = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 2  # score plots and the Grad-CAM panel

    case = open_case("NB case 1", cases_dir=cases, create=False)
    try:
        entry = case.custody_log().iloc[-1]
        assert entry["action"] == "report" and entry["actor"] == "Insp. Rao"
        assert entry["details"]["kind"] == "case_notebook" and entry["details"]["ok"]
        assert entry["details"]["path"] == f"notebooks/{written[0].name}"
        assert entry["details"]["parameters"]["seed"] == 7
        assert case.verify(log_result=False).ok  # the notebooks folder does not disturb verification
    finally:
        case.close()

    # without --evidence the case must exist
    assert main(["notebook", "no such case", "--cases-dir", str(cases)]) == 1
