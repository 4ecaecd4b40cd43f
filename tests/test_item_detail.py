"""One read model of an item (Case.detail): the report and the dashboard read the same facts, and both refuse
artifact references that lead out of the case's artifacts folder."""

from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfd_lib.report import collect_report_data, generate_report
from report_support import case, item_id_of, report_case_store  # noqa: F401

ipywidgets = pytest.importorskip("ipywidgets")

from workbench import AppState, Workbench  # noqa: E402

MAGENTA = (255, 0, 255)


def _state(case, weights) -> AppState:
    state = AppState(case.path.parent, weights, evidence_roots=[])
    state.open_case(case.id, create=False)
    return state


def test_report_and_dashboard_read_the_same_item_detail(case, tiny_weights):
    data = collect_report_data(case, weights_dir=tiny_weights)
    state = _state(case, tiny_weights)
    try:
        assert [state.detail(it.item_id) for it in data.items] == list(data.items)
    finally:
        state.close()
    assert [it.item_id for it in data.items] == sorted(case.items()["item_id"])
    # the comparison covers every part of the model: faces with crops and an overlay, a video's frames,
    # forensic maps, a review, sources and the item's custody entries
    assert any(f.crop and f.gradcam for it in data.items for f in it.faces)
    assert any(len(it.frames) >= 2 for it in data.items)
    assert any(f.map for it in data.items for f in it.forensics)
    reviewed = next(it for it in data.items if it.analyst_verdict)
    assert reviewed.analyst_verdict == "likely_fake" and reviewed.reviews == 1 and "jaw line" in reviewed.notes
    assert all(it.sources and it.custody and it.custody[0].action == "intake" for it in data.items)
    assert case.detail(reviewed.item_id) == reviewed == case.details()[data.items.index(reviewed)]


def _outside_png(folder: Path) -> Path:
    path = folder / "outside.png"
    Image.new("RGB", (64, 64), MAGENTA).save(path)
    return path


def _point_artifacts_at(case, item_id: int, rel: str) -> int:
    """Rewrite every artifact reference of the item's findings to ``rel``, behind the library's back."""
    conn = sqlite3.connect(case.db_path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER findings_no_update")
        rows = conn.execute("SELECT id, artifacts_json FROM findings WHERE item_id = ?", (item_id,)).fetchall()
        changed = 0
        for fid, raw in rows:
            refs = json.loads(raw)
            if refs:
                conn.execute(
                    "UPDATE findings SET artifacts_json = ? WHERE id = ?",
                    (json.dumps([{**r, "path": rel} for r in refs]), fid),
                )
                changed += len(refs)
        return changed
    finally:
        conn.close()


def _pictures(widget) -> list[bytes]:
    """The bytes of every Image widget under ``widget``."""
    if isinstance(widget, ipywidgets.Image):
        return [bytes(widget.value)] if widget.value else []
    return [b for child in getattr(widget, "children", ()) for b in _pictures(child)]


def _is_magenta(data: bytes) -> bool:
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=float).reshape(-1, 3).mean(axis=0)
    return bool(np.abs(rgb - MAGENTA).max() < 40)


@pytest.mark.parametrize("escape", ["absolute", "dotdot", "symlink"])
def test_artifact_paths_leading_out_of_the_case_are_refused_by_dashboard_and_report(
    case, tiny_weights, tmp_path, escape
):
    item = item_id_of(case, "astronaut_blended_face.jpg")
    outside = _outside_png(case.path.parent)  # the case store, beside the case folder
    before = case.detail(item)
    assert any(f.crop and f.gradcam for f in before.faces)  # the item has pictures to show
    if escape == "absolute":
        rel = str(outside)
    elif escape == "dotdot":
        rel = "artifacts/../../outside.png"
    else:
        os.symlink(outside, case.artifacts_dir / "link.png")
        rel = "artifacts/link.png"
    assert _point_artifacts_at(case, item, rel) >= 3  # face crops, the Grad-CAM overlay, forensic maps

    detail = case.detail(item)
    assert detail.faces and all(f.crop is None and f.gradcam is None for f in detail.faces)
    assert all(not f.maps for f in detail.forensics)
    assert detail.score == before.score  # only the pictures are left out

    # the dashboard: the item opens, showing the evidence but nothing read through the tampered references
    app = Workbench(_state(case, tiny_weights))
    try:
        app.state.select(item)
        viewed = app.item_view.detail
        assert app.item_view.item_id == item and viewed.faces == detail.faces and viewed.forensics == detail.forensics
        shown = _pictures(app.item_view) + _pictures(app.item_view.tabs)
        assert shown and not any(_is_magenta(p) for p in shown)
        titles = [card.children[0].value for card in app.item_view.faces.children]
        assert titles and all("P(fake)" in t for t in titles)  # the faces and their scores are still listed
    finally:
        app.close_all()

    # the report: the same detail, and no picture of the outside file embedded
    data = collect_report_data(case, weights_dir=tiny_weights)
    assert next(it for it in data.items if it.item_id == item) == viewed  # opening it was logged: a "view" entry
    html = generate_report(case, "html", tmp_path / "r.html", weights_dir=tiny_weights).read_text("utf-8")
    assert base64.b64encode(outside.read_bytes()).decode() not in html
    assert generate_report(case, "pdf", tmp_path / "r.pdf", weights_dir=tiny_weights).read_bytes().startswith(b"%PDF")
