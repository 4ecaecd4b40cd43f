"""A hostile-input corpus, generated on demand (nothing large is committed).

``make_corpus(folder)`` writes files meant to break evidence readers: truncated and bit-flipped
JPEG/PNG/WebP, a pixel bomb (huge declared size, tiny file), a zlib decompression bomb PNG,
1x1 and 60000x1 images, animated GIF/WebP/APNG, CMYK / 16-bit / float TIFF, a HEIC-branded
file, corrupt and zero-frame MP4s, an MP4 whose header claims ten hours, names with a newline
and with bytes that are not UTF-8, symbolic link loops, a FIFO, an unreadable file (not as root),
a folder of many small files and a deep tree.

It returns a :class:`Corpus` listing every path a walk of the folder must report on
(``expected``) and what it could not make here, with the reason (``skipped``). Used by
tests/test_hostile_corpus.py and bench/hostile_bench.py.
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["Corpus", "make_corpus", "remove_corpus", "TEN_HOURS_S"]

TEN_HOURS_S = 36_000


@dataclass
class Corpus:
    root: Path
    expected: list[Path] = field(default_factory=list)  # every path a walk must report, each exactly once
    kinds: dict[Path, str] = field(default_factory=dict)  # path -> what it is ("truncated jpeg", ...)
    skipped: dict[str, str] = field(default_factory=dict)  # what was not made here -> why

    def add(self, path: Path, kind: str) -> Path:
        self.expected.append(path)
        self.kinds[path] = kind
        return path


def _rgb(seed: int, w: int = 96, h: int = 96) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def _encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width: int, height: int, idat: bytes, bit_depth: int = 8, colour: int = 0) -> bytes:
    """A PNG with the given IHDR and raw (already compressed) IDAT payload; CRCs are correct."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def zlib_bomb_png(side: int) -> bytes:
    """A greyscale ``side``x``side`` PNG of zeros: ``side**2`` bytes of pixels in a file about 1000x smaller."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    parts = []
    for _ in range(side):
        parts.append(comp.compress(row))
    parts.append(comp.flush())
    return png_bytes(side, side, b"".join(parts))


def _mp4(path: Path, frames: int, size: int = 64, pts_step: int = 1, rate: int = 5) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=rate)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, rate)
        rng = np.random.default_rng(frames)
        out.start_encoding()  # header written even when no frame follows
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), format="rgb24")
            frame.pts = i * pts_step
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _flip(data: bytes, rng: random.Random, n: int) -> bytes:
    buf = bytearray(data)
    for _ in range(n):
        pos = rng.randrange(len(buf) // 8, len(buf))  # keep the magic number, so the reader is tried
        buf[pos] ^= 1 << rng.randrange(8)
    return bytes(buf)


def make_corpus(
    folder: str | os.PathLike,
    n_small: int = 200,
    depth: int = 300,
    bomb_side: int = 4000,
    big_side: int = 0,
    seed: int = 12,
) -> Corpus:
    """Write the corpus into ``folder`` (created; must not exist or be empty).

    ``n_small``: files in the many-small-files folder (10,000 for the full measurement);
    ``depth``: levels of the deep tree; ``bomb_side``: side of the zlib bomb PNG (decoded size
    ``bomb_side**2`` bytes, kept under the default 120-megapixel limit so the decoder really runs);
    ``big_side``: when set, also a deflate-compressed float32 and a 16-bit TIFF of ``big_side**2``
    pixels (small files whose decoding is memory-heavy; 10,000 gives 100 megapixels).
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    c = Corpus(root)
    rng = random.Random(seed)
    img = root / "images"
    img.mkdir()

    def put(name: str | bytes, data: bytes, kind: str, where: Path = img) -> Path:
        p = Path(os.fsdecode(os.path.join(os.fsencode(where), os.fsencode(name))))
        p.write_bytes(data)
        return c.add(p, kind)

    # truncated and bit-flipped encodings of one ordinary picture
    for fmt, ext in (("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")):
        good = _encoded(_rgb(len(ext)), fmt)
        put(f"ok.{ext}", good, f"valid {fmt}")
        put(f"truncated_half.{ext}", good[: len(good) // 2], f"truncated {fmt}")
        put(f"truncated_header.{ext}", good[:20], f"{fmt} cut inside its header")
        for k in range(3):
            put(f"bitflip_{k}.{ext}", _flip(good, rng, 1 + 8 * k), f"bit-flipped {fmt}")

    # bombs: huge declared dimensions in a tiny file, and a zlib bomb within the pixel limit
    put("pixel_bomb.png", png_bytes(200_000, 200_000, zlib.compress(b"\x00" * 1024)), "pixel bomb (PNG header)")
    gif = bytearray(_encoded(Image.new("P", (8, 8)), "GIF"))
    struct.pack_into("<HH", gif, 6, 65535, 65535)
    put("pixel_bomb.gif", bytes(gif), "pixel bomb (GIF screen)")
    put("zlib_bomb.png", zlib_bomb_png(bomb_side), f"zlib bomb ({bomb_side}x{bomb_side} of zeros)")

    # extreme shapes
    put("one_pixel.png", _encoded(Image.new("RGB", (1, 1), (255, 0, 0)), "PNG"), "1x1")
    put("wide_60000x1.png", _encoded(Image.new("RGB", (60_000, 1), (0, 128, 255)), "PNG"), "60000x1")

    # animations
    frames = [_rgb(100 + i, 64, 64) for i in range(4)]
    put(
        "animated.gif",
        _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0),
        "animated GIF",
    )
    put(
        "animated.webp",
        _encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=80),
        "animated WebP",
    )
    put(
        "animated.png",
        _encoded(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=80),
        "animated PNG (APNG)",
    )

    # unusual pixel types
    put("cmyk.tif", _encoded(_rgb(7).convert("CMYK"), "TIFF"), "CMYK TIFF")
    put("cmyk.jpg", _encoded(_rgb(8).convert("CMYK"), "JPEG"), "CMYK JPEG")
    ramp16 = (np.arange(128 * 128, dtype=np.uint32).reshape(128, 128) * 4).astype(np.uint16)
    put("grey16.tif", _encoded(Image.fromarray(ramp16), "TIFF"), "16-bit TIFF")
    put("grey16.png", _encoded(Image.fromarray(ramp16), "PNG"), "16-bit PNG")
    floats = np.linspace(-1e6, 1e6, 128 * 128, dtype=np.float32).reshape(128, 128)
    put("float32.tif", _encoded(Image.fromarray(floats), "TIFF"), "float TIFF")
    nan = floats.copy()
    nan[::2] = np.nan
    put("float32_nan.tif", _encoded(Image.fromarray(nan), "TIFF"), "float TIFF with NaN")
    if big_side:
        big = np.zeros((big_side, big_side), np.float32)
        big[::97] = 3.5
        put(
            "big_float32.tif",
            _encoded(Image.fromarray(big), "TIFF", compression="tiff_deflate"),
            f"{big_side}x{big_side} float TIFF (deflate)",
        )
        del big
        big16 = np.zeros((big_side, big_side), np.uint16)
        big16[::89] = 60000
        put(
            "big_grey16.tif",
            _encoded(Image.fromarray(big16), "TIFF", compression="tiff_deflate"),
            f"{big_side}x{big_side} 16-bit TIFF (deflate)",
        )
        del big16

    # container formats that are not decoded, or broken
    put(
        "photo.heic",
        struct.pack(">I", 24) + b"ftypheic" + b"\x00" * 4 + b"mif1heic" + os.urandom(256),
        "HEIC-branded (fake ftyp)",
    )
    put("empty.jpg", b"", "empty file")
    put("text_named.jpg", b"this is a text file named like a photo\n", "text named .jpg")

    vid = root / "video"
    vid.mkdir()
    _mp4(vid / "ok.mp4", frames=10)
    c.add(vid / "ok.mp4", "valid MP4")
    good = (vid / "ok.mp4").read_bytes()
    put("truncated.mp4", good[: len(good) // 3], "truncated MP4", vid)
    put("corrupt.mp4", _flip(good, rng, 64), "corrupt MP4 (bit flips)", vid)
    put("mangled_atoms.mp4", good[:32] + os.urandom(len(good) - 32), "MP4 with random atoms", vid)
    _mp4(vid / "zero_frames.mp4", frames=0)
    c.add(vid / "zero_frames.mp4", "zero-frame MP4")
    _mp4(vid / "ten_hours_claimed.mp4", frames=2, pts_step=TEN_HOURS_S * 5)  # its headers say 36,000 s
    c.add(vid / "ten_hours_claimed.mp4", "MP4 whose header claims ten hours (two frames, ten hours apart)")

    # hostile names
    names = root / "names"
    names.mkdir()
    jpeg = _encoded(_rgb(3), "JPEG")
    put("line\nbreak.jpg", jpeg + b"1", "name with a newline", names)
    put("two\r\nlines\n\n.png", _encoded(_rgb(4), "PNG"), "name with CR LF", names)
    put(b"latin1_caf\xe9.jpg", jpeg + b"2", "name with a byte that is not UTF-8", names)
    put(b"\xff\xfe\x80bytes.png", _encoded(_rgb(5), "PNG"), "name of invalid UTF-8 bytes", names)
    put("केस_फ़ोटो.jpg", jpeg + b"3", "Devanagari name", names)
    put(".hidden.jpg", jpeg + b"4", "hidden file", names)
    put("-starts-with-dash.jpg", jpeg + b"5", "name starting with '-'", names)
    put("x" * 240 + ".jpg", jpeg + b"6", "240-character name", names)

    # things that are not regular files
    special = root / "special"
    special.mkdir()
    os.symlink("loop_b", special / "loop_a")
    os.symlink("loop_a", special / "loop_b")
    os.symlink("self_loop", special / "self_loop")
    os.symlink("/nonexistent/target.jpg", special / "dangling")
    os.symlink("..", special / "up")
    for name in ("loop_a", "loop_b", "self_loop", "dangling", "up"):
        c.add(special / name, "symbolic link")
    os.mkfifo(special / "fifo")
    c.add(special / "fifo", "FIFO")
    locked = special / "locked"
    locked.mkdir()
    unreadable = locked / "unreadable.jpg"
    unreadable.write_bytes(jpeg)
    os.chmod(unreadable, 0)
    os.chmod(locked, 0)
    if os.geteuid() == 0:
        # root reads mode-000 files and folders anyway: the "unreadable" case cannot be made here
        c.add(unreadable, "mode-000 file (readable: running as root)")
        c.skipped["unreadable file"] = "running as root, which reads mode-000 files and folders"
    else:
        c.add(locked, "mode-000 folder")  # the walk reports the folder; the file inside is never seen

    # volume
    many = root / "many"
    many.mkdir()
    tiny = _encoded(Image.new("L", (2, 2)), "PNG")
    for i in range(n_small):
        p = many / f"f{i:05d}.png"
        p.write_bytes(tiny + i.to_bytes(4, "big"))  # distinct content: each is its own item
        c.expected.append(p)
        c.kinds[p] = "small file"
    deep = root / "deep"
    folder = deep
    os.mkdir(folder)
    for _ in range(depth):
        folder = folder / "d"
        os.mkdir(folder)
    put("bottom.png", _encoded(_rgb(6), "PNG"), f"file {depth} folders deep", folder)
    return c


def remove_corpus(root: str | os.PathLike) -> None:
    """Remove a corpus (restoring permissions, not following links, without recursion)."""
    stack = [Path(root)] if os.path.lexists(root) else []
    while stack:
        folder = stack[-1]
        os.chmod(folder, 0o700)
        with os.scandir(folder) as it:
            entries = list(it)
        subs = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
        if subs:
            for s in subs:
                os.chmod(s, 0o700)
            stack.extend(subs)
            continue
        for e in entries:
            os.unlink(e.path)
        os.rmdir(folder)
        stack.pop()
