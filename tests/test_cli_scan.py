"""`dfd scan` and `dfd models` through main(argv), as a user runs them."""

import csv
import hashlib
import json
import os
import re

from dfd_lib.cli import main


def test_scan_writes_json_csv_and_gradcam(tiny_weights, examples, tmp_path, capsys):
    js, cs, cam = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "cam"
    rc = main(
        [
            "scan",
            str(examples),
            "--weights-dir",
            str(tiny_weights),
            "--json",
            str(js),
            "--csv",
            str(cs),
            "--gradcam",
            str(cam),
            "--quiet",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "tiny-test-model" in out and "too_large" in out and "no_face" in out
    records = json.loads(js.read_text())
    by_name = {r["path"].rsplit("/", 1)[1]: r for r in records}
    assert by_name["empty.jpg"]["status"] == "unreadable" and by_name["empty.jpg"]["score"] is None
    assert by_name["astronaut_clip.mp4"]["frames"] and by_name["astronaut_clip.mp4"]["type"] == "video"
    for r in records:
        assert {
            "path",
            "sha256",
            "type",
            "status",
            "message",
            "faces",
            "score",
            "verdict",
            "model",
            "model_sha256",
        } <= set(r)
    # Grad-CAM overlays exist for scored faces, with correct hashes.
    cams = by_name["two_faces.png"]["gradcam"]
    assert len(cams) == 2
    for c in cams:
        with open(c["file"], "rb") as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == c["sha256"]
    rows = list(csv.DictReader(cs.open()))
    assert len(rows) == len(records) and {r["status"] for r in rows} >= {
        "scored",
        "no_face",
        "unreadable",
        "unsupported",
        "too_large",
    }


def test_scan_with_every_kth_frame(tiny_weights, examples, tmp_path):
    js = tmp_path / "v.json"
    assert (
        main(
            [
                "scan",
                str(examples / "astronaut_clip.mp4"),
                "--weights-dir",
                str(tiny_weights),
                "--every",
                "20",
                "--json",
                str(js),
                "--quiet",
            ]
        )
        == 0
    )
    assert [f["index"] for f in json.loads(js.read_text())[0]["frames"]] == [0, 20]


def test_unknown_model_is_a_clear_error(tiny_weights, examples, capsys):
    rc = main(["scan", str(examples / "astronaut.jpg"), "--weights-dir", str(tiny_weights), "--model", "nope"])
    assert rc == 1
    assert "no model named 'nope'" in capsys.readouterr().err


def test_models_lists_cards(tiny_weights, capsys):
    assert main(["models", "--weights-dir", str(tiny_weights)]) == 0
    assert "tiny-test-model (default)" in capsys.readouterr().out


def test_models_shows_each_cards_weakest_source_beside_its_pooled_auc(capsys):
    """The pooled AUC alone ranked the old DFDC-only card first (0.955) and the fast card above the default: the
    weakest source tells an examiner choosing a card what it does on the material it knows least."""
    from pathlib import Path

    weights = Path(__file__).resolve().parents[1] / "weights"
    default = json.loads((weights / "dfd-lite0-multi.json").read_text())["metrics"]["validation_by_source"]
    assert main(["models", "--weights-dir", str(weights)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("dfd-")}
    assert f"rff {default['rff']['auc']:.3f}" in lines["dfd-lite0-multi"]
    assert " - " in lines["dfd-lite0-sbi"]  # measured on DFDC alone


def _unescaped(text: str) -> bytes:
    """The file name bytes a written path stands for: UTF-8, with each ``\\xNN`` escape the byte it names."""
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), text.encode("utf-8"))


def test_scan_prints_and_writes_names_that_are_not_utf8(tiny_weights, examples, tmp_path, capsys):
    folder = tmp_path / "ev"
    folder.mkdir()
    data = (examples / "astronaut.jpg").read_bytes()
    (folder / "line\nbreak.jpg").write_bytes(data)
    open(os.path.join(os.fsencode(folder), b"caf\xe9.jpg"), "wb").write(data[:1000])  # truncated, Latin-1 name
    open(os.path.join(os.fsencode(folder), b"\xff\xfe.jpg"), "wb").write(data)  # scored: its Grad-CAM is named
    js, cs, cam = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "cam"
    argv = ["scan", str(folder), "--weights-dir", str(tiny_weights), "--json", str(js), "--csv", str(cs)]
    rc = main([*argv, "--gradcam", str(cam), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0  # printing the table and writing the CSV used to raise UnicodeEncodeError
    assert "caf\\xe9.jpg" in out and "\\xff\\xfe.jpg" in out and "line\\nbreak.jpg" in out
    assert len(out.strip().splitlines()) == 1 + 2 + 3 + 1  # model line, header and rule, one line per file, counts
    # The JSON is valid UTF-8 (no lone surrogates, which strict readers refuse), names escaped as in the CSV and
    # the case store, and each escaped name leads back to its file.
    records = json.loads(js.read_bytes().decode("utf-8"))
    names = sorted(["caf\\xe9.jpg", "line\nbreak.jpg", "\\xff\\xfe.jpg"])
    assert sorted(os.path.basename(r["path"]) for r in records) == names
    assert all(os.path.isfile(_unescaped(r["path"])) for r in records)
    [scored] = [r for r in records if r["path"].endswith("/\\xff\\xfe.jpg")]
    assert scored["status"] == "scored" and scored["gradcam"]
    assert all("_\\xff\\xfe_" in c["file"] and os.path.isfile(_unescaped(c["file"])) for c in scored["gradcam"])
    json.dumps(records, ensure_ascii=False).encode("utf-8")  # no lone surrogate anywhere in the records
    assert sorted(r["path"].rsplit("/", 1)[1] for r in csv.DictReader(cs.open(encoding="utf-8"))) == names
