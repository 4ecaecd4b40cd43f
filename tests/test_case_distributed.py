"""Triage on a Dask cluster: same findings as single-process, refused workers, evidence hash checks,
a worker killed mid-run loses nothing, a poison file ends as an error item (LocalCluster, 2 processes)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

from dfd_lib.case import open_case  # noqa: E402
from dfd_lib.case.distributed import (
    DaskTriage,
    ModelPlugin,
    ScannerSpec,
    analyse_on_worker,
    check_workers,
    dask_client,
    identity_mismatch,
    local_identity,
    tune_malloc,
)  # noqa: E402
from dfd_lib.case.errors import CaseError  # noqa: E402
from dfd_lib.cli import main  # noqa: E402
from dfd_lib.progress import CallbackProgress  # noqa: E402
from case_support import FakeScanner, make_images  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = Path(__file__).resolve().parent
FAKE = "case_support:FakeScanner"
POISON = "case_support:PoisonScanner"


@pytest.fixture(scope="module")
def worker_path():
    """Worker processes import this checkout and the test helpers."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(TESTS_DIR)] + ([old] if old else []))
    yield
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="module")
def client(worker_path):
    with dask_client(workers=2, allowed_failures=2) as c:
        yield c


def _detector_rows(db: Path) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT item_id, status, message FROM findings WHERE kind = 'detector' ORDER BY item_id"
        ).fetchall()
    finally:
        conn.close()


def _by_content(case) -> dict[tuple[str, str, str], tuple[str, float]]:
    """Findings keyed by (item SHA-256, kind, subject) -> (status, score)."""
    items = case.items().set_index("item_id")["sha256"]
    return {
        (items[r.item_id], r.kind, r.subject): (r.status, np.nan if r.score is None else float(r.score))
        for r in case.findings().itertuples()
    }


def _artifacts(case) -> dict[str, set[str]]:
    """The case's artifact files by kind, read from its database and checked on disk."""
    conn = sqlite3.connect(f"file:{case.db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT kind, stored_name FROM artifacts").fetchall()
    finally:
        conn.close()
    out: dict[str, set[str]] = {}
    for kind, name in rows:
        assert (case.artifacts_dir / name).is_file()
        out.setdefault(kind, set()).add(name)
    return out


def _assert_same_findings(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k][0] == b[k][0], k
        if np.isnan(a[k][1]):
            assert np.isnan(b[k][1]), k
        else:
            assert abs(a[k][1] - b[k][1]) <= 1e-6, (k, a[k][1], b[k][1])


@pytest.mark.slow
def test_cli_workers_gives_the_same_findings_as_single_process(tmp_path, tiny_weights, examples, worker_path, capsys):
    cases = tmp_path / "cases"
    common = [str(examples), "--cases-dir", str(cases), "--weights-dir", str(tiny_weights), "--quiet"]
    assert main(["triage", *common, "--case", "single"]) == 0
    assert main(["triage", *common, "--case", "dask", "--workers", "2"]) == 0
    with open_case("single", cases, create=False) as one, open_case("dask", cases, create=False) as many:
        single, dask = _by_content(one), _by_content(many)
        assert len(single) > 20 and {s for s, _ in single.values()} >= {
            "scored",
            "no_face",
            "unreadable",
            "unsupported",
            "too_large",
        }
        _assert_same_findings(single, dask)
        det = many.findings(kind="detector").query("kind == 'detector'")
        workers = [p["worker"] for p in det.params]
        card = one.findings(kind="detector").params.iloc[0]["model_card"]
        assert all(
            w["model_sha256"] == card["sha256"]
            and w["card_sha256"] == card["card_sha256"]
            and w["tool_version"] == "0.1.0"
            and w["pid"] != os.getpid()
            for w in workers
        )
        assert "worker" not in one.findings(kind="detector").params.iloc[0]
        assert (many.custody_log()["action"] == "analysis").sum() == len(det)
    assert main(["verify", "dask", "--cases-dir", str(cases)]) == 0


def test_scale_out_flags_need_workers_or_a_scheduler(tmp_path, examples, capsys):
    base = ["triage", str(examples), "--case", "x", "--cases-dir", str(tmp_path / "cases")]
    assert main([*base, "--upload"]) == 2
    assert "need --workers or --scheduler" in capsys.readouterr().err
    assert main([*base, "--workers", "0"]) == 2
    with pytest.raises(SystemExit):  # argparse: not both
        main([*base, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"])
    assert not (tmp_path / "cases").exists()  # refused before anything was taken in


@pytest.mark.slow
def test_cli_scheduler_uploads_to_a_running_cluster(tmp_path, tiny_weights, examples, client):
    cases = tmp_path / "cases"
    address = client.scheduler_info()["address"]
    assert (
        main(
            [
                "triage",
                str(examples / "astronaut.jpg"),
                str(examples / "problem_files"),
                "--case",
                "remote",
                "--cases-dir",
                str(cases),
                "--weights-dir",
                str(tiny_weights),
                "--quiet",
                "--no-forensics",
                "--scheduler",
                address,
                "--upload",
            ]
        )
        == 0
    )
    with open_case("remote", cases, create=False) as case:
        det = case.findings(kind="detector").query("kind == 'detector'")
        assert sorted(det.status) == ["scored", "too_large", "unreadable", "unreadable", "unsupported"]
        assert {p["worker"]["worker"] for p in det.params} <= set(client.nthreads())
    assert main(["verify", "remote", "--cases-dir", str(cases)]) == 0


@pytest.mark.slow
def test_uploaded_bytes_give_the_same_findings(tmp_path, tiny_weights, examples, scanner, client):
    with open_case("one", tmp_path / "cases") as one, open_case("up", tmp_path / "cases") as up:
        one.triage([examples], scanner=scanner)
        dask = DaskTriage(client, ScannerSpec(weights_dir=str(tiny_weights)), upload=True)
        df = up.triage([examples], dask=dask)
        assert df.attrs["failed"] == 0 and df.attrs["analysed"] == len(df)
        _assert_same_findings(_by_content(one), _by_content(up))
        # the workers encode the artifacts as PNG: the same face-crop files as a single process, and as many
        # Grad-CAM overlays (their pixels may differ by rounding: one torch thread per worker here)
        arts_one, arts_up = _artifacts(one), _artifacts(up)
        assert arts_up["face_crop"] == arts_one["face_crop"] and arts_up["face_crop"]
        assert len(arts_up["gradcam"]) == len(arts_one["gradcam"]) > 0
        assert dask.stats["workers"] == 2 and len(dask.stats["task_s"]) == len(df)
        # the finding names the case's own evidence copy, not the worker's temporary file
        det = up.findings(kind="detector").query("kind == 'detector'")
        assert all(Path(r["path"]).parent == up.evidence_dir for r in det.result)
        assert up.verify().ok
    # another run with the same model reuses what the workers loaded
    loaded = client.run(lambda dask_worker, name: id(dask_worker.plugins[name].scanner), name=dask.plugin_name)
    again = DaskTriage(client, ScannerSpec(weights_dir=str(tiny_weights)))
    assert again.plugin_name == dask.plugin_name and set(again.prepare()) == set(loaded)
    assert client.run(lambda dask_worker, name: id(dask_worker.plugins[name].scanner), name=dask.plugin_name) == loaded


@pytest.mark.slow
def test_workers_that_differ_are_refused(client):
    spec = ScannerSpec(factory=FAKE)
    mine = local_identity(FakeScanner())
    other = {**mine, "tool_version": "0.0.1"}
    client.register_plugin(ModelPlugin(spec, other, "dfd-test-other"), name="dfd-test-other")
    with pytest.raises(CaseError, match="refusing Dask worker.*tool_version"):
        check_workers(client, "dfd-test-other", other)
    assert identity_mismatch(mine, {**mine, "card_sha256": "ab" * 32}).startswith("card_sha256")
    assert identity_mismatch(mine, {"error": "ModelNotFound: none"}) == "its model did not load: ModelNotFound: none"
    assert identity_mismatch(mine, dict(mine)) is None
    # a worker whose own check failed computes nothing
    remote = client.submit(
        analyse_on_worker, "dfd-test-other", 1, "0" * 64, "x.png", True, False, None, b"x", pure=False
    ).result()
    assert remote.computed is None and "tool_version" in remote.refused


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_workers_get_glibc_malloc_thresholds_back(client):
    # the nanny sets MALLOC_TRIM_THRESHOLD_, which made torch 1.65x slower in workers; the plugin undoes it
    env = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert set(env.values()) == {"65536"}
    assert set(client.run(tune_malloc).values()) == {True}


@pytest.mark.slow
def test_evidence_that_hashes_differently_on_the_worker_is_not_scored(tmp_path, client):
    make_images(tmp_path / "ev", 3)
    with open_case("c", tmp_path / "cases") as case:
        case.ingest([tmp_path / "ev"])
        # the workers' view of the case folder: one evidence copy altered
        mirror = tmp_path / "mirror"
        shutil.copytree(case.path, mirror)
        victim = sorted((mirror / "evidence").iterdir())[0]
        victim.chmod(stat.S_IWUSR | stat.S_IRUSR)
        victim.write_bytes(victim.read_bytes() + b"tampered")
        df = case.triage(
            [], dask=DaskTriage(client, ScannerSpec(factory=FAKE), worker_case_dir=str(mirror)), forensics=False
        )
        assert df.attrs["analysed"] == 2 and df.attrs["failed"] == 1
        bad = df[df["run"] == "failed"].iloc[0]
        assert bad["sha256"] == victim.name.split(".")[0] and np.isnan(bad["score"])
        assert len(_detector_rows(case.db_path)) == 2  # nothing recorded for it
        assert case.verify().ok


@pytest.mark.slow
def test_dashboard_intake_submits_to_the_configured_scheduler(tmp_path, tiny_weights, examples, client, monkeypatch):
    from workbench.app import Workbench
    from workbench.state import AppState

    evidence = tmp_path / "ev"
    evidence.mkdir()
    for name in ("astronaut.jpg", "coffee_no_face.jpg"):
        shutil.copy(examples / name, evidence / name)
    monkeypatch.setenv("DFD_DASK_SCHEDULER", client.scheduler_info()["address"])
    wb = Workbench(AppState(tmp_path / "cases", tiny_weights, evidence_roots=[tmp_path]))
    try:
        assert "Dask cluster at" in wb.intake.dask_info.value
        wb.state.open_case("dash", examiner="Insp. Rao")
        wb.intake.path.value = str(evidence)
        wb.intake.start_button.click()
        assert wb.intake.wait(600)
        assert "done: analysed 2, failed 0" in wb.intake.progress_text.value
        det = wb.state.case.findings(kind="detector").query("kind == 'detector'")
        assert sorted(det.status) == ["no_face", "scored"]
        assert {p["worker"]["worker"] for p in det.params} <= set(client.nthreads())
    finally:
        wb.close_all()
    assert wb.state._dask_client is None


@pytest.mark.slow
def test_killed_worker_loses_nothing_and_poison_file_becomes_an_error_item(tmp_path, client):
    evidence = tmp_path / "ev"
    make_images(evidence, 14)
    cases = tmp_path / "cases"
    pids = client.run(os.getpid)
    address, victim = sorted(pids.items())[0]
    state = {"killed_at": None, "busy": None}

    def on_update(done, total, desc, info):
        if desc.startswith("triage") and done == 3 and state["killed_at"] is None:
            state["busy"] = [k for k in client.processing().get(address, ()) if str(k).startswith("dfd-item-")]
            os.kill(victim, signal.SIGKILL)
            state["killed_at"] = done

    with open_case("kill", cases) as case:
        dask = DaskTriage(client, ScannerSpec(factory=FAKE, factory_kwargs={"delay": 0.4}))
        df = case.triage([evidence], dask=dask, progress=CallbackProgress(on_update), forensics=False)
        assert state["killed_at"] == 3 and state["busy"] and not df.attrs["cancelled"]  # killed mid-task
        assert df.attrs["analysed"] == 14 and df.attrs["failed"] == 0 and set(df["status"]) == {"scored"}
        rows = _detector_rows(case.db_path)
        assert sorted(r[0] for r in rows) == list(range(1, 15))  # every item once: no loss, no duplicate
        assert (case.custody_log()["action"] == "analysis").sum() == 14
    assert victim not in client.run(os.getpid).values()  # the nanny replaced the killed process
    assert main(["verify", "kill", "--cases-dir", str(cases)]) == 0

    # a file that kills every worker touching it ends as an error item; the rest is scored
    (evidence / "zz_poison.png").write_bytes(b"POISON" + os.urandom(64))
    with open_case("kill", cases, create=False) as case:
        dask = DaskTriage(client, ScannerSpec(factory=POISON))
        case.ingest([evidence])
        df = case.triage([], dask=dask, forensics=False)  # nothing pending but the poison file
        assert df.attrs["analysed"] == 1 and df.attrs["failed"] == 0
        det = case.findings(kind="detector").query("kind == 'detector' and status == 'error'")
        assert len(det) == 1 and "KilledWorker" in det.iloc[0]["message"]
        assert int(det.iloc[0]["item_id"]) == 15
        assert sorted(r[1] for r in _detector_rows(case.db_path)).count("scored") == 14
    assert main(["verify", "kill", "--cases-dir", str(cases)]) == 0
