"""The scan pipeline: evidence file -> media -> faces -> calibrated scores -> one FileResult.

``Scanner.scan_file`` never raises for bad evidence: every file ends in one of the states of
``dfd_lib.results.STATUSES`` with a message, and only ``scored`` files carry a score.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Generator, Iterable, Iterator, Sequence

import numpy as np

from .detector import IMAGE_AGGREGATE, VIDEO_AGGREGATE, Detector, aggregate_video, fake_is_settled, file_verdict
from .errors import MediaError
from .explain import Explainer, Explanation
from .face_tracking import FaceTracker
from .faces import FaceBox, FaceDetector, crop_face, crop_views, scale_face
from .media import (
    MEDIA_KINDS,
    MULTI_FRAME_FORMATS,
    DecodedImage,
    FrameWalk,
    MediaLimits,
    decode_image,
    image_frame_count,
    iter_image_frames,
    file_hashes,
    iter_evidence_files,
    check_sampling,
    iter_video_frames,
    open_image_header,
    planned_video_samples,
    sniff,
    video_info,
)
from .memory import DEFAULT_MEMORY_MB, MemoryPlan, plan_memory
from .models.average import require_calibrated
from .models.checkpoint import LoadedModel, load_model
from .prefetch import prefetched
from .progress import Progress, ensure_progress
from .results import FaceResult, FileResult, FileStatus, FrameScore

__all__ = ["Scanner", "ScanSettings"]

log = logging.getLogger(__name__)

_FRAME_BATCH = 16
_NO_PIXELS = np.zeros((0, 0, 3), np.uint8)  # a sampled frame's place-holder once its faces are cut out
# Pictures up to this size (less where the memory setting leaves less room: see dfd_lib.memory) are decoded
# and searched for faces ahead, in background threads, while an earlier file is scored (at most
# LOOK_AHEAD_WORKERS + 1 such pictures are in memory); larger ones when their turn comes. Two searches at
# once: 1.5x the throughput of one on 2 cores.
READ_AHEAD_MAX_PIXELS = 24_000_000
LOOK_AHEAD_WORKERS = 2


@dataclass(frozen=True)
class _Read:
    """A file that passed the checks: its path, the result fields known so far, its type and maybe its pixels."""

    path: Path
    base: dict
    kind: str
    image: DecodedImage | None
    read_s: float  # seconds spent reading it (in a look-ahead thread: not the time it then waited in the queue)
    faces: list | None = None  # found ahead, in a background thread (None: not searched yet)
    n_frames: int = 1  # frames (animated GIF, PNG, WebP) or pages (TIFF) of a picture: >1 decoded in _scan_frames


def _pixels(p: Path) -> int:
    """Width x height from the picture's header (no pixel decoded); 0 when the header cannot be read."""
    try:
        with open_image_header(p) as img:
            return int(img.size[0]) * int(img.size[1])
    except Exception:  # noqa: BLE001 - _decode reports the real problem when the file's turn comes
        return 0


@dataclass(frozen=True)
class ScanSettings:
    """Tunable parameters of a scan, recorded with every finding: the one home of their defaults
    (``dfd scan`` and ``dfd triage`` read theirs here)."""

    fps: float | None = 1.0  # video frames sampled per second (None: use ``every``)
    every: int | None = None  # sample every k-th video frame instead
    min_face_size: int = 40  # smallest face side in pixels
    face_threshold: float = 0.90  # MTCNN detection probability threshold
    limits: MediaLimits = MediaLimits()
    batch_size: int = 32  # face crops per classifier batch (does not change results)
    # Video: a full face search on every track_full_every-th sampled frame, a search near the faces
    # already found in between (see face_tracking); 1 searches every sampled frame in full.
    track_full_every: int = 4
    # Peak memory of the scanning process, in MB (None: bounded only by ``limits``): pictures whose pixels
    # would not fit are decoded at reduced size (JPEG) or refused as too_large; see dfd_lib.memory.
    memory_mb: int | None = DEFAULT_MEMORY_MB
    # Video: stop sampling once the verdict is "fake" whatever the remaining sampled frames score
    # (detector.fake_is_settled; checked after every batch of sampled frames). Off by default: the
    # frame timeline then ends early, which only a user who asked for speed should get.
    early_stop: bool = False

    def __post_init__(self) -> None:
        check_sampling(self.fps, self.every)

    def to_dict(self) -> dict:
        return {
            "frames_per_second": self.fps,
            "every_kth_frame": self.every,
            "min_face_size": self.min_face_size,
            "face_threshold": self.face_threshold,
            "max_image_pixels": self.limits.max_image_pixels,
            "max_file_bytes": self.limits.max_file_bytes,
            "max_video_frames": self.limits.max_video_frames,
            "video_full_face_search_every": self.track_full_every,
            "memory_mb": self.memory_mb,
            "video_early_stop": self.early_stop,
        }


class Scanner:
    """Loads the face detector and the classifier once, then scans any number of files."""

    def __init__(
        self,
        model: LoadedModel | str | None = None,
        *,
        weights_dir: str | os.PathLike | None = None,
        settings: ScanSettings | None = None,
        device: str = "cpu",
        **setting_overrides,
    ) -> None:
        self.settings = settings or ScanSettings(**setting_overrides)
        self.memory: MemoryPlan = plan_memory(self.settings.memory_mb, READ_AHEAD_MAX_PIXELS, LOOK_AHEAD_WORKERS + 1)
        self.model = model if isinstance(model, LoadedModel) else load_model(model, weights_dir, device)
        require_calibrated(self.model.card)
        self.device = device
        self.faces = FaceDetector(self.settings.min_face_size, self.settings.face_threshold, device=device)
        self.detector = Detector(self.model, device, self.settings.batch_size)
        self._explainer: Explainer | None = None

    @property
    def frame_limits(self) -> MediaLimits:
        """The media limits for video frames: no frame larger than a picture the memory setting lets decode."""
        limits, room = self.settings.limits, self.memory.frame_pixels
        return limits if room is None or room >= limits.max_image_pixels else replace(limits, max_image_pixels=room)

    # -- public API -------------------------------------------------------------------------
    def scan(self, paths: Iterable[str | os.PathLike], progress: Progress | None = None) -> Iterator[FileResult]:
        """Scan every file under the given paths, yielding one result per file, in order, as it finishes.

        The next files are read, hashed, decoded (pictures up to ``READ_AHEAD_MAX_PIXELS``), searched
        for faces and scored by ``LOOK_AHEAD_WORKERS`` background threads; results are the same as
        ``scan_file``'s, one file at a time.
        """
        files = list(iter_evidence_files(paths))
        prog = ensure_progress(progress)
        prog.start(len(files), "scanning")
        results = self.scan_each(files)
        try:
            for r in results:
                prog.advance(1, status=r.status)
                yield r
                if prog.cancelled():
                    break
        finally:
            results.close()
            prog.close()

    def scan_each(self, files: Sequence[str | os.PathLike]) -> Generator[FileResult, None, None]:
        """``scan_file`` of each of ``files`` (no folder is walked), in order, with the look-ahead of ``scan``.

        Close the generator when stopping early: that ends the background reads.
        """
        import torch

        # The parallelism comes from the look-ahead threads: each gets its share of the cores for PyTorch
        # (on 2 cores one each: 1.2x the throughput of two threads each), restored when the scan ends.
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, threads // LOOK_AHEAD_WORKERS))
        try:
            for read in self._looked_ahead([Path(f) for f in files]):
                yield self._analyse(read)
        finally:
            torch.set_num_threads(threads)

    def _looked_ahead(self, files: list[Path]) -> Iterator["FileResult | _Read"]:
        """``_ahead`` of each file, in order, at most ``LOOK_AHEAD_WORKERS + 1`` files ahead."""
        with ThreadPoolExecutor(max_workers=LOOK_AHEAD_WORKERS, thread_name_prefix="dfd-read") as pool:
            pending: deque = deque()
            todo = iter(files)
            try:
                for f in todo:
                    pending.append(pool.submit(self._ahead, f))
                    if len(pending) > LOOK_AHEAD_WORKERS:
                        break
                while pending:
                    done = pending.popleft().result()
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending.append(pool.submit(self._ahead, nxt))
                    yield done
            finally:
                for fut in pending:
                    fut.cancel()

    def _ahead(self, path: Path) -> "FileResult | _Read":
        """A background thread's share of a file: the read and face search, and for a picture read whole with its
        faces found, the scoring too, where ONNX Runtime computes the scores (its sessions take concurrent
        calls), so that both threads do whole files and share the cores evenly. A PyTorch classifier scores in
        the caller's thread only: Grad-CAM hooks the same module there. Video, and pictures too large to
        decode ahead, are left to the caller's thread too."""
        read = self._read(path, self.memory.read_ahead_pixels, True)
        if (
            isinstance(read, _Read)
            and read.image is not None
            and read.faces is not None
            and self.model.onnx is not None
        ):
            return self._analyse(read)
        return read

    def scan_file(self, path: str | os.PathLike) -> FileResult:
        return self._analyse(self._read(path))

    def _read(
        self, path: str | os.PathLike, decode_limit: int | None = None, find_faces: bool = False
    ) -> "FileResult | _Read":
        """Checks, hash, type and (pictures of at most ``decode_limit`` pixels, all when None) pixels of one file;
        with ``find_faces`` also the faces of a decoded picture (left to ``_analyse`` if the search fails)."""
        t0 = time.perf_counter()
        p = Path(path)
        base: dict[str, object] = {"path": str(p)}
        try:
            if not p.exists():
                return self._fail(base, "unreadable", "file does not exist", t0)
            if not p.is_file():
                return self._fail(base, "unsupported", "not a regular file", t0)
            size = p.stat().st_size
            base["size"] = size
            if size > self.settings.limits.max_file_bytes:
                return self._fail(
                    base, "too_large", f"file is {size} bytes; the limit is {self.settings.limits.max_file_bytes}", t0
                )
            base["sha256"] = file_hashes(p, ("sha256",))["sha256"]
            kind, mime, fmt = sniff(p)
            base.update(media_type=kind if kind in MEDIA_KINDS else "unknown", mime=mime)
            if kind == "empty":
                return self._fail(base, "unreadable", "empty file (0 bytes)", t0)
            if kind == "unknown":
                return self._fail(base, "unsupported", _unsupported_message(p, mime, fmt), t0)
            image, faces = None, None
            n_frames = image_frame_count(p) if kind == "image" and fmt in MULTI_FRAME_FORMATS else 1
            # several frames or pages: decoded frame after frame when the file's turn comes (_scan_frames)
            if kind == "image" and n_frames == 1 and (decode_limit is None or _pixels(p) <= decode_limit):
                image = self._decode(p)
                if find_faces:
                    try:
                        faces = self.faces.detect(image.pixels)
                    except Exception:  # noqa: BLE001 - searched again, and reported, when the file's turn comes
                        log.debug("face search ahead failed for %s", p, exc_info=True)
            return _Read(p, base, kind, image, time.perf_counter() - t0, faces, n_frames)
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the batch
            return self._failed(exc, base, t0, "reading")

    def _analyse(self, read: "FileResult | _Read") -> FileResult:
        """Faces and scores of a file that was read; a failed read is its own result.

        The result's ``elapsed_s`` is the file's own time: its read plus its analysis, not the time it waited
        in the look-ahead queue between the two (``t0`` is set back by the read's duration)."""
        if isinstance(read, FileResult):
            return read
        p, base, t0 = read.path, read.base, time.perf_counter() - read.read_s
        try:
            if read.kind == "image" and read.n_frames > 1:
                return self._scan_frames(p, base, t0)
            if read.kind == "image":
                image = read.image if read.image is not None else self._decode(p)
                return self._scan_image(image, base, t0, read.faces)
            return self._scan_video(p, base, t0)
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the batch
            return self._failed(exc, base, t0, "scanning")

    def _decode(self, p: Path) -> DecodedImage:
        """The picture's pixels, within the memory setting (reduced or refused as ``decode_image`` does)."""
        return decode_image(p, self.settings.limits, self.memory.decode_pixels, self.memory.over_budget_note())

    def _failed(self, exc: Exception, base: dict, t0: float, doing: str) -> FileResult:
        """The result of a file whose ``doing`` raised ``exc``: a media problem or a refused read is a fact
        about the file; anything else is an ``error`` of the run, logged with its traceback."""
        if isinstance(exc, MediaError):
            return self._fail(base, exc.status, str(exc), t0)
        if isinstance(exc, PermissionError):
            return self._fail(base, "unreadable", f"permission denied: {exc}", t0)
        log.error("unexpected failure %s %s", doing, base.get("path"), exc_info=exc)
        return self._fail(base, "error", f"{type(exc).__name__}: {exc}", t0)

    def explain(self, face: FaceResult, opacity: float = 0.5) -> Explanation:
        """Grad-CAM for a scored face (computed on demand, never during the scan)."""
        if face.crop is None:
            raise ValueError("this face result carries no crop to explain")
        if self._explainer is None:
            self._explainer = Explainer(self.model, self.device)
        return self._explainer.explain(face.crop, opacity)

    def warm_up(self, explain: bool = True) -> None:
        """Run face detection, the classifier and (with ``explain``) Grad-CAM once on a blank picture, so
        that the first evidence file does not pay for lazy set-up (a Dask worker does this when it loads)."""
        size = self.model.card.input_size
        blank = np.full((size, size, 3), 128, np.uint8)
        self.faces.detect(blank)
        scores, _, _ = self.detector.assess([blank])
        if explain:
            self.explain(
                FaceResult(0, None, None, (0.0, 0.0, float(size), float(size)), (), 1.0, float(scores[0]), blank)
            )

    def close(self) -> None:
        if self._explainer is not None:
            self._explainer.close()
            self._explainer = None

    # -- stages -----------------------------------------------------------------------------
    def _crops(self, image: np.ndarray, faces: list[FaceBox]) -> list[np.ndarray]:
        c = self.model.card
        return [crop_face(image, f, c.input_size, c.crop_scale, c.crop_offset_y, c.crop_inside) for f in faces]

    def _views(self, image: np.ndarray, faces: list[FaceBox]) -> list[list[np.ndarray]] | None:
        """Per face, the card's views cut from the picture (None where the card scores the crop alone)."""
        c = self.model.card
        if not c.view_scales:
            return None
        return [crop_views(image, f, c.input_size, c.views, c.crop_offset_y, c.crop_inside) for f in faces]

    def _scan_image(
        self, decoded: DecodedImage, base: dict, t0: float, faces: list[FaceBox] | None = None
    ) -> FileResult:
        """Faces and scores of a decoded picture; boxes in the stored picture's pixels (also when decoded reduced)."""
        image = decoded.pixels
        base.update(width=decoded.full_size[0], height=decoded.full_size[1])
        reduced = f"; {self.memory.reduced_note(decoded.scale)}" if decoded.scale != 1.0 else ""
        if faces is None:
            faces = self.faces.detect(image)
        if not faces:
            return self._fail(base, "no_face", self._no_face_message() + reduced, t0)
        crops = self._crops(image, faces)
        scores, novelty, kinds = self.detector.assess(crops, self._views(image, faces))
        results = tuple(
            self._face(i, None, None, scale_face(f, 1.0 / decoded.scale), float(s), crop, novelty, kinds, i)
            for i, (f, s, crop) in enumerate(zip(faces, scores, crops))
        )
        score = float(max(scores))
        msg = f"{len(results)} face(s) scored" + reduced
        return self._scored(base, results, (), score, IMAGE_AGGREGATE, msg, t0)

    def _scan_frames(self, p: Path, base: dict, t0: float) -> FileResult:
        """Faces and scores of every distinct frame (animated GIF, PNG, WebP) or page (TIFF) of a picture, up to
        ``MAX_IMAGE_FRAMES``, decoded one at a time within the memory setting. The file's score is its most
        suspicious face, as for a still picture; each face records its frame (0 the first)."""
        walk = FrameWalk()
        frames = iter_image_frames(
            p, self.settings.limits, self.memory.decode_pixels, self.memory.over_budget_note(), walk
        )
        faces_out: list[FaceResult] = []
        frames_out: list[FrameScore] = []
        try:
            for decoded in frames:
                if not frames_out:
                    base.update(width=decoded.full_size[0], height=decoded.full_size[1])
                image = decoded.pixels
                faces = self.faces.detect(image)
                scores: list[float] = []
                if faces:
                    crops = self._crops(image, faces)
                    raw, novelty, kinds = self.detector.assess(crops, self._views(image, faces))
                    scores = [float(s) for s in raw]
                    faces_out += [
                        self._face(i, decoded.frame, None, scale_face(f, 1.0 / decoded.scale), s, c, novelty, kinds, i)
                        for i, (f, s, c) in enumerate(zip(faces, scores, crops))
                    ]
                frames_out.append(FrameScore(decoded.frame, None, len(scores), max(scores) if scores else None))
                del image, decoded
        finally:
            frames.close()
        examined = _examined(len(frames_out), walk)
        notes = tuple(walk.notes)
        partial = "".join(f"; {n}" for n in notes)
        if not faces_out:
            return self._fail(
                base, "no_face", f"no face in {examined}; " + self._no_face_message() + partial, t0, frames_out
            )
        n_face_frames = sum(1 for f in frames_out if f.score is not None)
        score = max(f.p_fake for f in faces_out)
        msg = f"{len(faces_out)} face(s) scored in {n_face_frames} of {examined}"
        return self._scored(base, tuple(faces_out), tuple(frames_out), score, IMAGE_AGGREGATE, msg, t0, notes)

    def _scan_video(self, p: Path, base: dict, t0: float) -> FileResult:
        s = self.settings
        faces_out: list[FaceResult] = []
        frames_out: list[FrameScore] = []
        batch: list[tuple] = []
        tracker = FaceTracker(self.faces, full_every=s.track_full_every)
        limits = self.frame_limits
        over = self.memory.over_budget_note(frames=True) if limits is not s.limits else ""
        planned = self._planned_samples(p, limits) if s.early_stop else 0
        stopped = ""
        decode_notes: list[str] = []  # where decoding of a damaged or truncated file stopped
        frames = prefetched(iter_video_frames(p, s.fps, s.every, limits, over, decode_notes), depth=2)
        for frame in frames:
            base.setdefault("height", frame.image.shape[0])
            base.setdefault("width", frame.image.shape[1])
            faces = tracker.detect(frame.image)
            # Only the face crops are kept until the batch is scored, never the frame: memory does not grow
            # with the video's resolution.
            batch.append(
                (
                    replace(frame, image=_NO_PIXELS),
                    faces,
                    self._crops(frame.image, faces),
                    self._views(frame.image, faces),
                )
            )
            if len(batch) == _FRAME_BATCH:
                self._video_batch(batch, faces_out, frames_out)
                batch = []
                stopped = self._settled(frames_out, faces_out, planned) if s.early_stop else ""
                if stopped:
                    frames.close()  # ends the decoding thread and closes the container
                    break
        if batch:
            self._video_batch(batch, faces_out, frames_out)
        n_face_frames = sum(1 for f in frames_out if f.score is not None)
        partial = "".join(f"; {n}" for n in decode_notes)
        if not faces_out:
            return self._fail(
                base,
                "no_face",
                f"no face in {len(frames_out)} sampled frame(s); " + self._no_face_message() + partial,
                t0,
                frames_out,
            )
        score = aggregate_video([f.score for f in frames_out])
        msg = f"{len(faces_out)} face(s) in {n_face_frames} of {len(frames_out)} sampled frame(s)" + stopped
        return self._scored(
            base, tuple(faces_out), tuple(frames_out), score, VIDEO_AGGREGATE, msg, t0, tuple(decode_notes)
        )

    def _video_batch(self, batch: list[tuple], faces_out: list, frames_out: list) -> None:
        """Score the faces of a batch of (frame, faces found in it, their crops, their views or None) with one
        classifier call."""
        frames = [fr for fr, _, _, _ in batch]
        crops, owners = [], []
        views: list[list[np.ndarray]] = []
        for fr, faces, face_crops, face_views in batch:
            for i, (face, crop) in enumerate(zip(faces, face_crops)):
                crops.append(crop)
                owners.append((fr, i, face))
            views += face_views or []
        scores, novelty, kinds = self.detector.assess(crops, views if self.model.card.view_scales else None)
        per_frame: dict[int, list[float]] = {}
        for k, ((fr, i, face), crop, sc) in enumerate(zip(owners, crops, scores)):
            faces_out.append(self._face(i, fr.index, fr.time_s, face, float(sc), crop, novelty, kinds, k))
            per_frame.setdefault(fr.index, []).append(float(sc))
        for fr in frames:
            sc = per_frame.get(fr.index, [])
            frames_out.append(FrameScore(fr.index, fr.time_s, len(sc), max(sc) if sc else None))

    def _planned_samples(self, p: Path, limits: MediaLimits) -> int:
        """At most how many frames this video's scan samples: from the container's declared duration, or the
        frame limit where the container's facts cannot be read (the frames themselves may still decode)."""
        try:
            info = video_info(p)
        except MediaError:
            return limits.max_video_frames
        return planned_video_samples(info, self.settings.fps, self.settings.every, limits)

    def _settled(self, frames_out: list[FrameScore], faces_out: list[FaceResult], planned: int) -> str:
        """The note for a video whose "fake" verdict no remaining sampled frame can change, else ""."""
        remaining = max(0, planned - len(frames_out))
        if not fake_is_settled([f.score for f in frames_out], remaining, faces_out, self.model.card.threshold):
            return ""
        return (
            f"; stopped early (early stop asked for): fake even if all {remaining} remaining of at most "
            f"{planned} sampled frames (by the container's declared duration and the frame limit) scored 0"
        )

    # -- result builders ----------------------------------------------------------------------
    def _face(
        self, i: int, frame: int | None, time_s: float | None, f: FaceBox, score: float, crop, novelty, kinds, k: int
    ) -> FaceResult:
        """One face's result; ``novelty[k]`` and ``kinds[k]`` when the model has those heads."""
        nov = None if novelty is None else float(novelty[k])
        kind, kind_p = (None, None) if kinds is None or score < self.model.card.threshold else kinds[k]
        return FaceResult(
            i,
            frame,
            time_s,
            f.box,
            f.landmarks,
            f.prob,
            score,
            crop,
            novelty=nov,
            outside=self.detector.outside_reasons(nov),
            padded=f.padded,
            kind=kind,
            kind_p=kind_p,
        )

    def _model_fields(self) -> dict:
        c = self.model.card
        return {"threshold": c.threshold, "model_name": c.name, "model_sha256": c.sha256}

    def _no_face_message(self) -> str:
        s = self.settings
        return f"no face found (MTCNN probability >= {s.face_threshold}, face at least {s.min_face_size} px)"

    def _fail(self, base: dict, status: FileStatus, message: str, t0: float, frames=()) -> FileResult:
        return FileResult(
            status=status,
            message=message,
            frames=tuple(frames),
            elapsed_s=time.perf_counter() - t0,
            **self._model_fields(),
            **base,
        )

    def _scored(self, base, faces, frames, score, aggregate, message, t0, limits: tuple[str, ...] = ()) -> FileResult:
        """``limits``: what limits the whole file's verdict (a video decoded only in part), kept as caveats."""
        c = self.model.card
        v, caveats = file_verdict(faces, score, c.threshold)
        caveats = (*caveats, *limits)
        kind = _suspected_kind(faces) if v == "fake" else None
        # The message travels to every table, report and view: say it there.
        if kind:  # the kind head's word on what the manipulation would be, not a second verdict
            message = f"{message}; if manipulated, most like: {kind}"
        if caveats:
            message = f"{message}; " + ("INCONCLUSIVE, " if v == "inconclusive" else "") + "; ".join(caveats)
        return FileResult(
            status="scored",
            message=message,
            faces=faces,
            frames=frames,
            score=score,
            verdict=v,
            caveats=caveats,
            suspected_kind=kind,
            aggregate=aggregate,
            elapsed_s=time.perf_counter() - t0,
            **self._model_fields(),
            **base,
        )


def _suspected_kind(faces) -> str | None:
    """The kind named for the most suspicious face inside the model's experience, in words with its probability."""
    from .models.kind import KIND_WORDS

    named = [f for f in faces if f.kind is not None and not f.outside]
    if not named:
        return None
    f = max(named, key=lambda x: x.p_fake)
    if f.kind == "unclear":
        return f"kind unclear (no kind reaches the head's confidence; best {f.kind_p:.2f})"
    return f"{KIND_WORDS.get(f.kind, f.kind)} (kind head {f.kind_p:.2f}, given a manipulation)"


def _examined(n: int, walk: FrameWalk) -> str:
    """How many frames or pages were examined: "2 frames examined", "32 frames examined: the first 32 of 500"."""
    text = f"{n} {walk.unit}{'' if n == 1 else 's'} examined"
    if walk.decoded < walk.n_frames:
        text += f": the first {walk.decoded} of {walk.n_frames}"
    else:
        text += f" (all {walk.n_frames})" if walk.repeats else ""
    if walk.repeats:
        text += f", {walk.repeats} repeating an earlier one skipped"
    return text


def _unsupported_message(p: Path, mime: str, fmt: str) -> str:
    ext = p.suffix.lower()
    what = {
        "text/plain": "text",
        "application/pdf": "a PDF document",
        "application/zip": "a ZIP archive (the files inside it are not examined: extract a copy and scan those)",
        "image/heif": "HEIF/AVIF (not supported yet; convert to JPEG or PNG)",
    }.get(mime, f"unrecognised data ({mime})")
    msg = f"content is {what}, not a supported image or video"
    if ext in (
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".bmp",
        ".webp",
        ".tif",
        ".tiff",
        ".mp4",
        ".mov",
        ".avi",
        ".mkv",
        ".webm",
        ".ts",
        ".mts",
        ".m2ts",
        ".mpg",
        ".wmv",
        ".flv",
    ):
        msg += f"; the extension {ext} does not match the content"
    return msg
