"""The per-item section of the PDF report: hashes, sources, result, review, faces, frame plot, forensic maps."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ..case import FaceDetail, ItemDetail
from .figures import display_jpeg, frame_plot_png
from .pdfdoc import MUTED, SANS, ReportPDF
from .fonts import glyph_safe
from .formatting import STATUS_WORDS, VERDICT_WORDS, fmt_score, fmt_size

__all__ = ["item_details", "ANALYSIS_TITLES"]

ANALYSIS_TITLES = {
    "ela": "Error level analysis (ELA)",
    "noise": "Noise level map",
    "spectrum": "Frequency spectrum",
    "jpeg": "JPEG structure",
    "metadata": "Metadata",
    "c2pa": "C2PA provenance",
    "video_meta": "Video container",
}


def _aspect(path: Path) -> float:
    with Image.open(path) as img:
        return img.height / max(1, img.width)


def _where(face: FaceDetail) -> str:
    if face.frame_index is None:
        index = face.subject.rsplit(":", 1)[-1]
        return f"face {int(index) + 1}" if index.isdigit() else face.subject
    t = f", {face.time_s:.1f} s" if face.time_s is not None else ""
    return f"frame {face.frame_index}{t}"


def _facts(it: ItemDetail) -> list[tuple[str, str]]:
    rows = [
        ("SHA-256", it.sha256),
        ("MD5", it.md5 or "-"),
        ("SHA-1", it.sha1 or "-"),
        ("Type and size", f"{it.mime or 'unknown'} ({it.media_kind}), {it.size:,} bytes ({fmt_size(it.size)})"),
    ]
    for s in it.sources:
        bits = [f"file '{s.file_name}'"] + [
            f"{k}: {v}"
            for k, v in (("device", s.device), ("platform", s.platform), ("URL", s.url), ("acquired by", s.acquired_by))
            if v
        ]
        rows.append(("Source", "; ".join(bits)))
    return rows


def _review(it: ItemDetail) -> str:
    if not it.analyst_verdict and not it.notes and not it.tags:
        return "not reviewed"
    text = VERDICT_WORDS.get(it.analyst_verdict or "", "no verdict")
    text += f" by {it.reviewer}" if it.reviewer else ""
    text += f" ({it.reviews} review record{'s' if it.reviews != 1 else ''})"
    if it.tags:
        text += f"; tags: {', '.join(it.tags)}"
    return text + (f"\nNotes: {it.notes}" if it.notes else "")


def _result(it: ItemDetail) -> str:
    word = STATUS_WORDS.get(it.status, it.status)
    text = (
        it.message if it.message.lower().startswith(word.lower()) else word + (f": {it.message}" if it.message else "")
    )
    if it.score is not None:
        text += (
            f"\nScore (calibrated P(fake)) {fmt_score(it.score)}; threshold {fmt_score(it.threshold)}; "
            f"model verdict: {it.verdict or '-'} (model {it.model_name or '-'})"
        )
    return text


def _faces(pdf: ReportPDF, it: ItemDetail) -> None:
    if not it.faces:
        return
    cam = next((f for f in it.faces if f.subject == it.gradcam_subject and f.gradcam), None)
    top = cam or it.faces[0]
    size = 36.0
    if top.crop is not None:
        pdf.ensure_space(size + 8)
        y, x = pdf.get_y() + 1, pdf.l_margin
        pdf.image(str(top.crop), x=x, y=y, w=size, h=size)
        if top.gradcam is not None:
            pdf.image(str(top.gradcam), x=x + size + 3, y=y, w=size, h=size)
        tx = x + (2 * size + 7 if top.gradcam is not None else size + 4)
        pdf.set_xy(tx, y)
        pdf.set_font(SANS, "B", 8.5)
        pdf.multi_cell(
            pdf.w - pdf.r_margin - tx,
            4.2,
            glyph_safe(f"Most suspicious face ({_where(top)}): P(fake) {fmt_score(top.score)}"),
        )
        pdf.set_x(tx)
        pdf.set_font(SANS, "", 8)
        pdf.multi_cell(
            pdf.w - pdf.r_margin - tx,
            3.9,
            glyph_safe(
                "Left: the face crop exactly as the model saw it. "
                + (
                    "Right: Grad-CAM overlay; warm colours mark the regions that raised the score most. It shows where the "
                    "model looked, not that those regions were edited."
                    if top.gradcam is not None
                    else "No Grad-CAM overlay is stored for this face."
                )
            ),
        )
        pdf.set_y(max(pdf.get_y(), y + size) + 2)
    others = [
        f for f in it.faces if f is not top and f.crop is not None and (it.threshold is None or f.score >= it.threshold)
    ][:8]
    if others:
        small, step = 18.0, 22.5
        pdf.ensure_space(small + 14)
        pdf.para(f"Other faces at or above the threshold ({len(others)} shown):", 8, "I", MUTED)
        y = pdf.get_y() + 0.5
        pdf.set_font(SANS, "", 6.5)
        for i, f in enumerate(others):
            x = pdf.l_margin + i * step
            pdf.image(str(f.crop), x=x, y=y, w=small, h=small)
            pdf.set_xy(x - 2, y + small + 0.3)
            pdf.multi_cell(small + 4, 2.8, glyph_safe(f"{fmt_score(f.score)}\n{_where(f)}"), align="C")
        pdf.set_font(SANS, "", 9)
        pdf.set_y(y + small + 7)


def _frames(pdf: ReportPDF, it: ItemDetail) -> None:
    if len(it.frames) < 2:
        return
    w = pdf.epw_mm
    h = w * 2.1 / 7.0
    pdf.ensure_space(h + 8)
    pdf.para("Score of each sampled frame (most suspicious face per frame):", 8, "I", MUTED)
    pdf.image_bytes(frame_plot_png(it.frames, it.threshold), x=pdf.l_margin, y=pdf.get_y(), w=w, h=h)
    pdf.set_y(pdf.get_y() + h + 1)


def _forensics(pdf: ReportPDF, it: ItemDetail) -> None:
    maps = [(f, f.map) for f in it.forensics if f.map is not None]
    w, gap = 56.0, 6.0
    for row_start in range(0, len(maps), 3):
        row = maps[row_start : row_start + 3]
        h = max(min(w * _aspect(m), 70.0) for _, m in row)
        pdf.ensure_space(h + 9)
        y = pdf.get_y() + 1
        for i, (f, m) in enumerate(row):
            x = pdf.l_margin + i * (w + gap)
            fh = min(w * _aspect(m), 70.0)
            fw = fh / _aspect(m)
            pdf.image_bytes(display_jpeg(m), x=x + (w - fw) / 2, y=y, w=fw, h=fh)
            pdf.set_xy(x, y + h + 0.5)
            pdf.set_font(SANS, "B", 7.5)
            pdf.cell(w, 3.5, ANALYSIS_TITLES.get(f.analysis, f.analysis), align="C")
        pdf.set_y(y + h + 5)
    notes = [f for f in it.forensics if f.summary and f.status != "not_applicable"]
    if notes:
        pdf.ensure_space(14)
        pdf.para("Forensic notes:", 8, "B")
        for f in notes:
            flags = f" Flags: {', '.join(f.flags)}." if f.flags else ""
            pdf.bullet(
                f"{ANALYSIS_TITLES.get(f.analysis, f.analysis)} ({f.status.replace('_', ' ')}): {f.summary}{flags}", 7.8
            )


def item_details(pdf: ReportPDF, it: ItemDetail) -> None:
    """One item's section; a sensitive item gets hashes and a description only, never pixels."""
    pdf.h2(f"Item {it.item_id}: {it.name}", min_space=45)
    rows = _facts(it)
    if it.sensitive:
        rows += [
            (
                "Sensitive",
                "Flagged sensitive by the examiner: no thumbnail, face crop, overlay or map of this "
                "item is reproduced.",
            ),
            ("Description", it.description),
            ("Detector result", _result(it)),
        ]
        pdf.key_values(rows, key_width=30, mono_keys=("SHA-256", "MD5", "SHA-1"))
        return
    rows += [("Detector result", _result(it))]
    if it.media_kind == "video" and it.aggregate:
        rows.append(("Video score", it.aggregate))
    rows.append(("Analyst review", _review(it)))
    pdf.key_values(rows, key_width=30, mono_keys=("SHA-256", "MD5", "SHA-1"))
    _faces(pdf, it)
    _frames(pdf, it)
    _forensics(pdf, it)
    pdf.ln(2)
