"""Contracts that span modules: environment-variable names, vocabularies and CLI defaults each defined once."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "dfd_lib").rglob("*.py"), *(ROOT / "workbench").rglob("*.py")])


def _string_constants(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node


def test_environment_variable_names_are_spelled_only_in_dfd_lib_env():
    from dfd_lib.env import ENV_VARS

    spelled = {}
    for path in SOURCES:
        for node in _string_constants(path):
            if re.fullmatch(r"DFD_[A-Z0-9_]+", node.value):
                spelled.setdefault(node.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    outside = {
        name: where for name, where in spelled.items() if any(not w.startswith("dfd_lib/env.py:") for w in where)
    }
    assert not outside, f"DFD_* names spelled outside dfd_lib/env.py (import them from there): {outside}"
    assert set(spelled) == set(ENV_VARS), "every variable dfd reads is described in ENV_VARS"


# -- CLI defaults come from the library ---------------------------------------------------------------------------


def _library_defaults() -> dict[tuple[str, str], object]:
    """(command, option dest) -> the library's default for it: the one home each CLI default must match."""
    import dataclasses
    import inspect

    from dfd_lib.case import Case, Source
    from dfd_lib.case.notebook import run_case_notebook
    from dfd_lib.forensics import run_all
    from dfd_lib.report import generate_report
    from dfd_lib.scan import ScanSettings
    from dfd_lib.training.config import TrainConfig
    from dfd_lib.training.evaluate import evaluate
    from dfd_lib.training.evaluate_spec import evaluate_spec

    def field(cls, name):
        f = next(f for f in dataclasses.fields(cls) if f.name == name)
        return f.default if f.default is not dataclasses.MISSING else f.default_factory()

    def param(fn, name):
        return inspect.signature(fn).parameters[name].default

    table: dict[tuple[str, str], object] = {}
    for command in ("scan", "triage"):
        for dest, name in (
            ("frames_per_second", "fps"),
            ("every", "every"),
            ("min_face", "min_face_size"),
            ("face_threshold", "face_threshold"),
            ("memory_mb", "memory_mb"),
        ):
            table[command, dest] = field(ScanSettings, name)
    for dest in ("device", "url", "platform"):
        table["triage", f"source_{dest}"] = field(Source, dest)
    for dest in (
        "labels",
        "name",
        "backbone",
        "mode",
        "sbi_share",
        "sbi_local_share",
        "input_size",
        "epochs",
        "samples_per_epoch",
        "batch_size",
        "lr",
        "val_fraction",
        "seed",
        "workers",
        "device",
        "init_from",
        "crop_scale",
        "view_scales",
        "teacher",
        "teacher_weight",
        "weight_decay",
        "monitor_size",
        "training_data",
    ):
        table["train", dest] = field(TrainConfig, dest)
    table["train", "landmarks"] = field(TrainConfig, "landmarks_csv")
    table["train", "half"] = field(TrainConfig, "half")
    table["train", "no_pretrained"] = not field(TrainConfig, "pretrained")  # flags that turn a default off
    table["triage", "no_forensics"] = not param(Case.triage, "forensics")
    table["eval", "seed"] = param(evaluate, "seed")
    from dfd_lib.training.pack import pack_spec

    for dest in ("side", "quality", "fmt", "monitor", "seed"):
        table["pack", dest] = param(pack_spec, dest)
    table["eval", "crops"] = param(evaluate, "crops")  # a flag: off unless given, for a folder and a spec alike
    assert param(evaluate_spec, "crops") == param(evaluate, "crops")
    table["forensics", "max_pixels"] = param(run_all, "max_pixels")
    table["notebook", "seed"] = param(run_case_notebook, "seed")
    table["notebook", "threshold"] = param(run_case_notebook, "threshold")
    table["report", "format"] = param(generate_report, "fmt")
    return table


def _subparsers():
    import argparse

    from dfd_lib.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def test_every_cli_default_is_the_librarys_default():
    import argparse

    table = _library_defaults()
    commands = _subparsers()
    unclassified, wrong = [], []
    for (command, dest), expected in table.items():
        got = commands[command].get_default(dest)
        if got != expected or type(got) is not type(expected):
            wrong.append(f"dfd {command} --{dest.replace('_', '-')}: {got!r}, the library says {expected!r}")
    for command, parser in commands.items():
        for action in parser._actions:
            if (
                isinstance(
                    action,
                    (
                        argparse._HelpAction,
                        argparse._StoreTrueAction,
                        argparse._StoreFalseAction,
                        argparse._AppendAction,
                    ),
                )
                or not action.option_strings
            ):
                continue
            default = parser.get_default(action.dest)
            if default is not None and (command, action.dest) not in table:
                unclassified.append(f"dfd {command} {action.option_strings[0]} (default {default!r})")
    assert not wrong, wrong
    assert not unclassified, f"options with a default of their own (give it a home in the library): {unclassified}"


def test_help_texts_state_the_defaults_the_library_applies():
    from dfd_lib.case.distributed import DEFAULT_ALLOWED_FAILURES

    triage = _subparsers()["triage"]
    (failures,) = [a for a in triage._actions if a.dest == "allowed_failures"]
    assert f"(default {DEFAULT_ALLOWED_FAILURES})" in failures.help
    train_help = _subparsers()["train"].format_help()
    from dfd_lib.training.config import TrainConfig

    assert f"default {TrainConfig.epochs}" in " ".join(train_help.split())


# -- vocabularies: one Literal type each, its runtime tuple derived from it ----------------------------------------


def _vocabularies() -> dict[str, tuple[str, ...]]:
    from dfd_lib.case.custody import ACTIONS
    from dfd_lib.case.evidence import INTAKE_OUTCOMES, INTAKE_STATUSES
    from dfd_lib.case.queries import ITEM_STATUSES
    from dfd_lib.case.store import VERDICTS as ANALYST_VERDICTS
    from dfd_lib.case.triage import OUTCOMES
    from dfd_lib.forensics import STATUSES as FORENSIC_STATUSES
    from dfd_lib.media import MEDIA_KINDS, MEDIA_TYPES
    from dfd_lib.models.tta import TTA_MODES
    from dfd_lib.results import STATUSES, VERDICTS
    from dfd_lib.training.config import TRAIN_MODES
    from dfd_lib.training.data import FRAMINGS

    return {
        "file statuses": STATUSES,
        "model verdicts": VERDICTS,
        "analyst verdicts": ANALYST_VERDICTS,
        "item statuses": ITEM_STATUSES,
        "forensic statuses": FORENSIC_STATUSES,
        "media kinds": MEDIA_KINDS,
        "media types": MEDIA_TYPES,
        "intake outcomes": INTAKE_OUTCOMES,
        "intake statuses": INTAKE_STATUSES,
        "triage outcomes": OUTCOMES,
        "custody actions": tuple(sorted(ACTIONS)),
        "train modes": TRAIN_MODES,
        "framings": FRAMINGS,
        "tta modes": TTA_MODES,
    }


def test_no_module_spells_out_a_vocabulary_again():
    """A tuple, list or set literal listing a whole vocabulary (outside its Literal) is a copy to keep in step."""
    vocabularies = {frozenset(v): name for name, v in _vocabularies().items()}
    literal_slices = set()
    copies = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "Literal":
                literal_slices.add(id(node.slice))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Tuple, ast.List, ast.Set)) or id(node) in literal_slices:
                continue
            values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(values) == len(node.elts) >= 2 and frozenset(values) in vocabularies:
                copies.append(f"{path.relative_to(ROOT)}:{node.lineno} re-lists the {vocabularies[frozenset(values)]}")
    assert not copies, copies


def test_the_grid_filters_by_every_status_a_case_item_can_have(tmp_path):
    from case_support import FakeScanner, make_images, write_image

    from dfd_lib.case import ITEM_STATUSES, open_case

    evidence = tmp_path / "ev"
    make_images(evidence, 1)
    write_image(evidence / "tiny.png", seed=9, size=20)  # no_face (FakeScanner)
    (evidence / "notes.jpg").write_text("not a photo")
    with open_case("statuses", cases_dir=tmp_path / "cases", examiner="x") as case:
        case.triage([evidence], scanner=FakeScanner(), forensics=False)
        later = tmp_path / "later"  # taken in, not analysed yet
        make_images(later, 1, start=5)
        (later / "empty.png").write_bytes(b"")
        case.ingest([later])
        items = case.items()
    assert set(items["status"]) == {"scored", "no_face", "unsupported", "pending", "empty"}
    assert set(items["status"]) <= set(ITEM_STATUSES)

    from workbench.grid import _STATUS_OPTIONS
    from workbench.presenters import ANY

    assert _STATUS_OPTIONS == [ANY, *ITEM_STATUSES]


def test_triage_refuses_an_object_that_is_not_a_scanner(tmp_path):
    from types import SimpleNamespace

    import pytest
    from case_support import FakeScanner, make_images

    from dfd_lib.case import CaseError, open_case
    from dfd_lib.case.triage import ScannerLike

    assert isinstance(FakeScanner(), ScannerLike)
    make_images(tmp_path / "ev", 1)
    not_a_scanner = SimpleNamespace(model=FakeScanner().model)  # a model, but nothing that scans
    with open_case("refuse", cases_dir=tmp_path / "cases", examiner="x") as case:
        with pytest.raises(CaseError, match="SimpleNamespace cannot triage: a scanner needs model.card and scan_file"):
            case.triage([tmp_path / "ev"], scanner=not_a_scanner)
        assert case.items().empty  # refused before anything was taken in


def test_the_real_scanner_honours_the_scanner_contract(scanner):
    from dfd_lib.case.triage import ScannerLike

    assert isinstance(scanner, ScannerLike)
