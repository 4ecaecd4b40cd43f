"""Multi-source data specs: one YAML file names every data set a model is trained and validated on.

A spec lists sources (each a folder of face images with a ``labels.csv``), how each is framed,
how its validation part is chosen and how often training draws from it::

    name: dfd-lite0-multi
    sources:
      dfdc:
        root: ../../shared/data/dfdc-faces-224   # relative to this file (or --data-root)
        framing: as_given        # the images are face crops framed as the scanner frames faces
        validation: {group_fraction: 0.2, seed: 0}   # by the labels' group column (source video)
        real_weight: 0.4         # share of the real half of each batch drawn from this source
        exclude_methods: []      # methods left out entirely (for leave-one-out checks)
        fake_weight: 0.25        # share of the fake half (pseudo-fakes take sbi_share first)
      rff:
        root: ../../shared/data/rff-photoshop-320
        framing: pipeline        # whole photos: crop the MTCNN box as the scanner does
        validation: {column: split, value: test}     # the source's own split
        ...
    sbi_share: 0.3               # share of the fake half made of self-blended pseudo-fakes

Validation rows are split again (by group where one exists, else by file) into a calibration
half and a held-out half, per source, so every source is present in both. ``load_spec``
returns one table with the columns ``source, path, abs_path, label, group, method, kind, role``
(``role`` is train, calib or val; ``kind`` is real or the kind of manipulation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import DataError, DataSpecError
from .data import FRAMINGS, Framing, load_labels, split_by_group

__all__ = ["SourceSpec", "DataSpec", "read_spec", "load_spec", "FRAMINGS", "table_from_lists"]


@dataclass(frozen=True)
class SourceSpec:
    name: str
    root: Path
    framing: Framing = "as_given"
    validation: dict = field(default_factory=dict)
    real_weight: float = 0.0
    fake_weight: float = 0.0
    sbi: bool = True  # make pseudo-fakes from this source's training reals
    group_column: str | None = "group"  # None: every file is its own group
    exclude_methods: tuple[str, ...] = ()  # rows of these methods are left out entirely (leave-one-out checks)
    kind: str = "swap"  # kind of manipulation of this source's fakes (see dfd_lib.models.kind.KIND_WORDS)
    method_kinds: dict = field(default_factory=dict)  # method -> kind, where it differs from ``kind``
    description: str = ""
    terms: str = ""


@dataclass(frozen=True)
class DataSpec:
    name: str
    path: Path
    sources: tuple[SourceSpec, ...]
    sbi_share: float = 0.3
    calibration_split_seed: int = 1
    max_fpr: float = 0.07  # threshold rule: no source's calibration reals above this false-positive rate
    raw: dict = field(default_factory=dict, repr=False)

    def source(self, name: str) -> SourceSpec:
        for s in self.sources:
            if s.name == name:
                return s
        raise DataSpecError(
            f"spec {self.path.name}: no source named {name!r}; known: {', '.join(s.name for s in self.sources)}"
        )


def read_spec(path: str | Path, data_root: str | Path | None = None) -> DataSpec:
    """Parse and check a spec; relative roots are taken from ``data_root`` or the spec's folder."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataSpecError(f"data spec {path} cannot be read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:  # one line: what is wrong and where
        mark = getattr(exc, "problem_mark", None)
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        what = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise DataSpecError(f"data spec {path} cannot be read as YAML: {what}{where}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), dict) or not raw["sources"]:
        raise DataSpecError(f"data spec {path} needs a 'sources' mapping with at least one source")
    base = Path(data_root) if data_root else path.parent
    sources = []
    for name, s in raw["sources"].items():
        if not isinstance(s, dict) or "root" not in s:
            raise DataSpecError(f"data spec {path}: source {name!r} needs a 'root'")
        root = Path(str(s["root"]))
        if data_root:
            root = base / root.name
        elif not root.is_absolute():
            root = (base / root).resolve()
        framing = s.get("framing", "as_given")
        if framing not in FRAMINGS:
            raise DataSpecError(
                f"data spec {path}: source {name!r} framing {framing!r} is not one of {', '.join(FRAMINGS)}"
            )
        val = s.get("validation") or {"group_fraction": 0.2}
        if not isinstance(val, dict) or not ("column" in val or "group_fraction" in val):
            raise DataSpecError(
                f"data spec {path}: source {name!r} validation needs 'column'/'value' or 'group_fraction'"
            )
        try:
            sources.append(
                SourceSpec(
                    name=str(name),
                    root=root,
                    framing=framing,
                    validation=dict(val),
                    real_weight=float(s.get("real_weight", 0.0)),
                    fake_weight=float(s.get("fake_weight", 0.0)),
                    sbi=bool(s.get("sbi", True)),
                    group_column=s.get("group_column", "group"),
                    exclude_methods=tuple(str(m) for m in s.get("exclude_methods", ()) or ()),
                    kind=str(s.get("kind", "swap")),
                    method_kinds={str(k): str(v) for k, v in (s.get("method_kinds") or {}).items()},
                    description=str(s.get("description", "")),
                    terms=str(s.get("terms", "")),
                )
            )
            if "group_fraction" in val:  # used at split time; a bad value is a spec error, reported here
                float(val["group_fraction"]), int(val.get("seed", 0))
        except (TypeError, ValueError, AttributeError) as exc:
            raise DataSpecError(f"data spec {path}: source {name!r} has a value of the wrong type: {exc}") from exc
    try:
        share = float(raw.get("sbi_share", 0.3))
        split_seed, max_fpr = int(raw.get("calibration_split_seed", 1)), float(raw.get("max_fpr", 0.07))
    except (TypeError, ValueError) as exc:
        raise DataSpecError(f"data spec {path}: a value of the wrong type: {exc}") from exc
    if not 0.0 <= share <= 1.0:
        raise DataSpecError(f"data spec {path}: sbi_share must lie in [0, 1]")
    if sum(s.real_weight for s in sources) <= 0:
        raise DataSpecError(f"data spec {path}: no source has a real_weight > 0")
    return DataSpec(
        name=str(raw.get("name", path.stem)),
        path=path,
        sources=tuple(sources),
        sbi_share=share,
        calibration_split_seed=split_seed,
        max_fpr=max_fpr,
        raw=raw,
    )


def _source_table(src: SourceSpec) -> pd.DataFrame:
    csv = src.root / "labels.csv"
    if not src.root.is_dir():
        raise DataError(f"source {src.name}: folder {src.root} does not exist")
    df = load_labels(src.root)
    extra = pd.read_csv(csv, dtype=str) if csv.is_file() else pd.DataFrame({"path": df["path"]})
    extra = extra.drop_duplicates("path").set_index("path")
    df["method"] = [str(extra["method"].get(p, "")) if "method" in extra else "" for p in df["path"]]
    df.loc[df["method"].isin(["", "nan"]), "method"] = df["label"].map({0: "real", 1: "fake"})
    if src.group_column is None or src.group_column not in extra:
        df["group"] = df["path"]
    else:
        df["group"] = [str(extra[src.group_column].get(p) or p) for p in df["path"]]
    val = src.validation
    if "column" in val:
        col = val["column"]
        if col not in extra:
            raise DataError(f"source {src.name}: labels.csv has no column {col!r} for the validation split")
        df["role"] = [
            "calib" if str(extra[col].get(p)) == str(val.get("value", "test")) else "train" for p in df["path"]
        ]
    else:
        train, valid = split_by_group(df, float(val["group_fraction"]), int(val.get("seed", 0)))
        keep = set(valid["path"])
        df["role"] = ["calib" if p in keep else "train" for p in df["path"]]
    if src.exclude_methods:
        df = df[~df["method"].isin(src.exclude_methods)].reset_index(drop=True)
    df["source"] = src.name
    df["abs_path"] = [str(src.root / p) for p in df["path"]]
    df["kind"] = ["real" if y == 0 else src.method_kinds.get(m, src.kind) for y, m in zip(df["label"], df["method"])]
    return df


def load_spec(spec: DataSpec) -> pd.DataFrame:
    """All rows of all sources with their role (train, calib, val); the validation part of each
    source is halved by group (seed ``calibration_split_seed``) into calibration and held-out rows."""
    parts = []
    for src in spec.sources:
        df = _source_table(src)
        vmask = df["role"] == "calib"
        _, held = split_by_group(df[vmask], 0.5, spec.calibration_split_seed)
        held_paths = set(held["path"])
        df.loc[vmask & df["path"].isin(held_paths), "role"] = "val"
        parts.append(df)
    cols = ["source", "path", "abs_path", "label", "group", "method", "kind", "role"]
    return pd.concat(parts, ignore_index=True)[cols]


def table_from_lists(spec: DataSpec, csv_path: str | Path) -> pd.DataFrame:
    """Rows of a shipped file list (``source,path,label[,method,group]``), resolved against the spec's roots, with
    each row's ``kind`` as the spec names it (real, or the kind of manipulation)."""
    try:
        df = pd.read_csv(csv_path, dtype=str)
    except FileNotFoundError:
        raise DataError(f"file list {csv_path} does not exist") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"file list {csv_path} cannot be read as CSV with columns source,path,label: {exc}") from None
    if not {"source", "path", "label"} <= set(df.columns):
        raise DataError(f"{csv_path} needs columns source,path,label (a multi-source file list)")
    if df.empty or df[["source", "path"]].isna().any().any():
        raise DataError(f"{csv_path} lists no files, or has rows without a source or path")
    from .data import _label

    df["label"] = [_label(v) for v in df["label"]]
    df["abs_path"] = [str(spec.source(s).root / p) for s, p in zip(df["source"], df["path"])]
    if "method" not in df:
        df["method"] = df["label"].map({0: "real", 1: "fake"})
    if "group" not in df:
        df["group"] = df["path"]
    kinds = {s.name: s for s in spec.sources}
    df["kind"] = [
        "real" if y == 0 else kinds[s].method_kinds.get(m, kinds[s].kind)
        for s, y, m in zip(df["source"], df["label"], df["method"])
    ]
    return df
