"""Triage: run the detector (and forensic analyses) on every item that lacks their findings.

Each item is analysed outside any transaction, then its findings, artifact records and one
``analysis`` custody entry are committed together in one short transaction. What is already
recorded (by ``UNIQUE(item, kind, model_sha256, subject)``) is never re-run or duplicated, so a
run killed at any point is finished by simply running it again.

A detector result with status ``error`` (an unexpected failure, e.g. out of memory, not a
property of the file like ``unreadable``) does not count as done: the next run analyses the
item again and records the new attempt beside the failed one (subject ``file:attempt:<n>``),
so the failure stays on record and the latest attempt is the item's result.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Protocol, get_args, runtime_checkable

from ..fileio import json_ready
from ..media import MEDIA_KINDS
from ..progress import Progress, ensure_progress
from ..results import FileResult
from .artifacts import ArtifactFile, EncodedImage, register_artifact, stage_artifact
from .custody import append_entry
from .errors import CaseError
from .files import EVIDENCE_DIR, check_stored_name, discard, publish
from .findings import (
    DETECTOR,
    FORENSIC_PREFIX,
    NewFinding,
    detector_findings,
    face_subject,
    finding_exists,
    forensic_finding,
    insert_finding,
)
from .store import write_transaction

__all__ = [
    "ModelCardLike",
    "HasModelCard",
    "ScannerLike",
    "Outcome",
    "OUTCOMES",
    "ModelIdentity",
    "ItemOutcome",
    "Computed",
    "model_identity",
    "scanner_params",
    "load_forensics",
    "compute_detector",
    "compute_forensics",
    "record_analysis",
    "pending_work",
    "triage_items",
]

log = logging.getLogger(__name__)

_PARAM_NAMES = ("fps", "every", "min_face_size", "max_faces", "max_frames", "aggregate", "batch_size", "device")
_CARD_FIELDS = (
    "name",
    "sha256",
    "threshold",
    "temperature",
    "backbone",
    "input_size",
    "crop_scale",
    "crop_offset_y",
    "weights_file",
    "format_version",
)


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    sha256: str
    threshold: float | None
    card: dict[str, Any]


class ModelCardLike(Protocol):
    """The card fields every finding records (a :class:`dfd_lib.models.ModelCard` has them and more)."""

    # read-only properties, so that a frozen card and a narrower ``threshold: float`` match too
    @property
    def name(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def threshold(self) -> float | None: ...


class LoadedModelLike(Protocol):
    """``card``; optionally ``card_sha256`` or ``card_path`` (the card file, hashed into the findings)."""

    @property
    def card(self) -> ModelCardLike: ...


@runtime_checkable
class HasModelCard(Protocol):
    """What recording findings needs: the model the results come from. Used when present: ``settings``
    (with ``to_dict()``) and the numeric settings named in ``_PARAM_NAMES``, recorded with every finding."""

    @property
    def model(self) -> LoadedModelLike: ...


@runtime_checkable
class ScannerLike(HasModelCard, Protocol):
    """What triage needs of a scanner (:class:`dfd_lib.scan.Scanner` is one; tests use a fake): ``model.card``
    and ``scan_file``, which never raises for a bad file. Used when present: ``explain(face)`` returning an
    object with an ``overlay`` (Grad-CAM of the most suspicious face) and ``close()``."""

    def scan_file(self, path: str | os.PathLike) -> FileResult: ...


class _Prescanned:
    """Detector results of the items to analyse, in order: from the scanner's ``scan_each`` (which reads and
    searches the next files for faces in background threads) where it has one, else ``scan_file`` on demand."""

    def __init__(self, scanner: ScannerLike, paths: list[Path]) -> None:
        self.scanner = scanner
        scan_each = getattr(scanner, "scan_each", None)
        self._results: Iterator[FileResult] | None = iter(scan_each(paths)) if callable(scan_each) and paths else None

    def result(self, path: Path) -> FileResult:
        if self._results is not None:
            try:
                r = next(self._results)
                if Path(r.path) == path:
                    return r
                log.error("look-ahead scan out of step (%s for %s); scanning one file at a time", r.path, path)
            except Exception as exc:  # noqa: BLE001 - scan_file reports the file's own problem below
                log.error("look-ahead scan failed (%s); scanning one file at a time", exc)
            self.close()
        return self.scanner.scan_file(path)

    def close(self) -> None:
        close = getattr(self._results, "close", None)
        self._results = None
        if callable(close):
            close()


Outcome = Literal["analysed", "already_done", "failed"]  # what one triage run did with an item
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


@dataclass(frozen=True)
class ItemOutcome:
    item_id: int
    sha256: str
    outcome: Outcome
    message: str = ""


def _card_sha256(model: LoadedModelLike) -> str | None:
    """SHA-256 of the model card file the scanner loaded (None when its model has no card file)."""
    sha = getattr(model, "card_sha256", None)
    if isinstance(sha, str) and sha:
        return sha
    path = getattr(model, "card_path", None)
    if path is not None and Path(path).is_file():
        from ..media import sha256_file

        return sha256_file(path)
    return None


def model_identity(scanner: HasModelCard) -> ModelIdentity:
    card = scanner.model.card
    fields = {k: json_ready(getattr(card, k)) for k in _CARD_FIELDS if hasattr(card, k)}
    fields["card_sha256"] = _card_sha256(scanner.model)
    if not getattr(card, "sha256", None):
        raise CaseError("the scanner's model card has no SHA-256; findings could not be tied to a model")
    threshold = getattr(card, "threshold", None)
    return ModelIdentity(str(card.name), str(card.sha256), None if threshold is None else float(threshold), fields)


def scanner_params(scanner: HasModelCard) -> dict[str, Any]:
    """Settings that change results, as recorded with every finding (so the run can be repeated)."""
    from .. import __version__

    params: dict[str, Any] = {"tool": "dfd_lib", "tool_version": __version__}
    settings = getattr(scanner, "settings", None)
    to_dict = getattr(settings, "to_dict", None)
    if callable(to_dict):  # dfd_lib.scan.Scanner
        params.update(json_ready(to_dict()))
    for name in _PARAM_NAMES:
        value = getattr(scanner, name, None)
        if isinstance(value, (int, float, str, bool)):
            params[name] = value
    params["model_card"] = model_identity(scanner).card
    return params


def load_forensics() -> Callable[[Path], list] | None:
    """``dfd_lib.forensics.run_all`` if that package is importable, else None (with a warning)."""
    try:
        module = importlib.import_module("dfd_lib.forensics")
    except ImportError as exc:
        log.warning("forensic analyses skipped: dfd_lib.forensics is not importable (%s)", exc)
        return None
    run_all = getattr(module, "run_all", None)
    if not callable(run_all):
        log.warning("forensic analyses skipped: dfd_lib.forensics has no run_all()")
        return None
    return run_all


def forensics_for(scanner: object, run_all: Callable | None) -> Callable | None:
    """``run_all`` bound to the memory setting of ``scanner``'s scan settings where it has them, so that the
    forensic analyses of a file decode it within the same bound as its scan (run_all's default otherwise)."""
    settings = getattr(scanner, "settings", None)
    if run_all is None or settings is None or not hasattr(settings, "memory_mb"):
        return run_all
    return functools.partial(run_all, memory_mb=settings.memory_mb)


RETRY_STATUSES = ("error",)  # detector outcomes that are failures of the run, not facts about the file


def _pending(
    conn: sqlite3.Connection, model_name: str, model_sha256: str, forensics: bool
) -> list[tuple[sqlite3.Row, bool, bool]]:
    rows = conn.execute(
        "SELECT i.*, EXISTS (SELECT 1 FROM findings f WHERE f.item_id = i.id AND f.kind = ? AND f.model_name = ?"
        " AND f.model_sha256 = ?"
        f" AND f.status NOT IN ({', '.join('?' * len(RETRY_STATUSES))})) AS has_detector, EXISTS (SELECT 1 FROM findings f WHERE f.item_id = i.id AND f.kind LIKE ?) AS has_forensics"
        " FROM items i ORDER BY i.id",
        (DETECTOR, model_name, model_sha256, *RETRY_STATUSES, FORENSIC_PREFIX + "%"),
    ).fetchall()
    work = []
    for r in rows:
        need_det = not r["has_detector"]
        need_for = forensics and r["media_kind"] in MEDIA_KINDS and not r["has_forensics"]
        if need_det or need_for:
            work.append((r, need_det, need_for))
    return work


@dataclass
class Computed:
    """What the analyses of one item produced, before anything is written (picklable: a Dask
    worker computes it and the client records it with :func:`record_analysis`)."""

    result: FileResult | None = None  # None when the detector was not run
    overlay: Any = None  # Grad-CAM overlay of the most suspicious face (np.ndarray) or None
    explain_error: str | None = None
    forensic: list = field(default_factory=list)  # dfd_lib.forensics results
    forensic_error: str | None = None
    worker: dict[str, Any] | None = None  # who computed it (distributed triage), recorded in the params
    # The artifact images as PNG, made by ``encode_images`` where the analysis ran ("face:<i>" for
    # result.faces[i]'s crop, "gradcam", "map:<k>" for forensic[k]'s map); arrays not encoded are encoded
    # when recorded.
    encoded: dict[str, EncodedImage] = field(default_factory=dict)

    def encode_images(self) -> None:
        """Encode every artifact image as PNG here and drop the arrays: what a Dask worker sends back is
        then the compressed images, and the client that records the case only hashes and writes them."""
        r = self.result
        if r is not None and any(f.crop is not None for f in r.faces):
            for i, f in enumerate(r.faces):
                if f.crop is not None:
                    self.encoded[f"face:{i}"] = EncodedImage.of(f.crop)
            self.result = replace(r, faces=tuple(replace(f, crop=None) for f in r.faces))
        if self.overlay is not None:
            self.encoded["gradcam"] = EncodedImage.of(self.overlay)
            self.overlay = None
        for k, fr in enumerate(self.forensic):
            if getattr(fr, "map_image", None) is not None:
                self.encoded[f"map:{k}"] = EncodedImage.of(fr.map_image)
                self.forensic[k] = replace(fr, map_image=None)

    def image(self, key: str, array: Any) -> EncodedImage | Any:
        """The artifact image under ``key``: its PNG if already encoded, else ``array`` (None: none)."""
        return self.encoded.get(key, array)


def compute_detector(
    path: Path, item_id: Any, sha256: str, scanner: ScannerLike, out: Computed, result: FileResult | None = None
) -> None:
    """Scan ``path`` (unless its ``result`` is given) and explain its most suspicious face into ``out``."""
    if result is None:
        result = scanner.scan_file(path)
    if result.sha256 and result.sha256 != sha256:
        raise CaseError(
            f"stored copy of item {item_id} hashes to {result.sha256[:16]}..., not the recorded "
            f"{sha256[:16]}...; run verify"
        )
    out.result = result
    top = result.most_suspicious_face
    explain = getattr(scanner, "explain", None) if top is not None else None
    if top is not None and callable(explain):
        try:
            out.overlay = explain(top).overlay
        except Exception as exc:  # an explanation failing must not cost the finding itself
            log.warning("item %s: Grad-CAM explanation failed: %s", item_id, exc)
            out.explain_error = f"{type(exc).__name__}: {exc}"


def compute_forensics(path: Path, item_id: Any, run_all: Callable, out: Computed) -> None:
    try:
        out.forensic = list(run_all(path))
    except Exception as exc:  # forensics are optional extras; the detector finding still counts
        log.warning("item %s: forensic analyses failed: %s", item_id, exc)
        out.forensic_error = f"{type(exc).__name__}: {exc}"


def _detector_part(
    case_dir: Path, c: Computed, ident: ModelIdentity, params: dict, arts: list[ArtifactFile]
) -> list[NewFinding]:
    result = c.result
    if result is None:  # record_analysis calls this only when the detector ran
        raise ValueError("no detector result to record")
    face_refs: dict[str, list[dict]] = {}
    for i, face in enumerate(result.faces):
        crop = c.image(f"face:{i}", face.crop)
        if crop is not None:
            art = stage_artifact(case_dir, crop, "face_crop")
            arts.append(art)
            face_refs[face_subject(face)] = [art.ref(face=face_subject(face))]
    file_refs = [ref for refs in face_refs.values() for ref in refs]
    top = result.most_suspicious_face
    params = dict(params)
    if c.worker is not None:
        params["worker"] = c.worker
    if c.explain_error is not None:
        params["explain_error"] = c.explain_error
    elif top is not None and (overlay := c.image("gradcam", c.overlay)) is not None:
        try:
            art = stage_artifact(case_dir, overlay, "gradcam")
        except Exception as exc:  # an explanation failing must not cost the finding itself
            log.warning("Grad-CAM overlay could not be stored: %s", exc)
            params["explain_error"] = f"{type(exc).__name__}: {exc}"
        else:
            arts.append(art)
            file_refs.append(art.ref(face=face_subject(top)))
    return detector_findings(result, ident.name, ident.sha256, ident.threshold, params, face_refs, file_refs)


def _forensic_part(case_dir: Path, c: Computed, arts: list[ArtifactFile]) -> list[NewFinding]:
    out = []
    for k, fr in enumerate(c.forensic):
        refs = []
        if (map_image := c.image(f"map:{k}", getattr(fr, "map_image", None))) is not None:
            art = stage_artifact(case_dir, map_image, "forensic_map")
            arts.append(art)
            refs.append(art.ref(analysis=str(fr.analysis)))
        out.append(forensic_finding(fr, refs))
    return out


def _detector_attempt(conn: sqlite3.Connection, item_id: int, f: NewFinding) -> NewFinding | None:
    """The detector finding to insert: None when a usable result is already recorded, else ``f``
    with the subject of the next attempt when earlier attempts failed."""
    rows = conn.execute(
        "SELECT status FROM findings WHERE item_id = ? AND kind = ? AND model_name = ? AND model_sha256 = ?",
        (item_id, DETECTOR, f.model_name, f.model_sha256),
    ).fetchall()
    if any(r["status"] not in RETRY_STATUSES for r in rows):
        return None
    return f if not rows else replace(f, subject=f"file:attempt:{len(rows) + 1}")


def _analyse(conn, case_dir, item, need_det, run_all, scanned, ident, params, actor) -> ItemOutcome:
    path = case_dir / EVIDENCE_DIR / item["stored_name"]
    c = Computed()
    if need_det:
        compute_detector(path, item["id"], item["sha256"], scanned.scanner, c, scanned.result(path))
    if run_all is not None:
        compute_forensics(path, item["id"], run_all, c)
    return record_analysis(conn, case_dir, item, c, ident, params, actor)


def record_analysis(
    conn: sqlite3.Connection, case_dir: Path, item: Any, c: Computed, ident: ModelIdentity, params: dict, actor: str
) -> ItemOutcome:
    """Write what was computed for ``item``: its findings, artifacts and one ``analysis`` custody entry,
    in one transaction; what another run recorded meanwhile is skipped, never duplicated."""
    arts: list[ArtifactFile] = []
    try:
        found = _detector_part(case_dir, c, ident, params, arts) if c.result is not None else []
        found += _forensic_part(case_dir, c, arts)
        if not found:
            return ItemOutcome(item["id"], item["sha256"], "failed", "the analyses produced no findings")
        with write_transaction(conn):
            kept = []
            for f in found:
                if f.kind == DETECTOR:
                    attempt = _detector_attempt(conn, item["id"], f)
                    if attempt is None:
                        continue
                    f = attempt
                elif finding_exists(conn, item["id"], f):
                    continue
                kept.append(f)
            found = kept
            if not found:
                return ItemOutcome(item["id"], item["sha256"], "already_done", "recorded by another run")
            used = {ref["sha256"] for f in found for ref in f.artifacts}
            refs = [
                r
                for a in {a.sha256: a for a in arts if a.sha256 in used}.values()
                if (r := register_artifact(conn, item["id"], a)) is not None
            ]
            refs += [insert_finding(conn, item["id"], f, actor) for f in found]
            det = next((f for f in found if f.kind == DETECTOR), None)
            details: dict[str, Any] = {
                "kinds": sorted({f.kind for f in found}),
                "findings": len(found),
                "artifacts": sorted(used),
                "records": refs,
            }
            if det is not None:
                details.update(
                    model=det.model_name,
                    model_sha256=det.model_sha256,
                    threshold=det.threshold,
                    status=det.status,
                    score=det.score,
                    verdict=det.verdict,
                    params=det.params,
                )
            append_entry(conn, "analysis", actor, item_id=item["id"], item_sha256=item["sha256"], details=details)
        for art in arts:
            if art.sha256 in used:
                publish(case_dir, art.staged)
        msg = "" if det is None else f"{det.status}" + ("" if det.score is None else f" {det.score:.3f}")
        return ItemOutcome(item["id"], item["sha256"], "analysed", msg)
    finally:
        for art in arts:
            discard(art.staged)


def pending_work(
    conn: sqlite3.Connection, model_name: str, model_sha256: str, forensics: bool
) -> tuple[list[tuple[sqlite3.Row, bool, bool]], Callable | None, list[ItemOutcome]]:
    """Items still lacking findings of this model (its card's name and weights' SHA-256) as ``(item,
    need_detector, need_forensics)``, the forensic analyses to run (None when skipped or not importable), and the
    ``failed`` outcomes of pending items whose recorded stored file name is not one the case gives (an edited
    database): those are never read."""
    work = _pending(conn, model_name, model_sha256, forensics)
    run_all = load_forensics() if forensics and any(nf for _, _, nf in work) else None
    if run_all is None:
        work = [(item, True, False) for item, need_det, _ in work if need_det]
    refused: list[ItemOutcome] = []
    kept = []
    for entry in work:
        item = entry[0]
        try:
            check_stored_name(item["stored_name"], item["sha256"])
        except CaseError as exc:
            log.error("item %s: %s", item["id"], exc)
            refused.append(ItemOutcome(item["id"], item["sha256"], "failed", str(exc)))
        else:
            kept.append(entry)
    return kept, run_all, refused


def triage_items(
    conn: sqlite3.Connection,
    case_dir: Path,
    scanner: ScannerLike,
    actor: str,
    progress: Progress | None = None,
    forensics: bool = True,
) -> tuple[list[ItemOutcome], bool]:
    """Analyse every item lacking findings; returns the outcomes and whether it was cancelled."""
    progress = ensure_progress(progress)
    ident = model_identity(scanner)
    params = scanner_params(scanner)
    work, run_all, refused = pending_work(conn, ident.name, ident.sha256, forensics)
    run_all = forensics_for(scanner, run_all)
    outcomes: list[ItemOutcome] = list(refused)
    cancelled = False
    progress.start(len(work), f"triage ({ident.name})")
    scanned = _Prescanned(scanner, [case_dir / EVIDENCE_DIR / item["stored_name"] for item, need, _ in work if need])
    try:
        for item, need_det, need_for in work:
            if progress.cancelled():
                cancelled = True
                log.info("triage cancelled after %d of %d items", len(outcomes), len(work))
                break
            try:
                out = _analyse(
                    conn, case_dir, item, need_det, run_all if need_for else None, scanned, ident, params, actor
                )
            except Exception as exc:  # one bad item must not stop the batch; it stays pending for the next run
                log.error("item %s (%s): analysis failed: %s", item["id"], item["original_name"], exc, exc_info=True)
                out = ItemOutcome(item["id"], item["sha256"], "failed", f"{type(exc).__name__}: {exc}")
            outcomes.append(out)
            progress.advance(1, item=item["id"], result=out.message or out.outcome)
    finally:
        scanned.close()
        progress.close()
    return outcomes, cancelled
