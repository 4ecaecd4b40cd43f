"""Image metadata: EXIF, XMP, IPTC and PNG text chunks.

Reports camera make/model, software, dates and GPS, and flags software names of editors and
AI generators, IPTC Digital Source Type codes that declare AI generation, and dates that
contradict each other. Metadata is a claim written by software: it is easy to edit, forge or
strip, so a flag is a lead and an absence is normal (messengers, social networks, screenshots).
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import Iterator

from ..errors import UnreadableMedia
from ..media import open_image_header
from .base import Analysis, Evidence, ForensicResult, raised_flags
from .patterns import AI_GENERATORS, AI_SOURCE_TYPES, EDITORS, Match, digital_source_types, find_tools

__all__ = ["MetadataAnalysis", "read_xmp", "parse_exif_datetime", "ORIENTATIONS"]

_IFD0 = {
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x0132: "DateTime",
    0x010E: "ImageDescription",
    0x013B: "Artist",
    0x8298: "Copyright",
    0x000B: "ProcessingSoftware",
    0x9C9C: "XPComment",
}
_EXIF = {
    0x9003: "DateTimeOriginal",
    0x9004: "DateTimeDigitized",
    0x9010: "OffsetTime",
    0x9011: "OffsetTimeOriginal",
    0x9286: "UserComment",
    0xA433: "LensMake",
    0xA434: "LensModel",
    0xA431: "BodySerialNumber",
}
_IPTC = {
    (2, 5): "ObjectName",
    (2, 25): "Keywords",
    (2, 55): "DateCreated",
    (2, 65): "OriginatingProgram",
    (2, 70): "ProgramVersion",
    (2, 80): "Byline",
    (2, 105): "Headline",
    (2, 115): "Source",
    (2, 120): "Caption",
}
_XMP_FIELDS = (
    "xmp:CreatorTool",
    "tiff:Software",
    "stEvt:softwareAgent",
    "xmp:CreateDate",
    "xmp:ModifyDate",
    "photoshop:DateCreated",
    "dc:description",
    "exif:DateTimeOriginal",
)
_SOFTWARE_FIELDS = frozenset(
    {
        "EXIF Software",
        "EXIF ProcessingSoftware",
        "XMP xmp:CreatorTool",
        "XMP tiff:Software",
        "XMP stEvt:softwareAgent",
        "IPTC OriginatingProgram",
        "PNG Software",
    }
)
_SCAN_LIMIT = 32 * 1024 * 1024  # bytes of the file searched for XMP packets
_TEXT_LIMIT = 200_000  # characters kept of one value
_XMP_LIMIT = 4 * _TEXT_LIMIT  # characters of XMP kept in all
_MAX_VALUES = 1000  # values kept of one XMP property
_MAX_OTHER_TAGS = 200  # names of tags outside the lists above reported, at most
# TIFF keeps its picture structure in the same IFD as EXIF tags: these describe the pixels, not the picture's
# history, and alone do not make an EXIF block.
_TIFF_STRUCTURE = frozenset(
    {
        0x00FE, 0x00FF, 0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0107, 0x0108, 0x0109, 0x010A, 0x0111, 0x0115,
        0x0116, 0x0117, 0x0118, 0x0119, 0x011A, 0x011B, 0x011C, 0x0122, 0x0123, 0x0128, 0x0129, 0x013D, 0x013E,
        0x013F, 0x0140, 0x0142, 0x0143, 0x0144, 0x0145, 0x014A, 0x0152, 0x0153, 0x0154, 0x0155, 0x015B, 0x0200,
        0x0201, 0x0202, 0x0211, 0x0212, 0x0213, 0x0214, 0x828D, 0x828E,
    }
)  # fmt: skip
_IFD_POINTERS = frozenset({0x8769, 0x8825, 0xA005, 0x014A})  # Exif, GPS, Interoperability, SubIFDs
_ORIENTATION = 0x0112
# EXIF Orientation: how a viewer turns the stored picture to display it (the scan applies it too).
ORIENTATIONS = {
    1: "normal (stored upright)",
    2: "mirror horizontal",
    3: "rotate 180",
    4: "mirror vertical",
    5: "mirror horizontal and rotate 270 CW",
    6: "rotate 90 CW",
    7: "mirror horizontal and rotate 90 CW",
    8: "rotate 270 CW",
}
_SLACK = timedelta(seconds=60)
_TZ_SLACK = timedelta(hours=14)  # EXIF times are local and usually carry no zone


def _text(value) -> str:
    if isinstance(value, tuple) and all(isinstance(v, int) and 0 <= v < 256 for v in value):
        value = bytes(value)  # BYTE-typed tags such as XPComment
    if isinstance(value, bytes):
        if value[:8] in (b"ASCII\x00\x00\x00", b"UNICODE\x00", b"\x00" * 8):  # EXIF UserComment header
            enc = "utf-16" if value[:8] == b"UNICODE\x00" else "latin-1"
            value = value[8:].decode(enc, errors="replace")
        elif value[1:2] == b"\x00":  # XP* tags are UTF-16LE
            value = value.decode("utf-16-le", errors="replace")
        else:
            value = value.decode("utf-8", errors="replace")
    return str(value).replace("\x00", "").strip()[:_TEXT_LIMIT]


def _packets(data: bytes) -> Iterator[bytes]:
    """``<x:xmpmeta ...</x:xmpmeta>`` packets in ``data``, each found by one forward search (linear)."""
    pos = 0
    while True:
        start = data.find(b"<x:xmpmeta", pos)
        if start < 0:
            return
        end = data.find(b"</x:xmpmeta>", start)
        if end < 0:
            return  # no later start can close either
        pos = end + len(b"</x:xmpmeta>")
        yield data[start:pos]


def read_xmp(path, pil_info: dict | None = None) -> str:
    """All XMP packets in the file (raw byte scan plus what PIL decoded), as text.

    Reads at most ``_SCAN_LIMIT`` bytes, keeps at most ``_XMP_LIMIT`` characters and works in
    time linear in what it reads, so a crafted packet cannot stall the analysis.
    """
    packets: list[str] = []
    seen: set[str] = set()
    total = 0

    def add(text: str) -> bool:
        nonlocal total
        if text and text not in seen:
            seen.add(text)
            packets.append(text)
            total += len(text) + 1
        return total < _XMP_LIMIT

    for key in ("xmp", "XML:com.adobe.xmp"):
        v = (pil_info or {}).get(key)
        if v:
            add(_text(v))
    if total < _XMP_LIMIT:
        with open(path, "rb") as fh:
            data = fh.read(_SCAN_LIMIT)
        for raw in _packets(data):
            if not add(raw[:_XMP_LIMIT].decode("utf-8", errors="replace")):
                break
    return "\n".join(packets)[:_XMP_LIMIT]


def _elements(xmp: str, tag: str) -> Iterator[str]:
    """Inner text of each ``<tag ...>...</tag>`` (first closing tag wins), in one linear pass."""
    opening = re.compile(rf"<{re.escape(tag)}(?:\s[^<>]*)?>")
    closing = f"</{tag}>"
    pos = 0
    for _ in range(_MAX_VALUES):
        m = opening.search(xmp, pos)
        if m is None:
            return
        end = xmp.find(closing, m.end())
        if end < 0:
            return  # no later element can close either
        yield xmp[m.end() : end]
        pos = end + len(closing)


def _xmp_values(xmp: str, qname: str) -> list[str]:
    """Values of an XMP property written as an attribute or an element (``rdf:li`` items, or its text)."""
    vals = re.findall(rf'{re.escape(qname)}\s*=\s*"([^"]*)"', xmp)[:_MAX_VALUES]
    for inner in _elements(xmp, qname):
        items = list(_elements(inner, "rdf:li"))
        vals.extend(items or [re.sub(r"<[^<>]*>", " ", inner)])
    return list(dict.fromkeys(html.unescape(v).strip()[:_TEXT_LIMIT] for v in vals if v.strip()))


def parse_exif_datetime(value: str | None) -> datetime | None:
    """'YYYY:MM:DD HH:MM:SS' (or ISO 8601 from XMP) to a naive datetime; None if absent or zeroed."""
    if not value:
        return None
    s = value.strip()
    for fmt, n in (("%Y:%m:%d %H:%M:%S", 19), ("%Y-%m-%dT%H:%M:%S", 19), ("%Y-%m-%d", 10)):
        try:
            return datetime.strptime(s[:n], fmt)
        except ValueError:
            continue
    return None


def _gps(gps: dict) -> dict | None:
    def deg(v, ref) -> float | None:
        try:
            d = float(v[0]) + float(v[1]) / 60 + float(v[2]) / 3600
        except (TypeError, ValueError, IndexError, ZeroDivisionError):
            return None
        return -d if str(ref).upper() in ("S", "W") else d

    if not gps or 2 not in gps or 4 not in gps:
        return None
    lat, lon = deg(gps[2], gps.get(1, "N")), deg(gps[4], gps.get(3, "E"))
    if lat is None or lon is None:
        return None
    out: dict[str, float | None] = {"latitude": round(lat, 6), "longitude": round(lon, 6)}
    try:
        out["altitude_m"] = round(float(gps[6]), 1) if 6 in gps else None
    except (TypeError, ValueError, ZeroDivisionError):
        out["altitude_m"] = None
    return out


def _exif_tags(exif, sub: dict, gps_ifd: dict, tiff: bool) -> list[tuple[str, int, str]]:
    """Every tag of the EXIF block as (IFD, tag id, name): IFD0 (less a TIFF's picture structure), the Exif and
    GPS sub-IFDs; the pointers to sub-IFDs are left out (their tags are listed instead)."""
    from PIL import ExifTags

    out: list[tuple[str, int, str]] = []
    for tag in exif:
        if tag in _IFD_POINTERS or (tiff and tag in _TIFF_STRUCTURE):
            continue
        out.append(("IFD0", int(tag), ExifTags.TAGS.get(tag, f"0x{tag:04X}")))
    out += [("Exif", int(t), ExifTags.TAGS.get(t, f"0x{t:04X}")) for t in sub if t != 0xA005]
    out += [("GPS", int(t), ExifTags.GPSTAGS.get(t, f"0x{t:04X}")) for t in gps_ifd]
    return out


def _orientation(exif) -> dict | None:
    """The EXIF Orientation tag, its value and what it asks a viewer to do; None when absent."""
    if _ORIENTATION not in exif:
        return None
    raw = exif[_ORIENTATION]
    try:
        value = int(raw[0] if isinstance(raw, tuple) else raw)
    except (TypeError, ValueError, IndexError):
        return {"value": _text(raw)[:100], "meaning": "not a valid orientation value"}
    return {"value": value, "meaning": ORIENTATIONS.get(value, "not a valid orientation value (1-8)")}


def _dedupe(matches: list) -> list:
    """Drop whole-packet XMP matches for tools already found in a named field."""
    named = {m.tool for m in matches if m.field != "XMP packet"}
    return [m for m in matches if m.field != "XMP packet" or m.tool not in named]


def _date_checks(dates: dict[str, str], mtime: float) -> tuple[list[str], bool]:
    original = parse_exif_datetime(dates.get("DateTimeOriginal"))
    digitized = parse_exif_datetime(dates.get("DateTimeDigitized"))
    modified = parse_exif_datetime(dates.get("DateTime"))
    problems: list[str] = []
    after_capture = False
    if original and modified:
        if modified < original - _SLACK:
            problems.append("DateTime (last change) is earlier than DateTimeOriginal (capture)")
        elif modified > original + _SLACK:
            after_capture = True
    if original and digitized and abs(original - digitized) > _SLACK:
        problems.append("DateTimeOriginal and DateTimeDigitized differ (normal only for scans of older pictures)")
    if original and original > datetime.now() + timedelta(days=1):
        problems.append("DateTimeOriginal lies in the future")
    if original and original > datetime.fromtimestamp(mtime) + _TZ_SLACK:
        problems.append("DateTimeOriginal is later than the file's modification time on disk")
    return problems, after_capture


def _where(matches: list[Match]) -> str:
    """The first four matches as "tool in field", for the summary."""
    return "; ".join(f"{x.tool} in {x.field}" for x in matches[:4])


class MetadataAnalysis(Analysis):
    name = "metadata"
    order = 10
    description = "EXIF/XMP/IPTC/PNG text: camera, software, dates, GPS, editor and AI-generator tags"
    applies_to = frozenset({"image"})

    def analyse(self, evidence: Evidence) -> ForensicResult:
        from PIL import IptcImagePlugin

        if evidence.format == "TIFF":
            evidence.frame_read = True  # a TIFF keeps its tags (EXIF, XMP, IPTC) per page: these are the first's
        try:
            with open_image_header(evidence.path) as img:
                exif = img.getexif()
                ifd0 = {name: _text(exif[tag]) for tag, name in _IFD0.items() if tag in exif}
                sub = exif.get_ifd(0x8769)
                exif_ifd = {name: _text(sub[tag]) for tag, name in _EXIF.items() if tag in sub}
                gps_ifd = exif.get_ifd(0x8825)
                gps = _gps(gps_ifd)
                tags = _exif_tags(exif, sub, gps_ifd, evidence.format == "TIFF")
                orientation = _orientation(exif)
                exif_block = bool(img.info.get("exif"))  # JPEG APP1, PNG eXIf, WebP EXIF chunk (TIFF: its IFD)
                png_text = {k: _text(v) for k, v in getattr(img, "text", {}).items()}
                if "comment" in img.info:
                    png_text.setdefault("comment", _text(img.info["comment"]))
                iptc_raw = IptcImagePlugin.getiptcinfo(img) if evidence.format in ("JPEG", "TIFF") else None
                info = dict(img.info)
        except (OSError, SyntaxError, ValueError) as exc:
            raise UnreadableMedia(f"metadata could not be read: {exc}") from exc
        iptc = {}
        for key, name in _IPTC.items():
            v = (iptc_raw or {}).get(key)
            if v is not None:
                iptc[name] = "; ".join(_text(x) for x in v) if isinstance(v, list) else _text(v)
        xmp = read_xmp(evidence.path, info)
        xmp_fields = {q: _xmp_values(xmp, q) for q in _XMP_FIELDS}
        xmp_fields = {k: v for k, v in xmp_fields.items() if v}

        fields: dict[str, str] = {f"EXIF {k}": v for k, v in {**ifd0, **exif_ifd}.items()}
        fields.update({f"IPTC {k}": v for k, v in iptc.items()})
        fields.update({f"XMP {k}": " | ".join(v) for k, v in xmp_fields.items()})
        fields.update({f"PNG {k}": v for k, v in png_text.items()})
        scan = dict(fields)
        if xmp:
            scan["XMP packet"] = xmp
        ai = _dedupe(find_tools(scan, AI_GENERATORS, _SOFTWARE_FIELDS))
        editors = _dedupe(find_tools(scan, EDITORS, _SOFTWARE_FIELDS))
        source_types = digital_source_types(xmp + "\n" + "\n".join(png_text.values()))
        dates = {k: v for k, v in {**ifd0, **exif_ifd}.items() if k.startswith(("DateTime", "OffsetTime"))}
        problems, after_capture = _date_checks(dates, evidence.path.stat().st_mtime)

        has_exif = bool(exif_block or tags)
        known = {("IFD0", t) for t in _IFD0} | {("Exif", t) for t in _EXIF}
        other_tags = [f"{name} ({ifd} 0x{tag:04X})" for ifd, tag, name in tags if (ifd, tag) not in known]
        if orientation is not None:
            fields["EXIF Orientation"] = f"{orientation['value']} ({orientation['meaning']})"
        has_any = bool(has_exif or gps or iptc or xmp or png_text)
        flags = raised_flags(
            {
                "editing_software": editors,
                "ai_generator_tag": ai,
                "ai_digital_source_type": AI_SOURCE_TYPES.intersection(source_types),
                "date_inconsistency": problems,
                "modified_after_capture": after_capture,
                "gps_present": gps,
                "no_metadata": not has_any,
            }
        )

        metrics = {
            "make": ifd0.get("Make"),
            "model": ifd0.get("Model"),
            "software": ifd0.get("Software"),
            "dates": dates,
            "gps": gps,
            "has_exif": has_exif,
            "exif_tag_count": len(tags),
            "exif_other_tags": other_tags[:_MAX_OTHER_TAGS],
            "orientation": orientation,
            "has_xmp": bool(xmp),
            "has_iptc": bool(iptc),
            "png_text_keys": sorted(png_text),
            "fields": fields,
            "xmp": xmp_fields,
            "digital_source_types": source_types,
            "ai_generator_matches": [m.to_dict() for m in ai],
            "editing_software_matches": [m.to_dict() for m in editors],
            "date_problems": problems,
        }
        for field_name, value in list(fields.items()):  # metrics["fields"] is this same dict
            fields[field_name] = value if len(value) <= 2000 else value[:2000] + " [...]"
        return ForensicResult(
            self.name,
            "ok",
            self._summary(metrics, ai, editors, source_types, problems, after_capture, has_any),
            metrics=metrics,
            flags=flags,
        )

    @staticmethod
    def _summary(m: dict, ai, editors, source_types, problems, after_capture, has_any) -> str:
        notes: list[str] = []
        if not has_any:
            notes.append(
                "The file carries no EXIF, XMP, IPTC or text metadata. That is normal for images "
                "from messengers, social networks, screenshots and many generators, and proves "
                "nothing either way."
            )
        else:
            make, model = m["make"] or "", m["model"] or ""
            camera = model if make and model.lower().startswith(make.lower()) else f"{make} {model}".strip()
            notes.append(f"Camera: {camera}." if camera else "No camera make/model recorded.")
            if m["software"]:
                notes.append(f"Software tag: {m['software']!r}.")
            if m["has_exif"]:
                n = m["exif_tag_count"]
                notes.append(
                    f"EXIF block with {n} tag(s)." if n else "An EXIF block is present but no tag in it could be read."
                )
            if m["orientation"]:
                o = m["orientation"]
                applied = " (applied when the picture is scanned)" if o["value"] in range(2, 9) else ""
                notes.append(f"EXIF Orientation {o['value']}: {o['meaning']}{applied}.")
        if ai:
            notes.append(f"AI-generator names appear in the metadata: {_where(ai)}.")
        if source_types:
            notes.append("IPTC Digital Source Type declared: " + ", ".join(source_types) + ".")
        if editors:
            notes.append(
                f"Editing software named: {_where(editors)}. "
                "Editors and raw converters are also used for routine, honest adjustments."
            )
        if after_capture:
            notes.append(
                "DateTime is later than DateTimeOriginal: the file was written again after capture "
                "(typical of editing or export)."
            )
        if problems:
            notes.append("Date inconsistencies: " + "; ".join(problems) + ".")
        if m["gps"]:
            notes.append(f"GPS position recorded: {m['gps']['latitude']}, {m['gps']['longitude']}.")
        if has_any:
            notes.append(
                "Metadata is written by software and is easy to edit, forge or strip: treat every "
                "entry as a claim to corroborate, and its absence as uninformative."
            )
        return " ".join(notes)
