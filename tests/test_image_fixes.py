"""Pictures: EXIF reported whatever tags it holds, every frame of animated and multi-page pictures searched,
and each file's elapsed time its own (not the time it waited in the look-ahead queue)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from dfd_lib.forensics import MetadataAnalysis
from dfd_lib.media import MAX_IMAGE_FRAMES, FrameWalk, decode_image, image_frame_count, iter_image_frames

# --- metadata: the EXIF block, not only the tags the analysis names --------------------------------


def _jpeg_with_exif(path, exif: Image.Exif) -> None:
    Image.new("RGB", (64, 48), (120, 90, 60)).save(path, exif=exif, quality=90)


def test_exif_holding_only_orientation_is_reported(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    _jpeg_with_exif(path, exif)

    r = MetadataAnalysis().run(path)
    assert r.status == "ok"
    assert "no_metadata" not in r.flags
    m = r.metrics
    assert m["has_exif"] is True and m["exif_tag_count"] == 1
    assert m["orientation"] == {"value": 6, "meaning": "rotate 90 CW"}
    assert m["exif_other_tags"] == ["Orientation (IFD0 0x0112)"]
    assert m["fields"]["EXIF Orientation"] == "6 (rotate 90 CW)"
    assert "no EXIF" not in r.summary and "EXIF Orientation 6: rotate 90 CW" in r.summary


def test_tags_outside_the_named_ones_are_counted_and_listed(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # named: reported as a field, not among the others
    exif[0x0131] = "Firmware 1.0"
    sub = exif.get_ifd(0x8769)
    sub[0x829A] = 0.01  # ExposureTime
    sub[0x8827] = 200  # ISOSpeedRatings
    path = tmp_path / "camera.jpg"
    _jpeg_with_exif(path, exif)

    m = MetadataAnalysis().run(path).metrics
    assert m["has_exif"] and m["exif_tag_count"] == 4 and m["orientation"] is None
    others = m["exif_other_tags"]
    assert any(t.startswith("ExposureTime (Exif") for t in others)
    assert any(t.startswith("ISOSpeedRatings (Exif") for t in others)
    assert not any(t.startswith(("Make", "Software")) for t in others)


def test_a_tiff_structure_alone_is_not_exif(tmp_path):
    plain, oriented = tmp_path / "plain.tif", tmp_path / "oriented.tif"
    Image.new("RGB", (32, 32)).save(plain)
    exif = Image.Exif()
    exif[0x0112] = 3
    Image.new("RGB", (32, 32)).save(oriented, exif=exif)

    r = MetadataAnalysis().run(plain)
    assert r.metrics["has_exif"] is False and r.flags == ["no_metadata"]
    m = MetadataAnalysis().run(oriented).metrics
    assert m["has_exif"] is True and m["orientation"]["value"] == 3


def test_plain_jpeg_still_has_no_metadata(tmp_path):
    path = tmp_path / "plain.jpg"
    Image.new("RGB", (32, 32)).save(path)
    r = MetadataAnalysis().run(path)
    assert r.flags == ["no_metadata"] and r.metrics["has_exif"] is False and r.metrics["exif_tag_count"] == 0


# --- animated and multi-page pictures: every frame searched ---------------------------------------


@pytest.fixture(scope="module")
def face_second(examples, tmp_path_factory):
    """An animated GIF, an animated WebP and a two-page TIFF whose first frame has no face and second one has."""
    out = tmp_path_factory.mktemp("frames")
    face = Image.open(examples / "astronaut.jpg").convert("RGB")
    empty = Image.open(examples / "coffee_no_face.jpg").convert("RGB").resize(face.size)
    files = {}
    for ext, extra in (("gif", {"duration": 200, "loop": 0}), ("webp", {"duration": 200, "loop": 0}), ("tif", {})):
        path = out / f"face_second.{ext}"
        empty.save(path, save_all=True, append_images=[face], **extra)
        files[ext] = path
    return files


@pytest.mark.parametrize("ext, unit", [("gif", "frames"), ("webp", "frames"), ("tif", "pages")])
def test_face_in_a_later_frame_or_page_is_found_and_scored(scanner, face_second, ext, unit):
    r = scanner.scan_file(face_second[ext])
    assert r.status == "scored", r.message
    assert f"2 {unit} examined" in r.message
    assert r.faces and {f.frame_index for f in r.faces} == {1}
    assert r.score == max(f.p_fake for f in r.faces)
    assert [(fr.index, fr.n_faces) for fr in r.frames] == [(0, 0), (1, len(r.faces))]
    assert r.to_dict()["faces"][0]["frame_index"] == 1


def test_first_frame_is_decoded_as_decode_image_does(face_second):
    for path in face_second.values():
        assert image_frame_count(path) == 2
        frames = list(iter_image_frames(path))
        assert [d.frame for d in frames] == [0, 1]
        np.testing.assert_array_equal(frames[0].pixels, decode_image(path).pixels)


def test_single_frame_pictures_are_scanned_as_before(scanner, examples, tmp_path):
    gif = tmp_path / "still.gif"
    Image.open(examples / "astronaut.jpg").save(gif)
    assert image_frame_count(gif) == 1 and image_frame_count(examples / "astronaut.jpg") == 1
    for path in (gif, examples / "two_faces.png", examples / "astronaut.jpg"):
        r = scanner.scan_file(path)
        assert r.status == "scored" and r.frames == ()
        assert all(f.frame_index is None for f in r.faces)
        assert "examined" not in r.message
        assert r.score == max(f.p_fake for f in r.faces)


def _distinct_frames(n: int, size: int = 48) -> list[Image.Image]:
    return [Image.new("RGB", (size, size), (i * 5 % 256, (i * 37) % 256, (i * 91) % 256)) for i in range(n)]


def test_frames_are_capped_and_the_message_says_so(scanner, tmp_path):
    path = tmp_path / "long.gif"
    frames = _distinct_frames(MAX_IMAGE_FRAMES + 8)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    walk = FrameWalk()
    assert len(list(iter_image_frames(path, walk=walk))) == MAX_IMAGE_FRAMES
    assert (walk.n_frames, walk.decoded, walk.repeats) == (MAX_IMAGE_FRAMES + 8, MAX_IMAGE_FRAMES, 0)

    r = scanner.scan_file(path)
    assert r.status == "no_face"
    assert f"{MAX_IMAGE_FRAMES} frames examined: the first {MAX_IMAGE_FRAMES} of {MAX_IMAGE_FRAMES + 8}" in r.message
    assert len(r.frames) == MAX_IMAGE_FRAMES


def test_a_frame_repeating_an_earlier_one_is_skipped(tmp_path):
    a, b = _distinct_frames(2)
    path = tmp_path / "abab.gif"
    a.save(path, save_all=True, append_images=[b, a, b], duration=[100, 110, 120, 130])
    walk = FrameWalk()
    assert [d.frame for d in iter_image_frames(path, walk=walk)] == [0, 1]
    assert (walk.n_frames, walk.decoded, walk.repeats) == (4, 4, 2)


def test_a_page_over_the_pixel_bound_is_skipped_with_a_note(tmp_path):
    path = tmp_path / "pages.tif"
    small, big = Image.new("RGB", (40, 40), (10, 20, 30)), Image.new("RGB", (200, 200), (200, 20, 30))
    small.save(path, save_all=True, append_images=[big, Image.new("RGB", (40, 40), (90, 90, 90))])
    walk = FrameWalk()
    got = [d.frame for d in iter_image_frames(path, max_pixels=10_000, over="raise the setting", walk=walk)]
    assert got == [0, 2]
    assert walk.unit == "page" and len(walk.notes) == 1
    assert walk.notes[0].startswith("page 2 skipped: image is 200x200") and "raise the setting" in walk.notes[0]


def test_a_damaged_later_frame_keeps_the_earlier_ones(scanner, face_second, tmp_path):
    data = face_second["gif"].read_bytes()
    path = tmp_path / "cut.gif"
    path.write_bytes(data[: len(data) - len(data) // 4])  # the second frame cut short
    r = scanner.scan_file(path)
    assert r.status == "no_face" and len(r.frames) == 1  # the face was in the part cut off
    assert "no face in 1 frame examined" in r.message
    assert "decoding stopped at frame 2 of 2" in r.message and "only frame 1 examined" in r.message


# --- elapsed time: the file's own, not its wait in the look-ahead queue ----------------------------


def test_queue_wait_is_not_counted_in_elapsed_time(scanner, examples, monkeypatch):
    """A file read ahead while an earlier one takes long reports its own read and analysis time only."""
    slow = 3.0
    original = scanner._scan_image

    def scan_image(decoded, base, t0, faces=None):
        if base["path"].endswith("astronaut.jpg"):
            time.sleep(slow)
        return original(decoded, base, t0, faces)

    monkeypatch.setattr(scanner, "_scan_image", scan_image)
    files = [examples / n for n in ("astronaut.jpg", "two_faces.png", "coffee_no_face.jpg", "astronaut_clip.mp4")]
    results = list(scanner.scan(files))
    assert results[0].elapsed_s >= slow
    for r in results[1:]:  # read ahead during the slow file, then waited for it
        assert r.elapsed_s < slow, (r.path, r.elapsed_s)
