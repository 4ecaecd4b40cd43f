"""Report formats, registered in ``REPORT_FORMATS`` (a :class:`dfd_lib.registry.Registry`), and ``generate_report``.

Each format is a report module after Autopsy's: a name, a description and ``generate(case,
settings, progress)``. It verifies the case (logged), reads it into a :class:`ReportData`,
renders, writes the file atomically and records the file's SHA-256 in the custody log (action
``report``). The same module runs headless (CLI, tests) or in the dashboard, which passes its
own Progress. A new format is one more ``REPORT_FORMATS.register(RenderModule(...))`` below.

No report or export bundle is ever written over a case's own files, nor over a file the case did not write:
:func:`dfd_lib.case.outputs.check_output_path`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

from ..case import Case, VerificationReport, default_actor
from ..case.clock import parse_utc
from ..case.outputs import check_output_path as _check_output_path
from ..errors import DfdError
from ..fileio import atomic_write as write_atomic
from ..progress import Progress, ensure_progress
from ..registry import Registry
from .errors import ReportCancelled, ReportError
from .html import render_html
from .pdf import render_pdf
from .card_choice import choose_report_card
from .reportdata import ReportData, collect_report_data

__all__ = [
    "ReportSettings",
    "ReportModule",
    "RenderModule",
    "REPORT_FORMATS",
    "generate_report",
    "write_atomic",
    "REPORTS_DIR",
    "check_output_path",
]

log = logging.getLogger(__name__)

REPORTS_DIR = "reports"


def check_output_path(
    case: Case, out: str | os.PathLike, error: type[DfdError] = ReportError, what: str = "the report"
) -> Path:
    """:func:`dfd_lib.case.outputs.check_output_path`, raising :class:`ReportError` by default."""
    return _check_output_path(case, out, error, what)


@dataclass(frozen=True)
class ReportSettings:
    out: Path | None = None  # file (or existing folder); default <case>/reports/report_<UTC>.<ext>
    weights_dir: str | None = None  # where to look for model cards (default search path otherwise)
    actor: str | None = None  # who makes the report (default: the case examiner)
    # called with the verification the report documents, once it is done (e.g. to warn when it failed)
    on_verification: Callable[[VerificationReport], None] | None = None
    model: str | None = None  # the card whose findings the report shows (default: see report.card_choice)


@runtime_checkable
class ReportModule(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def generate(self, case: Case, settings: ReportSettings, progress: Progress | None) -> Path: ...


def _out_path(case: Case, settings: ReportSettings, generated_utc: str, extension: str) -> Path:
    name = f"report_{case.id}_{parse_utc(generated_utc).strftime('%Y%m%dT%H%M%SZ')}.{extension}"
    if settings.out is None:
        return case.path / REPORTS_DIR / name
    out = Path(settings.out)
    out = out / name if out.is_dir() else out
    check_output_path(case, out)
    return out


@dataclass(frozen=True)
class RenderModule:
    """A report module whose output is one file rendered from :class:`ReportData`."""

    name: str
    description: str
    extension: str
    render: Callable[[ReportData, Callable[[], None]], bytes]

    def generate(self, case: Case, settings: ReportSettings, progress: Progress | None = None) -> Path:
        progress = ensure_progress(progress)
        actor = settings.actor or case.info.examiner or default_actor()
        n_items = len(case.items())
        progress.start(n_items + 2, f"report ({self.name})")

        def step() -> None:
            if progress.cancelled():
                raise ReportCancelled(f"report of case {case.id} cancelled; nothing was written")
            progress.advance(1)

        readonly = getattr(case, "readonly", False)
        if readonly and settings.out is None:
            from ..case import CaseReadOnly

            progress.close()
            raise CaseReadOnly(
                f"case {case.id} is read-only: give an output file or folder outside the case (--out) for the report"
            )
        try:
            if settings.out is not None:  # refuse a path over the case's own files before any work
                check_output_path(case, settings.out)
            choose_report_card(case, settings.model, settings.weights_dir)  # an unknown card: before any work
            verification = case.verify(actor=actor)
            if settings.on_verification is not None:
                settings.on_verification(verification)
            step()
            data = collect_report_data(
                case, verification, snapshot=False, weights_dir=settings.weights_dir, model=settings.model
            )
            body = self.render(data, step)
            out = _out_path(case, settings, data.generated_utc, self.extension)
            write_atomic(out, body)
            sha = hashlib.sha256(body).hexdigest()
            if readonly:  # nothing can be written to the case: the report's hash is printed, not logged
                progress.advance(1)
                log.warning(
                    "case %s is read-only: %s report %s (SHA-256 %s) not recorded in its custody log",
                    case.id,
                    self.name,
                    out,
                    sha,
                )
                return out
            case.log_action(
                "report",
                actor,
                details={
                    "format": self.name,
                    "file": out.name,
                    "path": str(out.resolve()),
                    "sha256": sha,
                    "size": len(body),
                    "as_of_seq": data.as_of_seq,
                    "verification_ok": verification.ok,
                    "items": len(data.items),
                },
            )
            progress.advance(1)
            log.info("case %s: %s report %s (SHA-256 %s)", case.id, self.name, out, sha)
            return out
        finally:
            progress.close()


def _pdf(data: ReportData, step: Callable[[], None]) -> bytes:
    return render_pdf(data, owner_password=secrets.token_hex(16), progress_step=step)


def _html(data: ReportData, step: Callable[[], None]) -> bytes:
    body = render_html(data)
    for _ in data.items:
        step()
    return body


REPORT_FORMATS: Registry[ReportModule] = Registry("report format")
REPORT_FORMATS.register(
    RenderModule(
        "pdf",
        "Read-only PDF report: summary, items with thumbnails and hashes, faces with Grad-CAM, forensic maps, "
        "model card, custody log and verification.",
        "pdf",
        _pdf,
    )
)
REPORT_FORMATS.register(
    RenderModule("html", "The same report as one self-contained HTML file (pictures embedded).", "html", _html)
)


def generate_report(
    case: Case,
    fmt: str = "pdf",
    out: str | os.PathLike | None = None,
    progress: Progress | None = None,
    *,
    weights_dir: str | os.PathLike | None = None,
    actor: str | None = None,
    on_verification: Callable[[VerificationReport], None] | None = None,
    model: str | None = None,
) -> Path:
    """Write a report of ``case`` (``fmt``: a name in :data:`REPORT_FORMATS`, 'pdf' or 'html'); its SHA-256 goes into
    the custody log. An unknown format raises :class:`dfd_lib.errors.RegistryError` naming the known ones.

    ``out``: a file, or an existing folder to write ``report_<case>_<UTC>.<ext>`` into (default: the case's reports/
    folder). A path over the case's database or inside its evidence/, artifacts/ or tmp/ folder raises
    :class:`ReportError`. ``on_verification`` is called with the case's verification before rendering. ``model``:
    the card whose findings the report shows (one card per report; default: the installed default card where it
    scored the case, else the card that scored last; see :mod:`dfd_lib.report.card_choice`)."""
    settings = ReportSettings(
        None if out is None else Path(out),
        None if weights_dir is None else str(weights_dir),
        actor,
        on_verification,
        model,
    )
    return REPORT_FORMATS.get(fmt).generate(case, settings, progress)
