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
    outside = {name: where for name, where in spelled.items()
               if any(not w.startswith("dfd_lib/env.py:") for w in where)}
    assert not outside, f"DFD_* names spelled outside dfd_lib/env.py (import them from there): {outside}"
    assert set(spelled) == set(ENV_VARS), "every variable dfd reads is described in ENV_VARS"
