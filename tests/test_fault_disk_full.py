"""Faults: the disk fills up during triage (evidence copies, artifacts, the database) and during an export.

The case store and the export folder are small tmpfs mounts (root with mount rights only; the
test is skipped elsewhere, saying so). After each failure: a one-line error instead of a
traceback, nothing half-written kept, and once there is room the same command finishes the
job; ``dfd verify`` passes and nothing is lost or duplicated.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from dfd_lib.cli import main
from case_support import FakeScanner, write_image
from report_support import NCRP_VALUES


def _mount(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here to fill (needs root with mount rights): {r.stderr.strip()}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


@pytest.fixture
def small_disks(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("filling a disk needs a small tmpfs, and mounting one needs root")
    mounts = []

    def make(name: str, size: str) -> Path:
        path = tmp_path / name
        _mount(path, size)
        mounts.append(path)
        return path

    yield make
    for path in reversed(mounts):
        _umount(path)


@pytest.mark.slow
def test_disk_full_during_triage_and_export_then_resume(tmp_path, small_disks, monkeypatch, capsys):
    monkeypatch.setattr("dfd_lib.cli.scan_cmd.scanner_from_args", lambda args: FakeScanner())
    evidence = tmp_path / "ev"
    for i in range(40):
        write_image(evidence / f"img{i:02d}.png", seed=i, size=200)  # about 120 kB each: 4.7 MB in all
    store = small_disks("store", "3m")
    triage = ["triage", str(evidence), "--case", "full", "--cases-dir", str(store), "--no-forensics", "--quiet"]

    rc = main(triage)
    err = capsys.readouterr().err
    assert rc == 1, "3 MB cannot hold 4.7 MB of evidence copies"
    assert "Traceback" not in err and ("disk is full" in err or "No space left" in err)
    db = store / "full" / "case.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    before = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    conn.close()
    assert 0 < before < 40

    subprocess.run(["mount", "-o", "remount,size=64m", str(store)], check=True)
    assert main(triage) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["verify", "full", "--cases-dir", str(store)]) == 0, capsys.readouterr().out
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 40
        assert conn.execute("SELECT COUNT(DISTINCT original_path) FROM sources").fetchone()[0] == 40
        counts = conn.execute("SELECT item_id, COUNT(*) FROM findings WHERE kind = 'detector' GROUP BY item_id")
        assert sorted(n for _, n in counts.fetchall()) == [1] * 40
    finally:
        conn.close()
    assert not list((store / "full" / "tmp").rglob("*.part")), "staged copies left behind"

    fields = tmp_path / "fields.yaml"
    fields.write_text(yaml.safe_dump({"portal": "ncrp", "fields": NCRP_VALUES}))
    out_dir = small_disks("out", "300k")
    export = ["export", "full", "--cases-dir", str(store), "--portal", "ncrp", "--fields", str(fields)]
    capsys.readouterr()
    assert main([*export, "--out", str(out_dir / "bundle.zip")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "No space left" in err and "free some space" in err
    assert list(out_dir.iterdir()) == [], "a partial bundle was left behind"
    good = tmp_path / "bundle.zip"
    assert main([*export, "--out", str(good)]) == 0
    with zipfile.ZipFile(good) as zf:
        assert zf.testzip() is None and len([n for n in zf.namelist() if n.startswith("evidence/")]) == 40
    capsys.readouterr()
    assert main(["verify", "full", "--cases-dir", str(store), "--anchor", str(good)]) == 0, capsys.readouterr().out
