"""Property-based tests (hypothesis): intake names, case ids and export archive names.

Example counts are bounded (and the database deadline off) so the file runs in seconds.
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dfd_lib.case import CaseNameConflict, InvalidCaseName, open_case
from dfd_lib.case.evidence import shown_path
from dfd_lib.fileio import storable_text
from dfd_lib.case.ids import MAX_ID_LENGTH, case_id_from_name, normalise_case_name
from dfd_lib.export.errors import ExportError
from dfd_lib.export.evidence_prep import EXTENSIONS, _arcname
from dfd_lib.export.zipout import check_arcname, safe_component
from dfd_lib.results import STATUSES
from case_support import FakeScanner, write_image

FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
SAFE_ID = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")
SAFE_COMPONENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")

# -- intake names ------------------------------------------------------------------------------


def _valid_file_name(raw: bytes) -> bool:
    return 0 < len(raw) <= 255 and b"/" not in raw and b"\0" not in raw and raw not in (b".", b"..")


file_names = st.one_of(
    st.binary(min_size=1, max_size=120),  # any bytes, mostly not UTF-8
    st.text(min_size=1, max_size=60).map(lambda t: t.encode("utf-8", "surrogateescape")),
    st.sampled_from(
        [
            b"line\nbreak.jpg",
            b"caf\xe9.png",
            b"\xff\xfe.jpg",
            b"-rf",
            b" ",
            b"..jpg",
            b"a\\b.png",
            "केस १२३.jpg".encode(),
            b"\r\n",
            b"x" * 255,
            b"\x1b[31mred.png",
        ]
    ),
).filter(_valid_file_name)


@pytest.fixture(scope="module")
def intake_case(tmp_path_factory):
    root = tmp_path_factory.mktemp("props")
    case = open_case("property intake", cases_dir=root / "cases", examiner="Insp. Rao")
    yield case, root / "ev"
    assert case.verify().ok
    case.close()


_counter = itertools.count()


@FAST
@given(name=file_names, content=st.sampled_from(["png", "text", "empty"]))
def test_any_file_name_survives_intake_and_gets_a_status(intake_case, name, content):
    case, ev = intake_case
    n = next(_counter)
    folder = ev / f"{n:04d}"
    folder.mkdir(parents=True)
    path_b = os.path.join(os.fsencode(folder), name)
    if content == "png":
        write_image(Path(os.fsdecode(path_b)), seed=n, size=48)
        with open(path_b, "ab") as fh:
            fh.write(n.to_bytes(4, "big"))  # distinct content, still a readable PNG
    else:
        with open(path_b, "wb") as fh:
            fh.write(b"" if content == "empty" else f"notes {n}".encode())
    path = Path(os.fsdecode(path_b))
    df = case.triage([path], scanner=FakeScanner(), forensics=False)
    intake = df.attrs["intake"]
    assert intake["error"] == 0 and intake["new"] + intake["new_source"] == 1  # (empty files share one item)
    assert df.attrs["failed"] == 0
    src = case.sources()
    row = src[src["original_path"] == shown_path(path)]
    assert len(row) == 1, "the source path is recorded exactly (non-UTF-8 bytes as \\xNN escapes)"
    item = case.items().set_index("item_id").loc[int(row["item_id"].iloc[0])]
    if intake["new"]:  # (an item's name is that of its first source)
        assert item["name"] == storable_text(os.fsdecode(name))
    assert item["status"] in STATUSES and item["message"]
    stored = Path(item["stored_path"])
    assert stored.parent == case.evidence_dir and re.fullmatch(r"[0-9a-f]{64}(\.[a-z0-9]{1,10})?", stored.name)


# -- case ids ----------------------------------------------------------------------------------

case_names = st.one_of(
    st.text(min_size=1, max_size=40),
    st.text(alphabet=st.characters(codec="ascii"), min_size=1, max_size=40),
    st.text(alphabet="aAbB1 -_.,/\\‥․केस१é\u0301\u00a0", min_size=1, max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(name=case_names)
@example("FIR 123 of 2025, Pune")
@example("a‥b")
@example("․․")
@example("CON")
@example("केस")
def test_case_id_is_a_safe_folder_name(name):
    try:
        cid = case_id_from_name(name)
    except InvalidCaseName:
        return
    assert SAFE_ID.fullmatch(cid), cid
    assert len(cid) <= MAX_ID_LENGTH and cid not in (".", "..") and "/" not in cid and "\\" not in cid
    store = Path("/cases")
    assert os.path.normpath(store / cid).startswith("/cases/") and (store / cid).parent == store
    assert case_id_from_name(name) == cid  # stable


@settings(max_examples=300, deadline=None)
@given(a=case_names, b=case_names)
@example("केस 123", "केस 124")
@example("é", "e\u0301")  # the same name in two Unicode spellings
def test_distinct_non_ascii_names_get_distinct_ids(a, b):
    try:
        ia, ib = case_id_from_name(a), case_id_from_name(b)
    except InvalidCaseName:
        return
    same = normalise_case_name(a) == normalise_case_name(b)
    if not a.isascii() and not b.isascii():
        assert (ia == ib) == same, (a, b, ia, ib)
    elif same:
        assert ia == ib


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=st.text(alphabet="aA1 -.,é", min_size=1, max_size=6), b=st.text(alphabet="aA1 -.,é", min_size=1, max_size=6))
@example("FIR 1", "fir-1!")
@example("Fir 1", "fir 1")
def test_creating_a_case_never_opens_another_names_case(a, b):
    try:
        case_id_from_name(a), case_id_from_name(b)
    except InvalidCaseName:
        return
    with tempfile.TemporaryDirectory(prefix="dfd-prop-") as store:
        with open_case(a, cases_dir=store, examiner="x") as first:
            first_path = first.path
        try:
            second = open_case(b, cases_dir=store, examiner="y")
        except CaseNameConflict:
            assert normalise_case_name(a) != normalise_case_name(b)
            return
        with second:
            if second.path == first_path:
                assert normalise_case_name(a) == normalise_case_name(b) or b == first.id
            else:
                assert len(list(Path(store).iterdir())) == 2


# -- export archive names ----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    name=st.one_of(st.text(max_size=80), st.binary(max_size=80).map(lambda b: storable_text(os.fsdecode(b)))),
    item_id=st.integers(min_value=1, max_value=10**6),
    fmt=st.sampled_from([*EXTENSIONS, "unknown", ""]),
)
@example("../../etc/passwd", 1, "jpeg")
@example("C:\\Windows\\x.exe", 2, "unknown")
@example("..", 3, "")
@example("/abs/path.png", 4, "png")
@example("évidence \u202e gpj.exe", 5, "unknown")
def test_evidence_archive_names_stay_inside_the_archive(name, item_id, fmt):
    arc = _arcname(SimpleNamespace(name=name, item_id=item_id), fmt)
    check_arcname(arc)  # raises for absolute, drive-letter, backslash, '..' or empty parts
    top, leaf = arc.split("/")
    assert top == "evidence" and SAFE_COMPONENT.fullmatch(leaf) and leaf.startswith(f"{item_id:03d}_")
    root = "/out/bundle"
    assert os.path.normpath(os.path.join(root, arc)).startswith(root + "/")
    # distinct items never share an archive name
    assert _arcname(SimpleNamespace(name=name, item_id=item_id + 1), fmt) != arc


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=100), fallback=st.sampled_from(["file", "item", "bin"]))
def test_safe_component_is_one_plain_ascii_component(text, fallback):
    c = safe_component(text, fallback=fallback)
    assert SAFE_COMPONENT.fullmatch(c) and c not in (".", "..") and len(c) <= 60
    if not re.search(r"[A-Za-z0-9]", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()):
        assert c == fallback


@settings(max_examples=400, deadline=None)
@given(
    name=st.one_of(
        st.text(max_size=40),
        st.lists(st.sampled_from(["a", "..", ".", "", "b.txt", "/", "\\", "C:"]), max_size=5).map("/".join),
    )
)
def test_check_arcname_lets_through_only_names_inside_the_root(name):
    try:
        check_arcname(name)
    except ExportError:
        return
    root = "/out/bundle"
    assert not name.startswith("/") and "\\" not in name and ".." not in name.split("/")
    assert os.path.normpath(os.path.join(root, name)).startswith(root + "/")
