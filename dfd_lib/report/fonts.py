"""The report fonts and glyph-safe text: nothing the fonts cannot draw is lost.

The base fonts are DejaVu (bundled with matplotlib: Latin, Greek, Cyrillic and symbols). Names, notes and file
names in India's scripts (Devanagari, Bengali, Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam) and
in Arabic script (Urdu) are drawn with the Noto Sans fonts of the machine where they are installed (Debian:
``fonts-noto-core``; or a folder named in ``DFD_REPORT_FONT_DIRS``), shaped by HarfBuzz (``uharfbuzz``) so that
conjuncts and vowel signs join as they should. Where neither is available, such characters are spelled as
``<U+0928>``: never dropped, never a box.
"""

from __future__ import annotations

import functools
import os
import unicodedata
from pathlib import Path

from ..env import REPORT_FONT_DIRS_ENV

__all__ = [
    "font_files",
    "script_fonts",
    "covered_codepoints",
    "glyph_safe",
    "needs_script_fonts",
    "FONT_DIRS_ENV",
    "SCRIPT_FAMILIES",
]

FONT_DIRS_ENV = REPORT_FONT_DIRS_ENV  # folders (os.pathsep-separated) searched first for the script fonts
_SYSTEM_FONT_DIRS = ("/usr/share/fonts/truetype/noto", "/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto")
SCRIPT_FAMILIES = (
    "NotoSansDevanagari",  # Hindi, Marathi, Nepali, Sanskrit
    "NotoSansBengali",  # Bengali, Assamese
    "NotoSansGurmukhi",  # Punjabi
    "NotoSansGujarati",
    "NotoSansOriya",
    "NotoSansTamil",
    "NotoSansTelugu",
    "NotoSansKannada",
    "NotoSansMalayalam",
    "NotoSansArabic",  # Urdu, Kashmiri
)


@functools.lru_cache(maxsize=1)
def font_files() -> dict[str, Path]:
    """DejaVu Sans (regular, bold, oblique) and DejaVu Sans Mono from matplotlib's bundled fonts."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return {
        "": folder / "DejaVuSans.ttf",
        "B": folder / "DejaVuSans-Bold.ttf",
        "I": folder / "DejaVuSans-Oblique.ttf",
        "mono": folder / "DejaVuSansMono.ttf",
    }


def _shaping_available() -> bool:
    try:
        import uharfbuzz  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def script_fonts() -> dict[str, dict[str, Path]]:
    """The script fonts found, ``{family: {"": regular, "B": bold}}`` (bold where installed); none without
    HarfBuzz, since these scripts drawn unshaped would be misspelled, not merely plain."""
    if not _shaping_available():
        return {}
    dirs = [Path(d) for d in os.environ.get(FONT_DIRS_ENV, "").split(os.pathsep) if d] + [
        Path(d) for d in _SYSTEM_FONT_DIRS
    ]
    found: dict[str, dict[str, Path]] = {}
    for family in SCRIPT_FAMILIES:
        for folder in dirs:
            regular = folder / f"{family}-Regular.ttf"
            if regular.is_file():
                bold = folder / f"{family}-Bold.ttf"
                found[family] = {"": regular, **({"B": bold} if bold.is_file() else {})}
                break
    return found


def _cmap(path: Path) -> set[int]:
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True) as font:
        return set(font.getBestCmap())


@functools.lru_cache(maxsize=1)
def _base_codepoints() -> frozenset[int]:
    return frozenset(set.intersection(*(_cmap(p) for p in font_files().values())))


@functools.lru_cache(maxsize=1)
def covered_codepoints() -> frozenset[int]:
    """Code points the report can draw: those in every base font, and those of the script fonts found (drawn in
    that font whatever the style asked for)."""
    extra: set[int] = set()
    for styles in script_fonts().values():
        extra |= {c for c in _cmap(styles[""]) if c > 0x7F}  # their Latin digits and marks stay DejaVu's
    return _base_codepoints() | frozenset(extra)


def needs_script_fonts(text: str) -> bool:
    """Whether ``text`` holds a character only the script fonts draw (a document without one is drawn without
    them and without shaping: five times faster)."""
    base, covered = _base_codepoints(), covered_codepoints()
    return any(ord(ch) > 0x7F and ord(ch) not in base and ord(ch) in covered for ch in set(text))


def glyph_safe(text: object) -> str:
    """``text`` with characters the fonts cannot draw written as ``<U+0928>`` (nothing silently lost)."""
    s = unicodedata.normalize("NFC", "" if text is None else str(text))
    ok = covered_codepoints()
    out = []
    for ch in s:
        if ch in "\n\t":
            out.append(" " if ch == "\t" else ch)
        elif ord(ch) in ok and (unicodedata.category(ch)[0] != "C" or ch in _JOINERS):
            out.append(ch)
        else:
            out.append(f"<U+{ord(ch):04X}>")
    return "".join(out)


_JOINERS = "\u200c\u200d"  # zero-width non-joiner and joiner: they choose a conjunct's form in Indic scripts
