"""The PDF report: case header, summary, item table, item details, model, custody, versions.

``render_pdf(data, owner_password)`` is a pure function of a :class:`ReportData` (plus the
files it points to), so a snapshot renders to the same bytes every time.
"""

from __future__ import annotations

import hashlib
import io
from typing import Callable

from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from ..case import ItemDetail
from ..case.anchors import anchor_text
from ..case.clock import IST, parse_utc
from .figures import thumbnail_jpeg
from .modelinfo import performance_lines
from .pdf_items import item_details
from .pdfdoc import MONO, MUTED, RED, SANS, ReportPDF
from .reportdata import ReportData
from .summary import NOT_TAKEN_IN_NOTE, READING_NOTES, summarise
from .fonts import glyph_safe, needs_script_fonts
from .formatting import STATUS_WORDS, VERDICT_WORDS, fmt_both, fmt_score, fmt_size

__all__ = ["render_pdf", "TITLE"]

TITLE = "Deepfake forensic examination report"
_HEAD = FontFace(family=SANS, emphasis="BOLD", size_pt=8, fill_color=(225, 232, 240))
_CELL = FontFace(family=SANS, size_pt=7.5)
_HASH = FontFace(family=MONO, size_pt=6.3)


def _case_header(pdf: ReportPDF, data: ReportData) -> None:
    info = data.info
    pdf.set_font(SANS, "B", 17)
    pdf.multi_cell(0, 9, TITLE, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.para(f"Produced by dfd {data.versions[0][1]}, an open-source deepfake forensic workbench.", 8.5, "I", MUTED)
    pdf.ln(2)
    rows = [
        ("Case ID", info.id),
        ("Title", info.title),
        ("Examiner", info.examiner or "-"),
        ("Agency", info.agency or "-"),
    ]
    if info.description:
        rows.append(("Description", info.description))
    rows += [
        ("Case opened", fmt_both(info.created_utc)),
        ("Case state as of", f"custody entry #{data.as_of_seq}, {fmt_both(data.as_of_utc)}"),
    ]
    if data.snapshot:
        rows.append(
            (
                "Report",
                "snapshot for an export bundle: dated at the case state above; the bundle's own "
                "SHA-256 and export time are in the case's custody log",
            )
        )
    else:
        rows.append(("Report generated", fmt_both(data.generated_utc)))
    pdf.key_values(rows, key_width=36, size=9)


def _summary(pdf: ReportPDF, data: ReportData) -> None:
    s = summarise(data)
    pdf.h1("Summary of findings")
    for p in s.paragraphs:
        pdf.para(p, color=RED if p.startswith("WARNING") else (20, 20, 20))
        pdf.ln(1.2)
    tables = [("Status", s.status_counts), ("Model verdict", s.verdict_counts), ("Analyst verdict", s.analyst_counts)]
    tables = [t for t in tables if t[1]]
    bottoms = []
    pdf.ensure_space(4.6 * (1 + max((len(c) for _, c in tables), default=0)) + 4)
    y0, left = pdf.get_y(), pdf.l_margin
    for i, (title, counts) in enumerate(tables):  # side by side
        pdf.set_left_margin(left + i * 61)
        pdf.set_xy(left + i * 61, y0)
        with pdf.table(
            col_widths=(42, 14),
            width=56,
            align="LEFT",
            line_height=4.2,
            headings_style=_HEAD,
            text_align=("LEFT", "RIGHT"),
            padding=0.8,
        ) as table:
            table.row([title, "items"])
            for label, n in counts:
                table.row([glyph_safe(label), str(n)], style=_CELL)
        bottoms.append(pdf.get_y())
    pdf.set_left_margin(left)
    pdf.set_y(max(bottoms, default=y0) + 3)
    if s.top:
        pdf.h2("Most suspicious items", min_space=30)
        flagged = sum(1 for i in data.items if i.score is not None and i.verdict == "fake")
        pdf.para(
            "Every item the model or the examiner called fake (or likely fake), else the highest scores; highest "
            "first" + (f"; the first {len(s.top)} are listed" if len(s.top) < flagged else "") + ".",
            8.5,
            "I",
            MUTED,
        )
        with pdf.table(
            col_widths=(12, 78, 20, 30, 40),
            line_height=4.2,
            headings_style=_HEAD,
            text_align=("RIGHT", "LEFT", "RIGHT", "LEFT", "LEFT"),
            padding=0.8,
        ) as table:
            table.row(["Item", "File name", "Score", "Model verdict", "Analyst verdict"])
            for it in s.top:
                table.row(
                    [
                        str(it.item_id),
                        glyph_safe(it.name),
                        fmt_score(it.score),
                        it.verdict or "-",
                        VERDICT_WORDS.get(it.analyst_verdict or "", "not reviewed"),
                    ],
                    style=_CELL,
                )


def _result_text(it: ItemDetail) -> str:
    lines = [STATUS_WORDS.get(it.status, it.status)]
    if it.score is not None:
        lines.append(f"score {fmt_score(it.score)}")
        lines.append(f"model: {it.verdict or '-'} at {fmt_score(it.threshold)}")
    return "\n".join(lines)


def _analyst_text(it: ItemDetail) -> str:
    text = VERDICT_WORDS.get(it.analyst_verdict or "", "not reviewed")
    if it.reviewer and it.analyst_verdict:
        text += f" ({it.reviewer})"
    if it.notes:
        text += f"\n{it.notes[:300]}" + ("..." if len(it.notes) > 300 else "")
    if it.sensitive:
        text += "\nSENSITIVE: media withheld"
    return text


def _item_table(pdf: ReportPDF, data: ReportData) -> None:
    pdf.h1("Evidence items")
    pdf.para(
        "One row per item (identical content received from several places is one item). Thumbnails are "
        "reduced copies for recognition only; sensitive items have none.",
        8,
        "I",
        MUTED,
    )
    pdf.ln(1)
    if not data.items:
        pdf.para("The case holds no evidence items yet.", 9, "B")
        return
    with pdf.table(
        col_widths=(22, 42, 46, 30, 40),
        line_height=3.6,
        headings_style=_HEAD,
        padding=1,
        text_align=("CENTER", "LEFT", "LEFT", "LEFT", "LEFT"),
        v_align="TOP",
    ) as table:
        table.row(["Thumbnail", "Item and file", "SHA-256", "Result", "Analyst verdict and notes"])
        for it in data.items:
            row = table.row()
            thumb = None if it.sensitive else thumbnail_jpeg(it.evidence_path, it.media_kind)
            if thumb:
                row.cell(img=io.BytesIO(thumb), img_fill_width=True)
            else:
                row.cell("withheld (sensitive)" if it.sensitive else "no preview", style=_CELL)
            row.cell(glyph_safe(f"#{it.item_id}  {it.name}\n{it.mime or '-'}, {fmt_size(it.size)}"), style=_CELL)
            row.cell(f"{it.sha256[:32]}\n{it.sha256[32:]}", style=_HASH)
            row.cell(_result_text(it), style=_CELL)
            row.cell(glyph_safe(_analyst_text(it)), style=_CELL)


def _not_taken_in(pdf: ReportPDF, data: ReportData) -> None:
    if not data.not_taken_in:
        return
    pdf.ln(2)
    pdf.h2(f"Files not taken in ({len(data.not_taken_in)})")
    pdf.para(NOT_TAKEN_IN_NOTE, 8, "I", MUTED)
    with pdf.table(col_widths=(34, 84, 62), line_height=3.6, headings_style=_HEAD, padding=1, v_align="TOP") as t:
        t.row(["Time (IST)", "Path as received", "Why"])
        for when, path, why in data.not_taken_in:
            row = t.row()
            for text in (fmt_both(when), path, why):
                row.cell(glyph_safe(text), style=_CELL)


def _models(pdf: ReportPDF, data: ReportData) -> None:
    pdf.h1("Model used for the scores", min_space=70)
    if not data.models:
        pdf.para("No detector findings: no model was used.")
    for m in data.models:
        pdf.h2(f"{m.name}", min_space=30)
        if m.note:
            pdf.para(m.note, 8.5, "I", RED)
        card = m.card
        rec = m.recorded
        rows = [
            ("Weights SHA-256", m.sha256),
            ("Card SHA-256", m.card_sha256_text),
            ("Card installed", f"yes ({m.card_file})" if m.installed else "no"),
        ]
        if card is not None:
            rows += [
                ("Backbone", f"{card.backbone}, {card.input_size} px input"),
                (
                    "Decision threshold",
                    f"{card.threshold:.3f}" + (f" ({card.threshold_rule})" if card.threshold_rule else ""),
                ),
                ("Calibration", f"temperature {card.temperature:.3f}"),
                ("Training data", card.training_data + (f" Terms: {card.data_terms}" if card.data_terms else "")),
            ]
            rows.append(
                (
                    "Measured performance",
                    "\n".join(performance_lines(card.metrics)) or "the card records no measured metrics",
                )
            )
            rows.append(("Known limits", "\n".join(f"- {x}" for x in card.limits) or "the card lists no limits"))
            if card.description:
                rows.append(("Description", card.description))
        else:
            rows += [
                (k.replace("_", " "), str(v))
                for k, v in sorted(rec.items())
                if k not in ("name", "sha256", "card_sha256")
            ]
        pdf.key_values(rows, key_width=42, mono_keys=("Weights SHA-256", "Card SHA-256"))


def _custody(pdf: ReportPDF, data: ReportData) -> None:
    pdf.h1("Verification and chain of custody")
    v = data.verification
    if v is None:
        pdf.para("The case was not verified for this report.")
    else:
        state = "INTACT" if v.ok else "NOT INTACT"
        when = f" at {fmt_both(v.checked_utc)}" if v.checked_utc else " when this bundle was made"
        pdf.para(
            f"Verification{when}: {state}. {v.evidence_checked} evidence files and {v.artifacts_checked} "
            f"analysis artifacts were re-hashed"
            + (
                f"; {v.entries_checked} custody entries checked."
                if v.entries_checked is not None
                else "; custody chain checked."
            ),
            9,
            "B",
            (20, 20, 20) if v.ok else RED,
        )
        for p in v.problems[:40]:
            pdf.bullet(p)
        for w in v.warnings[:10]:
            pdf.bullet("warning: " + w)
    c = data.custody
    pdf.ln(1)
    pdf.key_values(
        [
            ("Entries", f"{len(c.entries)} (" + ", ".join(f"{a} {n}" for a, n in c.counts) + ")"),
            ("First entry", fmt_both(c.first_utc)),
            ("Last entry", fmt_both(c.last_utc)),
            ("Chain head", f"#{c.head_seq} {c.head_hash}"),
        ],
        key_width=30,
        mono_keys=("Chain head",),
    )
    pdf.para(
        "Each entry's hash covers its content and the previous entry's hash, so any later edit, deletion or "
        "insertion breaks the chain. Recent entries (times in IST):",
        8,
        "I",
        MUTED,
    )
    shown = c.entries[-60:]
    with pdf.table(
        col_widths=(11, 34, 22, 38, 14, 61),
        line_height=3.4,
        headings_style=_HEAD,
        padding=0.6,
        text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "RIGHT", "LEFT"),
    ) as table:
        table.row(["#", "Time (IST)", "Action", "Actor", "Item", "Entry hash (first 32 hex digits)"])
        for e in shown:
            table.row(
                [
                    str(e.seq),
                    parse_utc(e.time_utc).astimezone(IST).strftime("%d-%m-%Y %H:%M:%S"),
                    e.action,
                    glyph_safe(e.actor),
                    "-" if e.item_id is None else str(e.item_id),
                    e.entry_hash[:32],
                ],
                style=_CELL,
            )
    if len(c.entries) > len(shown):
        pdf.para(
            f"{len(c.entries) - len(shown)} earlier entries are not listed; the full log is in the case database "
            "(the case notebook lists it; the dashboard shows each item's) and in custody_log.json of an export bundle.",
            8,
            "I",
            MUTED,
        )


def _versions(pdf: ReportPDF, data: ReportData) -> None:
    pdf.h1("Software", min_space=50)
    pdf.para(
        "The tool and the libraries whose behaviour shapes the results, as installed when this report was made:",
        8,
        "I",
        MUTED,
    )
    pairs = list(data.versions)
    half = (len(pairs) + 1) // 2
    with pdf.table(
        col_widths=(40, 50, 40, 50), line_height=3.8, headings_style=_HEAD, padding=0.6, first_row_as_headings=False
    ) as table:
        for left, right in zip(pairs[:half], pairs[half:] + [("", "")]):
            table.row([left[0], left[1], right[0], right[1]], style=_CELL)
    pdf.h1("How to read this report")
    for note in READING_NOTES:
        pdf.bullet(note, 8.5)
    pdf.ln(2)
    pdf.para(
        "This PDF is marked read-only. Its SHA-256 is recorded in the case's custody log (action 'report') "
        "after it is written; compare it with the file you hold to prove it is unchanged.",
        8,
        "I",
        MUTED,
    )


def render_pdf(
    data: ReportData, owner_password: str | None = None, progress_step: Callable[[], None] | None = None
) -> bytes:
    """The report as PDF bytes; ``progress_step()`` (if given) is called once per evidence item.

    Without ``owner_password`` the permissions password is derived from the case state, so a
    snapshot renders byte-identically; permissions are advisory either way (integrity rests on
    the SHA-256 in the custody log).
    """
    created = parse_utc(data.generated_utc)
    note = ("case state as of" if data.snapshot else "report generated") + f" {fmt_both(data.generated_utc)}"
    pdf = ReportPDF(data.info.id, note, created, scripts=needs_script_fonts(repr(data)))
    pdf.set_title(f"{TITLE}: case {data.info.id}")
    pdf.set_author(data.info.examiner or "dfd")
    pdf.set_creator(f"dfd {data.versions[0][1]}")
    # the chain head this report saw, machine-readable for `dfd verify --anchor report.pdf`
    pdf.set_keywords(anchor_text(data.info.id, data.custody.head_seq, data.custody.head_hash))
    pdf.add_page()
    _case_header(pdf, data)
    _summary(pdf, data)
    _item_table(pdf, data)
    _not_taken_in(pdf, data)
    pdf.add_page()
    pdf.h1("Item details")
    for it in data.items:
        item_details(pdf, it)
        if progress_step is not None:
            progress_step()
    _models(pdf, data)
    _custody(pdf, data)
    _versions(pdf, data)
    password = (
        owner_password or hashlib.sha256(f"dfd-report:{data.info.id}:{data.custody.head_hash}".encode()).hexdigest()
    )
    pdf.lock(password)
    return pdf.render()
