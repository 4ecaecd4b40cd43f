"""Chain-head anchors kept outside the case database: in reports, export bundles and their custody logs.

A report or export records the custody chain's head as it saw it (entry number and entry hash).
Handed to ``dfd verify --anchor FILE``, such a file proves that the log once reached that entry:
if the entry is gone, or has another hash, the log was cut back or rewritten after the file was made.

Recognised files: an export bundle (``.zip``: its ``custody_log.json``), a bundle's
``custody_log.json`` or ``manifest.json``, an HTML report (``<meta name="dfd-custody-head">``),
a PDF report (the same text in its Keywords), or any JSON with ``head_seq`` and ``head_hash``.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import CaseError

__all__ = ["ANCHOR_TAG", "Anchor", "AnchorError", "anchor_text", "read_anchor_file"]

ANCHOR_TAG = "dfd-custody-head"
_PATTERN = re.compile(rb"dfd-custody-head case=(\S+) seq=(\d+) sha256=([0-9a-f]{64})")


class AnchorError(CaseError, ValueError):
    """An anchor file that could not be read or holds no chain head: a mistake in what was asked for, refused
    before anything is checked (never recorded as a break in the case's chain)."""


@dataclass(frozen=True)
class Anchor:
    source: str  # the file it came from
    seq: int
    hash: str
    case_id: str | None = None
    entries: int | None = None


def anchor_text(case_id: str, seq: int, head_hash: str) -> str:
    """The one-line anchor written into reports (HTML meta tag, PDF keywords)."""
    return f"{ANCHOR_TAG} case={case_id} seq={int(seq)} sha256={head_hash}"


def _from_json(doc: object, source: str) -> Anchor:
    if isinstance(doc, dict):
        state = doc.get("case_state")
        if isinstance(state, dict) and "custody_seq" in state:  # an export manifest.json
            doc = {
                "case_id": doc.get("case_id"),
                "head_seq": state.get("custody_seq"),
                "head_hash": state.get("entry_hash"),
            }
        seq, head = doc.get("head_seq"), doc.get("head_hash")
        if isinstance(seq, int) and isinstance(head, str) and re.fullmatch(r"[0-9a-f]{64}", head):
            entries = doc.get("entries")
            count = len(entries) if isinstance(entries, list) else entries if isinstance(entries, int) else None
            case_id = doc.get("case_id")
            return Anchor(source, seq, head, case_id if isinstance(case_id, str) else None, count)
    raise AnchorError(f"{source}: no chain head (head_seq and a 64-hex head_hash) in this JSON")


def read_anchor_file(path: str | os.PathLike) -> Anchor:
    """The chain head recorded in a report, export bundle or custody log file; AnchorError if none."""
    p = Path(path)
    source = str(p)
    try:
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as zf:
                try:
                    raw = zf.read("custody_log.json")
                except KeyError:
                    raise AnchorError(f"{source}: the zip holds no custody_log.json (not an export bundle)") from None
            return _from_json(json.loads(raw), source)
        data = p.read_bytes()
    except (OSError, zipfile.BadZipFile, ValueError, RecursionError) as exc:
        if isinstance(exc, AnchorError):
            raise
        raise AnchorError(f"{source}: cannot be read: {exc}") from exc
    if data.lstrip()[:1] in (b"{", b"["):
        try:
            return _from_json(json.loads(data), source)
        except (ValueError, RecursionError) as exc:
            if isinstance(exc, AnchorError):
                raise
            raise AnchorError(f"{source}: not valid JSON: {exc}") from exc
    if data.startswith(b"%PDF"):
        try:
            import pypdf

            info = pypdf.PdfReader(p).metadata
            keywords = (info.get("/Keywords") if info else None) or ""
            data = str(keywords).encode("utf-8")
        except Exception as exc:  # a damaged PDF: say so, never crash verify
            raise AnchorError(f"{source}: the PDF cannot be read: {exc}") from exc
    match = _PATTERN.search(data)
    if match is None:
        raise AnchorError(f"{source}: no '{ANCHOR_TAG}' anchor found (not a report or bundle of this tool?)")
    return Anchor(source, int(match.group(2)), match.group(3).decode(), match.group(1).decode("utf-8", "replace"))
