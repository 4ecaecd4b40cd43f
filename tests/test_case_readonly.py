"""A case on read-only media can be listed, shown, verified and reported to another folder; writes are refused."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from dfd_lib.case import CaseError, open_case
from dfd_lib.cli import main
from case_support import FakeScanner, make_images


@pytest.fixture
def ro_store(tmp_path):
    """A case store holding one triaged case, then made read-only (a read-only bind mount, as on a
    write-protected drive; without root, the folders lose their write permission)."""
    make_images(tmp_path / "ev", 2)
    src = tmp_path / "src"
    with open_case("sealed", cases_dir=src, examiner="Insp. Rao") as case:
        case.triage([tmp_path / "ev"], scanner=FakeScanner(), forensics=False)
        case.annotate(1, verdict="likely_fake", reviewer="Insp. Rao")
    assert not (src / "sealed" / "case.db-wal").exists()  # closed cleanly: the log is checkpointed
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "--bind", str(src), str(ro)], capture_output=True).returncode != 0:
            pytest.skip("cannot bind-mount here to make read-only media")
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], capture_output=True).returncode != 0:
            subprocess.run(["umount", str(ro)])
            pytest.skip("cannot remount read-only here")
        mounted = True
    else:
        ro.rmdir()
        shutil.copytree(src, ro)
        for folder, _, files in os.walk(ro):
            for f in files:
                os.chmod(os.path.join(folder, f), 0o444)
            os.chmod(folder, 0o555)
        mounted = False
    assert not os.access(ro / "sealed", os.W_OK)
    yield ro
    if mounted:
        subprocess.run(["umount", "-l", str(ro)], check=True)  # lazy: a connection left open never blocks it
    else:
        for folder, _, _ in os.walk(ro):
            os.chmod(folder, 0o755)


def test_cases_listing_on_read_only_media(ro_store, capsys):
    assert main(["cases", "--cases-dir", str(ro_store)]) == 0
    out = capsys.readouterr().out
    assert "sealed" in out and "unreadable" not in out


def test_show_on_read_only_media(ro_store, capsys):
    assert main(["show", "sealed", "--cases-dir", str(ro_store)]) == 0
    out = capsys.readouterr().out
    assert "likely_fake" in out


def test_verify_on_read_only_media(ro_store, capsys):
    assert main(["verify", "sealed", "--cases-dir", str(ro_store)]) == 0
    out = capsys.readouterr().out
    assert "INTACT" in out and "NOT INTACT" not in out and "read-only" in out and "not logged" in out


def test_report_to_another_folder_from_read_only_media(ro_store, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert main(["report", "sealed", "--cases-dir", str(ro_store), "--format", "html", "--out", str(out)]) == 0
    [report] = list(out.iterdir())
    assert "INTACT" in report.read_text() and "read-only" in capsys.readouterr().out
    # into the read-only case itself: refused with a clear message
    assert main(["report", "sealed", "--cases-dir", str(ro_store), "--format", "html"]) == 1
    assert "read-only" in capsys.readouterr().err


def test_writes_are_refused_clearly(ro_store, capsys):
    assert main(["annotate", "sealed", "1", "--verdict", "real", "--cases-dir", str(ro_store)]) == 1
    err = capsys.readouterr().err
    assert "read-only" in err and "Traceback" not in err
    with open_case("sealed", cases_dir=ro_store, create=False, readonly=True) as case:
        assert case.readonly and len(case.items()) == 2
        with pytest.raises(CaseError, match="read-only"):
            case.annotate(1, verdict="real", reviewer="x")
        with pytest.raises(CaseError, match="read-only"):
            case.log_action("view", "x")
