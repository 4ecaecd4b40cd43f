"""Triage: findings and artifacts per item and face, models side by side, resumable after kill -9."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from dfd_lib.case import open_case
from dfd_lib.progress import CallbackProgress
from case_support import FakeScanner, make_images

TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture
def evidence(tmp_path):
    folder = tmp_path / "ev"
    make_images(folder, 4)
    (folder / "sub").mkdir()
    (folder / "sub" / "empty.jpg").write_bytes(b"")
    (folder / "sub" / "notes.jpg").write_text("text, not a photo")
    return folder


@pytest.fixture
def case(tmp_path):
    c = open_case("triage", cases_dir=tmp_path / "cases", examiner="Insp. Rao")
    yield c
    c.close()


def _detector_counts(db: Path) -> dict[tuple[int, str], int]:
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT item_id, model_sha256, COUNT(*) FROM findings WHERE kind = 'detector'"
            " GROUP BY item_id, model_sha256"
        ).fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()
    return {(i, m): n for i, m, n in rows}


def test_triage_stores_findings_artifacts_and_summary(case, evidence):
    scanner = FakeScanner()
    df = case.triage([evidence], scanner=scanner, forensics=False)
    assert len(df) == 6 and set(df["run"]) == {"analysed"}
    scores = list(df["score"])
    assert scores[:4] == sorted(scores[:4], reverse=True) and all(np.isnan(scores[4:]))
    statuses = dict(zip(df["name"], df["status"]))
    assert statuses["empty.jpg"] == "unreadable" and statuses["notes.jpg"] == "unsupported"
    assert df.attrs["analysed"] == 6 and df.attrs["intake"]["new"] == 6 and not df.attrs["cancelled"]
    # scanned the write-once copies, never the originals
    assert all(Path(p).parent == case.evidence_dir for p in scanner.scanned)
    f = case.findings()
    top = df.iloc[0]
    det = f[(f.item_id == top.item_id) & (f.kind == "detector")].iloc[0]
    assert det.model_name == "fake-v1" and det.model_sha256 == scanner.model.card.sha256 and det.threshold == 0.5
    assert det.result["score"] == round(top.score, 6) and det.params["model_card"]["name"] == "fake-v1"
    assert det.params["fps"] == 1.0 and det.params["tool"] == "dfd_lib"
    faces = f[(f.item_id == top.item_id) & (f.kind == "detector:face")]
    assert list(faces.subject) == ["face:-:0", "face:-:1"] and faces.score.iloc[0] == pytest.approx(top.score)
    kinds = sorted(a["kind"] for a in det.artifacts)
    assert kinds == ["face_crop", "face_crop", "gradcam"]
    for a in det.artifacts:
        path = case.path / a["path"]
        assert path.is_file() and oct(path.stat().st_mode & 0o777) == "0o444"
    assert case.verify().ok


def test_rerun_adds_nothing_and_another_model_adds_findings(case, evidence):
    case.triage([evidence], scanner=FakeScanner(), forensics=False)
    n_findings, n_log = len(case.findings()), len(case.custody_log())
    again = FakeScanner()
    df = case.triage([evidence], scanner=again, forensics=False)
    assert again.scanned == [] and df.attrs["analysed"] == 0 and set(df["run"]) == {"previous"}
    assert len(case.findings()) == n_findings and len(case.custody_log()) == n_log
    other = FakeScanner("fake-v2")
    df2 = case.triage([], scanner=other, forensics=False)
    assert len(other.scanned) == 6 and df2.attrs["analysed"] == 6
    counts = _detector_counts(case.db_path)
    assert len(counts) == 12 and set(counts.values()) == {1}
    assert set(case.items(model_sha256=other.model.card.sha256)["model"].dropna()) == {"fake-v2"}
    # the first model's findings are untouched
    assert len(case.findings(kind="detector")) == 2 * n_findings
    assert case.verify().ok


def test_two_cards_of_the_same_weights_keep_their_own_findings(case, evidence):
    """The fast card scores the default's weights at one framing: a triage with the default after one with the
    fast card must score every item again and keep both results apart (same weights' SHA-256, other card)."""
    weights = "ab" * 32
    fast, full = FakeScanner("card-fast", sha256=weights), FakeScanner("card-full", sha256=weights)
    first = case.triage([evidence], scanner=fast, forensics=False)
    second = case.triage([], scanner=full, forensics=False)
    assert len(full.scanned) == 6 and second.attrs["analysed"] == 6 and second.attrs["already_done"] == 0
    assert set(second["model"].dropna()) == {"card-full"} and set(first["model"].dropna()) == {"card-fast"}
    counts = {}
    for r in case.findings(kind="detector").itertuples():
        if r.kind == "detector":
            counts[r.model_name] = counts.get(r.model_name, 0) + 1
    assert counts == {"card-fast": 6, "card-full": 6}
    top = second.iloc[0]
    full_detail = case.detail(int(top.item_id))  # latest: the default's
    fast_detail = case.detail(int(top.item_id), model_sha256=weights, model_name="card-fast")
    assert full_detail.model_name == "card-full" and full_detail.score == pytest.approx(top.score)
    assert fast_detail.model_name == "card-fast" and fast_detail.score != pytest.approx(full_detail.score)
    assert [f.score for f in full_detail.faces] == pytest.approx([top.score, top.score / 2])
    assert len(fast_detail.faces) == 2  # each card's own faces, never both cards' mixed
    # a third run with either card adds nothing
    again = FakeScanner("card-fast", sha256=weights)
    assert case.triage([], scanner=again, forensics=False).attrs["analysed"] == 0 and again.scanned == []
    assert case.verify().ok


def test_a_version_2_case_is_upgraded_in_place_and_logged(tmp_path, evidence):
    """Cases made before findings were keyed by card name open, upgrade, verify and take a second card."""
    import pandas as pd

    from dfd_lib.case import store

    weights = "cd" * 32
    with open_case("old", cases_dir=tmp_path / "cases", examiner="Insp. Rao") as c:
        c.triage([evidence], scanner=FakeScanner("card-fast", sha256=weights), forensics=False)
        before, db = c.findings(), c.db_path
    # rebuild the findings table as schema version 2 made it (UNIQUE without the card's name)
    old_ddl = next(st for st in store._V1 if st.startswith("CREATE TABLE findings ("))
    cols = ", ".join(store.HASHED_COLUMNS["findings"])
    conn = sqlite3.connect(db, isolation_level=None)
    for st in (
        old_ddl.replace("CREATE TABLE findings (", "CREATE TABLE findings_old ("),
        f"INSERT INTO findings_old ({cols}) SELECT {cols} FROM findings ORDER BY id",
        "DROP TABLE findings",
        "ALTER TABLE findings_old RENAME TO findings",
        "CREATE INDEX findings_by_item ON findings (item_id, kind)",
        *store._append_only("findings"),
        "PRAGMA user_version = 2",
    ):
        conn.execute(st)
    conn.close()
    with open_case("old", cases_dir=tmp_path / "cases", create=False) as c:
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION == 3
        conn.close()
        pd.testing.assert_frame_equal(c.findings(), before)  # every record as it was, ids included
        last = c.custody_log().iloc[-1]
        assert last["action"] == "case_updated" and last["details"]["schema_upgraded"] == {"from": 2, "to": 3}
        assert c.verify().ok
        df = c.triage([], scanner=FakeScanner("card-full", sha256=weights), forensics=False)
        assert df.attrs["analysed"] == 6 and c.verify().ok
    with open_case("old", cases_dir=tmp_path / "cases", create=False) as c:  # logged once, not at every opening
        assert sum("schema_upgraded" in d for d in c.custody_log()["details"]) == 1


def test_failed_explanation_keeps_the_finding(case, evidence, caplog):
    with caplog.at_level(logging.WARNING, logger="dfd_lib.case"):
        df = case.triage([evidence], scanner=FakeScanner(explain_fails=True), forensics=False)
    assert df.attrs["analysed"] == 6 and "Grad-CAM explanation failed" in caplog.text
    det = case.findings(kind="detector").query("kind == 'detector' and status == 'scored'").iloc[0]
    assert "no gradients" in det.params["explain_error"]
    assert [a["kind"] for a in det.artifacts] == ["face_crop", "face_crop"]


def test_cancel_between_items_keeps_what_is_done(case, evidence):
    n = {"done": 0}
    prog = CallbackProgress(
        on_update=lambda d, t, desc, info: n.__setitem__("done", d if desc.startswith("triage") else 0),
        should_cancel=lambda: n["done"] >= 2,
    )
    df = case.triage([evidence], scanner=FakeScanner(), progress=prog, forensics=False)
    assert df.attrs["cancelled"] and df.attrs["analysed"] == 2
    assert sorted(df["run"].value_counts().items()) == [("analysed", 2), ("pending", 4)]
    df = case.triage([], scanner=FakeScanner(), forensics=False)
    assert df.attrs["analysed"] == 4 and set(_detector_counts(case.db_path).values()) == {1}


@dataclass(frozen=True)
class _FakeForensic:
    analysis: str
    status: str = "ok"
    summary: str = "looks consistent"
    metrics: dict = field(default_factory=lambda: {"mean": np.float32(0.25)})
    flags: tuple = ("recompressed",)
    map_image: np.ndarray | None = None

    def to_dict(self):
        return {
            "analysis": self.analysis,
            "status": self.status,
            "summary": self.summary,
            "metrics": {"mean": 0.25},
            "flags": list(self.flags),
        }


def test_forensic_results_become_findings_with_map_artifacts(case, evidence, monkeypatch):
    calls = []

    def run_all(path):
        calls.append(Path(path))
        heat = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
        return [_FakeForensic("ela", map_image=heat), _FakeForensic("metadata", status="not_applicable")]

    monkeypatch.setitem(sys.modules, "dfd_lib.forensics", types.SimpleNamespace(run_all=run_all))
    case.triage([evidence], scanner=FakeScanner())
    assert len(calls) == 4  # only items whose content is an image
    ela = case.findings(kind="forensic:ela")
    assert len(ela) == 4 and set(ela.status) == {"ok"} and ela.params.iloc[0]["flags"] == ["recompressed"]
    art = ela.artifacts.iloc[0][0]
    assert art["kind"] == "forensic_map" and (case.path / art["path"]).is_file()
    assert len(case.findings(kind="forensic")) == 8
    case.triage([], scanner=FakeScanner())
    assert len(calls) == 4 and case.verify().ok


def test_missing_forensics_package_is_skipped_with_a_warning(case, evidence, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "dfd_lib.forensics", None)
    with caplog.at_level(logging.WARNING, logger="dfd_lib.case"):
        df = case.triage([evidence], scanner=FakeScanner())
    assert df.attrs["analysed"] == 6 and "forensic analyses skipped" in caplog.text
    assert case.findings(kind="forensic").empty


RUNNER = textwrap.dedent("""
    import sys
    from dfd_lib.case import open_case
    from case_support import FakeScanner
    import time
    from pathlib import Path
    cases, evidence, delay, who = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    case = open_case("shared", cases_dir=cases, examiner=who)
    if len(sys.argv) > 6:  # start together: announce readiness, wait for the go signal
        barrier = Path(sys.argv[6])
        (barrier / f"ready-{who}").touch()
        while not (barrier / "go").exists():
            time.sleep(0.01)
    case.triage([evidence], scanner=FakeScanner(delay=delay), forensics=False, examiner=who)
    for k in range(int(sys.argv[5])):
        case.log_action("view", who, item=1 + k % 3, details={"k": k})
        case.annotate(1 + k % 3, notes=f"{who} {k}", reviewer=who)
    case.close()
""")


def _spawn(tmp_path, cases, evidence, delay, who="runner", extra=0, barrier=None):
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.Popen(
        [sys.executable, str(script), str(cases), str(evidence), str(delay), who, str(extra)]
        + ([str(barrier)] if barrier else []),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_triage_resumes_after_kill_9(tmp_path):
    evidence = tmp_path / "ev"
    make_images(evidence, 10)
    cases = tmp_path / "cases"
    db = cases / "shared" / "case.db"
    proc = _spawn(tmp_path, cases, evidence, delay=0.4)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_detector_counts(db)) < 3:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    done_before = len(_detector_counts(db))
    assert 3 <= done_before < 10, "the kill must land mid-run"
    with open_case("shared", cases_dir=cases, create=False) as case:
        scanner = FakeScanner()
        df = case.triage([evidence], scanner=scanner, forensics=False)
        assert len(scanner.scanned) == 10 - done_before  # only what was missing
        assert df.attrs["analysed"] == 10 - done_before and df.attrs["intake"]["new"] == 0
        counts = _detector_counts(db)
        assert len(counts) == 10 and set(counts.values()) == {1}
        faces = case.findings(kind="detector:face")
        assert faces.groupby("item_id").size().tolist() == [2] * 10
        assert (case.custody_log()["action"] == "analysis").sum() == 10
        report = case.verify()
        assert report.ok, report.lines()
        assert not list((case.path / "tmp").rglob("*.part"))


def test_two_processes_write_one_case_without_corrupting_it(tmp_path):
    evidence = tmp_path / "ev"
    make_images(evidence, 6)
    cases = tmp_path / "cases"
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [_spawn(tmp_path, cases, evidence, delay=0.05, who=f"proc{i}", extra=15, barrier=barrier) for i in range(2)]
    deadline = time.monotonic() + 120
    while len(list(barrier.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        ended = [p for p in procs if p.poll() is not None]
        if ended:  # report the one that ended (reading a running one's stderr would wait for it forever)
            for p in procs:
                p.kill()
            pytest.fail(f"a writer ended before the start: {ended[0].communicate()[1].decode()}")
        time.sleep(0.01)
    (barrier / "go").touch()
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    with open_case("shared", cases_dir=cases, create=False) as case:
        counts = _detector_counts(case.db_path)
        assert len(counts) == 6 and set(counts.values()) == {1}
        assert len(case.items()) == 6 and len(case.sources()) == 6
        log = case.custody_log()
        assert list(log["seq"]) == list(range(1, len(log) + 1))
        assert (log["action"] == "view").sum() == 30 and (log["action"] == "case_created").sum() == 1
        assert (log["action"] == "analysis").sum() == 6 and (log["action"] == "intake").sum() == 6
        assert set(log["actor"]) == {"proc0", "proc1"}
        notes = {a.notes for i in (1, 2, 3) for a in case.history(i)}
        assert notes == {f"proc{p} {k}" for p in (0, 1) for k in range(15)}
        report = case.verify()
        assert report.ok, report.lines()


class _FlakyScanner(FakeScanner):
    """Returns an ``error`` result (a transient failure) for the first ``failures`` files it scans."""

    def __init__(self, failures: int, **kw) -> None:
        super().__init__(**kw)
        self.failures = failures

    def scan_file(self, path):
        if self.failures > 0:
            self.failures -= 1
            from dfd_lib.media import sha256_file
            from dfd_lib.results import FileResult

            card = self.model.card
            return FileResult(
                str(path),
                "error",
                "CUDA out of memory",
                sha256_file(path),
                os.path.getsize(path),
                model_name=card.name,
                model_sha256=card.sha256,
                threshold=card.threshold,
            )
        return super().scan_file(path)


def test_an_error_result_is_retried_when_triage_resumes(case, tmp_path):
    images = make_images(tmp_path / "ev", 2)
    first = case.triage(images, scanner=_FlakyScanner(failures=1), forensics=False)
    assert sorted(first["status"]) == ["error", "scored"]
    failed = int(first[first["status"] == "error"]["item_id"].iloc[0])
    again = _FlakyScanner(failures=0)
    df = case.triage([], scanner=again, forensics=False)  # resume: only the item that errored is re-run
    stored = Path(case.items().set_index("item_id").loc[failed, "stored_path"])
    assert [Path(p) for p in again.scanned] == [stored]
    assert set(df["status"]) == {"scored"} and df.attrs["analysed"] == 1
    f = case.findings()
    det = f[(f.item_id == failed) & (f.kind == "detector")]
    assert list(det["status"]) == ["error", "scored"]  # the failed attempt stays on record
    assert list(det["subject"]) == ["file", "file:attempt:2"]
    assert case.verify(log_result=False).ok
    done = FakeScanner()
    assert case.triage([], scanner=done, forensics=False).attrs["analysed"] == 0 and done.scanned == []


class _OneAtATime:
    """The real scanner without ``scan_each``: triage then scans each item with ``scan_file`` alone."""

    def __init__(self, scanner) -> None:
        self.model, self.settings = scanner.model, scanner.settings
        self.scan_file, self.explain = scanner.scan_file, scanner.explain


def _content(case) -> dict:
    items = case.items().set_index("item_id")["sha256"]
    return {
        (items[r.item_id], r.kind, r.subject): (r.status, None if np.isnan(r.score) else float(r.score))
        for r in case.findings().itertuples()
    }


def _assert_same_content(a: dict, b: dict) -> None:
    """Same findings, statuses and scores (within 1e-5: the look-ahead runs PyTorch on fewer threads)."""
    assert a.keys() == b.keys()
    for k, (status, score) in a.items():
        assert b[k][0] == status and (score is None) == (b[k][1] is None), k
        assert score is None or abs(score - b[k][1]) <= 1e-5, k


def test_triage_looks_ahead_with_the_same_findings_and_cancels_cleanly(tmp_path, scanner, examples):
    """With a scanner that has ``scan_each``, triage reads and searches the next items in background threads:
    the findings are those of scanning one item at a time; a cancelled run stops the background reads,
    gives back the torch threads, and the next run finishes the rest."""
    import threading

    import torch

    threads = torch.get_num_threads()
    calls = []
    real_scan_each = scanner.scan_each

    def spy(files):
        calls.append(len(files))
        return real_scan_each(files)

    cases = tmp_path / "cases"
    with open_case("ahead", cases) as ahead, open_case("single", cases) as single:
        scanner.scan_each = spy
        try:
            n = {"done": 0}
            prog = CallbackProgress(
                on_update=lambda d, t, desc, info: n.__setitem__("done", d if desc.startswith("triage") else 0),
                should_cancel=lambda: n["done"] >= 2,
            )
            df = ahead.triage([examples], scanner=scanner, progress=prog, forensics=False)
            assert df.attrs["cancelled"] and df.attrs["analysed"] == 2
            assert torch.get_num_threads() == threads
            assert not [t for t in threading.enumerate() if t.name.startswith("dfd-read")]
            df = ahead.triage([], scanner=scanner, forensics=False)
            assert not df.attrs["cancelled"] and df.attrs["failed"] == 0
        finally:
            del scanner.scan_each
        assert len(calls) == 2 and calls[0] > calls[1] > 0  # the second run looked ahead over what was left
        single.triage([examples], scanner=_OneAtATime(scanner), forensics=False)
        _assert_same_content(_content(ahead), _content(single))
        assert {s for s, _ in _content(ahead).values()} >= {"scored", "no_face", "unreadable"}
    assert torch.get_num_threads() == threads


def test_triage_falls_back_to_one_file_at_a_time_when_the_look_ahead_breaks(tmp_path, scanner, examples, caplog):
    def broken(files):
        yield scanner.scan_file(files[0])
        raise RuntimeError("look-ahead thread died")

    cases = tmp_path / "cases"
    with open_case("broken", cases) as case, open_case("single", cases) as single:
        scanner.scan_each = broken
        try:
            with caplog.at_level(logging.ERROR):
                df = case.triage([examples], scanner=scanner, forensics=False)
        finally:
            del scanner.scan_each
        assert df.attrs["failed"] == 0 and "look-ahead scan failed" in caplog.text
        single.triage([examples], scanner=_OneAtATime(scanner), forensics=False)
        _assert_same_content(_content(case), _content(single))


def test_a_forensic_map_stored_apart_from_its_result_is_recorded_as_present():
    """A Dask worker sends the map's PNG apart from the result (map_image None there): has_map follows the stored
    artifact, as in a triage on one machine."""
    from dfd_lib.case.findings import forensic_finding
    from dfd_lib.forensics.base import ForensicResult

    fr = ForensicResult("ela", "ok", "error levels even", metrics={"mean": 1.0})
    art = {"kind": "forensic_map", "sha256": "ab" * 32, "path": "artifacts/x.png", "analysis": "ela"}
    assert forensic_finding(fr, [art]).result["has_map"] is True
    assert forensic_finding(fr, []).result["has_map"] is False
