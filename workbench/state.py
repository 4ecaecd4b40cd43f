"""The workbench's state: one plain object holding the open case and the selection, with methods that change it.

Components never reach dfd_lib themselves for anything that changes the case; they call these
methods, and subscribe to the topics below to redraw (the solara store pattern)::

    "case"       a case was opened or closed
    "items"      items, findings or reviews changed (triage ran, an annotation was saved)
    "selection"  another item was opened
    "export"     a report or bundle was written
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dfd_lib.case.evidence import INTAKE_OUTCOMES
from dfd_lib.case import (
    Annotation,
    Case,
    ItemDetail,
    Source,
    VerificationReport,
    list_cases,
    open_case,
    resolve_cases_dir,
)
from dfd_lib.env import DASK_SCHEDULER_ENV, DASK_UPLOAD_ENV, EVIDENCE_ROOTS_ENV, UPLOAD_MAX_ENV
from dfd_lib.errors import DfdError
from dfd_lib.fileio import atomic_write
from dfd_lib.progress import Progress

__all__ = [
    "AppState",
    "ModelChoice",
    "TOPICS",
    "UPLOADS_DIR",
    "StagedUpload",
    "EVIDENCE_ROOTS_ENV",
    "UPLOAD_MAX_ENV",
    "DEFAULT_UPLOAD_MAX_MB",
    "DASK_SCHEDULER_ENV",
    "DASK_UPLOAD_ENV",
    "evidence_roots_from_env",
    "upload_limit_bytes",
    "UPLOAD_DROPPED_TARGET",
]

log = logging.getLogger(__name__)

TOPICS = ("case", "items", "selection", "export")
UPLOADS_DIR = "_uploads"  # under the case store; not a case (it has no case.db)
DEFAULT_UPLOAD_MAX_MB = 256  # when $DFD_UPLOAD_MAX_MB is unset (see dfd_lib.env.ENV_VARS for every variable)
# the comm target by which the dashboard server tells the workbench that an upload too big for the connection was
# dropped before it arrived (workbench.serve opens it, workbench.intake shows the message)
UPLOAD_DROPPED_TARGET = "dfd.upload_dropped"
_NAME_MAX_BYTES = 255


def evidence_roots_from_env() -> list[Path]:
    raw = os.environ.get(EVIDENCE_ROOTS_ENV, "")
    return [Path(r).expanduser() for r in raw.split(os.pathsep) if r.strip()]


def upload_limit_bytes() -> int:
    """The upload batch limit in bytes: ``$DFD_UPLOAD_MAX_MB`` MiB, else :data:`DEFAULT_UPLOAD_MAX_MB`."""
    raw = os.environ.get(UPLOAD_MAX_ENV, "").strip()
    if raw:
        try:
            mb = float(raw)
            if mb > 0:
                return int(mb * (1 << 20))
        except ValueError:
            pass
        log.warning("%s=%r is not a positive number of MiB; using %d", UPLOAD_MAX_ENV, raw, DEFAULT_UPLOAD_MAX_MB)
    return DEFAULT_UPLOAD_MAX_MB << 20


@dataclass(frozen=True)
class StagedUpload:
    path: Path  # where it was written: <case store>/_uploads/<case>/<time>/<NNN>/<name>
    original_name: str  # exactly as the browser sent it
    size: int


def _storable_name(name: str, index: int) -> str:
    """The name an upload is stored under: its own name when that is a valid file name, else a stand-in."""
    base = name.replace("\\", "/").split("/")[-1].replace("\x00", "")
    if base in ("", ".", ".."):
        return f"upload-{index:03d}"
    if len(base.encode("utf-8", "surrogatepass")) > _NAME_MAX_BYTES:
        stem, dot, ext = base.rpartition(".")
        ext = ext if dot and len(ext) <= 16 else ""
        keep = base if not ext else stem
        while len((keep + "." + ext if ext else keep).encode("utf-8", "surrogatepass")) > _NAME_MAX_BYTES - 8:
            keep = keep[:-1]
        base = f"{keep}~{index:03d}" + (f".{ext}" if ext else "")
    return base


@dataclass(frozen=True)
class ModelChoice:
    """One installed model card as the dashboard offers it: its name, whether it is the default, its threshold and
    a line on when to use it (the card's first stated limit for a card that is not the default)."""

    name: str
    default: bool
    threshold: float
    note: str
    sha256: str = ""  # of the card's weights: with the name, which findings are this card's

    @property
    def label(self) -> str:
        return f"{self.name} (default)" if self.default else self.name


class AppState:
    """Open case, selected item, examiner and the lazily loaded models; no widgets."""

    def __init__(
        self,
        cases_dir: str | os.PathLike | None = None,
        weights_dir: str | os.PathLike | None = None,
        model: str | None = None,
        examiner: str = "",
        evidence_roots: Iterable[str | os.PathLike] | None = None,
        dask_scheduler: str | None = None,
        dask_upload: bool | None = None,
    ) -> None:
        """``evidence_roots``: folders the evidence path box may read (None: ``$DFD_EVIDENCE_ROOTS``).
        ``dask_scheduler``: triage on that Dask scheduler (None: ``$DFD_DASK_SCHEDULER``; empty: here);
        ``dask_upload``: send the evidence bytes to its workers (None: ``$DFD_DASK_UPLOAD`` is "1")."""
        self.cases_dir = resolve_cases_dir(cases_dir)
        roots = evidence_roots_from_env() if evidence_roots is None else [Path(r) for r in evidence_roots]
        self.evidence_roots = [Path(os.path.realpath(r)) for r in roots]
        self.weights_dir = None if weights_dir is None else Path(weights_dir)
        self.model = model
        self._given_model = model  # a card path given at start stays selectable beside the installed cards
        self.examiner = examiner
        self.case: Case | None = None
        self.selected: int | None = None
        self.last_verify: VerificationReport | None = None
        self._listeners: dict[str, list[Callable[[], None]]] = {t: [] for t in TOPICS}
        self._explainers: dict[str, Any] = {}
        self._heatmaps: dict[tuple[str, str], np.ndarray] = {}
        self._model_lock = threading.Lock()
        sched = os.environ.get(DASK_SCHEDULER_ENV, "") if dask_scheduler is None else dask_scheduler
        self.dask_scheduler = sched.strip() or None
        self.dask_upload = (os.environ.get(DASK_UPLOAD_ENV, "").strip() == "1") if dask_upload is None else dask_upload
        self._dask_client: Any = None
        self._dask_lock = threading.Lock()

    # -- models ------------------------------------------------------------------------------------
    def installed_models(self) -> list[ModelChoice]:
        """The valid model cards of the weights folders, the default first (invalid cards are left out: loading
        refuses them anyway)."""
        from dfd_lib.models.checkpoint import valid_cards

        cards = [c for _, c in valid_cards(self.weights_dir)]  # the default in effect first
        return [
            ModelChoice(
                c.name,
                i == 0,
                float(c.threshold),
                "the default model" if i == 0 else (c.limits[0] if c.limits else c.description.split(". ")[0]),
                c.sha256,
            )
            for i, c in enumerate(cards)
        ]

    def model_choice(self) -> ModelChoice | None:
        """The model triage will use (the one selected, else the default), or None when none is installed."""
        choices = self.installed_models()
        if self.model is None:  # what find_card does: the default card, else the first valid one
            return choices[0] if choices else None
        return next((c for c in choices if c.name == self.model), None)

    def select_model(self, name: str | None) -> None:
        """Triage with model ``name`` from now on (None: the default). Items already scored keep their findings;
        a triage with another model scores every item again with it, beside the first model's findings."""
        if name is not None and name != self._given_model and name not in {c.name for c in self.installed_models()}:
            raise DfdError(f"no installed model named {name!r}")
        if name != self.model:
            log.info("triage model: %s", name or "the default")
        self.model = name

    # -- notifications ---------------------------------------------------------------------------
    def subscribe(self, topic: str, callback: Callable[[], None]) -> None:
        if topic not in self._listeners:
            raise ValueError(f"unknown topic {topic!r}; topics: {', '.join(TOPICS)}")
        self._listeners[topic].append(callback)

    def notify(self, topic: str) -> None:
        for cb in list(self._listeners[topic]):
            cb()

    # -- cases -----------------------------------------------------------------------------------
    def require_case(self) -> Case:
        if self.case is None:
            raise DfdError("no case is open: open or create one first")
        return self.case

    def list_cases(self) -> pd.DataFrame:
        return list_cases(self.cases_dir)

    def open_case(self, name: str, title: str = "", examiner: str = "", agency: str = "", create: bool = True) -> Case:
        """Open (or create) a case and make it the current one; the examiner becomes the acting user."""
        if not name.strip():
            raise DfdError("give the case a name (for example an FIR number)")
        case = open_case(
            name.strip(),
            self.cases_dir,
            create=create,
            title=title.strip() or None,
            examiner=examiner.strip() or None,
            agency=agency.strip() or None,
        )
        self.close_case(notify=False)
        self.case, self.selected, self.last_verify = case, None, None
        self.examiner = examiner.strip() or case.info.examiner
        log.info("opened case %s (%s)", case.id, case.path)
        self.notify("case")
        self.notify("items")
        return case

    def close_case(self, notify: bool = True) -> None:
        if self.case is not None:
            self.case.close()
        self.case, self.selected, self.last_verify = None, None, None
        if notify:
            self.notify("case")

    def verify(self) -> VerificationReport:
        self.last_verify = self.require_case().verify(actor=self.actor)
        self.notify("case")
        return self.last_verify

    @property
    def actor(self) -> str | None:
        return self.examiner or None

    # -- items -----------------------------------------------------------------------------------
    def items(self) -> pd.DataFrame:
        """The open case's items, most suspicious first (an empty frame when no case is open)."""
        from dfd_lib.case.queries import sort_by_suspicion

        if self.case is None:
            from dfd_lib.case.queries import ITEM_COLUMNS

            return pd.DataFrame(columns=ITEM_COLUMNS)
        return sort_by_suspicion(self.case.items(*self._shown_model()))

    def _shown_model(self) -> tuple[str | None, str | None]:
        """(weights SHA-256, card name) of the model whose findings the grid and item view show: the one chosen
        for triage, so that choosing a card again shows its scores, not those of whichever card scored last.
        (None, None) where no installed card is chosen (the latest finding of any model is shown)."""
        choice = self.model_choice()
        return (choice.sha256 or None, choice.name) if choice is not None else (None, None)

    def select(self, item_id: int | None) -> None:
        """Open an item (logged as a ``view`` in the custody log) or clear the selection."""
        if item_id is not None:
            self.require_case().log_action(
                "view", self.actor or "unknown", item=int(item_id), details={"via": "workbench"}
            )
        self.selected = None if item_id is None else int(item_id)
        self.notify("selection")

    def detail(self, item_id: int) -> ItemDetail:
        """The case's read model of one item (artifact paths checked to stay inside the case)."""
        return self.require_case().detail(item_id, *self._shown_model())

    def annotate(
        self, item_id: int, verdict: str | None, notes: str, tags: str, sensitive: bool, based_on: int | None = None
    ) -> Annotation:
        """Save a review; ``based_on`` is the review version the form was loaded from (StaleReview if it moved)."""
        ann = self.require_case().annotate(
            item_id,
            verdict=verdict,
            notes=notes,
            tags=tags,
            sensitive=sensitive,
            reviewer=self.actor,
            based_on=based_on,
        )
        log.info("item %s: review saved (%s)", item_id, ann.verdict or "no verdict")
        self.notify("items")
        return ann

    # -- intake and triage -------------------------------------------------------------------------
    @property
    def uploads_dir(self) -> Path:
        return self.cases_dir / UPLOADS_DIR

    def check_evidence_path(self, path: str | os.PathLike) -> Path:
        """The real path of ``path`` if the dashboard may read it (under an evidence root or the uploads
        folder); DfdError saying why not otherwise."""
        text = str(path).strip()
        real = Path(os.path.realpath(Path(text).expanduser()))
        allowed = self.evidence_roots + [Path(os.path.realpath(self.uploads_dir))]
        if any(real == r or real.is_relative_to(r) for r in allowed):
            return real
        roots = ", ".join(str(r) for r in self.evidence_roots) or "none configured"
        raise DfdError(
            f"{text} is outside the folders this dashboard may take evidence from (evidence folders: "
            f"{roots}); nothing was read. Upload the files instead, or start the dashboard with the "
            f"folder in {EVIDENCE_ROOTS_ENV}"
        )

    def stage_uploads(self, files: list[tuple[str, bytes]]) -> list[StagedUpload]:
        """Write uploaded files under ``<case store>/_uploads/<case>/<UTC time>/<NNN>/``, one folder per file.

        Every file is kept: under its own name when that is a valid file name (any script), else
        under ``upload-NNN``; its own folder makes equal names never collide. The names as sent are
        listed in ``uploads.json`` beside them, and go into the case as each item's source notes.
        """
        case = self.require_case()
        if not files:
            raise DfdError("no uploaded files to stage")
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        folder = self.uploads_dir / case.id / stamp
        folder.mkdir(parents=True, exist_ok=False)
        staged: list[StagedUpload] = []
        for index, (name, data) in enumerate(files, 1):
            sub = folder / f"{index:03d}"
            sub.mkdir()
            path = sub / _storable_name(name, index)
            with open(path, "xb") as fh:  # never overwrite
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            staged.append(StagedUpload(path, name, len(data)))
        atomic_write(
            folder / "uploads.json",
            json.dumps(
                [
                    {"original_name": u.original_name, "stored_as": str(u.path.relative_to(folder)), "size": u.size}
                    for u in staged
                ],
                ensure_ascii=False,
                indent=1,
            ),
        )
        log.info("staged %d uploaded file(s) in %s", len(staged), folder)
        return staged

    def triage(
        self, paths: list[str | os.PathLike], progress: Progress | None = None, uploads: Iterable[StagedUpload] = ()
    ) -> pd.DataFrame:
        """Ingest ``paths`` and ``uploads`` and analyse them into the open case. Safe to call from a worker thread.

        ``paths`` must lie under the evidence roots (or the uploads folder); an upload's name as
        sent is recorded as its source note.
        """
        case = self.require_case()
        checked = []
        for p in paths:
            real = self.check_evidence_path(p)
            if not real.exists():
                raise DfdError(f"evidence path {p} does not exist")
            checked.append(real)
        uploads = list(uploads)
        for u in uploads:
            self.check_evidence_path(u.path)
        scanner = dask = None
        if self.dask_scheduler:
            from dfd_lib.case.distributed import DaskTriage, ScannerSpec

            spec = ScannerSpec(self.model, None if self.weights_dir is None else str(self.weights_dir))
            dask = DaskTriage(self.dask_client(), spec, upload=self.dask_upload)  # workers keep their model
        else:
            from dfd_lib.scan import Scanner

            scanner = Scanner(self.model, weights_dir=self.weights_dir)
        worker = open_case(case.id, cases_dir=case.path.parent, create=False)
        uploaded: list = []  # the uploads' intake records (the triage's own counts are of the paths only)
        try:
            for u in uploads:
                uploaded += worker.ingest(
                    [u.path],
                    source=Source(notes=f"uploaded through the dashboard as {u.original_name!r} ({u.size} bytes)"),
                    actor=self.actor,
                )
            df = worker.triage(checked, scanner=scanner, progress=progress, examiner=self.actor, dask=dask)
        finally:
            worker.close()
            if scanner is not None:
                scanner.close()
        a = df.attrs
        if uploaded:
            up = {k: sum(r.outcome == k for r in uploaded) for k in INTAKE_OUTCOMES}
            log.info(
                "uploads: %s new item(s), %s the same content as an item already in the case, %s error(s)",
                up["new"],
                up["new_source"] + up["known"],
                up["error"],
            )
            for r in uploaded:
                if r.outcome == "error":
                    log.warning("upload not taken in: %s: %s", r.path, r.message)
        log.info(
            "triage: %s new item(s), %s known; analysed %s, failed %s%s",
            a["intake"]["new"],
            a["intake"]["known"],
            a["analysed"],
            a["failed"],
            " (cancelled)" if a["cancelled"] else "",
        )
        for err in a["intake_errors"]:
            log.warning("intake error: %s: %s", err["path"], err["error"])
        for ch in a["intake_changed"]:
            log.warning("changed since an earlier intake: %s is item %s now, item %s before", *ch.values())
        self.notify("items")
        return df

    # -- Dask ------------------------------------------------------------------------------------------
    def dask_client(self) -> Any:
        """The client of the configured Dask scheduler (connected on first use, kept for the session)."""
        if not self.dask_scheduler:
            raise DfdError(f"no Dask scheduler is configured ({DASK_SCHEDULER_ENV})")
        with self._dask_lock:
            if self._dask_client is None:
                from distributed import Client

                self._dask_client = Client(self.dask_scheduler, set_as_default=False, timeout="30s")
                log.info("connected to Dask scheduler %s", self.dask_scheduler)
            return self._dask_client

    def dask_dashboard_link(self) -> str | None:
        """The Dask dashboard's address (None without a scheduler, or when it serves no dashboard)."""
        if not self.dask_scheduler:
            return None
        try:
            return self.dask_client().dashboard_link
        except Exception as exc:  # no dashboard (bokeh missing) or no scheduler: the link is only a help
            log.debug("no Dask dashboard link: %s", exc)
            return None

    def close_dask(self) -> None:
        if self._dask_client is not None:
            self._dask_client.close()
            self._dask_client = None

    # -- reports, portal forms and exports (dfd_lib.report, dfd_lib.portal, dfd_lib.export) ---------
    def portal_names(self) -> list[str]:
        from dfd_lib.portal import portal_names

        return portal_names()

    def portal(self, name: str) -> Any:
        from dfd_lib.portal import load_portal

        return load_portal(name)

    def portal_values(self, name: str) -> dict[str, Any]:
        from dfd_lib.portal import load_portal_fields

        return load_portal_fields(self.require_case(), name)

    def save_portal_values(self, name: str, values: dict[str, Any]) -> None:
        from dfd_lib.portal import save_portal_fields

        save_portal_fields(self.require_case(), name, values, actor=self.actor)
        log.info("portal form %s saved (%d field(s))", name, len(values))
        self.notify("export")

    def report(self, fmt: str = "pdf", progress: Progress | None = None) -> Path:
        """Write the case report of the chosen model's findings (the ones the grid shows)."""
        from dfd_lib.report import generate_report

        path = Path(
            generate_report(
                self.require_case(),
                fmt=fmt,
                progress=progress,
                weights_dir=self.weights_dir,
                actor=self.actor,
                model=self._shown_model()[1],
            )
        )
        log.info("report written: %s", path)
        self.notify("export")
        return path

    def bundle(
        self, portal: str, values: dict[str, Any], anonymous: bool = False, progress: Progress | None = None
    ) -> Any:
        """Save the form answers (if changed) and write the portal bundle, a zip under ``<case>/exports/``.

        Returns the library's ExportResult; the export is logged in the custody log by the library. The bundle shows
        the chosen model's findings (the ones the grid shows).
        """
        from dfd_lib.export import export_bundle

        case = self.require_case()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out = case.path / "exports" / f"{case.id}_{portal}_{stamp}.zip"
        out.parent.mkdir(parents=True, exist_ok=True)
        result = export_bundle(
            case,
            portal,
            out,
            anonymous=anonymous,
            progress=progress,
            values=values,
            actor=self.actor,
            weights_dir=self.weights_dir,
            model=self._shown_model()[1],
        )
        log.info("export bundle written: %s (SHA-256 %s)", result.path, result.sha256)
        self.notify("export")
        return result

    # -- explanations ------------------------------------------------------------------------------
    def heatmap(self, crop_path: Path, model_name: str, model_sha256: str) -> np.ndarray:
        """Grad-CAM heatmap of a stored face crop, recomputed with the model that scored it (cached)."""
        key = (str(crop_path), model_sha256)
        if key not in self._heatmaps:
            from dfd_lib.media import load_image

            crop = load_image(crop_path)
            with self._model_lock:
                self._heatmaps[key] = self._explainer(model_name, model_sha256).explain(crop).heatmap
        return self._heatmaps[key]

    def _explainer(self, model_name: str, model_sha256: str) -> Any:
        if model_sha256 not in self._explainers:
            from dfd_lib.explain import Explainer
            from dfd_lib.models.checkpoint import load_model

            model = load_model(model_name, self.weights_dir)
            if model.sha256 != model_sha256:
                raise DfdError(
                    f"the installed model {model_name} (SHA-256 {model.sha256[:12]}...) is not the one "
                    f"that scored this item ({model_sha256[:12]}...); cannot recompute its Grad-CAM"
                )
            self._explainers[model_sha256] = Explainer(model)
        return self._explainers[model_sha256]

    def close(self) -> None:
        for ex in self._explainers.values():
            ex.close()
        self._explainers.clear()
        self.close_case(notify=False)
        self.close_dask()
