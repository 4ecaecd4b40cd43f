"""Faults: ``kill -9`` at random points of ``dfd triage``, ``dfd annotate``, ``dfd portal-form`` and ``dfd export``.

Each command runs as a process forked from a "zygote" that imported the workbench once (so a
kill costs milliseconds, not an interpreter start) and calls ``dfd_lib.cli.main(argv)`` exactly
as the ``dfd`` script does; the detector is the test suite's FakeScanner (patched in as
``scanner_from_args``), so no model is loaded. After each kill the same command is run again to
completion, then ``dfd verify`` must pass and nothing may be lost or duplicated: every item
present once with every source, exactly one detector finding per item and model, one analysis
entry per item, each review saved exactly once (``--based-on`` makes a re-run after a committed
save refuse), the latest portal answers stored, every finished export a complete zip whose
custody head ``dfd verify --anchor`` accepts, and a gap-free custody log.

Seed: $DFD_FAULT_SEED (printed); iterations: $DFD_FAULT_ITERATIONS (default 60).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

from case_support import write_image
from report_support import NCRP_VALUES

TESTS_DIR = Path(__file__).resolve().parent

ZYGOTE = textwrap.dedent("""
    import json, os, sys
    import dfd_lib.cli, dfd_lib.cli.scan_cmd, dfd_lib.case, dfd_lib.report, dfd_lib.export.bundle  # noqa: F401
    import dfd_lib.report.pdf  # noqa: F401  (imported before forking: a kill then costs no start-up)
    from case_support import FakeScanner
    dfd_lib.cli.scan_cmd.scanner_from_args = lambda args: FakeScanner(delay=float(os.environ["FAKE_DELAY"]))
    for line in sys.stdin:
        cmd = json.loads(line)
        pid = os.fork()
        if pid == 0:
            fd = os.open(cmd["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            rc = 1
            try:
                rc = dfd_lib.cli.main(cmd["argv"])
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(rc)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
                          "rc": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}), flush=True)
""")


class Zygote:
    def __init__(self, tmp: Path, delay: float) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
            "OMP_NUM_THREADS": "1",
            "FAKE_DELAY": str(delay),
        }
        self.log = tmp / "commands.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def run(self, argv: list[str], kill_after: float | None = None) -> dict:
        """Run ``dfd argv`` in a forked child; SIGKILL it after ``kill_after`` seconds if still running."""
        t0 = time.monotonic()
        self.proc.stdin.write(json.dumps({"argv": argv, "log": str(self.log)}) + "\n")
        self.proc.stdin.flush()
        pid = json.loads(self.proc.stdout.readline())["pid"]
        if kill_after is not None:
            time.sleep(kill_after)
            try:
                os.kill(pid, signal.SIGKILL)  # our own child, not yet reaped by the zygote
            except ProcessLookupError:
                pass
        line = self.proc.stdout.readline()
        assert line, "the zygote died"
        out = json.loads(line)
        out["seconds"] = time.monotonic() - t0
        return out

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()


def _state(db: Path) -> dict:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        q = lambda sql, *a: conn.execute(sql, a).fetchall()  # noqa: E731
        return {
            "items": q("SELECT id, sha256 FROM items"),
            "sources": q("SELECT original_path FROM sources"),
            "detector": q(
                "SELECT item_id, model_sha256, COUNT(*) FROM findings WHERE kind = 'detector'"
                " GROUP BY item_id, model_sha256"
            ),
            "analysis": q("SELECT item_id, COUNT(*) FROM custody WHERE action = 'analysis' GROUP BY item_id"),
            "seq": [r[0] for r in q("SELECT seq FROM custody ORDER BY seq")],
            "notes": q("SELECT item_id, notes FROM annotations ORDER BY id"),
        }
    finally:
        conn.close()


@pytest.mark.slow
def test_kill_9_at_random_points_loses_and_duplicates_nothing(tmp_path):
    seed = int(os.environ.get("DFD_FAULT_SEED", random.randrange(1 << 30)))
    iterations = int(os.environ.get("DFD_FAULT_ITERATIONS", 60))
    rng = random.Random(seed)
    print(f"\nfault test seed {seed} (DFD_FAULT_SEED={seed} reproduces the order and kill points)")
    store = tmp_path / "cases"
    case = ["fault-case", "--cases-dir", str(store)]
    db = store / "fault-case" / "case.db"
    exports = tmp_path / "exports"
    z = Zygote(tmp_path, delay=0.03)
    expected_files: list[Path] = []  # every evidence file triaged so far
    saved_notes: list[tuple[int, str]] = []  # (item, notes) of every review that must exist once
    portal_narrative = None
    finished_exports: list[Path] = []
    duration: dict[str, float] = {}
    tally: Counter = Counter()

    def triage_cmd(k: int) -> list[str]:
        batch = tmp_path / "ev" / f"batch{k:03d}"
        names = [f"img_{k}_{j}.png" for j in range(4)] + [f"line\nbreak {k}.png"]
        for j, name in enumerate(names):
            write_image(batch / name, seed=1000 * k + j, size=64)
        open(os.path.join(os.fsencode(batch), b"caf\xe9_%d.png" % k), "wb").write((batch / names[0]).read_bytes())
        expected_files.extend(sorted(batch.iterdir()))
        return [
            "triage",
            str(batch),
            "--case",
            "fault-case",
            "--cases-dir",
            str(store),
            "--examiner",
            "Insp. Rao",
            "--no-forensics",
            "--quiet",
        ]

    def annotate_cmd(k: int) -> tuple[list[str], tuple[int, str]]:
        st = _state(db)
        item = rng.choice([i for i, _ in st["items"]])
        notes = f"review {k}"
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        based_on = conn.execute("SELECT COALESCE(MAX(id), 0) FROM annotations WHERE item_id = ?", (item,)).fetchone()[0]
        conn.close()
        return (
            [
                "annotate",
                *case,
                str(item),
                "--notes",
                notes,
                "--tags",
                f"k{k},fault",
                "--verdict",
                "likely_fake",
                "--based-on",
                str(based_on),
                "--reviewer",
                "SI Kulkarni",
            ],
            (item, notes),
        )

    def portal_cmd(k: int) -> tuple[list[str], str]:
        narrative = NCRP_VALUES["narrative"] + f" (form saved in iteration {k})"
        f = tmp_path / f"fields{k}.yaml"
        f.write_text(yaml.safe_dump({"portal": "ncrp", "fields": dict(NCRP_VALUES, narrative=narrative)}))
        return ["portal-form", *case, "--portal", "ncrp", "--from", str(f), "--examiner", "SI Kulkarni"], narrative

    def export_cmd(k: int) -> tuple[list[str], Path]:
        out = exports / f"bundle{k:03d}.zip"
        return ["export", *case, "--portal", "ncrp", "--out", str(out)], out

    def check(k: int, op: str) -> None:
        r = z.run(["verify", *case])
        assert r["rc"] == 0, f"iteration {k} ({op}): dfd verify failed, see {z.log}"
        st = _state(db)
        shas = [s for _, s in st["items"]]
        assert len(shas) == len(set(shas))
        n_items = len({p.read_bytes() for p in expected_files})
        assert len(st["items"]) == n_items, f"iteration {k} ({op}): items lost or duplicated"
        assert len(st["sources"]) == len(expected_files) == len(set(st["sources"]))
        assert {(i, n) for i, _, n in st["detector"]} == {(i, 1) for i, _ in st["items"]}, (
            f"iteration {k} ({op}): not exactly one detector finding per item"
        )
        assert sorted(st["analysis"]) == sorted((i, 1) for i, _ in st["items"])
        assert st["seq"] == list(range(1, len(st["seq"]) + 1)), "gap in the custody log"
        notes = Counter(st["notes"])
        for item_notes in saved_notes:
            assert notes[item_notes] == 1, f"iteration {k} ({op}): review {item_notes} saved {notes[item_notes]} times"
        if portal_narrative is not None:
            from dfd_lib.case import open_case
            from dfd_lib.portal import load_stored_fields

            with open_case("fault-case", cases_dir=store, create=False, readonly=True) as c:
                assert load_stored_fields(c, "ncrp").values["narrative"] == portal_narrative
        for out in finished_exports:
            with zipfile.ZipFile(out) as zf:
                assert zf.testzip() is None and "report.pdf" in zf.namelist()

    try:
        # first runs, not killed: build the case and measure how long each command takes
        for op, make in (
            ("triage", triage_cmd),
            ("portal-form", portal_cmd),
            ("annotate", annotate_cmd),
            ("export", export_cmd),
        ):
            made = make(0)
            argv, extra = (made, None) if op == "triage" else made
            r = z.run(argv)
            assert r["rc"] == 0, f"{op} failed: see {z.log}"
            duration[op] = r["seconds"]
            if op == "annotate":
                saved_notes.append(extra)
            elif op == "portal-form":
                portal_narrative = extra
            elif op == "export":
                finished_exports.append(extra)
        check(0, "setup")
        print("uninterrupted run times: " + ", ".join(f"{op} {s:.2f} s" for op, s in duration.items()))

        ops = ["triage"] * 5 + ["annotate"] * 3 + ["portal-form"] * 2 + ["export"] * 2
        for k in range(1, iterations + 1):
            op = rng.choice(ops)
            made = {"triage": triage_cmd, "annotate": annotate_cmd, "portal-form": portal_cmd, "export": export_cmd}[
                op
            ](k)
            argv, extra = (made, None) if op == "triage" else made
            kill_at = rng.uniform(0.0, duration[op])  # anywhere in the time the last whole run took
            first = z.run(argv, kill_after=kill_at)
            killed = first["signal"] == signal.SIGKILL
            tally[(op, "killed" if killed else "finished before the kill")] += 1
            if not killed:
                assert first["rc"] == 0, f"iteration {k}: {op} failed (rc {first['rc']}), see {z.log}"
                duration[op] = first["seconds"]
            again = z.run(argv)  # the same command, run to completion
            if op == "annotate":
                # a save that committed before the kill makes the re-run refuse (--based-on is stale)
                assert again["rc"] in (0, 1)
                saved_notes.append(extra)
            else:
                assert again["rc"] == 0, f"iteration {k}: re-run of {op} failed (rc {again['rc']}), see {z.log}"
            if op == "portal-form":
                portal_narrative = extra
            if op == "export":
                finished_exports.append(extra)
            check(k, op)
        anchors = [a for out in finished_exports for a in ("--anchor", str(out))]
        assert z.run(["verify", *case, *anchors])["rc"] == 0, f"an export's custody head is gone: see {z.log}"
    finally:
        z.close()
    leftovers = sorted(p.name for p in exports.glob(".*.part"))
    st = _state(db)
    print(f"fault iterations: {iterations}; " + ", ".join(f"{op} {how}: {n}" for (op, how), n in sorted(tally.items())))
    print(
        f"after all: {len(st['items'])} items, {len(st['sources'])} sources, {len(saved_notes)} reviews, "
        f"{len(finished_exports)} exports; lost 0, duplicated 0, dfd verify passed {iterations + 2} times; "
        f"export temp files left by killed exports: {len(leftovers)}"
    )
    assert sum(n for (_, how), n in tally.items() if how == "killed") >= iterations // 2, tally
