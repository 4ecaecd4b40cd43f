"""Video container metadata (PyAV): creation time, encoder, codecs, bit rate, re-encoding hints.

Phones and cameras write their own tags (e.g. Apple's ``com.apple.quicktime.*``); tools such as
FFmpeg or HandBrake stamp theirs (``encoder=Lavf...``) when they re-mux or re-encode. Every
upload platform re-encodes too, so a re-encoding hint shows the file is not the camera original,
not that its content was changed. Tags are easy to rewrite or strip.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..errors import UnreadableMedia
from ..media import no_video_stream, open_video
from .base import Analysis, Evidence, ForensicResult, raised_flags
from .patterns import AI_GENERATORS, EDITORS, REENCODERS, Match, find_tools

__all__ = ["VideoMetaAnalysis"]

_SOFTWARE_KEYS = (
    "encoder",
    "software",
    "com.apple.quicktime.software",
    "com.android.version",
    "handler_name",
    "vendor_id",
    "writing_application",
    "comment",
    "description",
    "title",
)
_FFMPEG_HANDLERS = {"VideoHandler", "SoundHandler"}  # FFmpeg's defaults; phones write their own names


def _iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)  # QuickTime times are UTC


class VideoMetaAnalysis(Analysis):
    name = "video_meta"
    order = 70
    description = "Video container metadata: creation time, encoder, codecs, bit rate, re-encoding hints"
    applies_to = frozenset({"video"})

    def analyse(self, evidence: Evidence) -> ForensicResult:
        try:
            with open_video(evidence.path) as container:
                missing = no_video_stream(container)  # e.g. audio only: not damaged, nothing here to analyse
                if missing:
                    return ForensicResult.not_applicable(self.name, missing)
                tags = {str(k): str(v) for k, v in container.metadata.items()}
                streams = []
                for s in container.streams:
                    cc = s.codec_context
                    streams.append(
                        {
                            "index": s.index,
                            "type": s.type,
                            "codec": getattr(cc, "name", None),
                            "profile": getattr(cc, "profile", None),
                            "width": getattr(cc, "width", None) if s.type == "video" else None,
                            "height": getattr(cc, "height", None) if s.type == "video" else None,
                            "fps": float(s.average_rate) if s.type == "video" and s.average_rate else None,
                            "frames": int(s.frames) if s.frames else None,
                            "bit_rate": s.bit_rate or None,
                            "tags": {str(k): str(v) for k, v in s.metadata.items()},
                        }
                    )
                container_info = {
                    "format": container.format.name,
                    "duration_s": round(container.duration / 1_000_000, 3) if container.duration else None,
                    "bit_rate": container.bit_rate or None,
                    "size_bytes": evidence.path.stat().st_size,
                }
        except Exception as exc:  # PyAV raises many distinct error classes for damaged input
            raise UnreadableMedia(f"video container could not be opened: {exc}") from exc

        fields = {f"container {k}": v for k, v in tags.items()}
        for s in streams:
            fields.update({f"stream{s['index']} {k}": v for k, v in s["tags"].items()})
        software = frozenset(k for k in fields if k.split(" ", 1)[1] in _SOFTWARE_KEYS)
        reencode = find_tools(fields, REENCODERS, software)
        reencode += [
            Match("FFmpeg default handler name", k, v)
            for k, v in fields.items()
            if k.endswith("handler_name") and v in _FFMPEG_HANDLERS
        ]
        editors = find_tools(fields, EDITORS, software)
        ai = find_tools(fields, AI_GENERATORS, software)

        times = {k: v for k, v in fields.items() if k.endswith("creation_time")}
        parsed = {k: _iso(v) for k, v in times.items()}
        valid = [t for t in parsed.values() if t is not None]
        problems = []
        if valid and (max(valid) - min(valid)).total_seconds() > 60:
            problems.append("container and stream creation times differ by more than a minute")
        if any(t.year <= 1970 for t in valid):
            problems.append("a creation time is zero (1904/1970), typical of tools that rewrite the container")

        flags = raised_flags(
            {
                "reencoding_hint": reencode,
                "editing_software": editors,
                "ai_generator_tag": ai,
                "date_inconsistency": problems,
            }
        )
        video = next(s for s in streams if s["type"] == "video")
        metrics = {
            **container_info,
            "tags": tags,
            "streams": streams,
            "creation_times": times,
            "make": tags.get("com.apple.quicktime.make") or tags.get("make"),
            "model": tags.get("com.apple.quicktime.model") or tags.get("model"),
            "encoder": tags.get("encoder"),
            "reencoding_matches": [m.to_dict() for m in reencode],
            "editing_software_matches": [m.to_dict() for m in editors],
            "ai_generator_matches": [m.to_dict() for m in ai],
            "date_problems": problems,
        }
        rate = container_info["bit_rate"]
        notes = [
            f"{container_info['format']} container, video {video['codec']} {video['width']}x{video['height']}"
            + (f" at {video['fps']:.3g} fps" if video["fps"] else "")
            + (f", {rate / 1000:.0f} kbit/s overall" if rate else "")
            + "."
        ]
        notes.append(f"Creation time: {next(iter(times.values()))}." if times else "No creation time recorded.")
        if reencode:
            notes.append(
                "Re-encoding/re-muxing hints: "
                + "; ".join(f"{m.tool} ({m.field})" for m in reencode[:3])
                + ". The file has passed through such a tool (upload platforms and converters do this "
                "routinely), so it is not the camera original; this does not show the content changed."
            )
        if editors:
            notes.append("Editing software named: " + "; ".join(f"{m.tool} ({m.field})" for m in editors[:3]) + ".")
        if ai:
            notes.append(
                "AI-generator names appear in the tags: " + "; ".join(f"{m.tool} ({m.field})" for m in ai[:3]) + "."
            )
        if problems:
            notes.append("Date issues: " + "; ".join(problems) + ".")
        notes.append("Container tags are easy to rewrite or strip: treat them as claims to corroborate.")
        size = (video["width"], video["height"]) if video["width"] else None
        return ForensicResult.ok(self.name, notes, metrics, flags, analysed_size=size)
