"""The one atomic-write helper and the one JSON sanitiser (dfd_lib.fileio)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfd_lib.fileio import atomic_path, atomic_write, json_ready


def test_atomic_write_replaces_the_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "sub" / "out.json"
    atomic_write(target, "first")
    atomic_write(target, b"second")
    assert target.read_text() == "second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]


def test_a_failed_write_keeps_the_old_file_whole(tmp_path):
    target = tmp_path / "report.pdf"
    target.write_bytes(b"old report")
    with pytest.raises(RuntimeError, match="renderer died"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a new rep")
            raise RuntimeError("renderer died")
    assert target.read_bytes() == b"old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"]


def test_json_ready_turns_numpy_nan_sets_and_paths_into_plain_json():
    value = {
        1: np.float32(0.5),
        "nan": float("nan"),
        "inf": np.float64(np.inf),
        "arr": np.arange(3),
        "flag": np.bool_(True),
        "tags": {"b", "a"},
        "pair": (1, 2),
        "path": Path("a/b"),
        "na": pd.NA,
        "nested": [{"x": np.int64(7)}],
    }
    out = json_ready(value)
    assert out == {
        "1": 0.5,
        "nan": None,
        "inf": None,
        "arr": [0, 1, 2],
        "flag": True,
        "tags": ["a", "b"],
        "pair": [1, 2],
        "path": str(Path("a/b")),
        "na": None,
        "nested": [{"x": 7}],
    }
    assert type(out["1"]) is float and type(out["nested"][0]["x"]) is int
    json.dumps(out, allow_nan=False)  # strict JSON


def test_json_ready_refuses_unknown_objects_unless_lenient():
    with pytest.raises(TypeError, match="object"):
        json_ready({"x": object()})
    assert json_ready({"raw": b"caf\xc3\xa9\xff", "obj": 3 + 4j}, strict=False) == {
        "raw": "café\ufffd",
        "obj": "(3+4j)",
    }
