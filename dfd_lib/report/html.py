"""The HTML twin of the PDF report: one self-contained file, every picture embedded as a data URI.

Every value is escaped; nothing is fetched from the network when the file is opened.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from ..case import ItemDetail
from ..case.anchors import anchor_text
from .figures import display_jpeg, frame_plot_png, thumbnail_jpeg
from .modelinfo import performance_lines
from .pdf import TITLE
from .pdf_items import ANALYSIS_TITLES
from .reportdata import ReportData
from .summary import NOT_TAKEN_IN_NOTE, READING_NOTES, summarise
from .formatting import STATUS_WORDS, VERDICT_WORDS, fmt_both, fmt_score, fmt_size

__all__ = ["render_html"]

_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:14px;color:#141414;max-width:1000px;margin:24px auto;
padding:0 16px}h1{font-size:26px}h2{color:#1f4e79;border-bottom:2px solid #1f4e79;padding-bottom:3px;margin-top:32px}
h3{margin-top:26px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #9fb3c8;padding:3px 6px;
vertical-align:top;text-align:left}th{background:#e1e8f0}table.kv td:first-child{font-weight:bold;border:none;
padding-left:0;width:170px}table.kv td{border:none}code,.hash{font-family:"DejaVu Sans Mono",monospace;font-size:12px;
word-break:break-all}.muted{color:#6e6e6e;font-style:italic}.warn{color:#b00000;font-weight:bold}
figure{display:inline-block;margin:4px 12px 4px 0;text-align:center;vertical-align:top}figcaption{font-size:12px}
img.thumb{max-width:110px;max-height:110px}table.counts{display:inline-table;margin-right:24px}footer{margin-top:40px;font-size:12px;color:#6e6e6e}
"""


def _uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _img(path: Path | None, alt: str, width: int) -> str:
    if path is None:
        return ""
    return f'<img src="{_uri(path.read_bytes(), "image/png")}" alt="{escape(alt)}" width="{width}">'


def _kv(rows: list[tuple[str, str]], mono: tuple[str, ...] = ()) -> str:
    cells = "".join(
        f"<tr><td>{escape(k)}</td><td{' class=hash' if k in mono else ''}>"
        f"{escape(v or '-').replace(chr(10), '<br>')}</td></tr>"
        for k, v in rows
    )
    return f'<table class="kv">{cells}</table>'


def _table(headers: list[str], rows: list[list[str]], css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table{f' class={css}' if css else ''}><tr>{head}</tr>{body}</table>"


def _item_row(it: ItemDetail) -> list[str]:
    thumb = None if it.sensitive else thumbnail_jpeg(it.evidence_path, it.media_kind)
    pic = (
        f'<img class="thumb" src="{_uri(thumb, "image/jpeg")}" alt="thumbnail of item {escape(str(it.item_id))}">'
        if thumb
        else ("withheld (sensitive)" if it.sensitive else "no preview")
    )
    result = escape(STATUS_WORDS.get(it.status, it.status))
    if it.score is not None:
        result += (
            f"<br>score {fmt_score(it.score)}<br>model verdict: {escape(it.verdict or '-')} "
            f"(threshold {fmt_score(it.threshold)})"
        )
    analyst = escape(VERDICT_WORDS.get(it.analyst_verdict or "", "not reviewed"))
    analyst += f"<br>{escape(it.notes)}" if it.notes else ""
    analyst += "<br><b>SENSITIVE: media withheld</b>" if it.sensitive else ""
    return [
        pic,
        f"#{it.item_id} {escape(it.name)}<br>{escape(it.mime or '-')}, {fmt_size(it.size)}",
        f'<span class="hash">{escape(str(it.sha256))}</span>',
        result,
        analyst,
    ]


def _item_section(it: ItemDetail) -> str:
    rows = [
        ("SHA-256", it.sha256),
        ("MD5", it.md5),
        ("SHA-1", it.sha1),
        ("Type and size", f"{it.mime} ({it.media_kind}), {it.size:,} bytes"),
    ]
    rows += [
        (
            "Source",
            "; ".join(
                [f"file '{s.file_name}'"]
                + [
                    f"{k}: {v}"
                    for k, v in (
                        ("device", s.device),
                        ("platform", s.platform),
                        ("URL", s.url),
                        ("acquired by", s.acquired_by),
                    )
                    if v
                ]
            ),
        )
        for s in it.sources
    ]
    out = [f"<h3>Item {it.item_id}: {escape(it.name)}</h3>"]
    result = f"{STATUS_WORDS.get(it.status, it.status)}: {it.message}"
    if it.score is not None:
        result += f"\nScore {fmt_score(it.score)}; threshold {fmt_score(it.threshold)}; model verdict: {it.verdict}"
    if it.sensitive:
        rows += [
            ("Sensitive", "Flagged sensitive: no pixels of this item are reproduced."),
            ("Description", it.description),
            ("Detector result", result),
        ]
        return "".join(out) + _kv(rows, ("SHA-256", "MD5", "SHA-1"))
    review = VERDICT_WORDS.get(it.analyst_verdict or "", "not reviewed") + (f" by {it.reviewer}" if it.reviewer else "")
    rows += [("Detector result", result), ("Analyst review", review + (f"\nNotes: {it.notes}" if it.notes else ""))]
    out.append(_kv(rows, ("SHA-256", "MD5", "SHA-1")))
    cam = next((f for f in it.faces if f.subject == it.gradcam_subject and f.gradcam), None)
    top = cam or (it.faces[0] if it.faces else None)
    if top is not None and top.crop is not None:
        out.append("<div>")
        out.append(
            f"<figure>{_img(top.crop, 'face crop', 160)}<figcaption>face crop, P(fake) "
            f"{fmt_score(top.score)}</figcaption></figure>"
        )
        if top.gradcam is not None:
            out.append(
                f"<figure>{_img(top.gradcam, 'Grad-CAM overlay', 160)}<figcaption>Grad-CAM: where the model "
                "looked</figcaption></figure>"
            )
        out.append("</div>")
    if len(it.frames) >= 2:
        plot = frame_plot_png(it.frames, it.threshold)
        out.append(f'<p><img src="{_uri(plot, "image/png")}" alt="per-frame scores" width="900"></p>')
    maps = [(f, f.map) for f in it.forensics if f.map is not None]
    out += [
        f'<figure><img src="{_uri(display_jpeg(m), "image/jpeg")}" alt="{escape(f.analysis)} map" '
        f'width="280"><figcaption>{escape(ANALYSIS_TITLES.get(f.analysis, f.analysis))}'
        "</figcaption></figure>"
        for f, m in maps
    ]
    notes = [
        f"<li>{escape(ANALYSIS_TITLES.get(f.analysis, f.analysis))} ({escape(f.status)}): {escape(f.summary)}</li>"
        for f in it.forensics
        if f.summary and f.status != "not_applicable"
    ]
    if notes:
        out.append("<p><b>Forensic notes</b></p><ul>" + "".join(notes) + "</ul>")
    return "".join(out)


def render_html(data: ReportData) -> bytes:
    info, s = data.info, summarise(data)
    anchor = escape(anchor_text(info.id, data.custody.head_seq, data.custody.head_hash))
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='dfd-custody-head' "
        f"content='{anchor}'><title>{escape(TITLE)}: case "
        f"{escape(info.id)}</title><style>{_CSS}</style></head><body><h1>{escape(TITLE)}</h1>"
    ]
    rows = [
        ("Case ID", info.id),
        ("Title", info.title),
        ("Examiner", info.examiner),
        ("Agency", info.agency),
        ("Case opened", fmt_both(info.created_utc)),
        ("Case state as of", f"custody entry #{data.as_of_seq}, {fmt_both(data.as_of_utc)}"),
        ("Report generated", fmt_both(data.generated_utc)),
    ]
    parts.append(_kv(rows))
    parts.append(
        "<h2>Summary of findings</h2>"
        + "".join(f"<p{' class=warn' if p.startswith('WARNING') else ''}>{escape(p)}</p>" for p in s.paragraphs)
    )
    for title, counts in (
        ("Status", s.status_counts),
        ("Model verdict", s.verdict_counts),
        ("Analyst verdict", s.analyst_counts),
    ):
        if counts:
            parts.append(_table([title, "items"], [[escape(k), str(n)] for k, n in counts], "counts"))
    parts.append(
        "<h2>Evidence items</h2>"
        + ("<p>The case holds no evidence items yet.</p>" if not data.items else "")
        + _table(
            ["Thumbnail", "Item and file", "SHA-256", "Result", "Analyst verdict and notes"],
            [_item_row(i) for i in data.items],
        )
    )
    if data.not_taken_in:
        parts.append(
            f"<h3>Files not taken in ({len(data.not_taken_in)})</h3><p>{escape(NOT_TAKEN_IN_NOTE)}</p>"
            + _table(
                ["Time (IST)", "Path as received", "Why"],
                [[escape(fmt_both(t)), escape(p), escape(why)] for t, p, why in data.not_taken_in],
            )
        )
    parts.append("<h2>Item details</h2>" + "".join(_item_section(i) for i in data.items))
    parts.append("<h2>Model used for the scores</h2>")
    for m in data.models:
        rows = [
            ("Name", m.name),
            ("Weights SHA-256", m.sha256),
            ("Card SHA-256", m.card_sha256_text),
            ("Card installed", "yes" if m.installed else "no"),
        ]
        if m.card is not None:
            rows += [
                ("Backbone", m.card.backbone),
                ("Threshold", f"{m.card.threshold:.3f}"),
                ("Training data", m.card.training_data),
                (
                    "Measured performance",
                    "\n".join(performance_lines(m.card.metrics)) or "none recorded",
                ),
                ("Known limits", "\n".join(m.card.limits) or "none listed"),
            ]
        else:
            rows += [(k, str(v)) for k, v in sorted(m.recorded.items()) if k != "card_sha256"]
        parts.append(
            (f"<p class='warn'>{escape(m.note)}</p>" if m.note else "") + _kv(rows, ("Weights SHA-256", "Card SHA-256"))
        )
    v = data.verification
    parts.append("<h2>Verification and chain of custody</h2>")
    if v is not None:
        parts.append(
            f"<p class='{'' if v.ok else 'warn'}'>Verification: {'INTACT' if v.ok else 'NOT INTACT'}; "
            f"{v.evidence_checked} evidence files, {v.artifacts_checked} artifacts re-hashed.</p>"
        )
        parts.append("<ul>" + "".join(f"<li>{escape(p)}</li>" for p in v.problems) + "</ul>" if v.problems else "")
    c = data.custody
    parts.append(
        _kv([("Entries", str(len(c.entries))), ("Chain head", f"#{c.head_seq} {c.head_hash}")], ("Chain head",))
    )
    parts.append(
        _table(
            ["#", "Time (UTC)", "Action", "Actor", "Item", "Entry hash"],
            [
                [
                    escape(str(e.seq)),  # every value read from the case is text, never markup (a tampered
                    escape(e.time_utc),  # log can hold anything in any column)
                    escape(e.action),
                    escape(e.actor),
                    "-" if e.item_id is None else escape(str(e.item_id)),
                    f'<span class="hash">{escape(str(e.entry_hash))}</span>',
                ]
                for e in c.entries
            ],
        )
    )
    parts.append(
        "<h2>Software</h2>" + _table(["Component", "Version"], [[escape(k), escape(v)] for k, v in data.versions])
    )
    parts.append(
        "<h2>How to read this report</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in READING_NOTES) + "</ul>"
    )
    parts.append(f"<footer>Case {escape(info.id)} | {escape(TITLE)} | {escape(fmt_both(data.generated_utc))}</footer>")
    return ("".join(parts) + "</body></html>\n").encode("utf-8")
