"""Time stamps: stored in UTC as ISO-8601, rendered in Indian Standard Time for reports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["IST", "utc_now", "parse_utc", "to_ist", "format_ist"]

IST = timezone(timedelta(hours=5, minutes=30), "IST")


def utc_now() -> str:
    """The current time as UTC ISO-8601 with microseconds, e.g. ``2025-11-25T08:21:03.120455+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def parse_utc(stamp: str | datetime) -> datetime:
    """Parse a stored time stamp; a naive value is taken to be UTC."""
    dt = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp)
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


def to_ist(stamp: str | datetime) -> datetime:
    """The same instant as an aware datetime in Indian Standard Time (UTC+05:30)."""
    return parse_utc(stamp).astimezone(IST)


def format_ist(stamp: str | datetime | None, seconds: bool = True) -> str:
    """Render for an Indian report, e.g. ``25-11-2025 13:51:03 IST``; '' for None. A stored value that is not a time
    stamp (a hand-edited database) is shown as it is, marked, never raised: every view and report must still open and
    verify must still be able to say what is wrong."""
    if stamp is None or stamp == "":
        return ""
    try:
        return to_ist(stamp).strftime("%d-%m-%Y %H:%M:%S IST" if seconds else "%d-%m-%Y %H:%M IST")
    except (TypeError, ValueError, OverflowError):
        return f"{str(stamp)[:40]} (not a valid time)"
