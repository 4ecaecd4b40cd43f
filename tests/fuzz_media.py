"""Coverage-guided fuzzing (atheris / libFuzzer) of the evidence openers in dfd_lib.media.

Every input is written to one file and given to ``sniff``, ``load_image``, ``iter_video_frames``
and ``video_info`` (the last two open it through ``open_video``). The contract checked: ``sniff``
never raises, and each opener either succeeds or raises the project's ``MediaError`` family
(UnreadableMedia, UnsupportedMedia, MediaTooLarge). Any other exception ends the run as a crash
(the input is saved by libFuzzer under ``-artifact_prefix``); an input that takes longer than
``-timeout`` seconds ends it as a hang.

Run (what tests/test_fuzz_media.py does, with generated seeds):
    python tests/fuzz_media.py -runs=3000 -timeout=10 -max_len=8192 -artifact_prefix=OUT/ SEED_DIR
    python tests/fuzz_media.py CRASH_FILE          # replay one saved input
"""

from __future__ import annotations

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports(include=["dfd_lib", "PIL"]):
    from PIL import Image

    Image.init()  # import every format plugin now, so they are instrumented too
    from dfd_lib import media
    from dfd_lib.errors import MediaError

# The same code paths as the defaults, with a smaller pixel limit so a mutated header that claims
# a picture of up to 120 MP does not make each iteration allocate hundreds of MB (the limit check
# itself is what is exercised).
LIMITS = media.MediaLimits(max_image_pixels=4_000_000, max_video_frames=8)

# libFuzzer ends the process with exit(), so nothing here can clean up: the file goes in $TMPDIR
# (tests/test_fuzz_media.py points it at the test's own temporary folder).
TARGET = os.path.join(tempfile.gettempdir(), f"dfd-fuzz-input-{os.getpid()}")


def one_input(data: bytes) -> None:
    with open(TARGET, "wb") as fh:
        fh.write(data)
    media.sniff(TARGET)  # reads 64 bytes: never raises for a readable file
    try:
        media.load_image(TARGET, LIMITS)
    except MediaError:
        pass
    try:
        for _ in media.iter_video_frames(TARGET, fps=5.0, limits=LIMITS):
            pass
    except MediaError:
        pass
    try:
        media.video_info(TARGET)
    except MediaError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
