"""``dfd notebook CASE``: run the case notebook template into the case folder (see :mod:`dfd_lib.case.notebook`)."""

from __future__ import annotations

from .common import add_command, add_cases_dir_option, add_model_options, default_of, person

__all__ = ["register", "run"]


def register(sub) -> None:
    from ..case.notebook import run_case_notebook

    p = add_command(sub, "notebook", run, "run the reproducible case notebook into the case folder")
    p.add_argument("case", metavar="CASE", help="case name (created when --evidence is given)")
    p.add_argument("--evidence", default=None, metavar="DIR", help="folder or file to triage into the case first")
    p.add_argument(
        "--threshold",
        type=float,
        default=default_of(run_case_notebook, "threshold"),
        help="threshold for the plots (default: the model's)",
    )
    p.add_argument("--seed", type=int, default=default_of(run_case_notebook, "seed"))
    p.add_argument("--examiner", type=person, default=None, help="who runs it (recorded in the custody log)")
    p.add_argument("--template", default=None, help="another template notebook (default: the one shipped in dfd_lib)")
    p.add_argument("--out", default=None, help="where to write the executed notebook (default: in the case folder)")
    add_cases_dir_option(p)
    add_model_options(p)


def run(args) -> int:
    """Execute the shipped case notebook template with papermill for a case (optionally triaging an evidence folder
    first), save the executed notebook under <case>/notebooks/ and record it in the custody log.
    """
    from ..case.notebook import run_case_notebook

    path, sha, ok = run_case_notebook(
        args.case,
        args.evidence,
        args.model,
        args.weights_dir,
        args.cases_dir,
        args.threshold,
        args.seed,
        args.examiner,
        args.template,
        args.out,
    )
    print(f"case notebook {'written' if ok else 'FAILED (partial notebook kept)'}: {path}\nsha256 {sha}")
    return 0 if ok else 1
