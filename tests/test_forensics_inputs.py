"""Forensics on inputs that are easy to misreport: pictures of several frames or pages, audio-only MP4, file names
that are not UTF-8. Every file is made here; nothing needs ../shared."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfd_lib.cli import main
from dfd_lib.forensics import run_all

AUDIO_ONLY = "audio only: no video stream to analyse"


def _frames(n: int) -> list[Image.Image]:
    """Frame 0 a smooth gradient (almost no noise), the others strong noise: an analysis shows which it read."""
    rng = np.random.default_rng(0)
    ramp = np.broadcast_to(np.linspace(60, 190, 128, dtype=np.uint8)[None, :, None], (96, 128, 3))
    return [Image.fromarray(np.ascontiguousarray(ramp))] + [
        Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)) for _ in range(n - 1)
    ]


@pytest.fixture(scope="module")
def multi(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("multi")
    frames = _frames(3)
    paths = {"gif": folder / "anim.gif", "tiff": folder / "pages.tiff", "png": folder / "still.png"}
    frames[0].save(paths["gif"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(paths["tiff"], save_all=True, append_images=frames[1:])
    frames[1].save(paths["png"])
    return paths


def test_each_result_of_an_animated_gif_says_which_frame_it_describes(multi):
    results = {r.analysis: r for r in run_all(multi["gif"])}
    for name in ("ela", "noise", "spectrum"):  # pixel analyses: the first frame, and they say so
        r = results[name]
        assert r.status == "ok", r.summary
        assert (r.metrics["frame_index"], r.metrics["frame_count"], r.metrics["frame_unit"]) == (0, 3, "frame")
        assert "animated GIF of 3 frames: only its first frame (frame index 0) was analysed" in r.summary
    assert results["noise"].metrics["sigma_median"] < 2  # the smooth first frame, not a noisy later one
    for name in ("metadata", "c2pa"):  # what the file stores once for all its frames
        r = results[name]
        assert (r.metrics["frame_index"], r.metrics["frame_count"]) == (None, 3)
        assert "reads the file as a whole, not any one frame's pixels" in r.summary
    assert "frame_count" not in results["jpeg"].metrics  # not applicable: nothing analysed, nothing to say


def test_a_multi_page_tiff_says_page_and_a_still_picture_is_unchanged(multi):
    tiff = {r.analysis: r for r in run_all(multi["tiff"])}
    for name in ("metadata", "ela"):  # a TIFF keeps its tags per page: metadata read the first page's
        assert (tiff[name].metrics["frame_index"], tiff[name].metrics["frame_unit"]) == (0, "page")
        assert "multi-page TIFF of 3 pages: only its first page (page index 0) was analysed" in tiff[name].summary
    for r in run_all(multi["png"]):
        assert "frame_count" not in r.metrics and "frame" not in r.summary


def test_forensics_cli_names_the_frame_analysed(multi, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["forensics", str(multi["gif"]), "--only", "ela", "--json", str(out), "--no-progress"]) == 0
    assert "image/gif, 3 frames: frame index 0 analysed)" in capsys.readouterr().out
    [ela] = json.loads(out.read_text())["files"][0]["results"]
    assert ela["metrics"]["frame_index"] == 0 and "first frame (frame index 0)" in ela["summary"]


def _audio_only(path: Path, fmt: str) -> Path:
    """A short silent AAC track in an MP4 (``fmt`` "mp4") or M4A ("ipod") container, with no video stream."""
    import av

    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream("aac", rate=8000)
        s.layout = "mono"
        for i in range(4):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 8000, i * 1024
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


@pytest.mark.parametrize("name, fmt", [("voice.mp4", "mp4"), ("voice.m4a", "ipod")])
def test_audio_only_mp4_has_no_pictures_in_scan_and_forensics_alike(scanner, tmp_path, name, fmt):
    path = _audio_only(tmp_path / name, fmt)
    scanned = scanner.scan_file(path)
    assert (scanned.status, scanned.message) == ("unsupported", AUDIO_ONLY)
    results = {r.analysis: r for r in run_all(path)}
    assert (results["video_meta"].status, results["video_meta"].summary) == ("not_applicable", AUDIO_ONLY)
    assert not [r.analysis for r in results.values() if r.status == "error"]  # not a broken file


def _unescaped(text: str) -> bytes:
    """The file name bytes a written path stands for: UTF-8, with each ``\\xNN`` escape the byte it names."""
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), text.encode("utf-8"))


def test_forensics_cli_writes_names_that_are_not_utf8_as_escapes(multi, tmp_path, capsys):
    folder = tmp_path / "ev"
    folder.mkdir()
    raw = os.path.join(os.fsencode(folder), b"\xff\xfe\x1b[31m.png")  # not UTF-8, and a terminal colour code
    Path(os.fsdecode(raw)).write_bytes(multi["png"].read_bytes())
    out, maps = tmp_path / "r.json", tmp_path / "maps"
    rc = main(["forensics", str(folder), "--only", "ela", "--json", str(out), "--maps", str(maps), "--no-progress"])
    printed = capsys.readouterr().out
    assert rc == 0  # writing the JSON used to raise UnicodeEncodeError
    assert "/\\xff\\xfe\\x1b[31m.png  (sha256" in printed and "\x1b" not in printed
    [record] = json.loads(out.read_bytes().decode("utf-8"))["files"]  # strict UTF-8: no lone surrogates
    assert os.path.basename(record["path"]) == "\\xff\\xfe\x1b[31m.png" and _unescaped(record["path"]) == raw
    [ela] = record["results"]
    assert ela["status"] == "ok" and os.path.isfile(_unescaped(ela["map"]["path"]))
