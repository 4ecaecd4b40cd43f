"""Training data: labelled face crops, group-wise splits and the torch Dataset.

A data set is a folder with ``real/`` and ``fake/`` sub-folders, or a CSV of
``path,label[,group]`` (paths relative to the CSV's folder, label ``real``/``fake`` or 0/1).
When groups exist (a fake shares its group with the real video it was made from), every
split is by group, so no source video appears on both sides.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal, get_args

import pandas as pd

from ..errors import DataError

__all__ = ["load_labels", "check_files", "split_by_group", "Sample", "SampleKind", "Framing", "FRAMINGS"]

SampleKind = Literal["real", "fake", "sbi"]  # sbi: a self-blended pseudo-fake made from a real face
# as_given: the image is the face crop; pipeline: crop its MTCNN box as the scanner does
Framing = Literal["as_given", "pipeline"]
FRAMINGS: tuple[Framing, ...] = get_args(Framing)

_IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def _label(v) -> int:
    s = str(v).strip().lower()
    if s in ("fake", "1", "true", "manipulated", "synthetic"):
        return 1
    if s in ("real", "0", "false", "pristine", "original"):
        return 0
    raise DataError(f"unknown label {v!r} (use real/fake or 0/1)")


def load_labels(root: str | Path, labels_csv: str | Path | None = None) -> pd.DataFrame:
    """A DataFrame with ``path`` (relative to ``root``), ``label`` (1 = fake) and ``group``.

    With ``labels_csv``, only the files it lists count. Otherwise ``root/labels.csv`` is used
    when present, else ``root/real`` and ``root/fake`` are listed (each file its own group).
    """
    root = Path(root)
    csv_path = Path(labels_csv) if labels_csv else (root / "labels.csv")
    if labels_csv or csv_path.is_file():
        if not csv_path.is_file():
            raise DataError(f"labels file {csv_path} does not exist")
        try:
            df = pd.read_csv(csv_path, dtype=str)
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"labels file {csv_path} cannot be read as CSV with columns path,label: {exc}") from None
        if not {"path", "label"} <= set(df.columns):
            raise DataError(f"{csv_path} needs columns path,label[,group]; it has {list(df.columns)}")
        if df.empty:
            raise DataError(f"labels file {csv_path} lists no files")
        blank = df["path"].isna() | (df["path"].fillna("").str.strip() == "")
        if blank.any():
            lines = ", ".join(str(i + 2) for i in df.index[blank][:5])
            raise DataError(f"{csv_path}: {int(blank.sum())} row(s) without a path (lines {lines})")
        df = df.copy()
        df["label"] = [_label(v) for v in df["label"]]
        if "group" not in df.columns or df["group"].isna().all():
            df["group"] = df["path"]
        df["group"] = df["group"].fillna(df["path"])
        return df[["path", "label", "group"]].reset_index(drop=True)
    rows = []
    for sub, lab in (("real", 0), ("fake", 1)):
        d = root / sub
        if not d.is_dir():
            continue
        for f in sorted(d.rglob("*")):
            if f.is_file() and not f.name.startswith("."):
                rel = f.relative_to(root).as_posix()
                rows.append((rel, lab, rel))
    if not rows:
        raise DataError(f"{root} has no labels.csv and no files under real/ or fake/")
    return pd.DataFrame(rows, columns=["path", "label", "group"])


def check_files(root: str | Path, paths: Iterable[str]) -> None:
    """DataError naming the listed files (relative to ``root``, or absolute) that do not exist."""
    paths = list(paths)
    missing = [p for p in paths if not (Path(root) / p).is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise DataError(f"{len(missing)} of the {len(paths)} listed files do not exist under {root}: {shown}")


def _unit(group: str, seed: int) -> float:
    h = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def split_by_group(df: pd.DataFrame, val_fraction: float = 0.15, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic split: a group's side depends only on (seed, group name)."""
    u = df["group"].astype(str).map(lambda g: _unit(g, seed))
    val = u < val_fraction
    return df[~val].reset_index(drop=True), df[val].reset_index(drop=True)


@dataclass(frozen=True)
class Sample:
    path: str
    label: int  # 1 = fake
    kind: SampleKind
    framing: Framing = "as_given"
