"""Name patterns for software found in metadata: AI generators, editors, re-encoders.

Each match names the tool and the text that matched, so a reader can judge it. Short or
ambiguous names (e.g. "Sora", "Flux") are matched only in software fields, never in free text
such as a caption, where they are more likely to be a person's name or an ordinary word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Match",
    "AI_GENERATORS",
    "EDITORS",
    "REENCODERS",
    "AI_SOURCE_TYPES",
    "find_tools",
    "digital_source_types",
]


@dataclass(frozen=True)
class Match:
    tool: str
    field: str
    text: str  # the matched snippet

    def to_dict(self) -> dict:
        return {"tool": self.tool, "field": self.field, "text": self.text}


# (tool, pattern, software_fields_only)
_Spec = tuple[str, str, bool]

AI_GENERATORS: tuple[_Spec, ...] = (
    ("Stable Diffusion", r"stable[\s_-]?diffusion|\bsd_?xl", False),
    ("Stable Diffusion (AUTOMATIC1111 parameters)", r"\bsteps:\s*\d+,\s*sampler:", False),
    ("Midjourney", r"midjourney", False),
    ("DALL-E", r"\bdall[\s\-\u00b7._]?e\b", False),
    ("Adobe Firefly", r"\bfirefly\b", False),
    ("NovelAI", r"\bnovel\s?ai\b", False),
    ("ComfyUI", r"\bcomfyui\b|\"class_type\"\s*:\s*\"KSampler", False),
    ("AUTOMATIC1111", r"automatic1111", False),
    ("InvokeAI", r"\binvoke\s?ai\b", False),
    ("Fooocus", r"\bfooocus\b", False),
    ("Leonardo.Ai", r"\bleonardo\.ai\b", False),
    ("Ideogram", r"\bideogram\b", False),
    ("DreamStudio", r"\bdreamstudio\b", False),
    ("Bing Image Creator", r"bing image creator", False),
    ("Craiyon", r"\bcraiyon\b", False),
    ("NightCafe", r"\bnightcafe\b", False),
    ("OpenAI", r"\bopenai\b|\bchatgpt\b|\bgpt-4o\b", False),
    ("Google Imagen", r"\bimagen\b", True),
    ("FLUX", r"\bflux(?:\.1)?\b|black forest labs", True),
    ("Runway", r"\brunway(?:ml)?\b", True),
    ("Sora", r"\bsora\b", True),
    ("Pika", r"\bpika\b", True),
)

EDITORS: tuple[_Spec, ...] = (
    ("Adobe Photoshop", r"photoshop", False),
    ("Adobe Lightroom", r"lightroom", False),
    ("GIMP", r"\bgimp\b", False),
    ("Snapseed", r"snapseed", False),
    ("Affinity Photo", r"affinity photo", False),
    ("Pixelmator", r"pixelmator", False),
    ("Paint.NET", r"paint\.net", False),
    ("Facetune", r"facetune", False),
    ("FaceApp", r"\bfaceapp\b", False),
    ("PicsArt", r"picsart", False),
    ("Canva", r"\bcanva\b", False),
    ("Luminar", r"\bluminar\b", False),
    ("Photopea", r"photopea", False),
    ("Meitu", r"\bmeitu\b", False),
    ("Fotor", r"\bfotor\b", False),
    ("PhotoDirector", r"photodirector", False),
    ("Corel PaintShop", r"paintshop", False),
    ("Capture One", r"capture one", False),
    ("darktable", r"\bdarktable\b", False),
    ("RawTherapee", r"rawtherapee", False),
    ("Krita", r"\bkrita\b", False),
    ("Adobe Premiere", r"premiere pro|adobe premiere", False),
    ("Adobe After Effects", r"after effects", False),
    ("Final Cut Pro", r"final cut", False),
    ("DaVinci Resolve", r"davinci resolve", False),
    ("CapCut", r"\bcapcut\b", False),
    ("iMovie", r"\bimovie\b", False),
    ("Filmora", r"filmora", False),
    ("InShot", r"\binshot\b", False),
)

# Tools that write or re-write video streams; their tags say the file was (re)muxed or (re)encoded.
REENCODERS: tuple[_Spec, ...] = (
    ("FFmpeg (libavformat)", r"\blavf\d", False),
    ("FFmpeg (libavcodec)", r"\blavc\d", False),
    ("HandBrake", r"handbrake", False),
    ("x264", r"\bx264\b", False),
    ("x265", r"\bx265\b", False),
)

# IPTC Digital Source Type codes that declare AI generation or AI-generated parts.
AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})

_COMPILED: dict[int, list[tuple[str, re.Pattern, bool]]] = {}
_DST = re.compile(r"(?:digitalsourcetype/|DigitalSourceType[\"'>=:\s]+)([A-Za-z]+)", re.IGNORECASE)
_DST_CODE = re.compile(
    r"\b(trainedAlgorithmicMedia|compositeWithTrainedAlgorithmicMedia|algorithmicMedia|"
    r"compositeSynthetic|digitalCapture|negativeFilm|positiveFilm|print|minorHumanEdits|"
    r"algorithmicallyEnhanced|dataDrivenMedia|digitalArt|virtualRecording|"
    r"compositeCapture|screenCapture|humanEdits|composite)\b"
)


def _compiled(specs: tuple[_Spec, ...]) -> list[tuple[str, re.Pattern, bool]]:
    key = id(specs)
    if key not in _COMPILED:
        _COMPILED[key] = [(tool, re.compile(p, re.IGNORECASE), strict) for tool, p, strict in specs]
    return _COMPILED[key]


def find_tools(fields: dict[str, str], specs: tuple[_Spec, ...], software_fields: frozenset[str]) -> list[Match]:
    """Every tool of ``specs`` named in ``fields`` (field name -> text), one match per (tool, field)."""
    found: list[Match] = []
    for field_name, text in fields.items():
        if not text:
            continue
        for tool, pattern, strict in _compiled(specs):
            if strict and field_name not in software_fields:
                continue
            m = pattern.search(text)
            if m:
                lo, hi = max(0, m.start() - 30), min(len(text), m.end() + 30)
                found.append(Match(tool, field_name, " ".join(text[lo:hi].split())))
    return found


def digital_source_types(text: str) -> list[str]:
    """IPTC Digital Source Type codes declared in XMP or JSON text, in order of first appearance."""
    codes: list[str] = []
    for m in _DST.finditer(text or ""):
        code = _DST_CODE.match(m.group(1))
        if code and code.group(1) not in codes:
            codes.append(code.group(1))
    return codes
