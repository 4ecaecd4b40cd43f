"""Checking and normalising one portal form value: formats, allowed values, lengths.

These are pure functions of a field description and a raw value (as typed at a prompt or read
from YAML); :class:`dfd_lib.portal.profile.PortalProfile` applies them to a whole form.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Sequence

from .errors import PortalError

__all__ = [
    "FORMATS",
    "IST",
    "MIN_YEAR",
    "format_problem",
    "normalise_scalar",
    "normalise_value",
    "match_choice",
    "is_empty",
    "parse_timezone",
    "today_in",
]

# Dates on a form are the portal's local dates: "in the future" is judged against today's date in
# the portal's time zone (a profile's ``timezone``), not the host's. India has one fixed offset.
IST = dt.timezone(dt.timedelta(hours=5, minutes=30), "UTC+05:30")
_TZ_NAMES = {"ist": IST, "asia/kolkata": IST, "asia/calcutta": IST, "utc": dt.timezone.utc, "z": dt.timezone.utc}
_TZ_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])([01]?[0-9]|2[0-3])(?::?([0-5][0-9]))?$", re.I)
MIN_YEAR = 1900  # no incident or complainant's date on a cyber-crime form is earlier

_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.I)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,18}[0-9]$")
_MOBILE_IN = re.compile(r"^(\+91[ -]?|0)?[6-9][0-9]{9}$")
_PINCODE = re.compile(r"^[1-9][0-9]{5}$")
_TIME = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])(:[0-5][0-9])?$")

FORMATS = {
    "date": "a date, DD/MM/YYYY",
    "time": "a time, HH:MM (24-hour)",
    "email": "an email address such as name@example.com",
    "phone": "a phone number (digits, optional leading +)",
    "mobile_in": "an Indian mobile number: 10 digits starting 6-9, optionally after +91",
    "url": "a web address starting http:// or https://",
    "pincode": "a 6-digit Indian PIN code",
}


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def match_choice(value: str, allowed: Sequence[str]) -> str | None:
    """The allowed value ``value`` names (case and spacing ignored), or None."""
    key = " ".join(value.split()).casefold()
    for choice in allowed:
        if " ".join(choice.split()).casefold() == key:
            return choice
    return None


def parse_timezone(value: Any, source: str = "portal profile") -> dt.tzinfo:
    """A profile's ``timezone``: a UTC offset such as ``'+05:30'`` (or ``UTC``, ``IST``, ``Asia/Kolkata``); None: IST."""
    if value is None or value == "":
        return IST
    if isinstance(value, bool) or not isinstance(value, str):
        # unquoted, YAML reads +05:30 as the sexagesimal number 330
        raise PortalError(f"{source}: write timezone in quotes, e.g. '+05:30' (YAML read it as {value!r})")
    text = value.strip()
    if text.casefold() in _TZ_NAMES:
        return _TZ_NAMES[text.casefold()]
    m = _TZ_OFFSET.match(text)
    if not m:
        raise PortalError(
            f"{source}: timezone {value!r} is not a UTC offset such as '+05:30' (or UTC, IST, Asia/Kolkata)"
        )
    hours, minutes = int(m.group(2)), int(m.group(3) or 0)
    offset = (-1 if m.group(1) == "-" else 1) * dt.timedelta(hours=hours, minutes=minutes)
    if not offset:
        return dt.timezone.utc
    return IST if offset == IST.utcoffset(None) else dt.timezone(offset, f"UTC{m.group(1)}{hours:02d}:{minutes:02d}")


def _utc_now() -> dt.datetime:
    """The clock (a function of its own so tests can set it)."""
    return dt.datetime.now(dt.timezone.utc)


def today_in(tz: dt.tzinfo = IST) -> dt.date:
    """Today's date where the portal is (``tz``), whatever the host's own time zone."""
    return _utc_now().astimezone(tz).date()


def _tz_label(tz: dt.tzinfo) -> str:
    return tz.tzname(None) or str(tz)


def _parse_date(text: str) -> dt.date | None:
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _date_text(day: dt.date) -> str:
    """DD/MM/YYYY with the year always in four digits (strftime writes year 25 as '25' on some platforms)."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def _check_date(day: dt.date, text: str, tz: dt.tzinfo) -> tuple[str, str | None]:
    if day.year < MIN_YEAR:
        return text, (
            f"'{text}' has the year {day.year:04d}: a date before {MIN_YEAR} is not accepted; "
            "write the year in full (DD/MM/YYYY)"
        )
    today = today_in(tz)
    if day > today:
        return text, f"{_date_text(day)} is in the future (today is {_date_text(today)} in {_tz_label(tz)})"
    return _date_text(day), None


def normalise_scalar(fmt: str | None, raw: Any, tz: dt.tzinfo = IST) -> tuple[str, str | None]:
    """``(text, problem)``: one value as clean text in its canonical form, or why it cannot be.

    ``tz`` is the portal's time zone: a date after today's date there is refused.
    """
    if raw is None:
        return "", None
    if isinstance(raw, bool):
        return "", "write the answer in quotes (YAML read it as true/false)"
    if isinstance(raw, (dict, list, tuple, set)):
        return "", "expected a single value, not a list or mapping"
    if fmt == "time" and isinstance(raw, int):
        guess = f"{raw // 60:02d}:{raw % 60:02d}" if 0 <= raw < 24 * 60 else "14:30"
        return "", f"write the time in quotes, e.g. '{guess}' (YAML read an unquoted time as the number {raw})"
    if isinstance(raw, dt.datetime):
        raw = raw.date() if fmt == "date" else raw.isoformat()
    if isinstance(raw, dt.date):
        if fmt == "date":  # YAML read an unquoted 2025-11-20 as a date
            return _check_date(raw, raw.isoformat() if raw.year < MIN_YEAR else _date_text(raw), tz)
        raw = _date_text(raw)
    text = " ".join(str(raw).split()) if fmt else str(raw).strip()
    if not text:
        return "", None
    if fmt == "date":
        day = _parse_date(text)
        if day is None:
            return text, f"'{text}' is not {FORMATS['date']}"
        return _check_date(day, text, tz)
    if fmt == "time":
        m = _TIME.match(text)
        if not m:
            return text, f"'{text}' is not {FORMATS['time']}"
        return f"{int(m.group(1)):02d}:{m.group(2)}", None
    if fmt == "phone" or fmt == "mobile_in":
        compact = text.replace(" ", "").replace("-", "") if fmt == "mobile_in" else text
        ok = (_MOBILE_IN if fmt == "mobile_in" else _PHONE).match(compact)
        return text, None if ok else f"'{text}' is not {FORMATS[fmt]}"
    checks = {"email": _EMAIL, "url": _URL, "pincode": _PINCODE}
    if fmt in checks and not checks[fmt].match(text):
        return text, f"'{text}' is not {FORMATS[fmt]}"
    return text, None


def normalise_value(
    fmt: str | None, multiple: bool, raw: Any, tz: dt.tzinfo = IST
) -> tuple[str | list[str], list[str]]:
    """A field's value (a list when ``multiple``) and the problems with it, before choice/length checks."""
    if not multiple:
        text, problem = normalise_scalar(fmt, raw, tz)
        return text, [problem] if problem else []
    if raw is None or raw == "":
        return [], []
    if isinstance(raw, str):
        raw = [line for line in raw.splitlines()]
    if not isinstance(raw, (list, tuple)):
        raw = [raw]
    out: list[str] = []
    problems: list[str] = []
    for i, item in enumerate(raw, 1):
        text, problem = normalise_scalar(fmt, item, tz)
        if problem:
            problems.append(f"entry {i}: {problem}")
        if text and text not in out:
            out.append(text)
    return out, problems


def format_problem(pattern: str | None, text: str) -> str | None:
    """Problem with ``text`` against the field's own regular expression, if it has one."""
    if pattern and not re.fullmatch(pattern, text):
        return f"'{text}' does not have the expected form"
    return None
