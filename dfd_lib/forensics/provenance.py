"""C2PA Content Credentials: is there a signed provenance manifest, who signed it, what it claims.

Read with c2pa-python (the Content Authenticity Initiative's reader), offline: remote manifests
and OCSP revocation checks are not fetched. Reading a manifest says what the signer *claims*
(e.g. "created by a generative model", "edited"); validation says whether the manifest is intact
and matches the pixels. Neither "no manifest" nor "untrusted signer" is evidence of manipulation.
"""

from __future__ import annotations

import json
import logging

from ..errors import UnreadableMedia
from ..media import MEDIA_KINDS
from .base import Analysis, Evidence, ForensicResult
from .patterns import AI_SOURCE_TYPES

__all__ = ["ProvenanceAnalysis", "summarise_manifest_store", "EDIT_ACTIONS"]

log = logging.getLogger(__name__)

EDIT_ACTIONS = frozenset(
    {
        "c2pa.edited",
        "c2pa.color_adjustments",
        "c2pa.cropped",
        "c2pa.drawing",
        "c2pa.filtered",
        "c2pa.orientation",
        "c2pa.placed",
        "c2pa.removed",
        "c2pa.resized",
        "c2pa.repackaged",
        "c2pa.transcoded",
    }
)
_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
_NO_MANIFEST_NOTE = (
    "Most cameras, phones, editors and platforms do not write Content Credentials, and many platforms "
    "strip them, so the absence of a manifest is normal and is not evidence of manipulation."
)
_UNTRUSTED_NOTE = (
    "'Untrusted signer' only means the signing certificate does not chain to a trust anchor configured "
    "in this tool (none by default); it is not evidence of manipulation, and a trusted signature would "
    "vouch for who signed, not that the content is true."
)


def _agent(value) -> str | None:
    if isinstance(value, dict):
        return " ".join(str(value[k]) for k in ("name", "version") if value.get(k)) or None
    return str(value) if value else None


def _actions(manifest: dict) -> list[dict]:
    out = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for a in (assertion.get("data") or {}).get("actions") or []:
            dst = a.get("digitalSourceType") or ""
            out.append(
                {
                    "action": a.get("action"),
                    "digital_source_type": dst.rsplit("/", 1)[-1] or None,
                    "software_agent": _agent(a.get("softwareAgent")),
                    "when": a.get("when"),
                }
            )
    return out


def summarise_manifest_store(store: dict) -> dict:
    """Plain facts from a c2pa manifest-store dict (``json.loads(Reader.json())``)."""
    manifests = store.get("manifests") or {}
    active_label = store.get("active_manifest")
    active = manifests.get(active_label) or {}
    sig = active.get("signature_info") or {}
    gen_info = active.get("claim_generator_info") or []
    generator = active.get("claim_generator") or "; ".join(
        " ".join(str(g[k]) for k in ("name", "version") if g.get(k)) for g in gen_info if isinstance(g, dict)
    )
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failures = [f.get("code") for f in results.get("failure") or []]
    if not results:
        failures = [s.get("code") for s in store.get("validation_status") or []]
    all_actions = {label: _actions(m) for label, m in manifests.items()}
    state = str(store.get("validation_state") or "unknown").lower()
    return {
        "manifest_present": True,
        "state": state,
        "active_manifest": active_label,
        "manifest_count": len(manifests),
        "title": active.get("title"),
        "claim_generator": generator or None,
        "signer": sig.get("common_name") or sig.get("issuer"),
        "signer_issuer": sig.get("issuer"),
        "signature_alg": sig.get("alg"),
        "signed_at": sig.get("time"),
        "actions": all_actions.get(active_label, []),
        "ingredient_count": len(active.get("ingredients") or []),
        "earlier_manifest_actions": {k: v for k, v in all_actions.items() if k != active_label and v},
        "validation_failures": [c for c in failures if c],
        "untrusted_signer": "signingCredential.untrusted" in failures,
    }


class ProvenanceAnalysis(Analysis):
    name = "c2pa"
    order = 20
    description = "C2PA Content Credentials: manifest, signer, claim generator, actions, validation state"
    applies_to = frozenset(MEDIA_KINDS)

    def applicability(self, evidence: Evidence) -> ForensicResult | None:
        skip = super().applicability(evidence)
        if skip is not None and skip.status == "not_applicable" and evidence.mime in self._supported():
            return None  # e.g. HEIF: not decoded by this tool, but C2PA can read its manifest
        if skip is None and evidence.mime not in self._supported():
            return ForensicResult.not_applicable(
                self.name, f"the C2PA reader does not support {evidence.mime} files, so no manifest can be read"
            )
        return skip

    @staticmethod
    def _supported() -> frozenset[str]:
        import c2pa

        return frozenset(c2pa.Reader.get_supported_mime_types())

    def analyse(self, evidence: Evidence) -> ForensicResult:
        import c2pa

        try:
            with c2pa.Context.from_dict(_SETTINGS) as context, open(evidence.path, "rb") as fh:
                reader = c2pa.Reader.try_create(evidence.mime, fh, None, context)
                if reader is None:
                    return ForensicResult(
                        self.name,
                        "ok",
                        "No C2PA manifest (Content Credentials) found in the file. " + _NO_MANIFEST_NOTE,
                        metrics={"manifest_present": False, "state": "no manifest", "c2pa_sdk": c2pa.sdk_version()},
                    )
                with reader:
                    store = json.loads(reader.json())
        except c2pa.C2paError as exc:
            raise UnreadableMedia(f"the C2PA reader could not parse this file: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise UnreadableMedia(f"the C2PA reader returned malformed JSON: {exc}") from exc
        facts = summarise_manifest_store(store)
        facts["c2pa_sdk"] = c2pa.sdk_version()
        flags, notes = self._interpret(facts)
        return ForensicResult.ok(self.name, notes, facts, flags)

    @staticmethod
    def _interpret(f: dict) -> tuple[list[str], list[str]]:
        flags = ["c2pa_manifest"]
        who = f["signer"] or "an unnamed signer"
        notes = [
            f"A C2PA manifest is present, signed by {who!r} with claim generator {f['claim_generator']!r}; "
            f"validation state: {f['state']}."
        ]
        every = list(f["actions"]) + [a for acts in f["earlier_manifest_actions"].values() for a in acts]
        ai = [a for a in every if a["digital_source_type"] in AI_SOURCE_TYPES]
        edits = [a for a in f["actions"] if a["action"] in EDIT_ACTIONS]
        if f["actions"]:
            listed = ", ".join(
                a["action"] + (f" ({a['digital_source_type']})" if a["digital_source_type"] else "")
                for a in f["actions"][:6]
            )
            notes.append(f"Recorded actions: {listed}.")
        if ai:
            flags.append("c2pa_ai_action")
            notes.append(
                "The manifest declares generative-AI involvement (IPTC digital source type "
                f"{ai[0]['digital_source_type']})."
            )
        if edits:
            flags.append("c2pa_edit_action")
        if f["state"] == "invalid" or [c for c in f["validation_failures"] if c != "signingCredential.untrusted"]:
            flags.append("c2pa_invalid")
            failed = ", ".join(c for c in f["validation_failures"] if c != "signingCredential.untrusted")
            notes.append(
                f"Validation failed ({failed or 'see validation state'}): the manifest is damaged or "
                "the file changed after signing. Any later re-save breaks the binding, so this shows the "
                "file was altered after signing, not how or by whom."
            )
        if f["untrusted_signer"]:
            flags.append("c2pa_untrusted_signer")
            notes.append(_UNTRUSTED_NOTE)
        notes.append(
            "A manifest records claims made by the software that signed it; it does not by itself "
            "prove what the pictured content shows."
        )
        return flags, notes
