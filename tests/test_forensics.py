"""Forensic analyses: result contract, error handling, ELA/noise/spectrum behaviour and the CLI.

Every image is generated here; nothing needs ../shared.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from dfd_lib.errors import RegistryError
from dfd_lib.forensics import (
    ANALYSES,
    Analysis,
    ElaAnalysis,
    ForensicResult,
    NoiseAnalysis,
    SpectrumAnalysis,
    analysis_names,
    default_registry,
    get_analysis,
    run_all,
)
from dfd_lib.media import sha256_file

skdata = pytest.importorskip("skimage.data")

# The pasted square: rows 192..320, columns 256..384 of a 512x512 picture.
Y0, Y1, X0, X1 = 192, 320, 256, 384


def _jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB")).copy()


def _spliced(tmp_path: Path, noise_sigma: float) -> Path:
    """Background JPEG-compressed at quality 60; a square pasted from the never-compressed original
    (plus optional sensor-like noise); the whole picture then saved at quality 95."""
    original = skdata.astronaut()
    img = _jpeg_roundtrip(original, 60)
    patch = original[Y0:Y1, X0:X1].astype(np.float64)
    patch += np.random.default_rng(0).normal(0, noise_sigma, patch.shape)
    img[Y0:Y1, X0:X1] = np.clip(patch, 0, 255).astype(np.uint8)
    path = tmp_path / f"spliced_{noise_sigma:g}.jpg"
    Image.fromarray(img).save(path, quality=95)
    return path


def _inside_outside(result: ForensicResult) -> tuple[float, float]:
    m = result.map_image.astype(np.float64).mean(axis=2)
    assert m.shape == (512, 512)
    inside = np.zeros(m.shape, dtype=bool)
    inside[Y0 + 8 : Y1 - 8, X0 + 8 : X1 - 8] = True  # stay clear of the boundary blocks
    border = np.zeros(m.shape, dtype=bool)
    border[Y0 - 16 : Y1 + 16, X0 - 16 : X1 + 16] = True
    return float(m[inside].mean()), float(m[~border].mean())


@pytest.fixture(scope="module")
def small_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img") / "astronaut.png"
    Image.fromarray(skdata.astronaut()[:256, :256]).save(path)
    return path


# --- contract over every registered analysis -------------------------------------------------


@pytest.mark.parametrize("name", analysis_names())
def test_every_analysis_honours_the_result_contract(name, small_png, tmp_path):
    analysis = get_analysis(name)
    assert isinstance(analysis, Analysis)
    assert analysis.name == name and analysis.description and analysis.applies_to <= {"image", "video"}
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all\n")
    for path in (small_png, text):
        r = analysis.run(path)
        assert isinstance(r, ForensicResult) and r.analysis == name
        assert r.status in ("ok", "not_applicable", "error") and r.summary
        d = r.to_dict()
        json.dumps(d)  # JSON-safe, no pixels
        assert "map_image" not in d and d["has_map"] == (r.map_image is not None)
        if r.map_image is not None:
            assert r.map_image.ndim == 3 and r.map_image.shape[2] == 3 and r.map_image.dtype == np.uint8
    assert analysis.run(text).status == "not_applicable"


def test_registry_is_explicit_refuses_duplicates_and_names_known_ones():
    assert analysis_names()[:6] == ["metadata", "c2pa", "jpeg", "ela", "noise", "spectrum"]
    reg = default_registry()
    with pytest.raises(RegistryError, match="already registered"):
        reg.register(ElaAnalysis())
    with pytest.raises(RegistryError, match="known: .*ela"):
        get_analysis("magic")
    with pytest.raises(RegistryError, match="known"):
        run_all("whatever.jpg", names=["ela", "nope"])
    assert "ela" in ANALYSES


def test_result_validates_status_and_normalises_metrics():
    with pytest.raises(ValueError):
        ForensicResult("x", "maybe", "s")
    with pytest.raises(ValueError):
        ForensicResult("x", "ok", "s", map_image=np.zeros((4, 4), np.uint8))
    r = ForensicResult(
        "x", "ok", "s", metrics={"a": np.float32(1.5), "b": (np.int64(2), float("nan"))}, flags=["b", "a", "a"]
    )
    assert r.metrics == {"a": 1.5, "b": [2, None]} and r.flags == ["a", "b"]
    json.dumps(r.to_dict())


# --- files that cannot be analysed -----------------------------------------------------------


def test_empty_text_truncated_and_missing_files_never_crash(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "readme.png"
    text.write_text("hello, this is text")
    truncated = tmp_path / "cut.jpg"
    buf = io.BytesIO()
    Image.fromarray(skdata.astronaut()).save(buf, "JPEG", quality=90)
    truncated.write_bytes(buf.getvalue()[:4000])

    for r in run_all(empty):
        assert r.status == "error" and "empty" in r.summary
    for r in run_all(text):
        assert r.status == "not_applicable" and "text/plain" in r.summary
    by_name = {r.analysis: r for r in run_all(truncated)}
    for name in ("ela", "noise", "spectrum"):
        assert by_name[name].status == "error" and "truncated" in by_name[name].summary
        assert by_name[name].metrics["error_type"] == "unreadable"
    jpeg = by_name["jpeg"]  # the headers of a truncated JPEG are still evidence
    assert jpeg.status == "ok" and "decode_error" in jpeg.flags and jpeg.metrics["estimated_quality"] == 90
    assert "could not be fully decoded" in jpeg.summary
    assert by_name["video_meta"].status == "not_applicable"
    for r in run_all(tmp_path / "missing.jpg"):
        assert r.status == "error" and "could not be read" in r.summary


def test_an_unexpected_exception_becomes_an_error_result(small_png):
    class Broken(Analysis):
        name = "broken"
        description = "always fails"
        applies_to = frozenset({"image"})

        def analyse(self, evidence):
            raise ZeroDivisionError("boom")

    r = Broken().run(small_png)
    assert r.status == "error" and "ZeroDivisionError: boom" in r.summary and r.metrics["error_type"] == "internal"


# --- ELA and noise light up a pasted region --------------------------------------------------


def test_ela_lights_up_a_region_with_a_different_compression_history(tmp_path):
    r = ElaAnalysis().run(_spliced(tmp_path, noise_sigma=0))
    assert r.status == "ok" and not r.downscaled and r.analysed_size == (512, 512)
    inside, outside = _inside_outside(r)
    assert inside > 2.0 * outside, (inside, outside)
    assert r.metrics["quality"] == 90 and r.metrics["max_error"] >= r.metrics["p99_error"] > 0
    assert "edges" in r.summary.lower()  # the caveat is part of the summary


def test_noise_map_lights_up_a_pasted_region_from_a_noisier_source(tmp_path):
    path = _spliced(tmp_path, noise_sigma=4)
    r = NoiseAnalysis().run(path)
    assert r.status == "ok"
    inside, outside = _inside_outside(r)
    assert inside > 1.5 * outside, (inside, outside)
    assert r.metrics["inhomogeneity_p95_over_p05"] > 1.5
    ela_inside, ela_outside = _inside_outside(ElaAnalysis().run(path))
    assert ela_inside > 2.0 * ela_outside


def test_large_images_are_bounded_and_say_so(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(cv2.resize(skdata.astronaut(), (1024, 768))).save(path)
    by_name = {r.analysis: r for r in run_all(path, names=["ela", "noise", "spectrum"], max_pixels=200_000)}
    for name in ("ela", "noise"):
        r = by_name[name]
        w, h = r.analysed_size
        assert r.downscaled and w * h <= 200_000 and abs(w / h - 1024 / 768) < 0.01
        assert "reduced" in r.summary
    assert by_name["spectrum"].analysed_size == (1024, 768) and not by_name["spectrum"].downscaled
    full = {r.analysis: r for r in run_all(path, names=["ela"], max_pixels=None)}
    assert full["ela"].analysed_size == (1024, 768) and not full["ela"].downscaled


# --- spectrum -------------------------------------------------------------------------------


def _smooth_field(size: int = 512) -> np.ndarray:
    f = cv2.GaussianBlur(np.random.default_rng(3).normal(0, 1, (size, size)).astype(np.float32), (0, 0), 4)
    f = (f - f.min()) / np.ptp(f) * 255
    return np.clip(f + np.random.default_rng(4).normal(0, 2, f.shape), 0, 255).astype(np.uint8)


def test_spectrum_finds_the_peaks_of_nearest_neighbour_upsampling(tmp_path):
    small = cv2.resize(skdata.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    up = cv2.resize(small, (512, 512), interpolation=cv2.INTER_NEAREST)
    path = tmp_path / "upsampled.png"
    Image.fromarray(up).save(path)
    r = SpectrumAnalysis().run(path)
    assert r.status == "ok" and "periodic_peaks" in r.flags
    positions = {(p["fx"], p["fy"]) for p in r.metrics["peaks"]}
    assert (0.5, 0.0) in positions and (0.0, 0.5) in positions  # period 2 along x and along y
    assert r.map_image.shape == (512, 512, 3)
    assert "not that the content is synthetic" in r.summary


@pytest.mark.parametrize("kind", ["astronaut", "field", "astronaut_jpeg"])
def test_spectrum_of_natural_images_has_no_periodic_peaks(kind, tmp_path):
    if kind == "field":
        img, suffix = _smooth_field(), "png"
    else:
        img, suffix = skdata.astronaut(), "jpg" if kind.endswith("jpeg") else "png"
    path = tmp_path / f"{kind}.{suffix}"
    Image.fromarray(img).save(path, **({"quality": 75} if suffix == "jpg" else {}))
    r = SpectrumAnalysis().run(path)
    assert r.status == "ok" and "periodic_peaks" not in r.flags, r.metrics["peaks"]
    assert len(r.metrics["radial_profile_log10"]) == len(r.metrics["radial_profile_freqs"]) == 32


# --- command line -----------------------------------------------------------------------------


def test_cli_writes_json_with_hashes_and_png_maps(tmp_path, capsys):
    from dfd_lib.cli import main

    spliced = _spliced(tmp_path, noise_sigma=0)
    text = tmp_path / "notes.txt"
    text.write_text("plain text")
    out, maps = tmp_path / "out" / "forensics.json", tmp_path / "maps"
    rc = main(["forensics", str(spliced), str(text), "--json", str(out), "--maps", str(maps), "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "spliced_0.jpg" in printed and "not_applicable" in printed and "ela" in printed

    doc = json.loads(out.read_text())
    assert [Path(f["path"]).name for f in doc["files"]] == ["spliced_0.jpg", "notes.txt"]
    first = doc["files"][0]
    assert first["sha256"] == sha256_file(spliced) and first["mime"] == "image/jpeg"
    results = {r["analysis"]: r for r in first["results"]}
    assert set(results) == set(analysis_names())
    for name in ("ela", "noise", "spectrum"):
        m = results[name]["map"]
        assert Path(m["path"]).is_file() and m["sha256"] == sha256_file(m["path"])
        assert Path(m["path"]).parent == maps
    assert "map" not in results["metadata"]
    assert all(r["status"] == "not_applicable" for r in doc["files"][1]["results"])


def test_cli_only_restricts_and_rejects_unknown_names(tmp_path, capsys):
    from dfd_lib.cli import main

    path = tmp_path / "a.png"
    Image.fromarray(skdata.astronaut()[:128, :128]).save(path)
    out = tmp_path / "r.json"
    assert main(["forensics", str(path), "--only", "metadata,ela", "--json", str(out), "--no-progress"]) == 0
    doc = json.loads(out.read_text())
    assert [r["analysis"] for r in doc["files"][0]["results"]] == ["metadata", "ela"]
    capsys.readouterr()
    assert main(["forensics", str(path), "--only", "ela,bogus", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "bogus" in err and "spectrum" in err


def test_cli_reports_hidden_files_and_never_opens_a_pipe(tmp_path, capsys):
    import os
    import threading

    from dfd_lib.cli import main

    folder = tmp_path / "in"
    (folder / ".cache").mkdir(parents=True)
    Image.fromarray(skdata.astronaut()[:64, :64]).save(folder / ".cache" / "h.png")
    os.mkfifo(folder / "pipe")
    out = tmp_path / "r.json"
    rc = []
    t = threading.Thread(
        target=lambda: rc.append(
            main(["forensics", str(folder), "--only", "metadata", "--json", str(out), "--no-progress"])
        ),
        daemon=True,
    )
    t.start()
    t.join(60)
    if t.is_alive():  # release the reader so the test process can end
        fd = os.open(folder / "pipe", os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        pytest.fail("the forensics command blocked reading a named pipe")
    assert rc == [0]
    files = {Path(f["path"]).name: f for f in json.loads(out.read_text())["files"]}
    assert files["h.png"]["results"][0]["status"] == "ok"
    [pipe] = files["pipe"]["results"]
    assert pipe["status"] == "error" and "not a regular file" in pipe["summary"]
