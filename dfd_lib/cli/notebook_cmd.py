"""``dfd notebook CASE``: run the case notebook template (papermill) into the case folder and log it."""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .common import add_cases_dir_option, add_model_options

__all__ = ["register", "run", "template_path", "run_case_notebook", "NOTEBOOKS_DIR", "TEMPLATE_NAME"]

log = logging.getLogger(__name__)

NOTEBOOKS_DIR = "notebooks"  # inside the case folder
TEMPLATE_NAME = "case_template.ipynb"


def register(sub) -> None:
    p = sub.add_parser("notebook", help="run the reproducible case notebook into the case folder",
                       description="Execute notebooks/case_template.ipynb with papermill for a case (optionally "
                                   "triaging an evidence folder first), save the executed notebook under "
                                   "<case>/notebooks/ and record it in the custody log.")
    p.add_argument("case", metavar="CASE", help="case name (created when --evidence is given)")
    p.add_argument("--evidence", default=None, metavar="DIR", help="folder or file to triage into the case first")
    p.add_argument("--threshold", type=float, default=None, help="threshold for the plots (default: the model's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--examiner", default=None, help="who runs it (recorded in the custody log)")
    p.add_argument("--template", default=None, help="another template notebook (default: notebooks/" + TEMPLATE_NAME + ")")
    p.add_argument("--out", default=None, help="where to write the executed notebook (default: in the case folder)")
    add_cases_dir_option(p)
    add_model_options(p)
    p.set_defaults(func=run)


def template_path(explicit: str | None = None) -> Path:
    """The template: the explicit path, else ``./notebooks/``, else the source checkout's ``notebooks/``."""
    from ..errors import DfdError

    if explicit:
        candidates = [Path(explicit)]
    else:
        import dfd_lib

        candidates = [Path.cwd() / NOTEBOOKS_DIR / TEMPLATE_NAME,
                      Path(dfd_lib.__file__).resolve().parent.parent / NOTEBOOKS_DIR / TEMPLATE_NAME]
    for c in candidates:
        if c.is_file():
            return c
    raise DfdError("case notebook template not found (looked at " + ", ".join(map(str, candidates)) +
                   "); pass --template PATH")


def run_case_notebook(case_name: str, evidence: str | None = None, model: str | None = None,
                      weights_dir: str | None = None, cases_dir: str | None = None, threshold: float | None = None,
                      seed: int = 0, examiner: str | None = None, template: str | None = None,
                      out: str | None = None) -> tuple[Path, str, bool]:
    """Execute the template for a case; returns (executed notebook, its SHA-256, whether it ran to the end)."""
    import papermill as pm

    from ..case import open_case

    tpl = template_path(template)
    case = open_case(case_name, cases_dir, create=evidence is not None)
    try:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        target = Path(out) if out else case.path / NOTEBOOKS_DIR / f"case_notebook_{stamp}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        params: dict[str, Any] = {
            "case": case.id, "cases_dir": str(case.path.parent.resolve()),
            "evidence": None if evidence is None else str(Path(evidence).resolve()), "model": model,
            "weights_dir": None if weights_dir is None else str(Path(weights_dir).resolve()),
            "threshold": threshold, "seed": seed}
        ok, error = True, ""
        try:
            pm.execute_notebook(str(tpl), str(target), parameters=params, kernel_name="python3",
                                progress_bar=False, cwd=str(Path.cwd()))
        except pm.PapermillExecutionError as exc:
            ok, error = False, f"{exc.ename}: {exc.evalue}"
        sha = hashlib.sha256(target.read_bytes()).hexdigest() if target.is_file() else ""
        where = str(target.relative_to(case.path)) if target.resolve().is_relative_to(case.path.resolve()) \
            else str(target.resolve())
        details: dict[str, Any] = {"kind": "case_notebook", "path": where, "sha256": sha, "ok": ok,
                                   "template": tpl.name, "parameters": params}
        if error:
            details["error"] = error
        case.log_action("report", examiner or case.info.examiner or "unknown", details=details)
        if not ok:
            log.error("the case notebook stopped with %s; the partial notebook is %s", error, target)
        return target, sha, ok
    finally:
        case.close()


def run(args) -> int:
    path, sha, ok = run_case_notebook(args.case, args.evidence, args.model, args.weights_dir, args.cases_dir,
                                      args.threshold, args.seed, args.examiner, args.template, args.out)
    print(f"case notebook {'written' if ok else 'FAILED (partial notebook kept)'}: {path}\nsha256 {sha}")
    return 0 if ok else 1
