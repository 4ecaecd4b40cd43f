"""The reproducible case notebook: run the shipped template (papermill) for a case into its folder and log it."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

from ..errors import DfdError
from .catalog import open_case
from .outputs import check_output_path

__all__ = ["NOTEBOOKS_DIR", "TEMPLATE_NAME", "template_path", "run_case_notebook"]

log = logging.getLogger(__name__)

NOTEBOOKS_DIR = "notebooks"  # inside the case folder
TEMPLATE_NAME = "case_template.ipynb"  # package data of dfd_lib.case (ships in the wheel)


@contextlib.contextmanager
def template_path(explicit: str | None = None) -> Iterator[Path]:
    """The template as a file path for as long as the block runs: ``explicit``, else the one shipped
    in the package (read through :mod:`importlib.resources`, so it works from a wheel or a zip too)."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise DfdError(f"case notebook template {path} not found")
        yield path
        return
    shipped = resources.files(__package__).joinpath(TEMPLATE_NAME)
    if not shipped.is_file():
        raise DfdError(
            f"the shipped case notebook template {TEMPLATE_NAME} is missing from dfd_lib.case; "
            "reinstall the package or pass a template"
        )
    with resources.as_file(shipped) as path:
        yield path


def run_case_notebook(
    case_name: str,
    evidence: str | None = None,
    model: str | None = None,
    weights_dir: str | None = None,
    cases_dir: str | None = None,
    threshold: float | None = None,
    seed: int = 0,
    examiner: str | None = None,
    template: str | None = None,
    out: str | None = None,
) -> tuple[Path, str, bool]:
    """Execute the template for a case (created when ``evidence`` is given), write the executed notebook
    into ``<case>/notebooks/`` (or ``out``) and record it in the custody log (action ``report``).

    Returns (executed notebook, its SHA-256, whether it ran to the end).
    """
    import papermill as pm

    with template_path(template) as tpl:
        case = open_case(case_name, cases_dir, create=evidence is not None)
        try:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            target = Path(out) if out else case.path / NOTEBOOKS_DIR / f"case_notebook_{stamp}.ipynb"
            if out:  # never over a case's database or write-once files, nor a file this case did not write
                check_output_path(case, target, what="the case notebook")
            target.parent.mkdir(parents=True, exist_ok=True)
            params: dict[str, Any] = {
                "case": case.id,
                "cases_dir": str(case.path.parent.resolve()),
                "evidence": None if evidence is None else str(Path(evidence).resolve()),
                "model": model,
                "weights_dir": None if weights_dir is None else str(Path(weights_dir).resolve()),
                "threshold": threshold,
                "seed": seed,
            }
            ok, error = True, ""
            try:
                pm.execute_notebook(
                    str(tpl),
                    str(target),
                    parameters=params,
                    kernel_name="python3",
                    progress_bar=False,
                    cwd=str(Path.cwd()),
                )
            except pm.PapermillExecutionError as exc:
                ok, error = False, f"{exc.ename}: {exc.evalue}"
            sha = hashlib.sha256(target.read_bytes()).hexdigest() if target.is_file() else ""
            where = (
                str(target.relative_to(case.path))
                if target.resolve().is_relative_to(case.path.resolve())
                else str(target.resolve())
            )
            details: dict[str, Any] = {
                "kind": "case_notebook",
                "path": where,
                "sha256": sha,
                "ok": ok,
                "template": tpl.name,
                "parameters": params,
            }
            if error:
                details["error"] = error
            case.log_action("report", examiner or case.info.examiner or "unknown", details=details)
            if not ok:
                log.error("the case notebook stopped with %s; the partial notebook is %s", error, target)
            return target, sha, ok
        finally:
            case.close()
