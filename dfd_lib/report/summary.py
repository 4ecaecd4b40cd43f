"""The plain-language summary of a case's findings, shared by the PDF and HTML renderers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..case import ItemDetail
from .reportdata import ReportData
from .formatting import STATUS_WORDS, VERDICT_WORDS, fmt_score

__all__ = ["Summary", "summarise", "READING_NOTES", "NOT_TAKEN_IN_NOTE"]

NOT_TAKEN_IN_NOTE = (
    "These files were handed to the tool but could not be taken into the case (unreadable, empty, a link that "
    "leaves the evidence folder, not a regular file...). Nothing about their content was examined; they are listed "
    "so that every file received is accounted for."
)

READING_NOTES = (
    "A score is the model's calibrated probability that a face was manipulated (swapped or synthesised). "
    "It is evidence for an examiner to weigh, not proof: the model has known limits (see the model section) and "
    "is weaker on manipulation methods it never saw in training.",
    "The model verdict only compares the score with the threshold on the model card; the analyst's verdict is the "
    "examiner's own judgement and may differ.",
    "Grad-CAM overlays show which regions of the face crop raised the score most; they show where the model "
    "looked, not that those regions were edited.",
    "Forensic maps (error level, noise, spectrum) and metadata notes are leads for a human examiner; each note says "
    "what the analysis can and cannot show.",
    "Items flagged sensitive appear by hash and description only; their pixels are never reproduced.",
)


@dataclass(frozen=True)
class Summary:
    paragraphs: tuple[str, ...]
    status_counts: tuple[tuple[str, int], ...]
    verdict_counts: tuple[tuple[str, int], ...]
    analyst_counts: tuple[tuple[str, int], ...]
    top: tuple[ItemDetail, ...]  # every item called fake (model or examiner), else the highest scores; highest first


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _score_of(item: ItemDetail) -> float:
    """The score of an item already selected as scored (its score is never None)."""
    if item.score is None:
        raise ValueError(f"item {item.name} has no score")
    return item.score


def _card_paragraph(data: ReportData) -> str:
    """Which model's findings the report shows, and the other models' findings it leaves out."""
    card = data.card
    weights = f" (weights SHA-256 {card.sha256[:16]}...)" if card.sha256 else ""
    why = card.chosen_by_words
    text = f"Every score in this report comes from one model, {card.name}{weights}" + (f", {why}." if why else ".")
    if card.others:
        listed = "; ".join(f"{name} ({_plural(n, 'item')})" for name, _, n in card.others)
        text += (
            f" The case also holds findings of other models, not shown here: {listed}. Models differ in threshold "
            "and calibration, so their verdicts are never mixed in one report; an item only another model scored "
            "is shown as pending. A report of another model's findings can be written with dfd report --model NAME."
        )
    return text


MAX_LISTED = 60  # the summary's list of suspicious items: at most this many rows


def _most_suspicious(scored: list[ItemDetail], top_n: int) -> tuple[ItemDetail, ...]:
    """Every item the model or the examiner calls fake (or likely fake), and at least the ``top_n`` highest scores,
    highest first, at most :data:`MAX_LISTED` (a case with 79 model-fake items listed 5 of them)."""
    ranked = sorted(scored, key=lambda i: (-_score_of(i), i.item_id))
    flagged = {i.item_id for i in scored if i.verdict == "fake" or i.analyst_verdict in ("fake", "likely_fake")}
    keep = {i.item_id for i in ranked[:top_n]} | flagged
    return tuple(i for i in ranked if i.item_id in keep)[:MAX_LISTED]


def summarise(data: ReportData, top_n: int = 5) -> Summary:
    items = data.items
    statuses = Counter(i.status for i in items)
    scored = [i for i in items if i.score is not None]
    verdicts = Counter(i.verdict for i in scored if i.verdict)
    analyst = Counter(i.analyst_verdict for i in items if i.analyst_verdict)
    sensitive = sum(i.sensitive for i in items)
    not_analysed = len(items) - len(scored) - statuses.get("no_face", 0)
    paras = [
        f"This case holds {_plural(len(items), 'evidence item')}. The detector found and scored faces in "
        f"{len(scored)}; {statuses.get('no_face', 0)} had no face the detector could use, and {not_analysed} could "
        "not be analysed (empty, unreadable, unsupported, too large, failed or still pending; the item table "
        "gives the reason for each)."
        + (
            f" A further {_plural(len(data.not_taken_in), 'file')} could not be taken into the case (listed under "
            "'Files not taken in'); nothing about their content was examined."
            if data.not_taken_in
            else ""
        )
    ]
    card = data.card
    if card.name is not None:
        paras.append(_card_paragraph(data))
    if scored:
        fake = verdicts.get("fake", 0)
        paras.append(
            f"Of the scored items, {fake} reached the model's decision threshold and are marked 'fake' by the model, "
            f"and {len(scored) - fake} stayed below it. The highest score is {fmt_score(max(_score_of(i) for i in scored))} "
            f"({max(scored, key=_score_of).name})."
        )
        paras.append(
            "A score is evidence for an examiner to weigh, not proof; see 'How to read this report' at the "
            "end and the model's known limits."
        )
    reviewed = sum(1 for i in items if i.analyst_verdict)
    if reviewed:
        words = ", ".join(f"{n} {VERDICT_WORDS.get(v, v)}" for v, n in sorted(analyst.items()))
        paras.append(f"The examiner reviewed {_plural(reviewed, 'item')}: {words}.")
    else:
        paras.append("No item has an analyst verdict yet.")
    if sensitive:
        paras.append(
            f"{_plural(sensitive, 'item is', 'items are')} flagged sensitive and described by hash and "
            "description only; no picture of them appears in this report."
        )
    if data.verification is not None:
        v = data.verification
        paras.append(
            "Verification at the time of this report found the case intact: every stored file matched its "
            "recorded hash and the custody chain was unbroken."
            if v.ok
            else f"WARNING: verification at the time of this report found {_plural(len(v.problems), 'problem')} "
            "(see the verification section); treat the affected items with caution."
        )
    return Summary(
        paragraphs=tuple(paras),
        status_counts=tuple((STATUS_WORDS.get(s, s), n) for s, n in sorted(statuses.items())),
        verdict_counts=tuple((VERDICT_WORDS.get(v, v), n) for v, n in sorted(verdicts.items())),
        analyst_counts=tuple((VERDICT_WORDS.get(v, v), n) for v, n in sorted(analyst.items())),
        top=_most_suspicious(scored, top_n),
    )
