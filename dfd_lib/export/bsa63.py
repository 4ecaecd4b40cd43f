"""A pre-filled draft of Part A of the certificate under section 63(4)(c), Bharatiya Sakshya Adhiniyam, 2023.

Part A is completed and signed by the party producing the electronic record; Part B by an
expert. The draft fills in what the case knows (sources, hash values with SHA-256, MD5 and
SHA-1, the enclosed hash report) and leaves blanks for everything only the signer can state.
It is a drafting aid: check it against the Schedule of the Adhiniyam before use.
"""

from __future__ import annotations

import textwrap
from typing import Sequence

from ..case import CaseInfo
from .evidence_prep import EvidenceEntry
from ..report.formatting import one_line

__all__ = ["render_part_a"]

_W = 92
_BLANK = "_" * 28


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, _W, initial_indent=indent, subsequent_indent=indent) or [""]


def _sources(entries: Sequence[EvidenceEntry]) -> list[str]:
    lines = []
    for e in entries:
        it = e.item
        for s in it.sources or ():
            bits = [f"file '{one_line(s.file_name)}'"] + [
                f"{k}: {one_line(v)}" for k, v in (("device", s.device), ("platform", s.platform), ("URL", s.url)) if v
            ]
            lines += _wrap(f"- item {it.item_id}: " + "; ".join(bits), "  ")
    return lines or ["  - (no source recorded in the case)"]


def _hash_report(entries: Sequence[EvidenceEntry]) -> list[str]:
    out = ["HASH REPORT (enclosed with the certificate)", "=" * 43, ""]
    for e in entries:
        it = e.item
        status = {
            "original": f"produced as acquired: {one_line(e.arcname)}",
            "converted": f"produced as a converted copy: {one_line(e.arcname)}",
            "withheld": "withheld from this bundle (flagged sensitive); available on lawful request",
            "not_included": f"not included in this bundle: {one_line(e.reason)}",
        }[e.action]
        out += [f"Item {it.item_id}: {one_line(it.name)}"]
        out += _wrap(f"Status: {status}", "  ")
        out.append(f"  Size:    {it.size:,} bytes ({one_line(it.mime) or 'unknown type'})")
        out += _hashes("  ", it.sha256, it.md5, it.sha1)
        if e.action == "converted":
            out += _wrap(f"Converted copy ({one_line(e.reason)}):", "  ")
            out += _hashes("    ", e.sha256, e.md5, e.sha1)
            out.append(f"    Size:    {e.size:,} bytes")
        out.append("")
    return out


def _hashes(indent: str, sha256: str, md5: str, sha1: str) -> list[str]:
    return [f"{indent}SHA-256: {sha256}", f"{indent}MD5:     {md5}", f"{indent}SHA-1:   {sha1}"]


def render_part_a(info: CaseInfo, entries: Sequence[EvidenceEntry], as_of: str) -> str:
    """The draft certificate (Part A) followed by its hash report, as plain UTF-8 text."""
    lines = [
        "DRAFT - to be completed, checked and signed by the party producing the electronic record.",
        f"Prepared by dfd from case {one_line(info.id)} ({one_line(info.title)}) as of {one_line(as_of)}.",
        "",
        "THE SCHEDULE",
        "[See section 63(4)(c) of the Bharatiya Sakshya Adhiniyam, 2023]",
        "CERTIFICATE",
        "PART A",
        "(To be filled by the Party)",
        "",
    ]
    lines += _wrap(
        f"I, {_BLANK} (Name), son/daughter/spouse of {_BLANK}, residing/employed at {_BLANK}, do hereby "
        "solemnly affirm and sincerely state and submit as follows:"
    )
    lines.append("")
    lines += _wrap(
        "I have produced electronic record/output of the digital record taken from the following "
        "device/digital record source (tick mark):"
    )
    lines += [
        "  [ ] Computer / Storage Media   [ ] DVR   [ ] Mobile   [ ] Flash Drive",
        "  [ ] CD/DVD   [ ] Server   [ ] Cloud   [ ] Other",
        f"  Other: {_BLANK}",
        f"  Make & Model: {_BLANK}   Colour: {_BLANK}",
        f"  Serial Number: {_BLANK}",
        f"  IMEI/UIN/UID/MAC/Cloud ID: {_BLANK} (as applicable)",
        "",
    ]
    lines += _wrap(
        "and any other relevant information, if any, about the device/digital record (specify). "
        "Sources recorded in the case at intake:"
    )
    lines += _sources(entries)
    lines.append("")
    lines += _wrap(
        "The digital device or the digital record source was under the lawful control for regularly "
        "creating, storing or processing information for the purposes of carrying out regular activities "
        "and during this period, the computer or the communication device was working properly and the "
        "relevant information was regularly fed into the computer during the ordinary course of business. "
        "If the computer/digital device at any point of time was not working properly or out of "
        "operation, then it has not affected the electronic/digital record or its accuracy. The digital "
        "device or the source of the digital record is:"
    )
    lines += ["  [ ] Owned   [ ] Maintained   [ ] Managed   [ ] Operated   by me (select as applicable).", ""]
    lines += _wrap(
        f"I state that the HASH value/s of the electronic/digital record/s is/are as listed in the "
        f"enclosed hash report ({len(entries)} record(s)), obtained through the following algorithm(s):"
    )
    lines += [
        "  SHA1:   [x]",
        "  SHA256: [x]",
        "  MD5:    [x]",
        f"  Other: {_BLANK} (Legally acceptable standard)",
        "  (Hash report to be enclosed with the certificate)",
        "",
        f"(Name and signature): {_BLANK}",
        "Date (DD/MM/YYYY): __/__/____",
        "Time (IST): __:__ (in 24-hour format)",
        f"Place: {_BLANK}",
        "",
        "PART B (to be filled by the Expert) is not part of this draft.",
        "",
        "",
    ]
    lines += _hash_report(entries)
    return "\n".join(lines).rstrip() + "\n"
