"""HTML fragments for the item view's tabs: facts, sources, forensic results, custody and review history."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from typing import Any, Iterable

import pandas as pd

from dfd_lib.case import ForensicDetail, ItemDetail, format_ist

__all__ = ["facts_html", "forensic_html", "metadata_html", "custody_html", "history_html", "kv_table"]

_TABLE = "<table class='dfd-table' style='border-collapse:collapse;font-size:12px'>{}</table>"
_CELL = "<td style='border-bottom:1px solid #eee;padding:2px 8px;vertical-align:top'>{}</td>"


def _e(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, (dict, list)):
        v = json.dumps(v, ensure_ascii=False, default=str)
        v = v if len(v) <= 300 else v[:300] + "…"
    return html.escape(str(v))


def kv_table(pairs: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr>{_CELL.format('<b>' + _e(k) + '</b>')}{_CELL.format(_e(v))}</tr>" for k, v in pairs)
    return _TABLE.format(rows)


def _frame_table(df: pd.DataFrame, columns: list[str]) -> str:
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(_CELL.format(_e(r.get(c))) for c in columns) + "</tr>" for r in df.to_dict("records")
    )
    return _TABLE.format(f"<tr>{head}</tr>{body}")


def facts_html(d: ItemDetail) -> str:
    score = "-" if d.score is None else f"{d.score:.4f}"
    thr = "" if d.threshold is None else f" (threshold {d.threshold:.2f})"
    return (
        f"<div class='dfd-item-facts'><b>#{d.item_id} {_e(d.name)}</b> — {_e(d.status)}: "
        f"{_e(d.message)}<br>P(fake) <b class='dfd-item-score'>{score}</b>{thr}, model verdict "
        f"<b>{_e(d.verdict)}</b>, model {_e(d.model_name)}<br><span style='font-size:11px'>SHA-256 "
        f"{_e(d.sha256)}</span></div>"
    )


def forensic_html(v: ForensicDetail) -> str:
    flags = ", ".join(v.flags) if v.flags else "none"
    metrics = f"<details><summary>metrics</summary>{kv_table(sorted(v.metrics.items()))}</details>" if v.metrics else ""
    return (
        f"<div class='dfd-forensic'><h4 style='margin:6px 0 2px'>{_e(v.analysis)} ({_e(v.status)})</h4>"
        f"<div>{_e(v.summary)}</div><div>flags: {_e(flags)}</div>{metrics}</div>"
    )


def metadata_html(d: ItemDetail) -> str:
    facts = kv_table(
        [
            ("size (bytes)", d.size),
            ("type", d.mime),
            ("media", d.media_kind),
            ("format", d.format),
            ("SHA-256", d.sha256),
            ("MD5", d.md5),
            ("SHA-1", d.sha1),
            ("intake (IST)", format_ist(d.intake_utc)),
            ("acquired by", d.acquired_by),
            ("intake status", d.intake_status),
        ]
    )
    cols = ["original_path", "device", "url", "platform", "notes", "added_utc"]
    sources = _frame_table(pd.DataFrame([asdict(s) for s in d.sources]), cols) if d.sources else "<i>no sources</i>"
    meta = [v for v in d.forensics if v.analysis in ("metadata", "provenance", "video_meta", "c2pa")]
    extra = "".join(forensic_html(v) for v in meta) or "<i>no metadata analysis recorded for this item</i>"
    return f"<h4>Item</h4>{facts}<h4>Sources</h4>{sources}<h4>Metadata and provenance</h4>{extra}"


def custody_html(d: ItemDetail) -> str:
    if not d.custody:
        return "<i>no custody entries</i>"
    df = pd.DataFrame(
        [
            {
                "seq": e.seq,
                "time (IST)": format_ist(e.time_utc),
                "action": e.action,
                "actor": e.actor,
                "details": {k: v for k, v in (e.details or {}).items() if k != "records"},
                "entry": e.entry_hash[:12],
            }
            for e in d.custody
        ]
    )
    return (
        "<div class='dfd-custody'>"
        + _frame_table(df, ["seq", "time (IST)", "action", "actor", "details", "entry"])
        + "</div>"
    )


def history_html(d: ItemDetail) -> str:
    if not d.history:
        return "<i>not reviewed yet</i>"
    df = pd.DataFrame([a.to_dict() for a in d.history])
    df["time (IST)"] = df["created_utc"].map(format_ist)
    return (
        "<div class='dfd-review-history'>"
        + _frame_table(df, ["time (IST)", "reviewer", "verdict", "notes", "tags", "sensitive"])
        + "</div>"
    )
