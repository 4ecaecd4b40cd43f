"""What produced the scores, for the report: the model behind each finding and the versions of the software.

A model is described by its card when installed (matched by SHA-256, then by name), else by what
was recorded with the findings; versions are read from package metadata.
"""

from __future__ import annotations

import logging
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ..media import sha256_file
from ..models import ModelCard, valid_cards

__all__ = ["ModelView", "describe_models", "flatten_metrics", "performance_lines", "LIBRARIES", "library_versions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelView:
    name: str
    sha256: str
    installed: bool
    card: ModelCard | None = None
    card_file: str = ""  # file name of the card (no folder: reports carry no local paths)
    recorded: dict[str, Any] = field(default_factory=dict)  # card fields stored with the findings
    note: str = ""
    card_sha256s: tuple[str, ...] = ()  # SHA-256 of the card file(s) recorded with the findings
    installed_card_sha256: str = ""  # SHA-256 of the installed card file (when installed)

    @property
    def card_sha256_text(self) -> str:
        """The recorded card hash(es), for the report's model section."""
        if not self.card_sha256s:
            return "not recorded (findings made before card hashes were recorded)"
        text = ", ".join(self.card_sha256s)
        if self.installed_card_sha256 and self.installed_card_sha256 not in self.card_sha256s:
            text += f" (the installed card differs: {self.installed_card_sha256})"
        return text

    @property
    def threshold(self) -> float | None:
        if self.card is not None:
            return self.card.threshold
        value = self.recorded.get("threshold")
        return float(value) if isinstance(value, (int, float)) else None


def flatten_metrics(metrics: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """``{"validation": {"auc": 0.91}}`` -> ``[("validation auc", "0.910")]`` (two levels, numbers rounded)."""
    out: list[tuple[str, str]] = []
    if isinstance(metrics, dict):
        for key, value in metrics.items():
            name = f"{prefix} {key}".strip()
            if isinstance(value, dict) and depth < 2:
                out += flatten_metrics(value, name, depth + 1)
            elif isinstance(value, float):
                out.append((name, f"{value:.3f}"))
            elif isinstance(value, (int, str, bool)) or value is None:
                out.append((name, str(value)))
            else:
                out.append((name, f"({type(value).__name__})"))
    return out


def _num(v: Any, fmt: str = ".3f") -> str | None:
    return format(v, fmt) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v else None


def _row(m: Any, fpr: bool = True, ece: bool = True) -> str:
    """'AUC 0.944, ECE 0.047, reals called fake 0.3% (n 3007)' of one metrics table; what it lacks is left out."""
    if not isinstance(m, dict):
        return "not recorded"
    auc, error, rate = _num(m.get("auc")), _num(m.get("ece")), _num(m.get("fpr"))
    bits = [f"AUC {auc}" if auc else "AUC not measurable (one class)"]
    if ece and error:
        bits.append(f"ECE {error}")
    if fpr and rate is not None:
        bits.append(f"reals called fake {100 * float(rate):.1f}%")
    n = m.get("n")
    return ", ".join(bits) + (f" (n {n})" if isinstance(n, int) else "")


def performance_lines(metrics: Any) -> list[str]:
    """What a card measured, in a few readable lines: held-out crops pooled and per source and method, and the
    whole pipeline on original images where recorded (the full tables are in the card: dfd models --json)."""
    if not isinstance(metrics, dict):
        return []
    lines = []
    if "validation" in metrics:
        lines.append(f"Held-out face crops, all sources: {_row(metrics['validation'])}")
    for key, title in (("validation_by_source", "by source"), ("validation_by_method", "by method")):
        table = metrics.get(key)
        if isinstance(table, dict) and table:
            per_source = key.endswith("source")  # a method's rows mix its fakes with every real: AUC only
            rows = "; ".join(f"{name}: {_row(v, fpr=per_source, ece=per_source)}" for name, v in table.items())
            lines.append(f"Held-out face crops {title}: {rows}")
    pipeline = metrics.get("pipeline_validation")
    if isinstance(pipeline, dict):
        by = pipeline.get("by_source")
        rows = "; ".join(f"{name}: {_row(v)}" for name, v in by.items()) if isinstance(by, dict) else ""
        lines.append(
            f"Whole pipeline on the original images: {_row(pipeline.get('overall'))}"
            + (f"; by source: {rows}" if rows else "")
        )
    if not lines:  # a card with other tables: its numbers, flattened
        lines = [f"{k}: {v}" for k, v in flatten_metrics(metrics) if not v.startswith("(")]
    return lines + ["The full tables are in the card (dfd models --json)."] if lines else []


def describe_models(
    used: list[tuple[str, str, dict[str, Any]]], weights_dir: str | os.PathLike | None = None
) -> tuple[ModelView, ...]:
    """One view per distinct (name, sha256) in ``used`` (name, sha256, recorded card fields)."""
    cards = valid_cards(weights_dir)
    views: list[ModelView] = []
    seen: set[tuple[str, str]] = set()
    card_shas: dict[tuple[str, str], list[str]] = {}
    for name, sha, recorded in used:
        value = recorded.get("card_sha256") if isinstance(recorded, dict) else None
        if isinstance(value, str) and value and value not in card_shas.setdefault((name, sha), []):
            card_shas[(name, sha)].append(value)
    for name, sha, recorded in used:
        if (name, sha) in seen:
            continue
        seen.add((name, sha))
        # the card that scored the findings is the one with both their name and their weights: two cards can
        # score the same weights (the default and its one-framing fast card), with their own thresholds
        exact = [(p, c) for p, c in cards if c.sha256 == sha and c.name == name]
        by_name = [(p, c) for p, c in cards if c.name == name]
        by_sha = [(p, c) for p, c in cards if c.sha256 == sha]
        card: ModelCard | None = None
        card_file = note = installed_card_sha256 = ""
        if exact:
            path, card = exact[0]
            card_file, installed_card_sha256 = Path(path).name, sha256_file(path)
        elif by_name:
            path, other = by_name[0]
            card_file = Path(path).name
            note = (
                f"A model named {name} is installed, but with different weights (SHA-256 {other.sha256[:16]}...); "
                "its card does not describe these findings. Details below were recorded with the findings."
            )
        elif by_sha:
            others = ", ".join(c.name for _, c in by_sha)
            note = (
                f"The card of {name} is not installed on this machine; its weights are, under another card ({others}), "
                "which scores them its own way and does not describe these findings. Details below were recorded "
                "with the findings."
            )
        else:
            note = (
                f"The model card of {name} is not installed on this machine; details below were recorded "
                "with the findings."
            )
        views.append(
            ModelView(
                name,
                sha,
                card is not None,
                card,
                card_file,
                recorded,
                note=note,
                card_sha256s=tuple(card_shas.get((name, sha), ())),
                installed_card_sha256=installed_card_sha256,
            )
        )
        log.debug("model %s (%s): installed=%s", name, sha[:12], views[-1].installed)
    return tuple(views)


# (label, distribution name): what a reader needs to repeat the analysis.
LIBRARIES = (
    ("torch", "torch"),
    ("torchvision", "torchvision"),
    ("facenet-pytorch", "facenet-pytorch"),
    ("timm", "timm"),
    ("grad-cam", "grad-cam"),
    ("numpy", "numpy"),
    ("pillow", "pillow"),
    ("opencv", "opencv-python-headless"),
    ("av (FFmpeg)", "av"),
    ("c2pa-python", "c2pa-python"),
    ("matplotlib", "matplotlib"),
    ("fpdf2", "fpdf2"),
)


def library_versions() -> tuple[tuple[str, str], ...]:
    """``(name, version)`` pairs: dfd_lib, Python, then each library ('not installed' if absent).

    Read from package metadata, so nothing heavy is imported just to report a version.
    """
    from .. import __version__

    out = [("dfd_lib", __version__), ("Python", platform.python_version())]
    for label, dist in LIBRARIES:
        try:
            out.append((label, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            out.append((label, "not installed"))
    return tuple(out)
