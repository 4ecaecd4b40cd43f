"""Hostile inputs (tests/hostile_corpus.py): every path ends with a status and a message, nothing crashes.

Triage takes each path in as an item (with a status and message) or records an intake error
naming it; the case verifies afterwards. ``dfd scan`` gives every file one of
``dfd_lib.results.STATUSES`` with a message.
"""

from __future__ import annotations

import json
import math
import os

import pytest

from dfd_lib.case import open_case
from dfd_lib.case.evidence import shown_path
from dfd_lib.cli import main
from dfd_lib.fileio import storable_text
from dfd_lib.media import iter_evidence_files
from dfd_lib.results import STATUSES
from hostile_corpus import make_corpus, remove_corpus
from case_support import FakeScanner


@pytest.fixture
def corpus(tmp_path):
    c = make_corpus(tmp_path / "corpus", n_small=200, depth=300, bomb_side=3000)
    yield c
    remove_corpus(c.root)


def _accounting(case, corpus, need_message: bool) -> tuple[dict, list[str]]:
    """Each expected path -> ("item", status, message) or ("intake_error", error); plus the problems."""
    items = case.items().set_index("item_id")
    sources = case.sources()
    errors = case.intake_errors()
    by_path = {p: ("item", int(i)) for p, i in zip(sources["original_path"], sources["item_id"])}
    for p, e in zip(errors["path"], errors["error"]):
        by_path.setdefault(p, ("intake_error", e))
    out, problems = {}, []
    for path in corpus.expected:
        key = shown_path(os.path.abspath(path))
        kind = corpus.kinds[path]
        if key not in by_path:
            problems.append(f"{kind}: {key!r} is neither an item nor an intake error")
            continue
        how, val = by_path[key]
        if how == "intake_error":
            if not val:
                problems.append(f"{kind}: {key!r}: intake error without a message")
            out[path] = ("intake_error", val)
            continue
        row = items.loc[val]
        status, message, score = row["status"], row["message"], row["score"]
        if status not in STATUSES:
            problems.append(f"{kind}: {key!r}: status {status!r} is not one of STATUSES")
        if not message and (need_message or score is None or math.isnan(score)):
            problems.append(f"{kind}: {key!r}: status {status!r} without a message")
        out[path] = ("item", status, message)
    return out, problems


def test_triage_of_the_hostile_corpus_accounts_for_every_path(tmp_path, corpus):
    with open_case("hostile", cases_dir=tmp_path / "cases", examiner="Insp. Rao") as case:
        df = case.triage([corpus.root], scanner=FakeScanner(), forensics=False)
        assert df.attrs["failed"] == 0 and not df.attrs["cancelled"]
        seen, problems = _accounting(case, corpus, need_message=True)
        assert not problems, problems
        assert len(seen) == len(corpus.expected)
        statuses = {v[1] for v in seen.values() if v[0] == "item"}
        assert "error" not in statuses, [(corpus.kinds[p], v) for p, v in seen.items() if v[1:2] == ("error",)]
        errors = {corpus.kinds[p] for p, v in seen.items() if v[0] == "intake_error"}
        assert errors == {"symbolic link", "FIFO"} | ({"mode-000 folder"} if os.geteuid() else set())
        # the pixel bomb is refused before decoding; hostile names are kept exactly, as escapes where not UTF-8
        bomb = next(p for p in corpus.expected if p.name == "pixel_bomb.png")
        assert seen[bomb][1] == "too_large"
        names = set(case.items()["name"])
        assert "latin1_caf\\xe9.jpg" in names and "line\nbreak.jpg" in names
        report = case.verify()
        assert report.ok, report.lines()
        # a second run over the same corpus adds nothing and loses nothing
        n_items, n_errors = len(case.items()), len(case.intake_errors())
        again = case.triage([corpus.root], scanner=FakeScanner(), forensics=False)
        assert again.attrs["analysed"] == 0 and len(case.items()) == n_items
        assert again.attrs["intake"]["new"] == 0 and len(case.intake_errors()) == 2 * n_errors


@pytest.mark.slow
def test_dfd_triage_scan_and_verify_on_the_hostile_corpus(tmp_path, tiny_weights, capsys):
    corpus = make_corpus(tmp_path / "corpus", n_small=20, depth=300, bomb_side=2000)
    cases = tmp_path / "cases"
    common = ["--weights-dir", str(tiny_weights), "--quiet"]
    try:
        rc = main(
            [
                "triage",
                str(corpus.root),
                "--case",
                "hostile cli",
                "--cases-dir",
                str(cases),
                "--examiner",
                "Insp. Rao",
                *common,
            ]
        )
        out = capsys.readouterr().out
        assert rc == 0, out  # 1 would mean an item whose analysis failed
        with open_case("hostile cli", cases_dir=cases, create=False, readonly=True) as case:
            seen, problems = _accounting(case, corpus, need_message=True)
        assert not problems, problems
        assert len(seen) == len(corpus.expected)
        assert main(["verify", "hostile cli", "--cases-dir", str(cases)]) == 0, capsys.readouterr().out
        capsys.readouterr()

        report = tmp_path / "scan.json"
        assert main(["scan", str(corpus.root), "--json", str(report), *common]) == 0
        results = json.loads(report.read_bytes().decode("utf-8"))  # valid UTF-8 whatever the names' bytes
        files = [storable_text(str(p)) for p in iter_evidence_files([corpus.root])]  # as the JSON spells them
        assert sorted(r["path"] for r in results) == sorted(files)
        bad = [
            (r["path"], r["status"], r["message"]) for r in results if r["status"] not in STATUSES or not r["message"]
        ]
        assert not bad, bad
        by_name = {os.path.basename(r["path"]): r for r in results}
        assert by_name["pixel_bomb.png"]["status"] == "too_large"
        assert by_name["fifo"]["status"] == "unsupported"
        assert not [r["path"] for r in results if r["status"] == "error"]  # e.g. images smaller than a face
    finally:
        remove_corpus(corpus.root)


@pytest.mark.parametrize("size", [(1, 1), (39, 39), (60_000, 1)])
def test_an_image_too_small_for_a_face_is_no_face_not_error(tmp_path, scanner, size):
    from PIL import Image

    path = tmp_path / "small.png"
    Image.new("RGB", size, (90, 90, 90)).save(path)
    r = scanner.scan_file(path)
    assert r.status == "no_face", (r.status, r.message)
