"""Test doubles and fixtures for the case tests (no tests here).

``FakeScanner`` honours the scanner contract of ``dfd_lib.scan.Scanner`` (``model.card``,
``scan_file``, ``explain``) and returns real ``FileResult`` objects, deterministic per
content and model, so the case layer can be tested without weights.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

from dfd_lib.errors import MediaError
from dfd_lib.media import load_image, sha256_file, sniff
from dfd_lib.results import FaceResult, FileResult

__all__ = ["FakeScanner", "PoisonScanner", "make_images", "write_image"]


class FakeScanner:
    def __init__(
        self,
        name: str = "fake-v1",
        threshold: float = 0.5,
        delay: float = 0.0,
        explain_fails: bool = False,
        sha256: str | None = None,
    ) -> None:
        """``sha256``: the weights' hash (default: one made from ``name``); two cards may share weights."""
        sha = sha256 or hashlib.sha256(name.encode()).hexdigest()
        self.model = SimpleNamespace(card=SimpleNamespace(name=name, sha256=sha, threshold=threshold))
        self.fps = 1.0
        self.min_face_size = 40
        self.delay = delay
        self.explain_fails = explain_fails
        self.scanned: list[str] = []

    def _score(self, sha: str) -> float:
        digest = hashlib.sha256((sha + self.model.card.name).encode()).hexdigest()
        return int(digest[:8], 16) / 0xFFFFFFFF

    def scan_file(self, path: str | os.PathLike) -> FileResult:
        if self.delay:
            time.sleep(self.delay)
        self.scanned.append(str(path))
        card = self.model.card
        common = dict(model_name=card.name, model_sha256=card.sha256, threshold=card.threshold)
        sha, size = sha256_file(path), os.path.getsize(path)
        kind, mime, _ = sniff(path)
        if kind == "empty":
            return FileResult(str(path), "unreadable", "empty file", sha, size, mime=mime, **common)
        if kind != "image":
            return FileResult(str(path), "unsupported", "not an image", sha, size, mime=mime, **common)
        try:
            img = load_image(path)
        except MediaError as exc:
            return FileResult(str(path), exc.status, str(exc), sha, size, "image", mime, **common)
        h, w = img.shape[:2]
        if min(w, h) < 40:  # too small to hold a face (and to cut the two fake face crops from)
            return FileResult(str(path), "no_face", "no face", sha, size, "image", mime, w, h, **common)
        p = self._score(sha)
        faces = (
            FaceResult(0, None, None, (0.0, 0.0, w / 2, h / 2), ((5.0, 5.0),), 0.99, p, crop=img[: h // 2, : w // 2]),
            FaceResult(1, None, None, (w / 2, h / 2, w, h), (), 0.95, p / 2, crop=img[h // 2 :, w // 2 :]),
        )
        return FileResult(
            str(path),
            "scored",
            "2 face(s) scored",
            sha,
            size,
            "image",
            mime,
            w,
            h,
            faces=faces,
            score=p,
            verdict="fake" if p >= card.threshold else "real",
            aggregate="max",
            **common,
        )

    def explain(self, face: FaceResult) -> SimpleNamespace:
        if self.explain_fails:
            raise RuntimeError("no gradients today")
        crop = face.crop
        heat = crop.mean(axis=2) / 255.0
        return SimpleNamespace(heatmap=heat, overlay=(255 - crop).astype(np.uint8))


def write_image(path: Path, seed: int, size: int = 64, fmt: str = "PNG") -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format=fmt)
    return path


def make_images(folder: Path, n: int, start: int = 0) -> list[Path]:
    return [write_image(folder / f"img_{i:03d}.png", seed=i) for i in range(start, start + n)]


def make_deep_tree(root: Path, depth: int) -> Path:
    """``root/d/d/.../d`` (``depth`` levels), made without recursion; returns the deepest folder."""
    os.mkdir(root)
    folder = root
    for _ in range(depth):
        folder = folder / "d"
        os.mkdir(folder)
    return folder


def remove_deep_tree(root: Path) -> None:
    """Remove a tree of any depth without recursion (shutil.rmtree recurses and fails on very deep trees)."""
    stack = [Path(root)] if os.path.lexists(root) else []
    while stack:
        folder = stack[-1]
        with os.scandir(folder) as it:
            entries = list(it)
        subfolders = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
        if subfolders:
            stack.extend(subfolders)  # come back to this folder once they are gone
            continue
        for e in entries:
            os.unlink(e.path)
        os.rmdir(folder)
        stack.pop()


class PoisonScanner(FakeScanner):
    """A FakeScanner whose process dies (SIGKILL) on any file starting with ``POISON``: a file that
    kills every Dask worker that touches it."""

    def scan_file(self, path: str | os.PathLike) -> FileResult:
        with open(path, "rb") as fh:
            if fh.read(6) == b"POISON":
                import signal

                os.kill(os.getpid(), signal.SIGKILL)
        return super().scan_file(path)


def reviewed_case(tmp_path: Path, name: str, n_images: int):
    """A case with ``n_images`` triaged by the fake scanner and item 1 reviewed (caller closes it)."""
    from dfd_lib.case import open_case

    make_images(tmp_path / "ev", n_images)
    c = open_case(name, cases_dir=tmp_path / "cases", examiner="Insp. Rao")
    c.triage([tmp_path / "ev"], scanner=FakeScanner(), forensics=False)
    c.annotate(1, verdict="likely_fake", reviewer="Insp. Rao")
    return c


def raw_sql(case, *statements: str) -> None:
    """Change the case database behind the library's back, as a tamperer would."""
    import sqlite3

    conn = sqlite3.connect(case.db_path, isolation_level=None)
    for s in statements:
        conn.execute(s)
    conn.close()
