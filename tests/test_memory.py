"""The memory setting: pictures too large for it are decoded reduced (JPEG) or refused with a clear message."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from PIL import Image

from dfd_lib.errors import DfdError, MediaTooLarge
from dfd_lib.media import MediaLimits, decode_image
from dfd_lib.memory import BYTES_PER_PIXEL, MIN_DECODE_PIXELS, PROCESS_MB, WORKING_MB, plan_memory


def test_plan_leaves_the_setting_minus_the_process_for_pixels():
    plan = plan_memory(2048, 24_000_000, 3)
    assert plan.decode_pixels == int((2048 - PROCESS_MB - WORKING_MB) * 2**20 / BYTES_PER_PIXEL)
    assert plan.frame_pixels is not None and 3840 * 2160 < plan.frame_pixels < plan.decode_pixels
    assert plan.read_ahead_pixels == min(24_000_000, plan.decode_pixels // 3)
    assert "memory_mb=2048" in plan.over_budget_note() and "--memory-mb" in plan.over_budget_note()
    unbounded = plan_memory(None, 24_000_000, 3)
    assert unbounded.decode_pixels is None and unbounded.over_budget_note() == ""


def test_a_setting_too_small_for_the_model_is_refused_with_the_minimum():
    with pytest.raises(DfdError, match="too small.*use at least") as err:
        plan_memory(1024, 24_000_000, 3)
    need = int(str(err.value).rsplit("at least ", 1)[1].split()[0])
    assert plan_memory(need, 24_000_000, 3).decode_pixels >= MIN_DECODE_PIXELS
    with pytest.raises(DfdError, match="too small"):
        plan_memory(0, 24_000_000, 3)


def test_the_scanner_refuses_a_setting_too_small_before_loading_anything(tiny_weights):
    from dfd_lib.scan import Scanner

    with pytest.raises(DfdError, match="memory_mb=512"):
        Scanner(None, weights_dir=tiny_weights / "does-not-exist", memory_mb=512)


@pytest.fixture(scope="module")
def big_pictures(tmp_path_factory, examples):
    """The astronaut photo enlarged to 2400 x 2400 (5.8 MP), as JPEG and as PNG."""
    d = tmp_path_factory.mktemp("big")
    img = Image.open(examples / "astronaut.jpg").convert("RGB").resize((2400, 2400), Image.Resampling.BICUBIC)
    img.save(d / "big.jpg", quality=92)
    img.save(d / "big.png", compress_level=1)
    return d


def test_a_jpeg_over_the_bound_is_decoded_reduced_and_knows_its_full_size(big_pictures):
    full = decode_image(big_pictures / "big.jpg")
    assert full.scale == 1.0 and full.pixels.shape == (2400, 2400, 3)
    small = decode_image(big_pictures / "big.jpg", MediaLimits(), max_pixels=1_500_000)
    assert small.scale == 0.5 and small.pixels.shape == (1200, 1200, 3) and small.full_size == (2400, 2400)
    tiny = decode_image(big_pictures / "big.jpg", MediaLimits(), max_pixels=400_000)
    assert tiny.scale == 0.25 and tiny.pixels.shape[0] * tiny.pixels.shape[1] <= 400_000
    # The reduced picture is the full one, smaller: not a crop, not another picture.
    ref = np.asarray(Image.fromarray(full.pixels).resize((1200, 1200), Image.Resampling.BOX), np.float32)
    assert np.abs(small.pixels.astype(np.float32) - ref).mean() < 4.0


def test_other_pictures_over_the_bound_are_refused_with_the_reason(big_pictures):
    with pytest.raises(MediaTooLarge, match="raise the memory") as err:
        decode_image(big_pictures / "big.png", MediaLimits(), max_pixels=1_000_000, over="raise the memory setting")
    assert "2400x2400" in str(err.value)
    with pytest.raises(MediaTooLarge, match="the limit is 1 megapixels"):  # the pixel limit, not memory, decided
        decode_image(big_pictures / "big.png", MediaLimits(max_image_pixels=1_000_000), max_pixels=2_000_000)
    with pytest.raises(MediaTooLarge):  # even 1/8 of this JPEG is over the bound
        decode_image(big_pictures / "big.jpg", MediaLimits(), max_pixels=50_000)


def test_exif_rotated_jpeg_reports_its_upright_full_size(examples, tmp_path):
    src = Image.open(examples / "astronaut_exif_rotated.jpg")
    orientation = src.getexif().get(0x0112)
    assert orientation in (5, 6, 7, 8)
    w, h = src.size
    decoded = decode_image(examples / "astronaut_exif_rotated.jpg", MediaLimits(), max_pixels=w * h // 3)
    assert decoded.scale == 0.5 and decoded.full_size == (h, w)
    assert decoded.pixels.shape[:2] == (-(-w // 2), -(-h // 2))  # rows: the stored width, halved


def _bounded(scanner, memory_mb: int | None):
    """A copy of ``scanner`` with another memory setting."""
    s = copy.copy(scanner)
    s.memory = plan_memory(memory_mb, 24_000_000, 3)
    return s


def test_scan_of_a_picture_over_the_memory_bound(scanner, big_pictures):
    full = scanner.scan_file(big_pictures / "big.jpg")
    # room for 4.5 MP: the 5.8 MP pictures do not fit
    setting = int(PROCESS_MB + WORKING_MB + 4_500_000 * BYTES_PER_PIXEL / 2**20)
    bounded = _bounded(scanner, setting)
    reduced = bounded.scan_file(big_pictures / "big.jpg")
    assert full.status == reduced.status == "scored"
    assert "decoded at 1/2 of its size" in reduced.message and f"memory_mb={setting}" in reduced.message
    assert (reduced.width, reduced.height) == (full.width, full.height) == (2400, 2400)
    # the face box is reported in the stored picture's pixels
    assert np.allclose(reduced.faces[0].box, full.faces[0].box, atol=0.03 * 2400)
    png = bounded.scan_file(big_pictures / "big.png")
    assert png.status == "too_large" and "--memory-mb" in png.message and png.score is None
    assert _bounded(scanner, 2048).scan_file(big_pictures / "big.png").status == "scored"


def test_video_frames_over_the_memory_bound_are_refused_with_the_reason(scanner, tmp_path):
    import av

    from dfd_lib.memory import MemoryPlan

    clip = tmp_path / "wide.mp4"
    with av.open(str(clip), "w") as c:
        s = c.add_stream("mpeg4", rate=5)
        s.width, s.height, s.pix_fmt = 1280, 720, "yuv420p"
        for _ in range(5):
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.full((720, 1280, 3), 90, np.uint8), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    tight = copy.copy(scanner)
    tight.memory = MemoryPlan(1500, 4_000_000, 1_000_000, frame_pixels=800_000)
    r = tight.scan_file(clip)
    assert r.status == "too_large" and "1280x720" in r.message and "1 megapixels per frame" in r.message
    assert _bounded(scanner, 2048).scan_file(clip).status == "no_face"  # the frames fit the default setting


def test_forensic_analyses_decode_within_the_same_setting(big_pictures):
    from dfd_lib.forensics import run_all

    setting = int(PROCESS_MB + WORKING_MB + 4_500_000 * BYTES_PER_PIXEL / 2**20) + 1  # room for 4.5 MP
    full = {r.analysis: r for r in run_all(big_pictures / "big.jpg")}
    small = {r.analysis: r for r in run_all(big_pictures / "big.jpg", memory_mb=setting)}
    assert full["ela"].status == small["ela"].status == "ok"
    assert not full["ela"].downscaled and small["ela"].downscaled
    assert "decoded at 1/2" in small["spectrum"].summary and "decoded at" not in full["spectrum"].summary
    # the JPEG structure's headers are still read; the test that needs the full-size luma says why it did not run
    assert small["jpeg"].status == full["jpeg"].status == "ok"
    assert "double_compression" in full["jpeg"].metrics and "double_compression" not in small["jpeg"].metrics
    assert "not tested" in small["jpeg"].summary and "--memory-mb" in small["jpeg"].summary
    png = {r.analysis: r for r in run_all(big_pictures / "big.png", memory_mb=setting)}
    assert png["ela"].status == "error" and "--memory-mb" in png["ela"].summary
    assert png["metadata"].status == "ok"  # what needs no pixels still runs


def test_triage_runs_forensics_with_the_scanners_memory_setting():
    import types

    from dfd_lib.case.triage import forensics_for

    def run_all(path, memory_mb=2048):
        return memory_mb

    scanner = types.SimpleNamespace(settings=types.SimpleNamespace(memory_mb=3000))
    assert forensics_for(scanner, run_all)("x") == 3000
    assert forensics_for(types.SimpleNamespace(), run_all)("x") == 2048  # a scanner without settings: the default
    assert forensics_for(scanner, None) is None
