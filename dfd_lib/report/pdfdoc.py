"""The PDF page frame and drawing primitives: Unicode fonts, running footer, headings, key-value blocks.

Every string drawn goes through :func:`dfd_lib.report.fonts.glyph_safe`, so a file name in any
script is drawn (or spelled as ``<U+XXXX>``), never a crash or a silently dropped character.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Sequence, cast

from fpdf import FPDF
from fpdf.enums import AccessPermission, EncryptionMethod, XPos, YPos

from .fonts import font_files, glyph_safe, script_fonts

__all__ = ["ReportPDF", "SANS", "MONO", "INK", "MUTED", "ACCENT", "RED"]

SANS, MONO = "dvsans", "dvmono"
INK, MUTED, ACCENT, RED = (20, 20, 20), (110, 110, 110), (31, 78, 121), (176, 0, 0)
_READ_ONLY = (
    AccessPermission.PRINT_LOW_RES
    | AccessPermission.PRINT_HIGH_RES
    | AccessPermission.COPY
    | AccessPermission.COPY_FOR_ACCESSIBILITY
)


class ReportPDF(FPDF):
    """A4 portrait, 15 mm margins, page footer 'case id - page n of N'."""

    def __init__(self, case_id: str, footer_note: str, created: datetime, scripts: bool = True) -> None:
        """``scripts``: load the script fonts and shaping (India's scripts, Arabic) if installed; a report without
        such text is drawn faster without them (see :func:`dfd_lib.report.fonts.needs_script_fonts`)."""
        super().__init__(orientation="P", unit="mm", format="A4")
        self.case_id = case_id
        self.footer_note = footer_note
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=17)
        files = font_files()
        for style in ("", "B", "I"):
            self.add_font(SANS, style, str(files[style]))
        self.add_font(MONO, "", str(files["mono"]))
        extra = script_fonts() if scripts else {}  # India's scripts and Arabic, where installed (fonts.py)
        for family, styles in extra.items():
            for style, path in styles.items():
                self.add_font(family, style, str(path))
        if extra:
            self.set_fallback_fonts(list(extra), exact_match=False)
            self.set_text_shaping(True, direction="ltr")  # an English report: Arabic runs inside it go right to left
        self.set_creation_date(created)
        self.set_font(SANS, size=9)
        self.set_text_color(*INK)

    # -- frame --------------------------------------------------------------------------------
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(SANS, size=7)
        self.set_text_color(*MUTED)
        self.set_draw_color(200, 200, 200)
        self.line(self.l_margin, self.get_y() - 1, self.w - self.r_margin, self.get_y() - 1)
        room = self.epw_mm - 24
        text = glyph_safe(f"Case {self.case_id}  |  {self.footer_note}")
        while self.get_string_width(text) > room and len(text) > 12:
            text = text[:-4] + "..."
        self.cell(room, 4, text, align="L")
        self.set_x(self.l_margin + room)
        self.cell(24, 4, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(*INK)

    def lock(self, owner_password: str) -> None:
        """Mark the file read-only for conforming readers (print and copy allowed; no edits or annotations)."""
        self.set_encryption(
            owner_password=owner_password, encryption_method=EncryptionMethod.NO_ENCRYPTION, permissions=_READ_ONLY
        )

    def render(self) -> bytes:
        return bytes(self.output())

    # -- primitives ---------------------------------------------------------------------------
    @property
    def epw_mm(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def space_left(self) -> float:
        return self.h - self.b_margin - self.get_y()

    def ensure_space(self, height: float) -> None:
        if self.space_left() < height:
            self.add_page()

    def h1(self, text: str, min_space: float = 30) -> None:
        self.ensure_space(min_space)
        self.ln(3)
        self.set_font(SANS, "B", 13)
        self.set_text_color(*ACCENT)
        self.multi_cell(0, 7, glyph_safe(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*ACCENT)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(2)
        self.set_text_color(*INK)
        self.set_font(SANS, size=9)

    def h2(self, text: str, min_space: float = 40) -> None:
        self.ensure_space(min_space)
        self.ln(2)
        self.set_font(SANS, "B", 10.5)
        self.multi_cell(0, 5.5, glyph_safe(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(SANS, size=9)

    def para(
        self, text: str, size: float = 9, style: str = "", color: tuple[int, int, int] = INK, line: float = 4.4
    ) -> None:
        self.set_font(SANS, style, size)
        self.set_text_color(*color)
        self.multi_cell(0, line, glyph_safe(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        self.set_text_color(*INK)
        self.set_font(SANS, size=9)

    def mono(self, text: str, size: float = 7.5, line: float = 3.6) -> None:
        self.set_font(MONO, "", size)
        self.multi_cell(0, line, glyph_safe(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(SANS, size=9)

    def bullet(self, text: str, size: float = 8.5) -> None:
        self.set_font(SANS, "", size)
        x = self.l_margin
        self.set_x(x)
        self.cell(4, 4.2, "\u2022")
        self.multi_cell(self.epw_mm - 4, 4.2, glyph_safe(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        self.set_font(SANS, size=9)

    def key_values(
        self, rows: Sequence[tuple[str, str]], key_width: float = 42, size: float = 8.5, mono_keys: Sequence[str] = ()
    ) -> None:
        """Two-column block: bold label, wrapped value (monospace for hashes)."""
        for key, value in rows:
            font = (MONO, "", size - 1) if key in mono_keys else (SANS, "", size)
            self.set_font(*font)
            # output="HEIGHT" returns the height alone; fpdf's annotation is the union of all output modes
            height = cast(
                float,
                self.multi_cell(self.epw_mm - key_width, 4.2, glyph_safe(value) or "-", dry_run=True, output="HEIGHT"),
            )
            self.set_font(SANS, "B", size)
            key_height = cast(
                float, self.multi_cell(key_width - 2, 4.2, glyph_safe(key), dry_run=True, output="HEIGHT")
            )
            height = max(height, key_height)
            self.ensure_space(height + 1)
            y = self.get_y()
            self.set_font(SANS, "B", size)
            self.set_xy(self.l_margin, y)
            self.multi_cell(key_width - 2, 4.2, glyph_safe(key))
            self.set_font(*font)
            self.set_xy(self.l_margin + key_width, y)
            self.multi_cell(
                self.epw_mm - key_width, 4.2, glyph_safe(value) or "-", new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L"
            )
            self.set_y(max(self.get_y(), y + height) + 0.6)
        self.set_font(SANS, size=9)

    def image_bytes(self, data: bytes, x: float, y: float, w: float, h: float = 0) -> None:
        self.image(io.BytesIO(data), x=x, y=y, w=w, h=h)
