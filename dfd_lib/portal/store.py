"""Portal form answers kept with a case: ``<case>/portal/<portal>.json``, each save logged in custody.

The case store has no table for form answers, so they live in a JSON file beside the database;
every save appends a ``case_updated`` custody entry holding the file's SHA-256 (never the
answers themselves, which may identify the complainant). Loading checks the file against the
last logged hash, so an edit made outside the tool is reported instead of being exported.

A save is crash-consistent: the new file is first written (and flushed) as a pending file
named by its SHA-256, then the custody entry is committed, then the pending file is renamed
over the form. A crash before the commit leaves the previous form and its entry as they were
(the pending file is removed by the next save); a crash after it is completed by the next
load, which finds the pending file whose hash the last entry records. Saves of one form are
serialised by a lock file, so two writers cannot leave the file and the log disagreeing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

import yaml

from ..case import Case, default_actor, utc_now
from ..fileio import fsync_dir as _fsync_dir, write_synced
from .errors import PortalError
from .fieldcheck import is_empty
from .profile import PortalProfile, check_portal_name, load_portal

__all__ = [
    "FIELDS_DIR",
    "StoredFields",
    "fields_path",
    "save_portal_fields",
    "load_portal_fields",
    "load_stored_fields",
    "read_fields_file",
]

FIELDS_DIR = "portal"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredFields:
    portal: str
    values: dict[str, Any]
    file_rules: dict[str, Any] = field(default_factory=dict)  # the user's override, not the merged rules
    saved_utc: str = ""
    saved_by: str = ""
    sha256: str = ""
    custody_seq: int | None = None


def fields_path(case: Case, portal: str) -> Path:
    """``<case>/portal/<portal>.json``; a name that is not a plain identifier is refused (PortalError)."""
    folder = case.path / FIELDS_DIR
    path = folder / f"{check_portal_name(portal)}.json"
    if path.parent != folder:  # cannot happen for a checked name; kept as the last line of defence
        raise PortalError(f"portal name {portal!r} would leave the case folder")
    return path


def _pending_path(path: Path, sha256: str) -> Path:
    return path.with_name(f".{path.name}.{sha256}.pending")


@contextmanager
def _form_lock(path: Path) -> Iterator[None]:
    """Serialise saves (and load-time completions) of one form across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a+b") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return "" if value is None else value if isinstance(value, str) else str(value)


def save_portal_fields(
    case: Case,
    portal: str | os.PathLike | PortalProfile,
    values: Mapping[str, Any],
    file_rules: Mapping[str, Any] | None = None,
    actor: str | None = None,
    only_if_changed: bool = False,
) -> StoredFields:
    """Store the form answers (normalised where valid; incomplete forms are allowed) and log the save.

    ``portal``: a profile (as :func:`load_portal` returns it, e.g. one read from a path), a shipped
    profile's name, the path of a profile YAML, or the name of a profile loaded by path earlier.
    With ``only_if_changed`` an identical save (same answers and file rules) writes and logs nothing.
    """
    profile = load_portal(portal)
    unknown = sorted(set(values) - set(profile.field_ids))
    if unknown:
        raise PortalError(
            f"not field(s) of the {profile.name} form: {', '.join(unknown)} (known: {', '.join(profile.field_ids)})"
        )
    profile.file_rules.merged(file_rules, "file_rules")  # raises on a bad override
    clean, _ = profile.check(values)
    stored: dict[str, Any] = {}
    for f in profile.fields:
        raw = values.get(f.id)
        if is_empty(raw):
            continue
        _, issues = f.check(raw, clean)
        stored[f.id] = clean[f.id] if not issues and not is_empty(clean[f.id]) else _jsonable(raw)
    if only_if_changed:
        current = load_stored_fields(case, profile)
        if current is not None and current.values == stored and current.file_rules == dict(file_rules or {}):
            return current
    who = actor or case.info.examiner or default_actor()
    saved_utc = utc_now()
    doc = {
        "format_version": 1,
        "portal": profile.name,
        "values": stored,
        "file_rules": dict(file_rules or {}),
        "saved_utc": saved_utc,
        "saved_by": who,
    }
    data = (json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    path = fields_path(case, profile.name)
    sha = hashlib.sha256(data).hexdigest()
    with _form_lock(path):
        for old in path.parent.glob(f".{path.name}.*.pending"):  # left by a save that crashed before its log
            old.unlink(missing_ok=True)
        pending = _pending_path(path, sha)
        write_synced(pending, data)
        _fsync_dir(path.parent)
        # the log entry is committed only once the content it names is safely on disk; the
        # rename that follows is completed by the next load if it never happens
        entry = case.log_action(
            "case_updated",
            who,
            details={
                "portal_fields": {
                    "portal": profile.name,
                    "file": f"{FIELDS_DIR}/{path.name}",
                    "sha256": sha,
                    "fields": sorted(stored),
                    "file_rules_override": bool(file_rules),
                }
            },
        )
        os.replace(pending, path)
        _fsync_dir(path.parent)
    return StoredFields(profile.name, stored, dict(file_rules or {}), saved_utc, who, sha, entry.seq)


def _last_logged(case: Case, portal: str) -> tuple[int, str] | None:
    found = None
    for e in case.custody_entries():
        info = e.details.get("portal_fields") if e.action == "case_updated" and isinstance(e.details, dict) else None
        if isinstance(info, dict) and info.get("portal") == portal:
            found = (e.seq, str(info.get("sha256")))
    return found


def _complete_interrupted_save(path: Path, logged: tuple[int, str]) -> None:
    """Finish a save whose custody entry committed but whose file was never renamed into place."""
    pending = _pending_path(path, logged[1])
    if not pending.exists():
        return
    with _form_lock(path):
        if not pending.exists():
            return  # its writer, or another reader, finished it meanwhile
        try:
            if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == logged[1]:
                pending.unlink(missing_ok=True)
                return
            if hashlib.sha256(pending.read_bytes()).hexdigest() != logged[1]:
                return  # not the content the log records: reported by the caller's check
            os.replace(pending, path)
            _fsync_dir(path.parent)
        except OSError as exc:
            log.warning("could not complete the interrupted save of %s: %s", path, exc)
            return
    log.warning("completed an interrupted save of %s (custody entry #%d)", path, logged[0])


def load_stored_fields(case: Case, portal: str | os.PathLike | PortalProfile) -> StoredFields | None:
    """The stored answers with their custody record; None if never saved. Raises if the file was tampered with.

    ``portal`` is what :func:`save_portal_fields` takes: a profile, a name or a profile's path.
    """
    profile = load_portal(portal)
    path = fields_path(case, profile.name)
    logged = _last_logged(case, profile.name)
    if logged is not None:
        _complete_interrupted_save(path, logged)
    if not path.exists():
        if logged is not None:
            raise PortalError(f"{path} is missing although custody entry #{logged[0]} recorded it; save the form again")
        return None
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if logged is None or logged[1] != sha:
        where = (
            "no custody entry records it"
            if logged is None
            else f"custody entry #{logged[0]} recorded {logged[1][:16]}..."
        )
        raise PortalError(
            f"{path} was changed outside dfd (SHA-256 {sha[:16]}...; {where}); "
            f"save the form again with `dfd portal-form`"
        )
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PortalError(f"{path} is not valid JSON: {exc}") from exc
    return StoredFields(
        profile.name,
        dict(doc.get("values") or {}),
        dict(doc.get("file_rules") or {}),
        str(doc.get("saved_utc", "")),
        str(doc.get("saved_by", "")),
        sha,
        logged[0],
    )


def load_portal_fields(case: Case, portal: str | os.PathLike | PortalProfile) -> dict[str, Any]:
    """The stored answers of ``portal``'s form (empty when never saved)."""
    stored = load_stored_fields(case, portal)
    return {} if stored is None else dict(stored.values)


def read_fields_file(
    path: str | os.PathLike, portal: str | os.PathLike | PortalProfile
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(values, file_rules override)`` from a fields YAML (the shape ``--template`` prints).

    ``portal``: the profile, its name or its path; the file's ``portal:`` key, if any, must be its name.
    """
    if isinstance(portal, PortalProfile) or str(portal).endswith((".yaml", ".yml")):
        portal = load_portal(portal).name
    portal = str(portal)
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PortalError(f"fields file {p} could not be read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PortalError(f"fields file {p} is not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PortalError(f"fields file {p}: expected a mapping with 'fields:' (see --template)")
    unknown = sorted(set(data) - {"portal", "fields", "file_rules"})
    if unknown:
        raise PortalError(
            f"fields file {p}: unknown top-level key(s) {', '.join(map(str, unknown))}; "
            "expected portal, fields and file_rules"
        )
    if data.get("portal") not in (None, portal):
        raise PortalError(f"fields file {p} is for portal {data['portal']!r}, not {portal!r}")
    values = data.get("fields") or {}
    rules = data.get("file_rules") or {}
    if not isinstance(values, dict) or not isinstance(rules, dict):
        raise PortalError(f"fields file {p}: 'fields' and 'file_rules' must be mappings")
    return {str(k): v for k, v in values.items()}, dict(rules)
