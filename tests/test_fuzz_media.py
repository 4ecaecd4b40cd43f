"""A bounded coverage-guided fuzz run (atheris) of the image and video openers.

Seeds are small valid JPEG, PNG, WebP, GIF and MP4 files made here; tests/fuzz_media.py mutates
them for a fixed number of iterations and fails on any exception outside the MediaError family
(or from ``sniff`` at all) and on any input that takes more than ``-timeout`` seconds.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dfd_lib import media

from hostile_corpus import _mp4

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUNS = 6000  # about 20-40 s on two busy cores


def _seeds(folder: Path) -> list[Path]:
    from PIL import Image

    folder.mkdir()
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8))
    out = []
    for fmt, ext in (("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif")):
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        out.append(folder / f"seed.{ext}")
        out[-1].write_bytes(buf.getvalue())
    _mp4(folder / "seed.mp4", frames=3, size=16)
    out.append(folder / "seed.mp4")
    return out


@pytest.mark.slow
def test_atheris_fuzz_of_media_openers_raises_only_media_errors(tmp_path):
    pytest.importorskip("atheris")
    seeds = _seeds(tmp_path / "seeds")
    # The seeds are valid, so mutations start from inputs that reach the decoders.
    for seed in seeds:
        if seed.suffix == ".mp4":
            assert media.sniff(seed)[0] == "video" and len(list(media.iter_video_frames(seed, every=1))) == 3
        else:
            assert media.sniff(seed)[0] == "image" and media.load_image(seed).shape == (16, 16, 3)

    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    cmd = [
        sys.executable,
        str(HERE / "fuzz_media.py"),
        f"-runs={RUNS}",
        "-seed=12",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-max_len=4096",
        f"-artifact_prefix={artifacts}/",
        str(tmp_path / "seeds"),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, errors="replace", timeout=300)
    log = proc.stdout + proc.stderr
    found = sorted(p.name for p in artifacts.iterdir())
    assert proc.returncode == 0 and not found, (
        f"fuzzing found an input that breaks the contract (saved as {found} in {artifacts}; replay with "
        f"python tests/fuzz_media.py FILE):\n{log[-6000:]}"
    )
    done = re.search(r"Done (\d+) runs in (\d+) second", log)
    assert done and int(done.group(1)) == RUNS, log[-3000:]
    print(f"atheris: {done.group(1)} inputs in {done.group(2)} s, none raised outside MediaError, none hung")
