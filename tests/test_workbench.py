"""The workbench components driven programmatically (values set, buttons clicked) against a real case."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
import zipfile
from pathlib import Path

import pandas as pd
import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from workbench import AppState, Workbench  # noqa: E402
from workbench.base import Component, reports_errors  # noqa: E402
from workbench.presenters import ANY, UNREVIEWED, ItemFilter, filter_items, n_pages, page_of, state_counts  # noqa: E402


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": [1, 2, 3, 4, 5],
            "status": ["scored", "scored", "no_face", "unreadable", "scored"],
            "score": [0.9, 0.2, float("nan"), float("nan"), 0.55],
            "analyst_verdict": ["fake", None, None, None, "real"],
            "tags": [["WhatsApp"], [], ["x"], [], ["whatsapp", "morphed"]],
            "sensitive": [False, False, False, True, False],
            "media_kind": ["image", "video", "image", "unknown", "image"],
        }
    )


def test_filters_counts_and_pages() -> None:
    df = _frame()
    assert list(filter_items(df, ItemFilter())["item_id"]) == [1, 2, 3, 4, 5]
    assert list(filter_items(df, ItemFilter(status="scored"))["item_id"]) == [1, 2, 5]
    assert list(filter_items(df, ItemFilter(score_min=0.5))["item_id"]) == [1, 5]  # unscored drop out
    assert list(filter_items(df, ItemFilter(analyst_verdict=UNREVIEWED))["item_id"]) == [2, 3, 4]
    assert list(filter_items(df, ItemFilter(analyst_verdict="real"))["item_id"]) == [5]
    assert list(filter_items(df, ItemFilter(tag=" whatsapp "))["item_id"]) == [1, 5]
    assert list(filter_items(df, ItemFilter(media_kind="video", status=ANY))["item_id"]) == [2]
    assert state_counts(df) == {"no_face": 1, "scored": 3, "unreadable": 1, "reviewed": 2, "sensitive": 1}
    assert n_pages(0, 24) == 1 and n_pages(49, 24) == 3
    assert list(page_of(df, 1, 2)["item_id"]) == [3, 4] and list(page_of(df, 9, 2)["item_id"]) == [5]


def test_freeze_restores_previous_state_and_errors_reach_the_log(caplog) -> None:
    class Two(Component):
        def __init__(self) -> None:
            self.a, self.b = ipywidgets.Button(), ipywidgets.Button(disabled=True)
            super().__init__([self.a, self.b])

        def controls(self):
            return [self.a, self.b]

    c = Two()
    with pytest.raises(RuntimeError):
        with c.busy():
            assert c.a.disabled and c.b.disabled
            raise RuntimeError("boom")
    assert not c.a.disabled and c.b.disabled and not c.frozen

    @reports_errors("doing it")
    def fails() -> None:
        raise ValueError("bad input")

    with caplog.at_level("ERROR", logger="workbench"):
        assert fails() is None
    assert "doing it failed: bad input" in caplog.text


@pytest.fixture()
def app(tmp_path: Path, tiny_weights: Path, examples: Path):
    wb = Workbench(AppState(tmp_path / "cases", tiny_weights, evidence_roots=[tmp_path, examples]))
    yield wb
    wb.close_all()


def _open(wb: Workbench, name: str = "FIR 9 of 2025") -> None:
    bar = wb.case_bar
    bar.name.value, bar.examiner.value, bar.agency.value = name, "Insp. Rao", "Cyber Cell"
    bar.open_button.click()


def test_case_bar_creates_then_reopens_a_case(app: Workbench) -> None:
    app.case_bar.open_button.click()  # no name: an error in the status line, nothing opened
    assert app.state.case is None and "error" in app.log_panel.status.value
    _open(app)
    assert app.case_bar.case_id == "fir-9-of-2025"
    assert "Insp. Rao" in app.case_bar.summary.value and "0 item(s)" in app.case_bar.summary.value
    assert not app.case_bar.verify_button.disabled
    app.case_bar.verify_button.click()
    assert app.state.last_verify is not None and app.state.last_verify.ok
    assert "intact" in app.case_bar.summary.value
    app.state.close_case()
    assert app.case_bar.case_id == ""
    app.case_bar.reload_cases()
    assert "fir-9-of-2025" in [v for _, v in app.case_bar.existing.options[1:]]
    app.case_bar.existing.value = "fir-9-of-2025"
    app.case_bar.examiner.value = "SI Kumar"
    app.case_bar.open_button.click()
    assert app.state.case is not None and app.state.examiner == "SI Kumar"
    assert app.state.case.info.examiner == "Insp. Rao"  # the case keeps its examiner; the actor changed


def _evidence(tmp_path: Path, examples: Path) -> Path:
    folder = tmp_path / "evidence"
    folder.mkdir()
    for name in ("astronaut.jpg", "astronaut_blended_face.jpg"):
        shutil.copy2(examples / name, folder / name)
    shutil.copy2(examples / "problem_files" / "empty.jpg", folder / "empty.jpg")
    return folder


@pytest.mark.slow
def test_triage_grid_item_view_and_review(app: Workbench, tmp_path: Path, examples: Path) -> None:
    _open(app)
    app.intake.path.value = str(_evidence(tmp_path, examples))
    coffee = (examples / "coffee_no_face.jpg").read_bytes()
    app.intake.upload.value = (
        {
            "name": "coffee_no_face.jpg",
            "type": "image/jpeg",
            "size": len(coffee),
            "content": memoryview(coffee),
            "last_modified": datetime.now(timezone.utc),
        },
    )
    app.intake.start_button.click()
    assert app.intake.running and app.case_bar.frozen and app.intake.start_button.disabled
    assert app.intake.wait(600)
    assert not app.intake.running and not app.case_bar.frozen and not app.intake.start_button.disabled
    assert "done: analysed 4" in app.intake.progress_text.value and app.intake.bar.value == app.intake.bar.max
    assert "4 of 4 item(s)" in app.grid.counts.value
    staged = list((tmp_path / "cases" / "_uploads" / "fir-9-of-2025").glob("*/*/coffee_no_face.jpg"))
    assert len(staged) == 1 and app.intake.upload.value == ()

    # grid: most suspicious first, filters narrow it
    items = app.state.items()
    top = int(items.iloc[0]["item_id"])
    shown = [t.item_id for t in app.grid.tiles if t.layout.display != "none"]
    assert shown == [int(i) for i in items["item_id"]] and all(t.image.value for t in app.grid.tiles[:4])
    app.grid.status.value = "scored"
    assert len([t for t in app.grid.tiles if t.layout.display != "none"]) == 2
    app.grid.reset()

    # item view: picture, face crop and a recomputed Grad-CAM re-blended at another opacity
    app.grid.tiles[0].button.click()
    assert app.item_view.wait(300)  # the Grad-CAM is computed after the item opens
    assert app.grid.selected_item == top and app.item_view.item_id == top and app.state.selected == top
    assert bytes(app.item_view.picture.value).startswith(b"\x89PNG")
    cams = _shown_cams(app.item_view)
    assert cams and cams[0].startswith(b"\x89PNG")
    app.item_view.opacity.value = 0.9  # re-blended at once: the heatmap is kept
    assert not app.item_view.computing and _shown_cams(app.item_view)[0] != cams[0]
    assert "view" in set(app.state.case.custody_log(top)["action"])
    assert app.item_view.forensics.children  # forensic findings of the image are listed

    # review: keys 1-6 choose the verdict and save; j/k move through the grid
    app.review.notes.value = "blended jaw line"
    app.review.tags.value = "whatsapp, morphed"
    assert app.shortcuts.press("1")
    hist = app.state.case.history(top)
    assert (
        hist[-1].verdict == "fake" and hist[-1].notes == "blended jaw line" and hist[-1].tags == ("whatsapp", "morphed")
    )
    assert app.review.last_saved == hist[-1] and "annotation" in app.item_view.custody.value
    app.shortcuts.on_event({"key": "j", "target": {"tagName": "DIV"}})
    second = int(items.iloc[1]["item_id"])
    assert app.state.selected == second and app.review.item == second and app.review.verdict.value is None
    app.shortcuts.on_event({"key": "k", "target": {"tagName": "TEXTAREA"}})  # typing in a field: ignored
    assert app.state.selected == second
    app.shortcuts.press("k")
    assert app.state.selected == top and app.review.verdict.value == "fake"
    app.grid.analyst.value = "fake"
    assert [t.item_id for t in app.grid.tiles if t.layout.display != "none"] == [top]


@pytest.mark.slow
def test_intake_cancel_keeps_the_case_resumable(app: Workbench, tmp_path: Path, examples: Path) -> None:
    _open(app)
    app.intake.path.value = str(_evidence(tmp_path, examples))
    app.intake.start_button.click()
    app.intake.cancel_button.click()  # before the model has even loaded
    assert app.intake.wait(600)
    assert "cancelled" in app.intake.progress_text.value
    assert not app.intake.start_button.disabled and app.intake.cancel_button.disabled
    assert (app.state.items()["status"] == "pending").all()  # nothing analysed (maybe nothing taken in)
    app.intake.start_button.click()  # the same folder again: what is missing is finished
    assert app.intake.wait(600)
    items = app.state.items()
    assert len(items) == 3 and set(items["status"]) == {"scored", "unreadable"}
    assert "done: analysed 3" in app.intake.progress_text.value


def _with_fast_card(tiny_weights: Path, tmp_path: Path) -> Path:
    """The tiny model's folder plus a second card scoring the same weights under another name (as the shipped
    fast card scores the default's), not the default."""
    import json

    out = tmp_path / "weights"
    shutil.copytree(tiny_weights, out)
    card = json.loads((out / "tiny-test-model.json").read_text())
    limit = "A fast card: rescan with the default before a report."
    card.update(name="tiny-test-fast", default=False, limits=[limit], threshold=0.6)
    (out / "tiny-test-fast.json").write_text(json.dumps(card))
    return out


@pytest.mark.slow
def test_model_choice_scores_the_case_again_with_the_other_card(
    tmp_path: Path, tiny_weights: Path, examples: Path
) -> None:
    wb = Workbench(AppState(tmp_path / "cases", _with_fast_card(tiny_weights, tmp_path), evidence_roots=[tmp_path]))
    try:
        choice = wb.intake.model_choice
        # the test folder's cards first (searched first), then the installation's own
        assert choice.options[:2] == (
            ("tiny-test-model (default)", "tiny-test-model"),
            ("tiny-test-fast", "tiny-test-fast"),
        )
        assert sum("(default)" in label for label, _ in choice.options) == 1
        assert choice.value == "tiny-test-model" and "the default model" in wb.intake.model_note.value
        choice.value = "tiny-test-fast"
        assert wb.state.model == "tiny-test-fast"
        assert (
            "not the default model" in wb.intake.model_note.value
            and "rescan with the default" in wb.intake.model_note.value
        )
        _open(wb)
        wb.intake.path.value = str(_evidence(tmp_path, examples))
        wb.intake.start_button.click()
        assert choice.disabled  # no switching while a triage runs
        assert wb.intake.wait(600)
        assert not choice.disabled
        first = wb.state.items()
        assert set(first["model"].dropna()) == {"tiny-test-fast"}
        choice.value = "tiny-test-model"  # rescan what the fast card saw, with the default
        wb.intake.start_button.click()  # no new path: the items lacking this model's findings
        assert wb.intake.wait(600)
        assert "done: analysed 3" in wb.intake.progress_text.value
        case = wb.state.case
        det = case.findings(kind="detector").query("kind == 'detector'")
        assert sorted(det["model_name"].value_counts().items()) == [("tiny-test-fast", 3), ("tiny-test-model", 3)]
        assert set(wb.state.items()["model"].dropna()) == {"tiny-test-model"}
        # back to the fast card and back again: nothing to score, but the grid and the item view show the chosen
        # card's own scores each time, never those of whichever card scored last
        for name in ("tiny-test-fast", "tiny-test-model"):
            choice.value = name
            wb.intake.start_button.click()
            assert wb.intake.wait(600) and "done: analysed 0" in wb.intake.progress_text.value
            assert set(wb.state.items()["model"].dropna()) == {name}
            item = int(wb.state.items()["item_id"].iloc[0])
            wb.state.select(item)
            assert wb.item_view.detail.model_name == name
            # the report shows the chosen card's findings too, the other card named beside them
            html = wb.state.report("html").read_text(encoding="utf-8")
            other = {"tiny-test-fast": "tiny-test-model", "tiny-test-model": "tiny-test-fast"}[name]
            assert f"one model, {name} " in html and f"{other} (3 items)" in html
        assert case.verify().ok
    finally:
        wb.close_all()


def test_model_choice_refuses_an_unknown_card(app: Workbench) -> None:
    with pytest.raises(Exception, match="no installed model"):
        app.state.select_model("no-such-model")
    assert app.state.model is None and app.intake.model_choice.value == "tiny-test-model"


def test_intake_reports_a_missing_folder(app: Workbench, tmp_path: Path) -> None:
    _open(app)
    app.intake.path.value = str(tmp_path / "nope")
    app.intake.start_button.click()
    assert app.intake.wait(60)
    assert "does not exist" in app.log_panel.status.value
    assert not app.intake.running and not app.intake.start_button.disabled


def test_intake_refuses_a_path_outside_the_evidence_roots(app: Workbench, tmp_path: Path) -> None:
    _open(app)
    for outside in ("/etc/passwd", str(tmp_path / ".." / "elsewhere"), "/etc"):
        app.intake.path.value = outside
        app.intake.start_button.click()
        assert app.intake.wait(60)
        assert "outside the folders this dashboard may take evidence from" in app.log_panel.status.value
        assert not app.intake.running and app.intake.last_result is None
    assert app.state.items().empty and len(app.state.case.custody_entries()) == 1  # nothing read or recorded
    with pytest.raises(Exception, match="outside"):
        app.state.triage([Path("/etc/passwd")])


def test_evidence_roots_default_to_none(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DFD_EVIDENCE_ROOTS", raising=False)
    state = AppState(tmp_path / "cases")
    assert state.evidence_roots == []
    with pytest.raises(Exception, match="none configured"):
        state.check_evidence_path(tmp_path)
    monkeypatch.setenv("DFD_EVIDENCE_ROOTS", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    state = AppState(tmp_path / "cases")
    assert state.check_evidence_path(tmp_path / "b" / "x.jpg") == (tmp_path / "b" / "x.jpg").resolve()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "link").symlink_to("/etc/passwd")
    with pytest.raises(Exception, match="outside"):
        state.check_evidence_path(tmp_path / "b" / "link")


@pytest.mark.slow
def test_every_upload_arrives_under_a_unique_name_with_its_original_name_recorded(
    app: Workbench, examples: Path
) -> None:
    _open(app)
    contents = {
        name: (examples / src).read_bytes()
        for name, src in (
            ("照片.jpg", "astronaut.jpg"),
            ("图片.jpg", "coffee_no_face.jpg"),
            (".hidden.jpg", "two_faces.png"),
            ("..", "astronaut_blended_face.jpg"),
            ("photo.jpg", "problem_files/empty.jpg"),
        )
    }
    contents["dup/photo.jpg"] = b"\xff\xd8\xff not really a jpeg"
    app.intake.upload.value = tuple(
        {
            "name": n,
            "type": "image/jpeg",
            "size": len(b),
            "content": memoryview(b),
            "last_modified": datetime.now(timezone.utc),
        }
        for n, b in contents.items()
    )
    app.intake.start_button.click()
    assert app.intake.wait(600) and app.intake.last_result is not None, app.log_panel.status.value
    case = app.state.case
    items = case.items()
    assert len(items) == len(contents)  # nothing overwritten, nothing skipped
    notes = " ".join(case.sources()["notes"])
    for name in contents:
        assert repr(name) in notes, name
    names = set(items["name"])
    assert {"照片.jpg", "图片.jpg", ".hidden.jpg", "photo.jpg"} <= names and "upload-004" in names
    staged = sorted(p for p in (app.state.uploads_dir / case.id).rglob("*") if p.is_file())
    assert len(staged) == len(contents) + 1  # + uploads.json
    import json as _json

    listed = _json.loads(next(p for p in staged if p.name == "uploads.json").read_text(encoding="utf-8"))
    assert [e["original_name"] for e in listed] == list(contents)


def test_upload_limit_is_stated_and_configurable(tmp_path: Path, monkeypatch) -> None:
    from workbench.intake import Intake
    from workbench.serve import tornado_settings
    from workbench.state import DEFAULT_UPLOAD_MAX_MB, upload_limit_bytes

    monkeypatch.delenv("DFD_UPLOAD_MAX_MB", raising=False)
    assert upload_limit_bytes() == DEFAULT_UPLOAD_MAX_MB << 20
    assert tornado_settings()["websocket_max_message_size"] > 10 * (1 << 20)  # tornado's default dropped uploads
    monkeypatch.setenv("DFD_UPLOAD_MAX_MB", "40")
    assert upload_limit_bytes() == 40 << 20
    # twice the limit (and a little): a batch over it arrives and is refused with a message, not a dropped socket
    assert 80 << 20 < tornado_settings()["websocket_max_message_size"] < 82 << 20
    assert "40 MiB" in Intake(AppState(tmp_path / "cases")).upload.description


NARRATIVE = (
    "A morphed photograph showing the complainant's face on another person's body was sent to her "
    "contacts on WhatsApp from an unknown number, with threats to post more. The workbench flags the "
    "face as likely manipulated; see the attached report for the analysis and the chain of custody."
)
NCRP_OTHER_PATH = {
    "complaint_path": "Report Other Cyber Crime",
    "category": "Online and Social Media Related Crime",
    "sub_category": "Cheating by Impersonation",
    "incident_date": "2025-03-01",
    "incident_time": "14:30",
    "platform": "WhatsApp",
    "incident_state": "Maharashtra",
    "narrative": NARRATIVE,
    "complainant_name": "A. Complainant",
    "complainant_mobile": "9876543210",
    "complainant_address": "12 MG Road, Pune",
    "complainant_state": "Maharashtra",
}


def fill_form(panel, values: dict) -> None:
    for key, value in values.items():  # in form order, so dependent drop-downs have their choices
        panel.form.inputs[key].value = value


def test_export_form_is_generated_validated_and_saved(app: Workbench) -> None:
    from dfd_lib.portal import load_portal_fields

    _open(app)
    panel = app.export
    assert panel.portal.value == "ncrp" and not panel.bundle_button.disabled
    profile = panel.form.profile
    assert list(panel.form.inputs) == list(profile.field_ids)
    # hints written for a web page: the time field says how to type a time, nothing about quoting it in YAML
    assert panel.form.inputs["incident_time"].placeholder == "a time, HH:MM (24-hour)"
    assert panel.form.inputs["urls"].placeholder.endswith("one per line")
    hints = [getattr(w, "placeholder", "") for w in panel.form.inputs.values()]
    hints += [row.children[0].value for row in panel.form.rows.values()]  # the labels and their tooltips
    assert not [h for h in hints if "yaml" in h.lower() or "quote" in h.lower()]
    sub = panel.form.inputs["sub_category"]
    assert sub.disabled and list(sub.options) == [""]  # depends on category, not chosen yet
    assert any("required" in p for p in panel.form.check())
    assert "problem(s) in the form" in panel.form.problems.value
    panel.form.inputs["complaint_path"].value = "Report Other Cyber Crime"
    assert "Online and Social Media Related Crime" in panel.form.inputs["category"].options
    fill_form(panel, NCRP_OTHER_PATH)
    assert not sub.disabled and "Cheating by Impersonation" in sub.options
    assert panel.form.check() == [] and "the form is complete" in panel.form.problems.value
    panel.form.anonymous.value = True  # only the Women/Child path may be anonymous; the complainant block hides
    assert panel.form.rows["complainant_name"].layout.display == "none"
    assert any("anonymous" in p for p in panel.form.check())
    panel.form.anonymous.value = False
    panel.save_button.click()
    case = app.state.case
    assert load_portal_fields(case, "ncrp")["sub_category"] == "Cheating by Impersonation"
    assert case.custody_log()["action"].iloc[-1] == "case_updated"
    panel.portal.value = "generic"
    assert "addressed_to" in panel.form.inputs and panel.form.inputs["narrative"].value == ""
    panel.portal.value = "ncrp"  # the saved answers come back
    assert panel.form.inputs["platform"].value == "WhatsApp"
    panel.form.inputs["narrative"].value = "too short"
    panel.bundle_button.click()  # refused: the form is incomplete, nothing exported
    assert "form is incomplete" in app.log_panel.status.value and panel.downloads.value == ""


def _download(html_text: str, css_class: str) -> tuple[str, bytes]:
    import base64
    import re

    m = re.search(rf"class='{css_class}' download='([^']+)' href='data:([^;]+);base64,([^']+)'", html_text)
    assert m, html_text[:300]
    return m.group(1), base64.b64decode(m.group(3))


@pytest.mark.slow
def test_report_and_bundle_download_links(app: Workbench, tmp_path: Path, examples: Path) -> None:
    import io

    _open(app)
    app.state.triage([examples / "astronaut_blended_face.jpg"])
    panel = app.export
    fill_form(panel, NCRP_OTHER_PATH)
    panel.report_button.click()
    name, pdf = _download(panel.downloads.value, "dfd-download-report")
    assert name.endswith(".pdf") and pdf.startswith(b"%PDF") and panel.last_output.endswith(name)
    panel.bundle_button.click()
    name, data = _download(panel.downloads.value, "dfd-download-bundle")
    assert name.endswith(".zip") and panel.bar.value == panel.bar.max
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None and len(z.namelist()) > 2
    actions = list(app.state.case.custody_log()["action"])
    assert "report" in actions and actions[-1] == "export"
    assert not panel.frozen and not panel.bundle_button.disabled
    # a second report: one link per kind stays in the page (each carries its file), the first named as written
    panel.report_button.click()
    value = panel.downloads.value
    assert value.count("class='dfd-download-report'") == 1 and value.count("class='dfd-download-bundle'") == 1
    assert "written earlier" in value and value.count("data:") == 2


@pytest.mark.slow
def test_animated_picture_shows_the_frame_its_face_was_found_on(app: Workbench, examples: Path, tmp_path: Path) -> None:
    """A face found on the second frame of an animated GIF is drawn on that frame, not on the first (where it is
    not), and listed with its frame."""
    from PIL import Image

    face = Image.open(examples / "astronaut.jpg").convert("RGB")
    blank = Image.new("RGB", face.size, (90, 120, 150))
    gif = tmp_path / "profile_picture.gif"
    blank.save(gif, save_all=True, append_images=[face], duration=500, loop=0)
    _open(app)
    app.state.triage([gif])
    app.state.select(int(app.state.items()["item_id"].iloc[0]))
    view, d = app.item_view, app.item_view.detail
    assert d.status == "scored" and [f.frame_index for f in d.faces] == [1]
    assert view.video_box.layout.display == "flex" and view.frame.max == 1 and view.frame.value == 1
    titles = " ".join(card.children[0].value for card in view.faces.children)
    assert "(frame 1)" in titles and bytes(view.picture.value).startswith(b"\x89PNG")
    view.frame.value = 0  # the first frame: no face there
    assert "no scored face here" in view.faces.children[0].value


@pytest.mark.slow
def test_video_item_has_score_plot_and_frame_picker(app: Workbench, examples: Path) -> None:
    from workbench.grid import TriageGrid

    _open(app)
    app.state.triage([examples / "astronaut_clip.mp4", examples / "astronaut.jpg", examples / "coffee_no_face.jpg"])
    video = int(app.state.items().query("media_kind == 'video'")["item_id"].iloc[0])
    app.state.select(video)
    view, d = app.item_view, app.item_view.detail
    assert view.item_id == video and d.is_video and len(d.frames) >= 2
    assert view.video_box.layout.display == "flex" and bytes(view.plot.value).startswith(b"\x89PNG")
    scores = [f.score if f.score is not None else -1 for f in d.frames]
    assert view.frame.max == len(d.frames) - 1 and view.frame.value == scores.index(max(scores))
    view.frame.value = 0  # another sampled frame: its faces, its picture
    titles = " ".join(card.children[0].value for card in view.faces.children)
    assert f"(frame {d.frames[0].index})" in titles
    assert bytes(view.picture.value).startswith(b"\x89PNG")

    # paging: a grid of two tiles per page walks all three items
    picked: list[int] = []
    small = TriageGrid(app.state, on_select=picked.append, page_size=2)
    small.refresh()
    assert "page 1 / 2" in small.page_label.value
    small.next_button.click()
    assert "page 2 / 2" in small.page_label.value
    assert [t.item_id for t in small.tiles if t.layout.display != "none"] == [int(app.state.items()["item_id"].iloc[2])]
    small.tiles[0].button.click()
    assert picked == [small.tiles[0].item_id] and small.selected_item == picked[0]


def test_video_frame_returns_the_frame_asked_for_beyond_the_sampling_cap(tmp_path: Path) -> None:
    import av
    import numpy as np

    from dfd_lib.errors import DfdError
    from workbench.imaging import video_frame

    path = tmp_path / "long.mp4"
    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for _ in range(130):  # more frames than MediaLimits.max_video_frames (120)
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 130
    for index in (0, 119, 120, 125, 129):
        assert np.array_equal(video_frame(path, index), decoded[index]), index
    with pytest.raises(DfdError, match="130"):
        video_frame(path, 130)  # no such frame: never a different one in its place


def test_review_form_refuses_to_overwrite_a_review_saved_meanwhile(app: Workbench, tmp_path: Path, caplog) -> None:
    from dfd_lib.case import open_case

    from case_support import write_image

    _open(app)
    case = app.state.require_case()
    [rec] = case.ingest([write_image(tmp_path / "p.png", seed=52)])
    app.review.load(rec.item_id)  # the form shows "never reviewed"
    with open_case(case.id, cases_dir=case.path.parent, create=False) as other:
        theirs = other.annotate(rec.item_id, notes="victim is a minor", sensitive=True, reviewer="SI Khan")
    app.review.verdict.value = "real"
    with caplog.at_level("ERROR", logger="workbench"):
        app.review.save()
    assert "saving the review failed" in caplog.text and "SI Khan" in caplog.text
    assert case.history(rec.item_id) == [theirs] and case.sensitive_items() == {rec.item_id}
    assert app.review.verdict.value == "real"  # what was typed is kept
    app.review.load(rec.item_id)  # reload: the form now shows their review and saves on top of it
    assert app.review.sensitive.value and app.review.notes.value == "victim is a minor"
    app.review.verdict.value = "fake"
    app.review.save()
    app.review.save()  # saving twice from the same form is not stale: it is based on its own last save
    last = case.history(rec.item_id)[-1]
    assert last.verdict == "fake" and last.sensitive and last.notes == "victim is a minor"


def test_a_new_case_takes_nothing_from_the_one_open_before(app: Workbench, tmp_path: Path, examples: Path) -> None:
    """Title and agency describe the open case (they would be logged permanently with a new case); the export
    tab's download links, progress and anonymous choice belong to it too."""
    bar = app.case_bar
    bar.name.value, bar.title.value, bar.agency.value, bar.examiner.value = "FIR 1", "Morphed photo", "Cyber", "Rao"
    bar.open_button.click()
    app.export.downloads.value, app.export.bar_text.value = "<a>report_fir-1.pdf</a>", "report (pdf): 18/18"
    app.export.form.anonymous.value = True
    bar.name.value = "FIR 2"  # another case: typed over the open case's name
    assert bar.title.value == bar.agency.value == "" and bar.examiner.value == "Rao"
    bar.open_button.click()
    info = app.state.case.info
    assert (info.title, info.agency, info.examiner) == ("FIR 2", "", "Rao")
    assert app.export.downloads.value == "" and app.export.bar_text.value == ""
    assert app.export.form.anonymous.value is False


def test_an_upload_over_the_limit_is_refused_with_a_message(
    app: Workbench, examples: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import workbench.intake as intake_mod

    monkeypatch.setattr(intake_mod, "upload_limit_bytes", lambda: 50_000)
    _open(app)
    photo = (examples / "astronaut.jpg").read_bytes()  # 75 kB
    with caplog.at_level("ERROR"):
        app.intake.upload.value = (
            {
                "name": "astronaut.jpg",
                "type": "image/jpeg",
                "size": len(photo),
                "content": memoryview(photo),
                "last_modified": datetime.now(timezone.utc),
            },
        )
    assert app.intake.upload.value == ()
    assert any("over the" in r.getMessage() and "smaller batches" in r.getMessage() for r in caplog.records)


def _texts(widget) -> str:
    """The text of the HTML widgets shown in ``widget`` (hidden ones left out)."""
    if getattr(widget, "layout", None) is not None and widget.layout.display == "none":
        return ""
    own = widget.value if isinstance(widget, ipywidgets.HTML) else ""
    return own + " ".join(_texts(c) for c in getattr(widget, "children", ()))


def _shown_cams(view) -> list[bytes]:
    """The Grad-CAM pictures shown in the item view's face cards."""

    def walk(w):
        if w.layout.display == "none":
            return []
        if isinstance(w, ipywidgets.Image) and "dfd-gradcam" in w._dom_classes:
            return [bytes(w.value)]
        return [b for c in getattr(w, "children", ()) for b in walk(c)]

    return walk(view.faces)


@pytest.fixture()
def scored_item(app: Workbench, examples: Path) -> int:
    """A case with one scored picture (a face with its crop and stored Grad-CAM overlay); its item id."""
    _open(app)
    app.state.triage([examples / "astronaut.jpg"])
    items = app.state.items()
    assert list(items["status"]) == ["scored"]
    return int(items["item_id"].iloc[0])


@pytest.mark.slow
def test_opening_an_item_says_grad_cam_is_being_computed_then_shows_it(
    app: Workbench, scored_item: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Grad-CAM takes seconds on a CPU (the model loads first): the item opens at once, each face saying that
    its Grad-CAM is being computed, and the overlay replaces the note when it is ready."""
    import threading

    from workbench.item_view import GRADCAM_PENDING

    release = threading.Event()
    compute = app.state.heatmap

    def slow_heatmap(*args, **kwargs):
        release.wait(20)
        return compute(*args, **kwargs)

    monkeypatch.setattr(app.state, "heatmap", slow_heatmap)
    app.grid.refresh()
    app.grid.tiles[0].button.click()
    view = app.item_view
    try:
        assert view.item_id == scored_item and bytes(view.picture.value).startswith(b"\x89PNG")
        assert "P(fake)" in _texts(view.faces) and GRADCAM_PENDING in _texts(view.faces)
        assert _shown_cams(view) == [] and view.computing
        assert not view.gradcam.disabled and not view.opacity.disabled  # the view is usable meanwhile
    finally:
        release.set()
    assert view.wait(120)
    assert GRADCAM_PENDING not in _texts(view.faces) and not view.computing
    cams = _shown_cams(view)
    assert len(cams) == 1 and cams[0].startswith(b"\x89PNG")


@pytest.mark.slow
def test_a_grad_cam_that_fails_is_replaced_by_the_reason_never_left_computing(
    app: Workbench, scored_item: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.item_view import GRADCAM_PENDING

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory computing gradients")

    monkeypatch.setattr(app.state, "heatmap", broken)
    app.state.select(scored_item)
    view = app.item_view
    assert view.wait(60)
    shown = _texts(view.faces)
    assert GRADCAM_PENDING not in shown and not view.computing
    assert "Grad-CAM could not be computed: out of memory computing gradients" in shown
    assert "overlay stored at triage is shown" in shown  # the face's overlay from triage stands in
    assert [c[:4] for c in _shown_cams(view)] == [b"\x89PNG"]


def test_form_hints_are_shown_whole(app: Workbench) -> None:
    """A field's hint is never cut: the NCRP narrative's hint (190 characters) is the whole help text, in a text
    area with rows enough to show it; a one-line field whose hint is too long for its box has it below the box."""
    from types import SimpleNamespace

    from workbench.portal_form import PortalForm, fits_one_line, hint_rows

    _open(app)
    form = app.export.form
    field = next(f for f in form.profile.fields if f.id == "narrative")
    narrative = form.inputs["narrative"]
    assert narrative.placeholder == " ".join(field.help.split())
    assert narrative.placeholder.endswith("characters (assumption).")
    assert narrative.rows >= hint_rows(narrative.placeholder) > 3
    for f in form.profile.fields:  # every hint of the profile, whole
        hint = getattr(form.inputs[f.id], "placeholder", "")
        text = (f.help or "").strip().rstrip(".")
        assert not hint or text[:40] in hint or f.format, (f.id, hint)

    long_help = "Where the incident was first noticed: the group, page or channel, with its name as shown on screen."
    assert not fits_one_line(long_help)
    profile = SimpleNamespace(
        fields=[
            SimpleNamespace(
                id="where",
                label="Where",
                help=long_help,
                section="incident",
                required=False,
                allowed=(),
                parent=None,
                multiple=False,
                multiline=False,
                format=None,
            )
        ],
        section_label=lambda s: s,
        fields_for=lambda anonymous: profile.fields,
    )
    other = PortalForm()
    other.build(profile, {})
    assert other.inputs["where"].placeholder == ""  # not cut to what the box shows...
    assert long_help in _texts(other.rows["where"])  # ...but shown whole below it


def test_an_upload_too_big_for_the_connection_is_reported_in_the_page(app: Workbench) -> None:
    """A batch over twice the upload limit never arrives (the server drops the connection, and the page reconnects):
    the server tells the workbench through its comm target, and the page says what happened and what to do."""
    import comm

    from workbench.state import UPLOAD_DROPPED_TARGET

    app.intake.upload.value = ()
    manager = comm.get_comm_manager()
    msg = {
        "header": {"msg_type": "comm_open"},
        "parent_header": {},
        "metadata": {},
        "content": {"comm_id": "dropped-1", "target_name": UPLOAD_DROPPED_TARGET, "data": {"limit_bytes": 3 << 20}},
    }
    manager.comm_open(None, None, msg)
    status = app.log_panel.status.value
    assert "too large to send (over 3 MiB)" in status and "were not received" in status
    assert "evidence folder" in status and "MiB at most" in status
    assert app.intake.upload.value == ()


def test_the_progress_line_shows_a_card_name_as_text(app: Workbench) -> None:
    """The progress line is HTML: a model name (or a result message) holding markup must show as text."""
    app.intake._on_progress(0, 2, "triage (<img src=x onerror=alert(1)>)", {"item": 1, "result": "<b>x</b>"})
    value = app.intake.progress_text.value
    assert "<img" not in value and "&lt;img src=x onerror=alert(1)&gt;" in value and "<b>" not in value


def test_a_picture_too_large_to_preview_gets_a_placeholder_quickly(tmp_path: Path) -> None:
    """A 115 KB PNG of 119 MP (just under the scan's 120 MP bound) took 3.8 s and 0.9 GB per grid tile."""
    import io

    from PIL import Image

    from workbench.imaging import PREVIEW_MAX_PIXELS, thumbnail_png

    big = tmp_path / "bomb.png"
    Image.new("L", (5000, 4000), 0).save(big)  # 20 MP of one grey, a few kilobytes on disk
    assert 5000 * 4000 > PREVIEW_MAX_PIXELS
    thumb = Image.open(io.BytesIO(thumbnail_png(big, "image")))
    assert thumb.size == (128, 128)  # the placeholder, not the picture (which is 5:4)
    jpeg = tmp_path / "large.jpg"
    Image.new("RGB", (6000, 4000), (200, 30, 30)).save(jpeg, quality=80)  # 24 MP: decoded reduced, still shown
    shown = Image.open(io.BytesIO(thumbnail_png(jpeg, "image")))
    assert shown.size == (128, 85) and shown.getpixel((60, 40))[0] > 150
