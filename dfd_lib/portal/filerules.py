"""Upload rules of a portal: which file formats it takes, how large, and what to convert to.

Rules come from the portal profile and may be overridden by a ``file_rules`` block in the
user's fields YAML (the override is stored with the case's portal fields).

``max_file_mb`` is in decimal megabytes (1 MB = 1,000,000 bytes), the stricter reading of a
portal's "10 MB"; every size printed in MB next to a limit uses the same unit (:func:`format_mb`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping

from .errors import PortalError

__all__ = ["FileRules", "format_of_mime", "format_mb", "KNOWN_FORMATS", "MB"]

MB = 1_000_000  # bytes in the megabyte of max_file_mb and of every size printed in MB

_MIME_FORMATS = {
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "image/webp": "webp",
    "image/heif": "heif",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/x-msvideo": "avi",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/mp2t": "ts",
    "video/mpeg": "mpg",
    "video/x-ms-asf": "wmv",
    "video/x-flv": "flv",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "application/zip": "zip",
}
KNOWN_FORMATS = tuple(sorted(set(_MIME_FORMATS.values())))
_ALIASES = {"jpg": "jpeg", "tif": "tiff", "text": "txt"}
_CONVERT_TARGETS = ("jpeg", "png")


def format_mb(size: int, limit_mb: float | None = None) -> str:
    """``size`` bytes in (decimal) MB, e.g. ``'10.5 MB'``; next to ``limit_mb``, with enough decimals that a
    size over the limit never reads as equal to it (``'10.0001 MB'``, not ``'10.0 MB'``, over 10 MB)."""
    value = size / MB
    decimals = 1
    while limit_mb is not None and value > limit_mb and round(value, decimals) <= limit_mb and decimals < 6:
        decimals += 1
    return f"{value:.{decimals}f} MB"


def format_of_mime(mime: str | None) -> str:
    """Short format name of a sniffed MIME type (``image/jpeg`` -> ``jpeg``); ``unknown`` otherwise."""
    return _MIME_FORMATS.get((mime or "").lower(), "unknown")


@dataclass(frozen=True)
class FileRules:
    allowed_formats: tuple[str, ...] = ()  # empty: every format is accepted
    max_file_mb: float | None = None  # None: no size limit; decimal megabytes (MB bytes each)
    convert_images_to: str | None = None  # "jpeg" or "png": how an image outside the rules is converted
    jpeg_quality: int = 90
    assumption: str = ""

    @property
    def max_file_bytes(self) -> int | None:
        return None if self.max_file_mb is None else round(self.max_file_mb * MB)

    def allows_format(self, fmt: str) -> bool:
        return not self.allowed_formats or fmt in self.allowed_formats

    def allows_size(self, size: int) -> bool:
        limit = self.max_file_bytes
        return limit is None or size <= limit

    def describe(self) -> str:
        formats = ", ".join(f.upper() for f in self.allowed_formats) or "any format"
        size = "no size limit" if self.max_file_mb is None else f"at most {self.max_file_mb:g} MB per file"
        conv = f"; other images converted to {self.convert_images_to.upper()}" if self.convert_images_to else ""
        return f"{formats}, {size}{conv}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["allowed_formats"] = list(self.allowed_formats)
        return d

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "file_rules") -> "FileRules":
        return cls().merged(data, source)

    def merged(self, override: Mapping[str, Any] | None, source: str = "file_rules") -> "FileRules":
        """These rules with the keys of ``override`` replaced; every bad key or value is reported at once."""
        if not override:
            return self
        if not isinstance(override, Mapping):
            raise PortalError(f"{source} must be a mapping of {', '.join(self.__dataclass_fields__)}")
        problems: list[str] = []
        changes: dict[str, Any] = {}
        for key, value in override.items():
            if key not in self.__dataclass_fields__:
                problems.append(f"unknown key {key!r} (known: {', '.join(self.__dataclass_fields__)})")
            elif key == "allowed_formats":
                items = [value] if isinstance(value, str) else list(value or [])
                names = tuple(
                    dict.fromkeys(_ALIASES.get(str(v).lower().lstrip("."), str(v).lower().lstrip(".")) for v in items)
                )
                bad = [n for n in names if n not in KNOWN_FORMATS]
                if bad:
                    problems.append(
                        f"allowed_formats: unknown format(s) {', '.join(bad)} (known: {', '.join(KNOWN_FORMATS)})"
                    )
                changes[key] = names
            elif key == "max_file_mb":
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                    problems.append(f"max_file_mb must be a positive number of megabytes or null, not {value!r}")
                else:
                    changes[key] = None if value is None else float(value)
            elif key == "convert_images_to":
                target = None if value in (None, "", False) else _ALIASES.get(str(value).lower(), str(value).lower())
                if target is not None and target not in _CONVERT_TARGETS:
                    problems.append(f"convert_images_to must be one of {', '.join(_CONVERT_TARGETS)} or null")
                changes[key] = target
            elif key == "jpeg_quality":
                if isinstance(value, bool) or not isinstance(value, int) or not 30 <= value <= 100:
                    problems.append(f"jpeg_quality must be a whole number from 30 to 100, not {value!r}")
                else:
                    changes[key] = value
            else:
                changes[key] = " ".join(str(value or "").split())
        if problems:
            raise PortalError(f"{source}: " + "; ".join(problems))
        return replace(self, **changes)
