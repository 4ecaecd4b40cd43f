"""The report fonts (DejaVu, bundled with matplotlib) and glyph-safe text: nothing the font cannot draw is lost."""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

__all__ = ["font_files", "covered_codepoints", "glyph_safe"]


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


@functools.lru_cache(maxsize=1)
def covered_codepoints() -> frozenset[int]:
    """Code points present in every one of the report fonts."""
    from fontTools.ttLib import TTFont

    sets = []
    for path in font_files().values():
        with TTFont(str(path), lazy=True) as font:
            sets.append(set(font.getBestCmap()))
    return frozenset(set.intersection(*sets))


def glyph_safe(text: object) -> str:
    """``text`` with characters the font cannot draw written as ``<U+0928>`` (nothing silently lost)."""
    s = unicodedata.normalize("NFC", "" if text is None else str(text))
    ok = covered_codepoints()
    out = []
    for ch in s:
        if ch in "\n\t":
            out.append(" " if ch == "\t" else ch)
        elif ord(ch) in ok and unicodedata.category(ch)[0] != "C":
            out.append(ch)
        else:
            out.append(f"<U+{ord(ch):04X}>")
    return "".join(out)
