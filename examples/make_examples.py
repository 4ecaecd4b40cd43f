"""Build the sample evidence in examples/evidence from public-domain / CC0 images in scikit-image.

Deterministic (fixed seeds). Run: python examples/make_examples.py
Nothing here comes from DFDC or any other research-only data set.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent / "evidence"


def _blend_face(img: np.ndarray, seed: int) -> np.ndarray:
    """A face manipulated by blending it with a colour- and sharpness-shifted copy of itself."""
    from dfd_lib.faces import FaceDetector
    from dfd_lib.training.sbi import self_blend

    face = FaceDetector(min_face_size=40).detect(img)[0]
    rng = np.random.default_rng(seed)
    out, _ = self_blend(img, np.array(face.landmarks), rng)
    return out


def main() -> None:
    import av
    from skimage import data

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "problem_files").mkdir(exist_ok=True)
    astro = data.astronaut()
    Image.fromarray(astro).save(OUT / "astronaut.jpg", quality=92)
    fake = _blend_face(astro, seed=7)
    Image.fromarray(fake).save(OUT / "astronaut_blended_face.jpg", quality=92)
    # Stored sideways with an EXIF orientation tag: viewers (and the tool) show it upright.
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    exif[0x0131] = "dfd examples generator"
    Image.fromarray(np.rot90(astro, 1).copy()).save(OUT / "astronaut_exif_rotated.jpg", quality=90, exif=exif.tobytes())
    pair = np.concatenate([astro, fake[:, ::-1]], axis=1)
    Image.fromarray(pair).save(OUT / "two_faces.png")
    Image.fromarray(data.coffee()).save(OUT / "coffee_no_face.jpg", quality=90)
    # A 4-second clip built from stills: a slow zoom on the astronaut, manipulated in seconds 1-3.
    with av.open(str(OUT / "astronaut_clip.mp4"), "w") as c:
        s = c.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 384, 384, "yuv420p"
        for i in range(40):
            src = fake if 10 <= i < 30 else astro
            z = 1.0 + 0.01 * i
            side = int(512 / z)
            y0 = x0 = (512 - side) // 2
            frame = np.asarray(Image.fromarray(src[y0 : y0 + side, x0 : x0 + side]).resize((384, 384), Image.BILINEAR))
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    # Problem files: each must get its own clear status, never a score.
    buf = io.BytesIO()
    Image.fromarray(astro).save(buf, "JPEG", quality=90)
    (OUT / "problem_files" / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    (OUT / "problem_files" / "empty.jpg").write_bytes(b"")
    (OUT / "problem_files" / "notes.jpg").write_text("This is a text file with a .jpg name.\n")
    Image.new("1", (20000, 20000)).save(OUT / "problem_files" / "huge_20000x20000.png", optimize=True)


if __name__ == "__main__":
    main()
