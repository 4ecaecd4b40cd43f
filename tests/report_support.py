"""Shared set-up for the report and export tests: one real triaged case, copied fresh for each test.

Triage runs once per session (the tiny test model on the bundled examples plus a photo whose
file name is in Devanagari and Chinese); every test gets its own copy of the case folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dfd_lib.case import open_case

CASE_NAME = "Report test"
UNICODE_NAME = "फोटो 证据 ünï.jpg"
SOURCE_URL = "https://www.instagram.com/p/Cx123abc/"
EXAMPLE_FILES = (
    "astronaut.jpg",
    "astronaut_blended_face.jpg",
    "astronaut_clip.mp4",
    "coffee_no_face.jpg",
    "two_faces.png",
    "problem_files/notes.jpg",
)

# A complete, valid answer set for the ncrp form ("report other cyber crime" path).
NCRP_VALUES = {
    "complaint_path": "Report Other Cyber Crime",
    "category": "Online and Social Media Related Crime",
    "sub_category": "fake/impersonating profile",
    "incident_date": "2025-11-20",
    "incident_time": "14:30",
    "platform": "Instagram",
    "urls": [SOURCE_URL],
    "incident_state": "Maharashtra",
    "narrative": (
        "A profile on Instagram uses morphed photographs of the complainant's face and sends messages in "
        "her name asking her contacts for money. The photographs were analysed with dfd; the face in "
        "two of them scored above the model threshold (see report.pdf)."
    ),
    "suspect_handles": ["@priya.fake.2025"],
    "complainant_name": "Priya Sharma",
    "complainant_mobile": "+91 98765 43210",
    "complainant_email": "priya@example.org",
    "complainant_address": "Flat 4, 12 MG Road, Pune",
    "complainant_state": "Maharashtra",
}


def _noise_jpeg(path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(path, quality=90)


@pytest.fixture(scope="session")
def report_case_store(tmp_path_factory, scanner, examples) -> Path:
    """A case store holding one triaged, partly reviewed case (built once per session)."""
    root = tmp_path_factory.mktemp("report_case")
    (root / "ev").mkdir()
    _noise_jpeg(root / "ev" / UNICODE_NAME)
    files = [examples / f for f in EXAMPLE_FILES] + [root / "ev" / UNICODE_NAME]
    with open_case(CASE_NAME, cases_dir=root / "cases", examiner="Insp. Rao", agency="Cyber Cell Pune") as case:
        case.triage(files, scanner=scanner, source={"url": SOURCE_URL, "platform": "Instagram"})
        case.annotate(
            1, verdict="likely_fake", notes="Blur along the jaw line; lighting differs.", reviewer="Insp. Rao"
        )
    return root / "cases"


@pytest.fixture
def case(report_case_store, tmp_path):
    """A private copy of the triaged case, open."""
    store = tmp_path / "cases"
    shutil.copytree(report_case_store, store)
    c = open_case(CASE_NAME, cases_dir=store, create=False)
    yield c
    c.close()


def item_id_of(case, name: str) -> int:
    df = case.items()
    return int(df.loc[df["name"] == name, "item_id"].iloc[0])
