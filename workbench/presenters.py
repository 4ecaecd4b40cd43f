"""Read-side views for the widgets: filter and page the item table, count states.

Plain data in, plain data out (pandas frames and frozen dataclasses): no widgets here, so all of it
is tested without a browser. One item's detail is the case's own read model, ``Case.detail(item)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

__all__ = ["ItemFilter", "filter_items", "state_counts", "page_of", "n_pages", "UNREVIEWED", "ANY"]

ANY = "any"
UNREVIEWED = "unreviewed"


@dataclass(frozen=True)
class ItemFilter:
    status: str = ANY
    score_min: float = 0.0
    score_max: float = 1.0
    analyst_verdict: str = ANY  # ANY, UNREVIEWED or one of VERDICTS
    tag: str = ""  # case-insensitive exact tag; "" for any
    media_kind: str = ANY

    @property
    def full_score_range(self) -> bool:
        return self.score_min <= 0.0 and self.score_max >= 1.0


def filter_items(df: pd.DataFrame, f: ItemFilter) -> pd.DataFrame:
    """Rows of ``case.items()`` matching the filter; order kept. A narrowed score range drops unscored items."""
    keep = pd.Series(True, index=df.index)
    if f.status != ANY:
        keep &= df["status"] == f.status
    if not f.full_score_range:
        keep &= df["score"].notna() & (df["score"] >= f.score_min) & (df["score"] <= f.score_max)
    if f.analyst_verdict == UNREVIEWED:
        keep &= df["analyst_verdict"].isna()
    elif f.analyst_verdict != ANY:
        keep &= df["analyst_verdict"] == f.analyst_verdict
    if f.tag.strip():
        want = f.tag.strip().lower()
        keep &= df["tags"].map(lambda tags: any(t.lower() == want for t in tags))
    if f.media_kind != ANY:
        keep &= df["media_kind"] == f.media_kind
    return df[keep]


def state_counts(df: pd.DataFrame) -> dict[str, int]:
    """Items per status, plus ``reviewed`` and ``sensitive`` totals."""
    counts = {str(k): int(v) for k, v in df["status"].value_counts().sort_index().items()}
    counts["reviewed"] = int(df["analyst_verdict"].notna().sum())
    counts["sensitive"] = int(df["sensitive"].sum())
    return counts


def n_pages(n_rows: int, page_size: int) -> int:
    return max(1, math.ceil(n_rows / page_size))


def page_of(df: pd.DataFrame, page: int, page_size: int) -> pd.DataFrame:
    """Rows of the 0-based ``page`` (clamped to the pages that exist)."""
    page = min(max(0, page), n_pages(len(df), page_size) - 1)
    return df.iloc[page * page_size : (page + 1) * page_size]
