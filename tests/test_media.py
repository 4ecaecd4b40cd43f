import hashlib
import io
import tracemalloc
import warnings

import numpy as np
import pytest
from PIL import Image

from dfd_lib.errors import MediaTooLarge, UnreadableMedia, UnsupportedMedia
from dfd_lib.media import (
    MediaLimits,
    file_hashes,
    iter_evidence_files,
    iter_video_frames,
    load_image,
    sniff,
    walk_evidence,
)
from case_support import make_deep_tree, remove_deep_tree


def _save(img: Image.Image, path, fmt, **kw):
    img.save(path, fmt, **kw)
    return path


@pytest.mark.parametrize(
    "fmt,kind,mime",
    [
        ("JPEG", "image", "image/jpeg"),
        ("PNG", "image", "image/png"),
        ("WEBP", "image", "image/webp"),
        ("BMP", "image", "image/bmp"),
        ("TIFF", "image", "image/tiff"),
        ("GIF", "image", "image/gif"),
    ],
)
def test_sniff_reads_content_not_extension(tmp_path, fmt, kind, mime):
    p = _save(Image.new("RGB", (8, 8), "red"), tmp_path / "misnamed.txt", fmt)
    assert sniff(p)[:2] == (kind, mime)


def test_sniff_text_named_jpg_and_empty(tmp_path):
    t = tmp_path / "a.jpg"
    t.write_text("hello")
    assert sniff(t)[0] == "unknown" and sniff(t)[1] == "text/plain"
    e = tmp_path / "e.jpg"
    e.write_bytes(b"")
    assert sniff(e)[0] == "empty"


def test_hashes_match_hashlib(tmp_path):
    data = np.random.default_rng(0).bytes(3_000_000)
    p = tmp_path / "blob.bin"
    p.write_bytes(data)
    h = file_hashes(p)
    assert h == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),
        "sha1": hashlib.sha1(data).hexdigest(),
    }


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "CMYK", "P", "I;16", "1"])
def test_every_mode_becomes_rgb_uint8(tmp_path, mode):
    base = Image.new("RGB", (20, 10), (200, 100, 50))
    if mode == "I;16":
        img = Image.fromarray(np.full((10, 20), 40000, dtype=np.uint16))
        fmt = "PNG"
    else:
        img = base.convert(mode)
        fmt = "TIFF" if mode == "CMYK" else "PNG"
    p = _save(img, tmp_path / f"x.{fmt.lower()}", fmt)
    arr = load_image(p)
    assert arr.dtype == np.uint8 and arr.shape == (10, 20, 3)
    if mode == "I;16":
        assert abs(int(arr[0, 0, 0]) - round(40000 / 65535 * 255)) <= 1


def test_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    p = tmp_path / "a.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    arr = load_image(p)
    assert arr[0, 0, 0] > 200 and arr[0, 0, 2] < 50


def test_exif_orientation_applied(tmp_path):
    img = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "r.jpg"
    img.save(p, exif=exif.tobytes())
    assert load_image(p).shape[:2] == (40, 20)  # displayed upright: 20 wide, 40 high


def test_truncated_jpeg_is_unreadable(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(buf, "JPEG")
    p = tmp_path / "t.jpg"
    p.write_bytes(buf.getvalue()[:2000])
    with pytest.raises(UnreadableMedia, match="truncated|decoded"):
        load_image(p)


def test_huge_image_refused_before_decoding(tmp_path):
    p = tmp_path / "huge.png"
    Image.new("1", (20000, 20000)).save(p)
    with pytest.raises(MediaTooLarge, match="20000x20000"):
        load_image(p)


def test_text_as_image_is_unsupported(tmp_path):
    p = tmp_path / "n.jpg"
    p.write_text("not an image")
    with pytest.raises(UnsupportedMedia):
        load_image(p)


def test_walk_keeps_hidden_is_sorted_and_does_not_follow_links(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.jpg").write_bytes(b"x")
    (tmp_path / "1.jpg").write_bytes(b"x")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "h.jpg").write_bytes(b"x")
    (tmp_path / ".h.jpg").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "b")
    names = [p.relative_to(tmp_path).as_posix() for p in iter_evidence_files([tmp_path])]
    assert names == [".h.jpg", "1.jpg", ".hidden/h.jpg", "b/2.jpg"]
    entries = {e.path.relative_to(tmp_path).as_posix(): e.problem for e in walk_evidence([tmp_path])}
    assert entries[".hidden/h.jpg"] is None and entries["b/2.jpg"] is None
    assert "symbolic link" in entries["link"] and "not followed" in entries["link"]


def test_walk_is_iterative_and_reports_what_it_cannot_enter(tmp_path, monkeypatch):
    import os

    deep = tmp_path / "deep"
    try:
        (make_deep_tree(deep, 1000) / "bottom.jpg").write_bytes(b"x")  # deeper than Python's recursion limit
        assert [p.name for p in iter_evidence_files([deep])] == ["bottom.jpg"]
    finally:
        remove_deep_tree(deep)

    (tmp_path / "tree" / "locked").mkdir(parents=True)
    (tmp_path / "tree" / "locked" / "x.jpg").write_bytes(b"x")
    (tmp_path / "tree" / "ok.jpg").write_bytes(b"x")
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    entries = {e.path.name: e.problem for e in walk_evidence([tmp_path / "tree"])}
    assert entries["ok.jpg"] is None and "cannot be read" in entries["locked"] and "x.jpg" not in entries

    loop = tmp_path / "loop"
    (tmp_path / "loop2").symlink_to(loop)
    loop.symlink_to(tmp_path / "loop2")
    [entry] = list(walk_evidence([loop]))
    assert entry.path == loop and "symbolic link loop" in entry.problem


def test_video_sampling(examples):
    clip = examples / "astronaut_clip.mp4"  # 40 frames at 10 fps
    per_second = list(iter_video_frames(clip, fps=1.0))
    assert [f.index for f in per_second] == [0, 10, 20, 30]
    assert [round(f.time_s, 1) for f in per_second] == [0.0, 1.0, 2.0, 3.0]
    every = list(iter_video_frames(clip, every=7))
    assert [f.index for f in every] == [0, 7, 14, 21, 28, 35]
    capped = list(iter_video_frames(clip, fps=10, limits=MediaLimits(max_video_frames=5)))
    assert len(capped) == 5 and capped[0].image.shape == (384, 384, 3)


def test_corrupt_video_is_unreadable(tmp_path, examples):
    data = (examples / "astronaut_clip.mp4").read_bytes()
    p = tmp_path / "broken.mp4"
    p.write_bytes(data[:64] + b"\x00" * 500)
    with pytest.raises(UnreadableMedia):
        list(iter_video_frames(p))


def _video_with_invalid_utf8_tags(path):
    """An MP4 whose container title and stream handler name hold bytes that are not UTF-8."""
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        container.metadata["title"] = "TITLEMARKER1"
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.metadata["handler_name"] = "HANDLERMARK2"
        rng = np.random.default_rng(0)
        for _ in range(5):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    assert data.count(b"TITLEMARKER1") == 1 and data.count(b"HANDLERMARK2") == 1
    # same lengths, so every box size stays right
    path.write_bytes(data.replace(b"TITLEMARKER1", b"TITLE\xff\xfeRKER1").replace(b"HANDLERMARK2", b"HANDL\xc3(MARK2"))
    return path


def test_invalid_utf8_in_video_metadata_still_reads_frames(tmp_path):
    from dfd_lib.forensics import VideoMetaAnalysis
    from dfd_lib.media import video_info

    path = _video_with_invalid_utf8_tags(tmp_path / "tags.mp4")
    assert sniff(path)[0] == "video"
    frames = list(iter_video_frames(path, every=1))
    assert len(frames) == 5 and frames[0].image.shape == (48, 64, 3)
    info = video_info(path)
    assert info["width"] == 64 and info["frames"] == 5
    meta = VideoMetaAnalysis().run(path)
    assert meta.status == "ok", meta.summary
    assert meta.metrics["tags"]["title"] == "TITLE\ufffd\ufffdRKER1"  # bad bytes shown as U+FFFD


def test_float_image_with_nan_and_infinity_scales_its_finite_range(tmp_path):
    arr = np.tile(np.linspace(-1000.0, 1000.0, 20, dtype=np.float32), (10, 1))
    arr[0, 0], arr[1, 1], arr[2, 2] = np.nan, np.inf, -np.inf
    p = tmp_path / "f.tif"
    Image.fromarray(arr).save(p, format="TIFF")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value encountered in cast"
        out = load_image(p)
    grey = out[..., 0].astype(int)
    assert grey[0, 0] == 0 and grey[1, 1] == 255 and grey[2, 2] == 0
    assert (
        grey[5, 0] == 0
        and grey[5, 19] == 255
        and abs(grey[5, 10] - round(1000 / 2000 * 255 + 1000 / 19 / 2000 * 255)) <= 2
    )


@pytest.mark.parametrize("dtype", [np.float32, np.uint16])
def test_wide_greyscale_decodes_in_bounded_memory(tmp_path, dtype):
    side = 2000
    arr = np.zeros((side, side), dtype)
    arr[::7] = 3 if dtype is np.float32 else 60000
    p = tmp_path / "big.tif"
    Image.fromarray(arr).save(p, format="TIFF", compression="tiff_deflate")
    del arr
    tracemalloc.start()
    try:
        out = load_image(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == (side, side, 3) and out[1, 0, 0] == 0
    assert out[0, 0, 0] == (255 if dtype is np.float32 else int(60000 / 65535 * 255))
    # numpy buffers at the peak: the image as numbers (4 bytes/pixel at most), the uint8 result and the RGB
    # array; converting the whole image through float64 temporaries took over 24 bytes per pixel
    assert peak < 10 * side * side, f"{peak / side / side:.1f} bytes per pixel"


@pytest.mark.parametrize("mode", ["L", "P", "RGB", "RGBA", "CMYK"])
def test_eight_bit_modes_convert_in_bands_as_pil_does_in_bounded_memory(tmp_path, mode):
    """8-bit pictures become RGB a band of rows at a time. Converting the whole picture and then np.asarray
    (through PIL's tobytes, pieces then joined) held three more full-size RGB copies: a 100 MP greyscale PNG
    took over 1 GB on top of its pixels, which put the hostile-input bench over 2 GB."""
    h, w = 3000, 200  # many bands of rows (each small next to the picture), the last one partial
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (h, w, 4 if mode == "RGBA" else 3), dtype=np.uint8)
    img = Image.fromarray(pixels) if mode == "RGBA" else Image.fromarray(pixels).convert(mode)
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    p = _save(img, tmp_path / f"x.{fmt.lower()}", fmt)
    with Image.open(p) as again:
        if mode == "RGBA":
            want = Image.new("RGB", again.size, (255, 255, 255))
            want.paste(again, mask=again.getchannel("A"))
        else:
            want = again.convert("RGB")
        want = np.asarray(want)
    tracemalloc.start()
    try:
        out = load_image(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.dtype == np.uint8 and out.shape == (h, w, 3) and out.flags.c_contiguous
    assert np.array_equal(out, want)
    assert peak < 1.5 * out.nbytes, f"{peak / out.nbytes:.2f} x the RGB result"


def _write_h264(path, frames, rate=10, rotation=None):
    import av

    with av.open(str(path), "w", options={"movflags": "faststart"}) as c:  # the index first, as phones write it
        s = c.add_stream("libx264", rate=rate)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        s.options = {"preset": "ultrafast"}
        if rotation is not None:
            s.set_display_rotation(rotation)
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def _marked_frame(h=96, w=160):
    """A frame whose top-left quarter is white and the rest black: its orientation can be read back."""
    f = np.zeros((h, w, 3), np.uint8)
    f[: h // 2, : w // 2] = 255
    return f


def test_portrait_phone_video_is_turned_upright(tmp_path):
    """Phones store portrait video as landscape frames with a display rotation: faces must be searched upright."""
    from dfd_lib.media import video_info

    upright = _marked_frame(160, 96)  # as displayed: portrait, white top-left
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # turned a quarter counter-clockwise to store
    p = _write_h264(tmp_path / "portrait.mp4", [stored] * 10, rotation=-90)
    frame = next(iter_video_frames(p, fps=1.0))
    assert frame.image.shape == (160, 96, 3)
    assert frame.image[:80, :48].mean() > 200 and frame.image[80:, 48:].mean() < 50  # white corner top-left
    info = video_info(p)
    assert (info["width"], info["height"], info["rotation"]) == (96, 160, -90)
    assert (info["stored_width"], info["stored_height"]) == (160, 96)


def test_truncated_video_keeps_its_frames_and_says_where_they_end(tmp_path):
    rng = np.random.default_rng(0)  # noise: every frame carries data, so half the file is about half the video
    p = _write_h264(tmp_path / "whole.mp4", [rng.integers(0, 255, (96, 160, 3), np.uint8) for _ in range(100)])
    data = p.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    notes: list[str] = []
    frames = list(iter_video_frames(cut, fps=1.0, notes=notes))
    assert 1 <= len(frames) < 10
    assert len(notes) == 1 and "of the 10.0 s the container declares" in notes[0] and "not analysed" in notes[0]
    notes_whole: list[str] = []
    assert len(list(iter_video_frames(p, fps=1.0, notes=notes_whole))) == 10 and notes_whole == []


@pytest.mark.parametrize("fps,every", [(0, None), (-1, None), (float("nan"), None), (float("inf"), None), (None, 0)])
def test_impossible_sampling_is_refused_before_decoding(tmp_path, fps, every):
    from dfd_lib.scan import ScanSettings

    with pytest.raises(ValueError, match="must be"):
        ScanSettings(fps=fps, every=every)
    with pytest.raises(ValueError, match="must be"):
        next(iter_video_frames(tmp_path / "never-opened.mp4", fps=fps, every=every))


@pytest.mark.parametrize(
    "container, codec, name, fmt",
    [
        ("mpegts", "mpeg2video", "dvr.ts", "MPEG-TS"),  # CCTV and DVR exports
        ("mpeg", "mpeg2video", "camera.mpg", "MPEG-PS"),
        ("asf", "wmv2", "old.wmv", "ASF"),
        ("flv", "flv", "old.flv", "FLV"),
    ],
)
def test_recorder_containers_are_recognised_and_decode(tmp_path, container, codec, name, fmt):
    import av

    p = tmp_path / name
    with av.open(str(p), "w", format=container) as c:
        s = c.add_stream(codec, rate=10)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(20):
            for pkt in s.encode(av.VideoFrame.from_ndarray(rng.integers(0, 255, (96, 160, 3), np.uint8), "rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    kind, _, found = sniff(p)
    assert (kind, found) == ("video", fmt)
    assert len(list(iter_video_frames(p, fps=2.0))) >= 3
    text = tmp_path / "notes.txt"
    text.write_bytes(b"G" + b" " * 1000)  # starts with the sync byte's value, but is no stream
    assert sniff(text)[0] == "unknown"
