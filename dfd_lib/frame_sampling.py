"""Which video frames to decode: every k-th frame, or the first frame at or after each 1/f step of video time.

Sampling per second decodes no more than the sampled frames need. The stream's packets are read
(not decoded) one group of pictures at a time, from a key frame to the next. Their presentation
times say which frames are the sampled ones before anything is decoded, so:

- a group that holds no sampled frame is never decoded;
- a group is decoded only up to its last sampled frame;
- frames that no other frame refers to (most B-frames) are skipped unless they are sampled.

The frames yielded (pixels, indices, times) are those that decoding every frame gives. Where that
cannot be guaranteed this way, the rest of the video is decoded frame by frame as before:

- packets without presentation times;
- a group that starts before the previous one ends (open groups of pictures need the previous
  group's frames);
- a group over ``GOP_BUFFER_BYTES`` of packets (a screen recording with one key frame);
- a sampled frame that did not come out of the decoder is looked for again by decoding its
  whole group without skipping anything.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import TYPE_CHECKING, Callable, Generator, Iterable, Iterator

if TYPE_CHECKING:
    from av import Packet, VideoFrame

__all__ = ["GOP_BUFFER_BYTES", "every_kth", "per_second"]

GOP_BUFFER_BYTES = 32 << 20  # packets of one group held before decoding; a larger group is decoded as it comes
_EPS = 1e-6

Sampled = Iterator[tuple[int, float, "VideoFrame"]]


def every_kth(container, stream, every: int, rate) -> Sampled:
    """(index, time, frame) of every k-th decoded frame."""
    for i, frame in enumerate(container.decode(stream)):
        if i % every == 0:
            yield i, float(frame.time) if frame.time is not None else i / float(rate), frame


def per_second(container, stream, fps: float, rate) -> Sampled:
    """(index, time, frame) of the first frame at or after each 1/fps step of video time.

    A frame's index is its number in presentation order, as decoding every frame counts it: the number of the
    stream's packets shown before it (all of them read by then: a decoder gives frames in presentation order),
    so that it holds for variable frame rates too. Where packets carry no times, it is counted from the frame's
    time and the frame rate.
    """
    sampler = _PerSecond(stream, fps, rate)
    if sampler.tb <= 0:
        yield from sampler.take(container.decode(stream))
        return
    yield from sampler.run(container.demux(stream))


class _PerSecond:
    def __init__(self, stream, fps: float, rate) -> None:
        self.stream, self.codec = stream, stream.codec_context
        self.time_base = stream.time_base  # a Fraction; frames drained from the decoder carry none of their own
        self.tb = float(self.time_base) if self.time_base else 0.0
        self.fps, self.rate = float(fps), float(rate)
        self.next_t = 0.0
        self.t_first: float | None = None
        self.decoded = 0
        self.shown: list[int] = []  # presentation times of every packet read so far, sorted

    def _read(self, packets: Iterable[Packet]) -> Iterator[Packet]:
        """The packets, each one's presentation time noted as it is read (see ``_index``)."""
        for pkt in packets:
            if pkt.pts is not None and pkt.size:
                insort(self.shown, pkt.pts)
            yield pkt

    def _index(self, frame: VideoFrame, t: float) -> int:
        if frame.pts is not None and self.shown:
            return bisect_left(self.shown, frame.pts)
        return int(round((t - (self.t_first or 0.0)) * self.rate))

    def _time(self, pts: int) -> float:
        return float(pts * self.time_base)

    def _step_after(self, t: float) -> float:
        return (int(t * self.fps + _EPS) + 1) / self.fps

    def take(self, frames: Iterable[VideoFrame]) -> Sampled:
        """The first of ``frames`` (in presentation order) at or after each step."""
        for frame in frames:
            t = self._time(frame.pts) if frame.pts is not None and self.tb > 0 else None
            if t is None:
                t = float(frame.time) if frame.time is not None else self.decoded / self.rate
            self.decoded += 1
            if self.t_first is None:
                self.t_first = t
            if t + _EPS < self.next_t:
                continue
            yield self._index(frame, t), t, frame
            self.next_t = self._step_after(t)

    def _targets(self, gop: list[Packet]) -> set[int]:
        """Presentation timestamps of the group's sampled frames, given the steps already taken."""
        out: set[int] = set()
        nxt = self.next_t
        for pts in sorted(_pts(p) for p in gop):
            t = self._time(pts)
            if t + _EPS >= nxt:
                out.add(pts)
                nxt = self._step_after(t)
        return out

    def _decode(self, packets: Iterable[Packet], skip: Callable[[Packet], bool] | None = None) -> Iterator[VideoFrame]:
        """Frames from ``packets``; where ``skip(packet)`` holds, a frame no other frame refers to is not decoded."""
        for pkt in packets:
            self.codec.skip_frame = "NONREF" if skip is not None and skip(pkt) else "DEFAULT"
            yield from self.stream.decode(pkt)

    def _before_next_step(self, pkt: Packet) -> bool:
        """Whether the packet's frame is shown before the next step (so it cannot be sampled)."""
        return pkt.pts is not None and self._time(pkt.pts) + _EPS < self.next_t

    def _drain(self) -> list[VideoFrame]:
        """The frames still inside the decoder; then it is reset for a new start at a key frame."""
        import av

        self.codec.skip_frame = "DEFAULT"
        try:
            frames = self.stream.decode(None)
        except av.error.EOFError:  # already drained (a group whose last frame came out while draining)
            frames = []
        self.codec.flush_buffers()
        return frames

    def _group(self, gop: list[Packet]) -> Sampled:
        """The sampled frames of one closed group of pictures, decoding as little of it as they need."""
        targets = sorted(self._targets(gop))
        if not targets:
            return
        if self.t_first is None:
            self.t_first = self._time(min(_pts(p) for p in gop))
        wanted = set(targets)
        last = max(i for i, p in enumerate(gop) if p.pts in wanted)
        k = 0

        def decoded() -> Generator[VideoFrame, None, None]:
            yield from self._decode(gop[: last + 1], skip=lambda pkt: pkt.pts not in wanted)
            yield from self._drain()

        frames = decoded()
        for frame in frames:
            if frame.pts is None or frame.pts > targets[k]:
                break  # the next sampled frame was passed without coming out
            if frame.pts == targets[k]:
                yield from self.take([frame])
                k += 1
                if k == len(targets):
                    break
        frames.close()
        self._drain()  # when the decoder was left before its drain (a drained one answers EOF, see _drain)
        if k < len(targets):  # decode the whole group again, skipping nothing; frames already taken are passed over
            yield from self.take(self._decode(gop))
            yield from self.take(self._drain())

    def run(self, packets: Iterable[Packet]) -> Sampled:
        gop: list[Packet] = []
        prev: list[Packet] = []
        size, prev_end = 0, None
        it = self._read(packets)
        for pkt in it:
            if pkt.size == 0:
                continue
            if pkt.pts is None or size + pkt.size > GOP_BUFFER_BYTES:
                gop.append(pkt)
                break  # decode the rest frame by frame, from this group's key frame
            if pkt.is_keyframe and gop:
                if _open(gop, prev_end):
                    gop = prev + gop + [pkt]
                    break
                yield from self._group(gop)
                prev, prev_end = gop, max(_pts(p) for p in gop)
                gop, size = [], 0
            gop.append(pkt)
            size += pkt.size
        else:
            if not gop:
                return
            if not _open(gop, prev_end):
                yield from self._group(gop)
                return
            gop = prev + gop
        yield from self.take(self._decode(_chain(gop, it), skip=self._before_next_step))
        yield from self.take(self._drain())


def _open(gop: list[Packet], prev_end: int | None) -> bool:
    """Whether the group may refer to frames of the previous one: frames shown before its key frame (open
    groups of pictures, as MPEG-2 and some HEVC encoders make them), or frames shown before the previous group ends."""
    start = min(_pts(p) for p in gop)
    return start < _pts(gop[0]) or (prev_end is not None and start < prev_end)


def _pts(pkt: Packet) -> int:
    """A grouped packet's presentation time stamp (packets without one are never grouped)."""
    if pkt.pts is None:
        raise ValueError("a grouped packet has no presentation time")
    return pkt.pts


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    for pkt in rest:
        if pkt.size:
            yield pkt
