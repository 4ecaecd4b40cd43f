"""Evidence media: walk, sniff the type from content, hash, open images, sample video frames.

The type of a file is decided from its first bytes, never from its extension, so a text
file named ``.jpg`` is reported as unsupported rather than mis-read. Opening never modifies
the original file.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import stat
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Generator, Iterable, Iterator, Literal, get_args

import numpy as np

from .errors import MediaError, MediaTooLarge, UnreadableMedia, UnsupportedMedia
from .frame_sampling import every_kth, per_second

__all__ = [
    "MediaKind",
    "MEDIA_KINDS",
    "MediaType",
    "MEDIA_TYPES",
    "SniffKind",
    "MediaLimits",
    "Frame",
    "sniff",
    "file_hashes",
    "sha256_file",
    "iter_evidence_files",
    "walk_evidence",
    "WalkEntry",
    "load_image",
    "decode_image",
    "DecodedImage",
    "image_frame_count",
    "iter_image_frames",
    "FrameWalk",
    "MAX_IMAGE_FRAMES",
    "MULTI_FRAME_FORMATS",
    "frame_unit",
    "iter_video_frames",
    "no_video_stream",
    "check_sampling",
    "upright",
    "planned_video_samples",
    "video_info",
    "open_image_header",
    "open_video",
]

_CHUNK = 1 << 20

MediaKind = Literal["image", "video"]  # what the tool decodes
MEDIA_KINDS: tuple[MediaKind, ...] = get_args(MediaKind)
MediaType = Literal[MediaKind, "unknown"]  # a scanned file's type (FileResult.media_type)
MEDIA_TYPES: tuple[MediaType, ...] = get_args(MediaType)
SniffKind = Literal[MediaKind, "empty", "unknown"]  # what sniff() finds in a file's first bytes


@dataclass(frozen=True)
class MediaLimits:
    """Bounds that keep a hostile or huge file from exhausting the machine."""

    max_image_pixels: int = 120_000_000  # 120 MP: larger images are refused as too_large
    max_file_bytes: int = 8 * 1024**3  # 8 GiB
    max_video_frames: int = 120  # sampled frames kept per video


@dataclass(frozen=True)
class Frame:
    """One decoded RGB frame of a video (or the single frame of an image)."""

    index: int
    time_s: float | None
    image: np.ndarray  # HxWx3 uint8 RGB


# (kind, mime, format) for recognised magic numbers.
def sniff(path: str | os.PathLike) -> tuple[SniffKind, str, str]:
    """Return ``(kind, mime, format)`` from the file's first bytes."""
    with open(path, "rb") as fh:
        start = fh.read(_SNIFF_BYTES)
    head = start[:64]
    if not head:
        return "empty", "application/x-empty", "empty"
    if head[:3] == b"\xff\xd8\xff":
        return "image", "image/jpeg", "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image", "image/png", "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "image/gif", "GIF"
    if head[:2] == b"BM":
        return "image", "image/bmp", "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image", "image/tiff", "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "image/webp", "WEBP"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", "video/x-msvideo", "AVI"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        if b"webm" in head:
            return "video", "video/webm", "WEBM"
        return "video", "video/x-matroska", "MKV"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"hevc"):
            return "unknown", "image/heif", "HEIF"
        if brand == b"qt  ":
            return "video", "video/quicktime", "MOV"
        return "video", "video/mp4", "MP4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "video", "video/quicktime", "MOV"
    # what CCTV and DVR exports, camcorders and older recorders write
    if _packets(start, 0, 188):
        return "video", "video/mp2t", "MPEG-TS"
    if _packets(start, 4, 192):  # AVCHD / Blu-ray .m2ts, .mts: each packet after a 4-byte time code
        return "video", "video/mp2t", "M2TS"
    if head[:4] == b"\x00\x00\x01\xba":
        return "video", "video/mpeg", "MPEG-PS"
    if head[:16] == _ASF_GUID:
        return "video", "video/x-ms-asf", "ASF"
    if head[:3] == b"FLV" and head[3] == 1:
        return "video", "video/x-flv", "FLV"
    return "unknown", _guess_unknown_mime(head), "unknown"


_SNIFF_BYTES = 4 * 192 + 4  # enough for four transport-stream packets of either size
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")  # ASF header object (.wmv, .asf)


def _packets(data: bytes, offset: int, size: int, count: int = 4) -> bool:
    """Whether ``data`` starts with MPEG transport-stream packets of ``size`` bytes (the sync byte 0x47 at each
    packet's ``offset``): ``count`` of them, or all of a shorter file's, at least two."""
    n = min(count, len(data) // size)
    return n >= 2 and all(data[offset + i * size] == 0x47 for i in range(n))


def _guess_unknown_mime(head: bytes) -> str:
    if head[:5] == b"%PDF-":
        return "application/pdf"
    if head[:4] == b"PK\x03\x04":
        return "application/zip"
    try:
        head.decode("utf-8")
        return "text/plain"
    except UnicodeDecodeError:
        return "application/octet-stream"


def file_hashes(
    path: str | os.PathLike, algorithms: Iterable[str] = ("sha256", "md5", "sha1"), follow_links: bool = True
) -> dict[str, str]:
    """Hash a file in one streaming pass with every named algorithm. ``follow_links=False``: a symbolic link is not
    opened (OSError ELOOP), however late it replaced the file."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | (0 if follow_links else getattr(os, "O_NOFOLLOW", 0))
    with open(os.open(path, flags), "rb") as fh:
        while chunk := fh.read(_CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {name: h.hexdigest() for name, h in hashers.items()}


def sha256_file(path: str | os.PathLike) -> str:
    return file_hashes(path, ("sha256",))["sha256"]


@dataclass(frozen=True)
class WalkEntry:
    """One path met while walking evidence: a file to take in, or why this path cannot be."""

    path: Path
    problem: str | None = None  # None: take it in (the caller still checks it exists and is readable)
    unfollowed_link: bool = False  # a symbolic link met inside a folder
    # met inside a folder (not given explicitly): it must still not be a link when it is read, since the folder may
    # have been changed between the listing and the reading (a file swapped for a link to something else)
    in_folder: bool = False


def walk_evidence(paths: Iterable[str | os.PathLike]) -> Iterator[WalkEntry]:
    """Every path under the given files and folders, in a stable order, each with a status.

    A path given explicitly is always yielded (even if it does not exist; the caller reports
    it), and followed if it is a symbolic link. Inside folders everything is yielded, hidden
    files and folders included: regular files with ``problem=None``; symbolic links (never
    followed, so a link cannot pull in files outside the tree), folders that cannot be read,
    and devices, pipes or sockets with a ``problem`` saying why they are not taken in. The
    walk uses an explicit stack (no recursion limit on depth) and enters each folder once.
    """
    entered: set[tuple[int, int]] = set()
    for raw in paths:
        p = Path(raw)
        try:
            st = os.stat(p)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                yield WalkEntry(p, "symbolic link loop: the path never reaches a file or folder")
            else:
                yield WalkEntry(p)  # missing or unreadable: the caller records why
            continue
        if not stat.S_ISDIR(st.st_mode):
            yield WalkEntry(p)
            continue
        stack = [(p, (st.st_dev, st.st_ino))]
        while stack:
            folder, key = stack.pop()
            if key in entered:
                continue  # given twice, or reached again through a bind mount
            entered.add(key)
            try:
                now = os.lstat(folder)  # a subfolder swapped for a link since it was listed is not entered
                if (now.st_dev, now.st_ino) != key or not stat.S_ISDIR(now.st_mode):
                    yield WalkEntry(
                        folder, "changed into a symbolic link or another folder while being read; not entered"
                    )
                    continue
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                yield WalkEntry(folder, f"folder cannot be read: {exc.strerror or exc}")
                continue
            subfolders = []
            for e in entries:
                path = Path(e.path)
                try:
                    if e.is_symlink():
                        yield WalkEntry(
                            path,
                            f"symbolic link (to {os.readlink(e.path)}) inside a folder is not "
                            "followed; give its target explicitly to take it in",
                            True,
                        )
                    elif e.is_dir(follow_symlinks=False):
                        est = e.stat(follow_symlinks=False)
                        subfolders.append((path, (est.st_dev, est.st_ino)))
                    elif e.is_file(follow_symlinks=False):
                        yield WalkEntry(path, in_folder=True)
                    else:
                        yield WalkEntry(path, "not a regular file (a device, pipe or socket)")
                except OSError as exc:
                    yield WalkEntry(path, f"cannot be examined: {exc.strerror or exc}")
            stack.extend(reversed(subfolders))  # depth first, in name order


def iter_evidence_files(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Yield every path to report on under the given files and folders, in a stable order.

    Hidden files and folders are included. Symbolic links inside folders are not followed
    (so a link cannot pull in files outside the tree) and are left out here; folders that
    cannot be read and non-regular files are yielded, so the caller reports each one (see
    :func:`walk_evidence` for the reason of each). A path given explicitly is always yielded.
    """
    for entry in walk_evidence(paths):
        if not entry.unfollowed_link:
            yield entry.path


_SCALE_ROWS = 256  # rows converted at a time: a 100-megapixel float image needs tens of MB extra, not GBs


def _bands(img) -> Iterator[tuple[int, np.ndarray]]:
    """The image's pixels as arrays of at most ``_SCALE_ROWS`` rows (never the whole image copied at once)."""
    w, h = img.size
    for top in range(0, h, _SCALE_ROWS):
        yield top, np.asarray(img.crop((0, top, w, min(h, top + _SCALE_ROWS))))


def _wide_to_uint8(img, sixteen_bit: bool) -> np.ndarray:
    """A 16-bit, 32-bit integer or float greyscale PIL image scaled to an HxWx3 uint8 array (grey in all three
    channels; min..max, or 0..65535 for 16-bit data above 255), a band of rows at a time in float32; NaN becomes
    0 and infinities are left out of the range (then shown as 0 or 255)."""
    lo = hi = None
    for _, band in _bands(img):
        if band.dtype.kind == "f":
            band = band[np.isfinite(band)]
        if band.size:
            b_lo, b_hi = float(band.min()), float(band.max())
            lo = b_lo if lo is None else min(lo, b_lo)
            hi = b_hi if hi is None else max(hi, b_hi)
    if sixteen_bit:
        lo, hi = 0.0, (65535.0 if hi is not None and hi > 255 else 255.0)
    out = np.zeros((img.size[1], img.size[0], 3), np.uint8)
    if lo is None or hi is None or hi <= lo:  # lo and hi are None together
        if img.mode == "F":
            for top, band in _bands(img):
                out[top : top + band.shape[0]][np.isposinf(band)] = 255
        return out
    factor = 255.0 / (hi - lo)
    for top, band in _bands(img):
        band = band.astype(np.float32)
        band -= lo
        band *= factor
        np.nan_to_num(band, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
        np.clip(band, 0, 255, out=band)
        out[top : top + band.shape[0]] = band[:, :, None]
    return out


def _band_to_rgb(band):
    """One band of rows (a PIL image) in any 8-bit mode as RGB; transparency over white."""
    from PIL import Image

    if band.mode == "P":
        band = band.convert("RGBA")
    if band.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = band.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return band if band.mode == "RGB" else band.convert("RGB")


def _to_rgb(img) -> np.ndarray:
    """Convert any PIL mode (greyscale, alpha, palette, CMYK, 16-bit, float) to RGB uint8.

    The result is filled a band of rows at a time: ``img.convert("RGB")`` of the whole picture and then
    ``np.asarray`` (which goes through ``tobytes()``, building the bytes in pieces and then joining them) held
    about three more full-size RGB copies at once: over 1 GB extra for a 100-megapixel greyscale PNG.
    """
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):  # greyscale: the scaled grey in all three channels
        return _wide_to_uint8(img, mode.startswith("I;16"))
    w, h = img.size
    out = np.empty((h, w, 3), np.uint8)
    for top in range(0, h, _SCALE_ROWS):
        band = _band_to_rgb(img.crop((0, top, w, min(h, top + _SCALE_ROWS))))
        out[top : top + band.size[1]] = np.asarray(band, dtype=np.uint8).reshape(band.size[1], w, 3)
    return out


_HEADER_LOCK = threading.Lock()


@contextmanager
def open_image_header(path: str | os.PathLike):
    """PIL ``Image.open`` without PIL's own decompression-bomb refusal.

    Opening reads only the header; callers that go on to decode pixels must check the size
    against :class:`MediaLimits` first (``load_image`` does), which gives a clearer message.
    """
    import warnings

    from PIL import Image

    # PIL's limit and the warnings filters are process-wide: one thread at a time changes and restores them
    # (the scan reads the next file in a background thread).
    with _HEADER_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            img = Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    with img:
        yield img


def load_image(path: str | os.PathLike, limits: MediaLimits = MediaLimits()) -> np.ndarray:
    """Open an image file as an HxWx3 RGB uint8 array, EXIF orientation applied.

    Raises UnreadableMedia (corrupt, truncated), UnsupportedMedia (not an image PIL can decode)
    or MediaTooLarge (more pixels than ``limits.max_image_pixels``); the size check happens
    before any pixel is decoded.
    """
    return decode_image(path, limits).pixels


@dataclass(frozen=True)
class DecodedImage:
    """A decoded picture: its pixels and how they relate to the picture as stored."""

    pixels: np.ndarray  # HxWx3 uint8 RGB, EXIF orientation applied
    full_size: tuple[int, int]  # (width, height) of the stored picture, orientation applied
    scale: float = 1.0  # the pixels' side / the stored picture's side (1/2, 1/4, 1/8 when reduced to fit)
    frame: int = 0  # which frame (animated GIF, PNG, WebP) or page (TIFF) of the file, 0 the first


_JPEG_REDUCTIONS = (2, 4, 8)  # the scales libjpeg decodes to without building the full picture
_ORIENTATION_TAG = 0x0112


def decode_image(
    path: str | os.PathLike, limits: MediaLimits = MediaLimits(), max_pixels: int | None = None, over: str = ""
) -> DecodedImage:
    """``load_image`` with a bound on the decoded pixels: at most ``max_pixels`` (and ``limits.max_image_pixels``).

    A JPEG over the bound is decoded at 1/2, 1/4 or 1/8 of its size (PIL draft mode: libjpeg's
    DCT scaling, the full-size picture is never built) when that fits; any other picture over it
    raises MediaTooLarge, whose message ends with ``over`` when the bound was ``max_pixels``.
    """
    from PIL import Image, ImageOps

    cap = limits.max_image_pixels if max_pixels is None else min(limits.max_image_pixels, int(max_pixels))
    try:
        with open_image_header(path) as img:
            w, h = img.size
            k = 1
            if w * h > cap:
                k = next((r for r in _JPEG_REDUCTIONS if img.format == "JPEG" and w * h / r**2 <= cap), 0)
                if not k:
                    raise MediaTooLarge(_too_large_message(w, h, limits, cap, over))
                img.draft("RGB", (math.ceil(w / k), math.ceil(h / k)))
                if img.size[0] * img.size[1] > cap:  # draft may choose a larger scale than asked for
                    raise MediaTooLarge(_too_large_message(w, h, limits, cap, over))
            swapped = img.getexif().get(_ORIENTATION_TAG) in (5, 6, 7, 8)
            img.seek(0)  # GIF/TIFF: first frame (iter_image_frames gives the others)
            img.load()
            ImageOps.exif_transpose(img, in_place=True)  # (a copy of the whole image otherwise)
            return DecodedImage(_to_rgb(img), (h, w) if swapped else (w, h), 1.0 / k)
    except (MediaTooLarge, UnsupportedMedia):
        raise
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, Image.DecompressionBombError) as exc:
        raise _decode_error(exc) from exc  # UnidentifiedImageError is an OSError


def _decode_error(exc: Exception) -> MediaError:
    """The MediaError for an exception PIL raised while decoding a picture."""
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return UnsupportedMedia(f"not an image format this tool can decode: {exc}")
    msg = str(exc)
    if isinstance(exc, OSError) and "truncated" in msg.lower():
        msg = f"file is truncated or incomplete ({msg})"
    return UnreadableMedia(f"image could not be decoded: {msg}")


MAX_IMAGE_FRAMES = 32  # distinct frames or pages of one picture file examined, at most
_MAX_FRAMES_DECODED = 2 * MAX_IMAGE_FRAMES  # frames decoded, at most, in search of distinct ones
MULTI_FRAME_FORMATS = ("GIF", "PNG", "WEBP", "TIFF")  # animated GIF, PNG (APNG) and WebP; multi-page TIFF


def frame_unit(fmt: str) -> str:
    """What the pictures of a file of format ``fmt`` are called: "page" (TIFF) or "frame" (animated GIF, PNG, WebP)."""
    return "page" if fmt == "TIFF" else "frame"


def _frame_count(img) -> int:
    """Frames or pages of an open picture (1 for formats whose further pictures are not frames: an MPO JPEG's
    second picture is a preview, a depth or a gain map, not another photograph)."""
    if img.format not in MULTI_FRAME_FORMATS:
        return 1
    try:
        return max(1, int(getattr(img, "n_frames", 1)))
    except (OSError, ValueError, SyntaxError, EOFError, TypeError, struct.error):
        return 1  # decoding the first frame reports what is wrong


def image_frame_count(path: str | os.PathLike) -> int:
    """How many frames (animated GIF, PNG, WebP) or pages (TIFF) the picture file holds; 1 for a still picture,
    and for a file whose header cannot be read (decoding reports the problem)."""
    try:
        with open_image_header(path) as img:
            return _frame_count(img)
    except Exception:  # noqa: BLE001 - decode_image reports the real problem
        return 1


@dataclass
class FrameWalk:
    """What ``iter_image_frames`` went through, filled in as it goes."""

    n_frames: int = 1  # frames or pages in the file
    unit: str = "frame"  # what the file holds: "frame" (animated GIF, PNG, WebP) or "page" (TIFF)
    decoded: int = 0  # frames decoded (the first ``decoded`` of ``n_frames``)
    repeats: int = 0  # decoded frames skipped as identical to an earlier one
    notes: list[str] = field(default_factory=list)  # frames skipped (too large) or where decoding stopped


def iter_image_frames(
    path: str | os.PathLike,
    limits: MediaLimits = MediaLimits(),
    max_pixels: int | None = None,
    over: str = "",
    walk: FrameWalk | None = None,
    max_frames: int = MAX_IMAGE_FRAMES,
) -> Generator[DecodedImage, None, None]:
    """The distinct frames (animated GIF, PNG, WebP) or pages (TIFF) of a picture, in order, one at a time.

    At most ``max_frames`` are yielded, found among at most twice that many decoded; a frame identical to
    an earlier one is skipped. Each is decoded within the bounds of :func:`decode_image` (which gives the first
    frame exactly as it does); a frame or page over them is skipped with a note in ``walk.notes``, and so is
    the rest of the file when a later frame cannot be decoded. The first frame's problems raise as in
    ``decode_image``. Only one frame's pixels are held at a time (besides the one the caller holds).
    """
    import hashlib

    from PIL import Image, ImageOps

    walk = walk if walk is not None else FrameWalk()
    walk.n_frames = image_frame_count(path)
    if walk.n_frames == 1:
        walk.decoded = 1
        yield decode_image(path, limits, max_pixels, over)
        return
    cap = limits.max_image_pixels if max_pixels is None else min(limits.max_image_pixels, int(max_pixels))
    seen: set[bytes] = set()
    yielded = 0
    try:
        with open_image_header(path) as img:
            unit = walk.unit = frame_unit(img.format)
            for i in range(min(walk.n_frames, _MAX_FRAMES_DECODED)):
                if yielded >= max_frames:
                    break
                try:
                    img.seek(i)
                    w, h = img.size
                    walk.decoded = i + 1
                    if w * h > cap:
                        if i == 0:
                            raise MediaTooLarge(_too_large_message(w, h, limits, cap, over))
                        walk.notes.append(f"{unit} {i + 1} skipped: " + _too_large_message(w, h, limits, cap, over))
                        continue
                    img.load()
                    orientation = img.getexif().get(_ORIENTATION_TAG)
                    # decode_image turns the picture in place; a turned copy here leaves the file's next frame intact
                    pixels = _to_rgb(ImageOps.exif_transpose(img) if orientation not in (None, 1) else img)
                except MediaTooLarge:
                    raise
                except (OSError, ValueError, SyntaxError, EOFError, MemoryError, Image.DecompressionBombError) as exc:
                    if i == 0:
                        raise
                    walk.decoded = i
                    walk.notes.append(
                        f"decoding stopped at {unit} {i + 1} of {walk.n_frames} ({_decode_error(exc)}); "
                        + (f"only {unit} 1 examined" if i == 1 else f"only {unit}s 1-{i} examined")
                    )
                    return
                digest = hashlib.blake2b(pixels.data, digest_size=16).digest()
                if digest in seen:
                    walk.repeats += 1
                    continue
                seen.add(digest)
                yielded += 1
                swapped = orientation in (5, 6, 7, 8)
                yield DecodedImage(pixels, (h, w) if swapped else (w, h), 1.0, i)
                del pixels
    except (MediaTooLarge, UnsupportedMedia):
        raise
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, Image.DecompressionBombError) as exc:
        raise _decode_error(exc) from exc


def _too_large_message(w: int, h: int, limits: MediaLimits, cap: int, over: str) -> str:
    msg = f"image is {w}x{h} = {w * h / 1e6:.0f} megapixels; "
    if cap < limits.max_image_pixels and over:
        return msg + over
    return msg + f"the limit is {cap / 1e6:.0f} megapixels"


def open_video(path: str | os.PathLike):
    """``av.open`` for reading, with metadata bytes that are not UTF-8 decoded as U+FFFD.

    PyAV decodes every container and stream tag when it opens a file, strictly by default, so
    one bad byte in a title would make the whole video unreadable.
    """
    import av

    return av.open(str(path), metadata_encoding="utf-8", metadata_errors="replace")


def no_video_stream(container) -> str | None:
    """Why an opened container holds no pictures to analyse (None when it has a video stream). An audio-only file
    (an .m4a, an .mp4 voice note) is not damaged: it is refused as unsupported, with this reason."""
    if container.streams.video:
        return None
    if container.streams.audio:
        return "audio only: no video stream to analyse"
    return "no video stream to analyse (the container holds no audio or video stream)"


def check_sampling(fps: float | None, every: int | None) -> None:
    """Refuse a frame sampling that cannot be carried out (ValueError with the reason)."""
    if every is not None:
        if every < 1:
            raise ValueError(f"every must be a whole number >= 1, not {every}")
    elif fps is None or not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"frames per second must be a finite number > 0, not {fps}")


def upright(rgb: np.ndarray, rotation: float | int | None) -> np.ndarray:
    """A decoded frame turned as its display matrix says (``rotation``: degrees counter-clockwise, as FFmpeg and
    PyAV give it; phones store portrait video as landscape frames with -90 or 90 here)."""
    k = int(round((rotation or 0) / 90)) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def _decode_stopped(container, stream, yielded: int, last_t: float | None, exc: Exception) -> str:
    span = _declared_span(container, stream)
    start = span[0] if span else 0.0
    at = f"{last_t - start:.1f} s" if last_t is not None else f"{yielded} sampled frame(s)"
    of = f" of the {span[1]:.1f} s the container declares" if span else ""
    return (
        f"decoding stopped after {at}{of}: the rest of the file is damaged or truncated and was not analysed "
        f"({type(exc).__name__}: {str(exc)[:160]})"
    )


def _declared_span(container, stream) -> tuple[float, float] | None:
    """(start, duration) in seconds of the video stream as its container declares them, or None where it does
    not say (a container duration is used only when the video is its one stream: audio may run longer)."""
    tb = float(stream.time_base) if stream.time_base else 0.0
    start = stream.start_time * tb if stream.start_time is not None and tb > 0 else 0.0
    if stream.duration is not None and tb > 0:
        return start, float(stream.duration * tb)
    if container.duration is not None and len(container.streams) == 1:
        return start, container.duration / 1_000_000
    return None


def _frames_end_early(container, stream, last_t: float | None, step_s: float) -> str:
    """A sentence when the decodable frames end well before the declared duration (a file cut short), else ""."""
    span = _declared_span(container, stream)
    if span is None or last_t is None:
        return ""
    start, duration = span
    covered = last_t - start
    if duration - covered <= step_s + 1.0:  # the last sample is at most one step (and a second) before the end
        return ""
    return (
        f"no frame could be sampled after {covered:.1f} s of the {duration:.1f} s the container declares: the rest "
        "of the file is missing or damaged and was not analysed"
    )


def _first_frame_rotation(container, stream) -> int:
    """The display rotation (degrees counter-clockwise) of the first decodable frame; 0 if none decodes."""
    try:
        for frame in container.decode(stream):
            return int(round(frame.rotation or 0))
    except Exception:  # a damaged first frame: the size as stored is all there is
        return 0
    return 0


def video_info(path: str | os.PathLike) -> dict:
    """Container-level facts about a video: duration, frame rate, size as displayed (``rotation``: the display
    rotation, degrees counter-clockwise; ``stored_width`` / ``stored_height``: the frames as coded), codec,
    frame count."""
    try:
        with open_video(path) as container:
            missing = no_video_stream(container)
            if missing:
                raise UnsupportedMedia(missing)
            s = container.streams.video[0]
            rate = s.average_rate or s.guessed_rate
            duration = None
            if s.duration is not None and s.time_base is not None:
                duration = float(s.duration * s.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            w, h = s.codec_context.width, s.codec_context.height
            rotation = _first_frame_rotation(container, s)
            turned = (rotation // 90) % 2 == 1
            return {
                "codec": s.codec_context.name,
                "width": h if turned else w,
                "height": w if turned else h,
                "stored_width": w,
                "stored_height": h,
                "rotation": rotation,
                "fps": float(rate) if rate else None,
                "frames": int(s.frames) if s.frames else None,
                "duration_s": duration,
                "container": container.format.name,
            }
    except UnsupportedMedia:
        raise
    except Exception as exc:  # av raises many distinct error classes
        raise UnreadableMedia(f"video could not be opened: {exc}") from exc


def planned_video_samples(
    info: dict, fps: float | None = 1.0, every: int | None = None, limits: MediaLimits = MediaLimits()
) -> int:
    """An upper bound on the frames ``iter_video_frames`` will yield for a video with these ``video_info`` facts.

    From the container's declared duration (or frame count) with a frame to spare, never above
    ``limits.max_video_frames``; the limit itself where the container declares neither.
    """
    cap = limits.max_video_frames
    duration, frames, rate = info.get("duration_s"), info.get("frames"), info.get("fps")
    if every is not None:
        if not frames and duration and rate:
            frames = math.ceil(duration * rate) + 1
        return min(cap, math.ceil(frames / every) + 1) if frames else cap
    if fps and duration is not None and duration >= 0:
        return min(cap, math.floor(duration * fps) + 2)
    return cap


def iter_video_frames(
    path: str | os.PathLike,
    fps: float | None = 1.0,
    every: int | None = None,
    limits: MediaLimits = MediaLimits(),
    over: str = "",
    notes: list[str] | None = None,
) -> Iterator[Frame]:
    """Decode a video and yield sampled RGB frames, turned upright as the file says it is displayed.

    Sampling: ``every=k`` keeps every k-th decoded frame; otherwise ``fps=f`` keeps about f
    frames per second of video time (the first frame at or after each 1/f step; only the frames
    these need are decoded, see ``frame_sampling``). At most ``limits.max_video_frames`` frames
    are yielded. Raises UnreadableMedia if nothing decodes, and MediaTooLarge for frames over
    ``limits.max_image_pixels`` (its message ends with ``over`` where given). Where decoding fails
    after some frames (a truncated or damaged file), the frames so far are kept and a sentence
    saying where decoding stopped is appended to ``notes``: the caller must report it.
    """
    check_sampling(fps, every)
    yielded = 0
    last_t: float | None = None
    try:
        container = open_video(path)
    except Exception as exc:
        raise UnreadableMedia(f"video could not be opened: {exc}") from exc
    try:
        missing = no_video_stream(container)
        if missing:
            raise UnsupportedMedia(missing)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        if every is not None:
            sampled = every_kth(container, stream, every, rate)
        elif fps is not None:
            sampled = per_second(container, stream, fps, rate)
        else:  # refused above
            raise ValueError("give every=k or fps>0")
        for i, t, frame in sampled:
            w, h = frame.width, frame.height
            if w * h > limits.max_image_pixels:
                why = over or f"the limit is {limits.max_image_pixels / 1e6:.0f} megapixels"
                raise MediaTooLarge(f"video frames are {w}x{h} = {w * h / 1e6:.0f} megapixels; {why}")
            yield Frame(index=i, time_s=t, image=upright(frame.to_ndarray(format="rgb24"), frame.rotation))
            yielded += 1
            last_t = t
            if yielded >= limits.max_video_frames:
                break
        else:
            step = every / float(rate) if every else 1.0 / float(fps or 1.0)  # fps is set when every is not
            short = _frames_end_early(container, stream, last_t, step)
            if short and notes is not None:
                notes.append(short)
    except (UnsupportedMedia, MediaTooLarge):
        raise
    except Exception as exc:
        if yielded == 0:
            raise UnreadableMedia(f"video could not be decoded: {exc}") from exc
        # A damaged tail after good frames: keep what decoded and say where it stopped.
        if notes is not None:
            notes.append(_decode_stopped(container, stream, yielded, last_t, exc))
        return
    finally:
        container.close()
    if yielded == 0:
        raise UnreadableMedia("video contains no decodable frames")
