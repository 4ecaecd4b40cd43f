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

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import DataError, DataSpecError
from .data import FRAMINGS, Framing, load_labels, split_by_group

__all__ = [
    "SourceSpec",
    "DataSpec",
    "read_spec",
    "load_spec",
    "check_roots",
    "check_training_mix",
    "FRAMINGS",
    "table_from_lists",
    "SPEC_KEYS",
    "SOURCE_KEYS",
    "VALIDATION_KEYS",
]


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


SPEC_KEYS = ("name", "sources", "sbi_share", "max_fpr", "calibration_split_seed")
SOURCE_KEYS = (
    "root",
    "framing",
    "validation",
    "real_weight",
    "fake_weight",
    "sbi",
    "group_column",
    "exclude_methods",
    "kind",
    "method_kinds",
    "description",
    "terms",
)
VALIDATION_KEYS = ("column", "value", "group_fraction", "seed")


class _Problems(list):
    """What is wrong with one spec: phrases that each name the place (``source 'x'``), the key and what is allowed,
    reported together in one line."""

    def add(self, where: str, text: str) -> None:
        self.append(f"{where}: {text}" if where else text)

    def unknown(self, where: str, raw: dict, known: tuple[str, ...]) -> None:
        """A key the spec does not know is a typo until shown otherwise (it would be ignored silently)."""
        import difflib

        for key in raw:
            if str(key) not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.add(where, f"unknown key {str(key)!r}{hint}; the keys known here are {', '.join(known)}")

    def wrong(self, where: str, key: str, want: str, value) -> None:
        lead = f"{where} has a value of the wrong type" if where else "a value of the wrong type"
        self.append(f"{lead}: {key} must be {want}, not {value!r}")

    def number(self, where: str, raw: dict, key: str, default: float, ok, rule: str, label: str = "") -> float:
        """``raw[key]`` (``default`` when absent) as a finite float for which ``ok`` holds, else ``default`` with the
        problem recorded. A numeric string counts: YAML 1.1 reads ``1e-3`` as a string."""
        value = raw.get(key, default)
        label = label or key
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.wrong(where, label, "a number", value)
            return default
        try:
            x = float(value)
        except ValueError:
            self.wrong(where, label, "a number", value)
            return default
        if not math.isfinite(x) or not ok(x):
            self.add(where, f"{label} {value!r} is out of range: it {rule}")
            return default
        return x

    def whole(self, where: str, raw: dict, key: str, default: int, label: str = "") -> int:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong(where, label or key, "a whole number", value)
            return default
        return value

    def text(self, where: str, raw: dict, key: str, default: str, empty_ok: bool = True, label: str = "") -> str:
        """``raw[key]`` as a string (``default`` when absent or null)."""
        value = raw.get(key)
        if value is None:
            return default
        if not isinstance(value, str) or (not empty_ok and not value.strip()):
            self.wrong(where, label or key, "a string" if empty_ok else "a non-empty string", value)
            return default
        return value


def _share(x: float) -> bool:
    return 0.0 <= x <= 1.0


def _weight(x: float) -> bool:
    return x >= 0.0


def _fraction(x: float) -> bool:
    return 0.0 < x < 1.0


def _validation(where: str, val, problems: _Problems) -> dict:
    """A source's validation rule: its own split (``column``, ``value``) or a share of its groups (``group_fraction``,
    ``seed``); absent or empty: ``group_fraction`` 0.2."""
    if val is None or val == {}:
        return {"group_fraction": 0.2}
    here = f"{where} validation"
    if isinstance(val, dict):
        problems.unknown(here, val, VALIDATION_KEYS)
    if not isinstance(val, dict) or not ("column" in val or "group_fraction" in val):
        problems.add(
            where,
            f"validation needs 'column'/'value' (the source's own split) or 'group_fraction' (with an optional 'seed'), "
            f"not {val!r}",
        )
        return {"group_fraction": 0.2}
    if "column" in val and "group_fraction" in val:
        problems.add(
            here, "has both 'column' (the source's own split) and 'group_fraction' (a split by group): give one"
        )
    elif "column" in val:
        if val["column"] is None:
            problems.wrong(where, "validation column", "a non-empty string", None)
        problems.text(where, val, "column", "", empty_ok=False, label="validation column")
        value = val.get("value", "test")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            problems.wrong(where, "validation value", "a string (the column's value that marks validation rows)", value)
        if "seed" in val:
            problems.add(here, "'seed' belongs to a split by 'group_fraction', not to the source's own split 'column'")
    else:
        problems.number(
            where,
            val,
            "group_fraction",
            0.2,
            _fraction,
            "must lie strictly between 0 and 1",
            "validation group_fraction",
        )
        problems.whole(where, val, "seed", 0, "validation seed")
    return dict(val)


def _names(where: str, raw: dict, key: str, problems: _Problems) -> tuple[str, ...]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.wrong(where, key, "a list of method names, e.g. [gan-x]", value)
        return ()
    return tuple(value)


def _kind(where: str, value, key: str, problems: _Problems) -> str:
    if not isinstance(value, str) or not value.strip():
        problems.wrong(where, key, "a kind of manipulation (e.g. swap, reenactment, synthetic)", value)
        return "swap"
    if value == "real":
        problems.add(where, f"{key} 'real' names real faces: give the kind of manipulation of this source's fakes")
    return value


def _source(name, s, base: Path, data_root: bool, problems: _Problems) -> SourceSpec | None:
    where = f"source {str(name)!r}"
    if not isinstance(s, dict) or "root" not in s:
        problems.add("", f"{where} needs a 'root'")
        return None
    problems.unknown(where, s, SOURCE_KEYS)
    root = Path(problems.text(where, s, "root", ".", empty_ok=False))
    if data_root:
        root = base / root.name
    elif not root.is_absolute():
        root = (base / root).resolve()
    framing = s.get("framing", "as_given")
    if framing not in FRAMINGS:
        problems.add("", f"{where} framing {framing!r} is not one of {', '.join(FRAMINGS)}")
        framing = "as_given"
    sbi = s.get("sbi", True)
    if not isinstance(sbi, bool):
        problems.wrong(where, "sbi", "true or false", sbi)
        sbi = True
    group_column: str | None = None
    if not ("group_column" in s and s["group_column"] is None):  # null: every file is its own group
        group_column = problems.text(where, s, "group_column", "group", empty_ok=False)
    kinds = s.get("method_kinds") or {}
    if not isinstance(kinds, dict):
        problems.wrong(where, "method_kinds", "a mapping of method to kind, e.g. {Face2Face: reenactment}", kinds)
        kinds = {}
    return SourceSpec(
        name=str(name),
        root=root,
        framing=framing,
        validation=_validation(where, s.get("validation"), problems),
        real_weight=problems.number(
            where, s, "real_weight", 0.0, _weight, "must be 0 or more (the source's share of the real half)"
        ),
        fake_weight=problems.number(
            where, s, "fake_weight", 0.0, _weight, "must be 0 or more (the source's share of the fake half)"
        ),
        sbi=sbi,
        group_column=group_column,
        exclude_methods=_names(where, s, "exclude_methods", problems),
        kind=_kind(where, s.get("kind", "swap"), "kind", problems),
        method_kinds={str(k): _kind(where, v, f"method_kinds {k}", problems) for k, v in kinds.items()},
        description=problems.text(where, s, "description", ""),
        terms=problems.text(where, s, "terms", ""),
    )


def read_spec(path: str | Path, data_root: str | Path | None = None) -> DataSpec:
    """Parse and check a spec; relative roots are taken from ``data_root`` or the spec's folder.

    The whole spec is checked before anything is read from its sources: every key known (a misspelt one would be
    ignored), every value of its type and within its range (weights 0 or more, fractions between 0 and 1); all
    that is wrong is reported at once, in one line."""
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
    problems = _Problems()
    problems.unknown("", raw, SPEC_KEYS)
    sources = [src for name, s in raw["sources"].items() if (src := _source(name, s, base, bool(data_root), problems))]
    share = problems.number("", raw, "sbi_share", 0.3, _share, "must lie in [0, 1]")
    max_fpr = problems.number("", raw, "max_fpr", 0.07, _share, "must lie in [0, 1]")
    split_seed = problems.whole("", raw, "calibration_split_seed", 1)
    name = problems.text("", raw, "name", path.stem, empty_ok=False)
    if not problems and sum(s.real_weight for s in sources) <= 0:
        problems.add("", "no source has a real_weight > 0 (half of every batch is real faces)")
    if problems:
        raise DataSpecError(f"data spec {path}: " + "; ".join(problems))
    return DataSpec(
        name=name,
        path=path,
        sources=tuple(sources),
        sbi_share=share,
        calibration_split_seed=split_seed,
        max_fpr=max_fpr,
        raw=raw,
    )


def check_training_mix(spec: DataSpec) -> None:
    """DataSpecError unless the spec's weights can fill every part of a training batch: the real half, the
    pseudo-fakes (``sbi_share`` of the fake half) and the real fakes (the rest of it). A part without a source is
    not drawn, so the batches would come out short and unbalanced, or empty."""
    problems = []
    if spec.sbi_share < 1 and not any(s.fake_weight > 0 for s in spec.sources):
        problems.append(
            f"no source has a fake_weight > 0, yet sbi_share {spec.sbi_share:g} leaves {1 - spec.sbi_share:.0%} of "
            "each batch's fake half to real fakes: give a source of fakes a fake_weight > 0, or set sbi_share: 1 to "
            "train on pseudo-fakes alone"
        )
    if spec.sbi_share > 0 and not any(s.sbi and s.real_weight > 0 for s in spec.sources):
        problems.append(
            f"sbi_share {spec.sbi_share:g} asks for pseudo-fakes, but no source with a real_weight > 0 makes them "
            "(sbi: false): set sbi_share: 0, or sbi: true on a source of real faces"
        )
    if problems:
        raise DataSpecError(f"data spec {spec.path}: " + "; ".join(problems))


def check_roots(spec: DataSpec) -> None:
    """DataError naming every source whose folder does not exist."""
    missing = [f"source {s.name}: folder {s.root} does not exist" for s in spec.sources if not s.root.is_dir()]
    if missing:
        raise DataError("; ".join(missing))


def _source_table(src: SourceSpec) -> pd.DataFrame:
    csv = src.root / "labels.csv"
    if not src.root.is_dir():
        raise DataError(f"source {src.name}: folder {src.root} does not exist")
    df = load_labels(src.root)
    extra = pd.read_csv(csv, dtype=str) if csv.is_file() else pd.DataFrame({"path": df["path"]})
    extra = extra.drop_duplicates("path").set_index("path")
    df["method"] = [str(extra["method"].get(p, "")) if "method" in extra else "" for p in df["path"]]
    df.loc[df["method"].isin(["", "nan"]), "method"] = df["label"].map({0: "real", 1: "fake"})
    if src.group_column not in (None, "group") and src.group_column not in extra:  # a column named on purpose
        raise DataError(
            f"source {src.name}: labels.csv has no column {src.group_column!r} (group_column); its columns: "
            f"{', '.join(['path', *map(str, extra.columns)])}"
        )
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
    methods = set(df["method"])
    for key, named in (("exclude_methods", src.exclude_methods), ("method_kinds", tuple(src.method_kinds))):
        if unknown := [m for m in named if m not in methods]:  # a misspelt method would change nothing
            raise DataError(
                f"source {src.name}: {key} names method(s) {', '.join(unknown)} that no row of {src.root.name} has; "
                f"its methods: {', '.join(sorted(methods))}"
            )
    if src.exclude_methods:
        df = df[~df["method"].isin(src.exclude_methods)].reset_index(drop=True)
    df["source"] = src.name
    df["abs_path"] = [str(src.root / p) for p in df["path"]]
    df["kind"] = ["real" if y == 0 else src.method_kinds.get(m, src.kind) for y, m in zip(df["label"], df["method"])]
    return df


def load_spec(spec: DataSpec) -> pd.DataFrame:
    """All rows of all sources with their role (train, calib, val); the validation part of each
    source is halved by group (seed ``calibration_split_seed``) into calibration and held-out rows."""
    check_roots(spec)
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
