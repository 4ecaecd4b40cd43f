"""What goes into a bundle's ``evidence/`` folder: originals, converted copies, or nothing (with the reason).

Sensitive items are always withheld (hash, description and URL only). An item the portal's file
rules accept is included as acquired. An image outside the rules is converted (to JPEG by
default, downscaled until it fits the size limit) and both hashes are recorded; anything else
outside the rules, such as a video over the size limit, is listed as not included.

A stored copy is only ever shipped (as acquired or converted) if it still hashes to the SHA-256
recorded at intake: one flagged altered or missing by the verification run for the export, or
whose content no longer matches when it is read here, is listed as not included with the reason.
A converted copy is made from exactly the bytes that were hashed. A copy included as acquired is
hashed here unless that verification has just checked it; the zip writer checks it once more
while streaming it into the bundle.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from ..case import ItemDetail
from ..case.files import EVIDENCE_DIR
from ..media import MediaLimits, image_frame_count
from ..portal.filerules import FileRules, format_mb, format_of_mime
from .zipout import safe_component

if TYPE_CHECKING:
    from ..case.verify import VerificationReport

__all__ = ["EvidenceEntry", "plan_evidence", "convert_image", "stored_copy_problems", "EXTENSIONS"]

log = logging.getLogger(__name__)

EXTENSIONS = {
    "jpeg": ".jpg",
    "png": ".png",
    "gif": ".gif",
    "bmp": ".bmp",
    "tiff": ".tif",
    "webp": ".webp",
    "mp4": ".mp4",
    "mov": ".mov",
    "avi": ".avi",
    "webm": ".webm",
    "mkv": ".mkv",
    "ts": ".ts",
    "mpg": ".mpg",
    "wmv": ".wmv",
    "flv": ".flv",
    "pdf": ".pdf",
    "txt": ".txt",
}
_MIN_SIDE = 320
_CHUNK = 1 << 20
MISSING_REASON = "the stored copy is missing from the case (run dfd verify)"


@dataclass(frozen=True)
class EvidenceEntry:
    item: ItemDetail
    action: str  # "original" | "converted" | "withheld" | "not_included"
    reason: str = ""
    arcname: str | None = None
    data: bytes | None = None  # converted bytes
    sha256: str = ""  # of the file in the bundle
    md5: str = ""
    sha1: str = ""
    size: int = 0

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(sorted({s.url for s in self.item.sources if s.url}))


def _arcname(item: ItemDetail, fmt: str) -> str:
    stem = safe_component(Path(item.name).stem, fallback="item")
    ext = EXTENSIONS.get(fmt) or ("." + safe_component(Path(item.name).suffix.lstrip("."), "bin", 8))
    return f"evidence/{item.item_id:03d}_{stem}{ext}"


def convert_image(
    path: Path | io.BytesIO, target: str, quality: int, max_bytes: int | None, limits: MediaLimits = MediaLimits()
) -> tuple[bytes, str]:
    """Re-encode an image (a file, or its bytes in a BytesIO) as ``target`` ('jpeg' or 'png'), downscaling until it
    fits ``max_bytes``.

    Returns the bytes and a note of what was done; raises ValueError (with the reason) if it cannot.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    img: Image.Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > limits.max_image_pixels:
                    raise ValueError(
                        f"{img.width}x{img.height} pixels is over the {limits.max_image_pixels:,}-pixel "
                        "limit for conversion"
                    )
                img.load()
                img = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, EOFError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ValueError(f"the image could not be decoded for conversion: {exc}") from exc
    img = img.convert("RGB") if target == "jpeg" or img.mode not in ("RGB", "RGBA", "L", "LA") else img
    w0, h0 = img.size
    current = img
    for _ in range(12):
        buf = io.BytesIO()
        if target == "jpeg":
            current.save(buf, format="JPEG", quality=quality, optimize=True)
        else:
            current.save(buf, format="PNG", optimize=True)
        data = buf.getvalue()
        if max_bytes is None or len(data) <= max_bytes:
            note = f"re-encoded as {target.upper()}" + (f" (quality {quality})" if target == "jpeg" else "")
            if current.size != (w0, h0):
                note += f", downscaled from {w0}x{h0} to {current.width}x{current.height} to fit the size limit"
            return data, note + "; metadata (EXIF) is not carried over"
        scale = max(0.5, min(0.9, math.sqrt(max_bytes / len(data)) * 0.95))
        size = (max(1, int(current.width * scale)), max(1, int(current.height * scale)))
        if max(size) < _MIN_SIDE:
            break
        current = img.resize(size, Image.Resampling.LANCZOS)
    raise ValueError(f"could not fit under {max_bytes:,} bytes without shrinking the longer side below {_MIN_SIDE} px")


def _hashes(data: bytes) -> dict[str, str]:
    return {k: hashlib.new(k, data).hexdigest() for k in ("sha256", "md5", "sha1")}


def _altered_reason(now_sha256: str) -> str:
    return (
        f"the stored copy no longer matches the SHA-256 recorded at intake (now {now_sha256}): altered after intake; "
        "not exported (run dfd verify)"
    )


def stored_copy_problems(verification: "VerificationReport") -> dict[str, str | None]:
    """Stored evidence files a verification found altered or missing: ``{stored file name: SHA-256 now found}``
    (``None``: missing)."""
    prefix = f"{EVIDENCE_DIR}/"
    found: dict[str, str | None] = {}
    for issue in verification.altered:
        if issue.target.startswith(prefix):
            found[issue.target[len(prefix) :]] = issue.actual or "unknown"
    for issue in verification.removed:
        if issue.target.startswith(prefix):
            found[issue.target[len(prefix) :]] = None
    return found


def _stream_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read_checked(item: ItemDetail) -> bytes | EvidenceEntry:
    """The stored copy's bytes, read once, if they still hash to the intake SHA-256; else the not-included entry."""
    try:
        data = item.evidence_path.read_bytes()
    except FileNotFoundError:
        return EvidenceEntry(item, "not_included", MISSING_REASON)
    except OSError as exc:
        return EvidenceEntry(item, "not_included", f"the stored copy could not be read: {exc.strerror or exc}")
    now = hashlib.sha256(data).hexdigest()
    if now != item.sha256:
        return EvidenceEntry(item, "not_included", _altered_reason(now))
    return data


def _plan_one(item: ItemDetail, rules: FileRules, problems: Mapping[str, str | None] | None = None) -> EvidenceEntry:
    if item.sensitive:
        return EvidenceEntry(item, "withheld", "flagged sensitive: described by hash, description and URL only")
    stored = item.evidence_path.name
    if problems is not None and stored in problems:  # the verification for this export found it altered/missing
        now = problems[stored]
        return EvidenceEntry(item, "not_included", MISSING_REASON if now is None else _altered_reason(now))
    if not item.evidence_path.is_file():
        return EvidenceEntry(item, "not_included", MISSING_REASON)
    fmt = format_of_mime(item.mime)
    if item.size == 0:
        return EvidenceEntry(item, "not_included", "empty file (0 bytes)")
    if rules.allows_format(fmt) and rules.allows_size(item.size):
        if problems is None:  # not verified just now: hash it here (the zip writer checks it again while writing)
            try:
                now = _stream_sha256(item.evidence_path)
            except OSError as exc:
                return EvidenceEntry(item, "not_included", f"the stored copy could not be read: {exc.strerror or exc}")
            if now != item.sha256:
                return EvidenceEntry(item, "not_included", _altered_reason(now))
        return EvidenceEntry(
            item, "original", "", _arcname(item, fmt), None, item.sha256, item.md5, item.sha1, item.size
        )
    why = (
        f"{fmt.upper()} is not an accepted format"
        if not rules.allows_format(fmt)
        else f"{format_mb(item.size, rules.max_file_mb)} is over the {rules.max_file_mb:g} MB limit"
    )
    target = rules.convert_images_to
    frames = image_frame_count(item.evidence_path) if item.media_kind == "image" else 1
    if frames > 1:  # converting keeps one picture: the other frames (which the scan examined) would be lost
        return EvidenceEntry(
            item,
            "not_included",
            f"{why}; it holds {frames} frames or pages and is not converted (a converted copy would keep only the "
            "first): produce the original on request",
        )
    if item.media_kind == "image" and target and rules.allows_format(target):
        # convert exactly the bytes that were checked against the intake hash (always, verified or not:
        # the converted copy is attributed to the intake hash in the manifest and the s.63 draft)
        original = _read_checked(item)
        if isinstance(original, EvidenceEntry):
            return original
        try:
            data, note = convert_image(io.BytesIO(original), target, rules.jpeg_quality, rules.max_file_bytes)
        except ValueError as exc:
            return EvidenceEntry(item, "not_included", f"{why}; conversion failed: {exc}")
        h = _hashes(data)
        return EvidenceEntry(
            item,
            "converted",
            f"{why}; {note}",
            _arcname(item, target),
            data,
            h["sha256"],
            h["md5"],
            h["sha1"],
            len(data),
        )
    if item.media_kind == "video":
        why += "; the video is not re-encoded (that would alter the evidence): produce the original on request"
    return EvidenceEntry(item, "not_included", why)


def plan_evidence(
    items: tuple[ItemDetail, ...], rules: FileRules, verification: "VerificationReport | None" = None
) -> list[EvidenceEntry]:
    """One entry per item, in item order.

    ``verification``: the verification just run for this export, if any. Stored copies it found altered or missing
    are not included (without hashing them again), and copies it checked are not hashed again before being included
    as acquired (the zip writer checks them while writing). Without it every copy is hashed here first. A copy to be
    converted is always read and checked here.
    """
    problems = None if verification is None else stored_copy_problems(verification)
    entries = []
    for item in items:
        entry = _plan_one(item, rules, problems)
        log.debug("item %s: %s %s", item.item_id, entry.action, entry.reason)
        entries.append(entry)
    return entries
