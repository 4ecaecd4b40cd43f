"""JPEG structure: quantization tables, estimated quality, double compression, EXIF thumbnail.

* Quality is estimated by matching the file's quantization tables against the IJG (libjpeg)
  tables scaled for quality 1..100; cameras and many editors use their own tables, which is
  reported as "non-standard".
* Double compression: the 8x8 DCT of the decoded luma, divided by the file's quantization step,
  gives (almost exactly) the stored coefficients. After a single compression their histograms
  fall off smoothly away from zero; a previous compression with coarser steps leaves periodic
  gaps and bumps (Popescu & Farid 2004; Lukas & Fridrich 2003). Not detected: a second save
  with the same or coarser steps, or one made after cropping moved the 8x8 grid.
* The EXIF thumbnail is compared with the main image reduced to the same size; editors that
  change the picture but keep the camera's thumbnail leave a mismatch.
"""

from __future__ import annotations

import io
import struct
import warnings
from typing import cast

import numpy as np

from ..errors import MediaTooLarge, UnreadableMedia
from .base import Analysis, Evidence, ForensicResult

__all__ = ["JpegAnalysis", "estimate_quality", "double_compression_stats", "exif_thumbnail", "IJG_LUMA", "IJG_CHROMA"]

IJG_LUMA = np.array(
    [
        16,
        11,
        10,
        16,
        24,
        40,
        51,
        61,
        12,
        12,
        14,
        19,
        26,
        58,
        60,
        55,
        14,
        13,
        16,
        24,
        40,
        57,
        69,
        56,
        14,
        17,
        22,
        29,
        51,
        87,
        80,
        62,
        18,
        22,
        37,
        56,
        68,
        109,
        103,
        77,
        24,
        35,
        55,
        64,
        81,
        104,
        113,
        92,
        49,
        64,
        78,
        87,
        103,
        121,
        120,
        101,
        72,
        92,
        95,
        98,
        112,
        100,
        103,
        99,
    ]
)
IJG_CHROMA = np.full(64, 99)
IJG_CHROMA[[0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 24, 25]] = [17, 18, 24, 47, 18, 21, 26, 66, 24, 26, 56, 47, 66]

# Low-frequency AC positions (row, col) in zig-zag order: they hold enough coefficients to count.
_POSITIONS = [
    (0, 1),
    (1, 0),
    (2, 0),
    (1, 1),
    (0, 2),
    (0, 3),
    (1, 2),
    (2, 1),
    (3, 0),
    (4, 0),
    (3, 1),
    (2, 2),
    (1, 3),
    (0, 4),
]
_MAX_BLOCKS = 60_000
_HIST_MAX = 16
_SAMPLING = {-1: "unknown", 0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}
_THUMB_MAD_LIMIT = 12.0  # mean absolute difference (0..255) above which the thumbnail does not match
_ASPECT_LIMIT = 0.05


def _ijg_table(base: np.ndarray, quality: int) -> np.ndarray:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * scale + 50) // 100, 1, 255)


def estimate_quality(tables: dict[int, list[int]]) -> tuple[int, float, bool]:
    """(closest IJG quality, mean absolute table difference, exact match) for PIL quantization tables."""
    luma = np.asarray(tables[0])
    chroma = np.asarray(tables[1]) if 1 in tables else None
    best = (0, float("inf"))
    for q in range(1, 101):
        err = np.abs(luma - _ijg_table(IJG_LUMA, q)).sum()
        n = 64
        if chroma is not None:
            err += np.abs(chroma - _ijg_table(IJG_CHROMA, q)).sum()
            n = 128
        if err / n < best[1]:
            best = (q, float(err / n))
    return best[0], round(best[1], 3), best[1] == 0.0


def double_compression_stats(luma: np.ndarray, table: list[int]) -> dict:
    """Count non-monotone steps ("rises") in the folded coefficient histograms of low frequencies."""
    from scipy.fft import dctn

    h, w = luma.shape
    nby, nbx = h // 8, w // 8
    step = int(np.ceil(np.sqrt(nby * nbx / _MAX_BLOCKS))) if nby * nbx > _MAX_BLOCKS else 1
    blocks = luma[: nby * 8, : nbx * 8].reshape(nby, 8, nbx, 8).transpose(0, 2, 1, 3)[::step, ::step]
    coef = dctn(blocks.reshape(-1, 8, 8).astype(np.float32) - 128.0, axes=(1, 2), norm="ortho")
    qt = np.asarray(table).reshape(8, 8)
    tested = with_rises = rises = comparisons = 0
    for u, v in _POSITIONS:
        q = int(qt[u, v])
        if q < 2:
            continue
        k = np.abs(np.rint(coef[:, u, v] / q).astype(np.int64))
        hist = np.bincount(k[(k > 0) & (k <= _HIST_MAX)], minlength=_HIST_MAX + 1)[1:]
        r = c = 0
        for a, b in zip(hist[:-1], hist[1:]):
            if a + b < 20:
                continue
            c += 1
            r += int(b - a > 2.0 * np.sqrt(a + b))  # a clear increase away from zero
        tested += 1
        rises += r
        comparisons += c
        with_rises += int(r > 0)
    frac = rises / comparisons if comparisons else 0.0
    return {
        "blocks_used": int(coef.shape[0]),
        "frequencies_tested": tested,
        "frequencies_with_periodic_artifacts": with_rises,
        "histogram_rise_fraction": round(frac, 4),
        "detected": with_rises >= 4 and frac >= 0.1,
    }


def exif_thumbnail(exif: bytes | None) -> bytes | None:
    """The JPEG thumbnail stored in EXIF IFD1, or None (never raises on malformed EXIF)."""
    if not exif:
        return None
    raw = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
    e = {b"II": "<", b"MM": ">"}.get(raw[:2])
    if e is None:
        return None
    try:
        off = struct.unpack(e + "I", raw[4:8])[0]
        n = struct.unpack(e + "H", raw[off : off + 2])[0]
        ifd1 = struct.unpack(e + "I", raw[off + 2 + 12 * n : off + 6 + 12 * n])[0]
        if not ifd1:
            return None
        n = struct.unpack(e + "H", raw[ifd1 : ifd1 + 2])[0]
        tags = {}
        for i in range(n):
            entry = raw[ifd1 + 2 + 12 * i : ifd1 + 14 + 12 * i]
            tag, typ = struct.unpack(e + "HH", entry[:4])
            tags[tag] = struct.unpack(e + ("H" if typ == 3 else "I"), entry[8:10] if typ == 3 else entry[8:12])[0]
    except struct.error:
        return None
    start, length = tags.get(0x0201), tags.get(0x0202)
    if not start or not length or start + length > len(raw):
        return None
    data = raw[start : start + length]
    return data if data[:2] == b"\xff\xd8" else None


def _trim_letterbox(thumb: np.ndarray) -> np.ndarray:
    def keep(axis_means: np.ndarray) -> slice:
        dark = axis_means < 10
        n, a = len(dark), 0
        while a < n * 0.4 and dark[a]:
            a += 1
        b = n
        while n - b < n * 0.4 and dark[b - 1]:
            b -= 1
        return slice(a, b)

    g = thumb.mean(axis=2)
    return thumb[keep(g.mean(axis=1)), keep(g.mean(axis=0))]


def _compare_thumbnail(path, data: bytes, size: tuple[int, int]) -> dict:
    import cv2
    from PIL import Image

    with Image.open(io.BytesIO(data)) as t:
        thumb = _trim_letterbox(np.asarray(t.convert("RGB")))
    th, tw = thumb.shape[:2]
    if th < 8 or tw < 8:
        return {"thumbnail_size": [tw, th], "compared": False}
    with Image.open(path) as img:
        img.draft("RGB", (tw, th))
        main = np.asarray(img.convert("RGB"))
    small = cv2.resize(main, (tw, th), interpolation=cv2.INTER_AREA)
    mad = float(np.mean(cv2.absdiff(small, thumb)))
    aspect_main, aspect_thumb = size[0] / size[1], tw / th
    aspect_diff = abs(aspect_main / aspect_thumb - 1.0)
    return {
        "thumbnail_size": [tw, th],
        "compared": True,
        "thumbnail_mean_abs_diff": round(mad, 2),
        "thumbnail_aspect_diff": round(aspect_diff, 4),
        "mismatch": mad > _THUMB_MAD_LIMIT or aspect_diff > _ASPECT_LIMIT,
    }


class JpegAnalysis(Analysis):
    name = "jpeg"
    order = 30
    description = "JPEG structure: quantization tables, estimated quality, double compression, EXIF thumbnail"
    applies_to = frozenset({"image"})

    def analyse(self, evidence: Evidence) -> ForensicResult:
        from PIL import Image, JpegImagePlugin

        if evidence.format != "JPEG":
            return ForensicResult.not_applicable(
                self.name, f"not a JPEG file (content is {evidence.format}); JPEG structure analysis does not apply"
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(evidence.path) as img:
                    w, h = img.size
                    if w * h > evidence.limits.max_image_pixels:
                        raise MediaTooLarge(f"image is {w}x{h}, over the pixel limit")
                    tables = {k: list(v) for k, v in cast(JpegImagePlugin.JpegImageFile, img).quantization.items()}
                    sampling = _SAMPLING.get(JpegImagePlugin.get_sampling(img), "other")
                    progressive = bool(img.info.get("progressive") or img.info.get("progression"))
                    exif_raw = img.info.get("exif")
                    colour = img.mode
                    if img.mode == "RGB":
                        img.draft("YCbCr", img.size)  # decode straight to YCbCr: exact decoded luma
                    luma, decode_error = None, None
                    # The test needs the full-size luma: skipped where decoding it would break the memory setting.
                    room = evidence.memory.decode_pixels
                    over_memory = room is not None and w * h > room
                    try:
                        if not over_memory:
                            img.load()
                            luma = np.asarray(img.getchannel(0)) if img.mode in ("YCbCr", "L") else None
                    except OSError as exc:  # truncated or damaged scan data: the headers are still evidence
                        decode_error = str(exc)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise UnreadableMedia(f"JPEG could not be decoded: {exc}") from exc
        if not tables:
            raise UnreadableMedia("JPEG has no quantization tables")

        quality, table_diff, standard = estimate_quality(tables)
        metrics: dict = {
            "quantization_tables": {str(k): v for k, v in tables.items()},
            "estimated_quality": quality,
            "table_mean_abs_diff_from_ijg": table_diff,
            "standard_ijg_tables": standard,
            "subsampling": sampling,
            "progressive": progressive,
            "colour_mode": colour,
            "decode_error": decode_error,
        }
        flags: list[str] = []
        notes = [
            f"Quantization tables match the standard libjpeg tables at quality {quality}."
            if standard
            else f"Quantization tables are non-standard (closest libjpeg quality about {quality}); cameras and "
            "editors such as Photoshop use their own tables, so this identifies the encoder family at most."
        ]
        if luma is not None:
            dc = double_compression_stats(luma, tables[0])
            metrics["double_compression"] = dc
            if dc["detected"]:
                flags.append("double_jpeg")
                notes.append(
                    f"The DCT histograms show the periodic gaps or bumps of an earlier, coarser JPEG compression "
                    f"({dc['frequencies_with_periodic_artifacts']} of {dc['frequencies_tested']} frequencies): the "
                    "file was saved as JPEG at least twice. Re-saving is routine (editors, messaging apps, "
                    "social networks), so this shows processing, not that the content changed."
                )
            else:
                notes.append(
                    "No sign of double compression in the DCT histograms. A second save with the same or "
                    "coarser quantization, or after a crop that shifted the 8x8 grid, would not be detected."
                )
        elif over_memory:
            notes.append(
                f"Double compression was not tested: it needs the full-size picture ({w * h / 1e6:.0f} megapixels) "
                f"decoded, more than the memory setting allows (memory_mb={evidence.memory.memory_mb}); raise the "
                "setting (--memory-mb) to test it."
            )
        elif decode_error:
            flags.append("decode_error")
            notes.append(
                f"The image data could not be fully decoded ({decode_error}), so double compression was "
                "not tested; the header facts above still hold."
            )
        else:
            notes.append(f"Double compression was not tested ({colour} JPEG).")
        thumb = exif_thumbnail(exif_raw)
        metrics["exif_thumbnail"] = thumb is not None
        if thumb is not None:
            try:
                cmp = _compare_thumbnail(evidence.path, thumb, (w, h))
            except (OSError, SyntaxError, ValueError) as exc:
                cmp = {"compared": False, "error": f"thumbnail could not be decoded: {exc}"}
            metrics["thumbnail"] = cmp
            if cmp.get("mismatch"):
                flags.append("exif_thumbnail_mismatch")
                notes.append(
                    "The EXIF thumbnail differs from the main image (mean difference "
                    f"{cmp['thumbnail_mean_abs_diff']:.1f}/255, "
                    f"aspect difference {100 * cmp['thumbnail_aspect_diff']:.1f}%): the picture was changed after the "
                    "thumbnail was written, possibly only cropped or re-toned."
                )
            elif cmp.get("compared"):
                notes.append(
                    "The EXIF thumbnail matches the main image (editors can also regenerate "
                    "thumbnails, so a match does not prove the file is unedited)."
                )
        return ForensicResult.ok(self.name, notes, metrics, flags, analysed_size=(w, h))
