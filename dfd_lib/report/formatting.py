"""How values are written in reports and bundles: verdict and status words, one-line-safe text, times, scores, sizes."""

from __future__ import annotations

import unicodedata

from ..case import format_ist
from ..case.clock import parse_utc

__all__ = ["one_line", "flowing", "fmt_utc", "fmt_both", "fmt_score", "fmt_size", "VERDICT_WORDS", "STATUS_WORDS"]

VERDICT_WORDS = {
    "fake": "fake",
    "likely_fake": "likely fake",
    "inconclusive": "inconclusive",
    "likely_real": "likely real",
    "real": "real",
    "not_relevant": "not relevant",
}
STATUS_WORDS = {
    "scored": "scored",
    "no_face": "no face found",
    "unreadable": "unreadable",
    "unsupported": "unsupported format",
    "too_large": "too large",
    "error": "analysis error",
    "pending": "not analysed yet",
    "empty": "empty file",
}


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: object) -> str:
    """``text`` made safe for one line of a plain-text document.

    Line breaks of every kind (``\\n``, ``\\r``, U+0085, U+2028/9, vertical tab, form feed...)
    and other control characters are written as visible escapes (``\\n``, ``\\x0b``,
    ``\\u2028``), so a file name or a source description cannot start a line of its own (a
    forged ``SHA-256:`` line in a hash report) and nothing is silently dropped.
    """
    s = "" if text is None else str(text)
    if s.isprintable():
        return s
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def flowing(text: object) -> str:
    """Free text (a narrative) as one paragraph to wrap: its line breaks become spaces, other controls escaped."""
    return one_line(" ".join(("" if text is None else str(text)).splitlines()))


def fmt_utc(stamp: str | None) -> str:
    """``2025-11-25 08:21:03 UTC``; a stored value that is not a time stamp is shown as it is, marked."""
    if not stamp:
        return ""
    try:
        return parse_utc(stamp).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError):
        return f"{str(stamp)[:40]} (not a valid time)"


def fmt_both(stamp: str | None) -> str:
    """``2025-11-25 08:21:03 UTC (25-11-2025 13:51:03 IST)``."""
    if not stamp:
        return ""
    utc = fmt_utc(stamp)
    return utc if utc.endswith("(not a valid time)") else f"{utc} ({format_ist(stamp)})"


def fmt_score(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def fmt_size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, div in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"
