"""The dump source: directories and zips of API v2 JSON, in every accepted layout."""
from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from deepimagine.core import io
from deepimagine.registry import dump
from deepimagine.registry.ctgov import nct_id

SHARED_V2 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ctgov_v2"
LEGACY = SHARED_V2 / "NCT04780763.json"

pytestmark = pytest.mark.skipif(not SHARED_V2.is_dir(), reason="../shared/data/ctgov_v2 is absent")


@pytest.fixture(scope="module")
def v2_studies() -> list[dict]:
    out = []
    for p in sorted(SHARED_V2.glob("*.json")):
        obj = json.loads(p.read_text())
        if "protocolSection" in obj:
            out.append(obj)
    assert len(out) == 12
    return out


def sid(s: dict) -> str:
    return s["protocolSection"]["identificationModule"]["nctId"]


def make_mixed_dump(root: Path, studies: list[dict]) -> None:
    """a/ one study per file (+ the legacy v1 record, a broken file); b/ a page file;
    c/ JSON Lines (gz, with a duplicate, a bad line and a scalar line); hidden file ignored."""
    (root / "a").mkdir(parents=True)
    for s in studies[:4]:
        (root / "a" / f"{sid(s)}.json").write_text(json.dumps(s))
    shutil.copy(LEGACY, root / "a" / "NCT04780763.json")
    (root / "a" / "broken.json").write_text('{"protocolSection": {"identificationModule": ')
    (root / "b").mkdir()
    (root / "b" / "page_0001.json").write_text(json.dumps({"studies": studies[4:8] + [7], "nextPageToken": "abc"}))
    (root / "c").mkdir()
    with gzip.open(root / "c" / "more.jsonl.gz", "wt") as f:
        for s in studies[8:12] + [studies[0]]:  # studies[0] duplicates a/
            f.write(json.dumps(s) + "\n")
        f.write("this is not json\n\n")
        f.write("42\n")
    (root / ".DS_Store").write_bytes(b"\x00\x01binary")


def test_directory_of_mixed_files_reconciles(v2_studies, tmp_path):
    root = tmp_path / "dump"
    make_mixed_dump(root, v2_studies)
    out = tmp_path / "studies.jsonl.gz"
    summary = dump.collect(root, out, progress=False)
    written = list(io.read_jsonl(out))
    c = summary["counts"]
    # 4 single files + legacy + broken + 5 page elements + 7 JSONL lines (blank skipped)
    assert c["items_seen"] == 4 + 1 + 1 + 5 + 7
    assert c["items_seen"] == c["written"] + c["duplicates_skipped"] + c["unreadable"]
    assert (c["written"], c["duplicates_skipped"], c["invalid"], c["unreadable"]) == (13, 1, 1, 4)
    assert (c["files_seen"], c["files_ignored"]) == (8, 1)
    assert summary["ignored_files"] == [".DS_Store"]
    # sorted walk: a/NCT..., a/NCT04780763 (legacy, passed through as-is), b/, c/
    ids = [nct_id(s) for s in written]
    assert ids == [sid(s) for s in v2_studies[:4]] + [None] + [sid(s) for s in v2_studies[4:12]]
    assert written[ids.index(None)] == json.loads(LEGACY.read_text())
    assert summary["invalid"] == [{"path": "a/NCT04780763.json",
                                   "reason": "legacy API v1 record (FullStudiesResponse), not an API v2 study"}]
    unreadable = {u["path"]: u["reason"] for u in summary["unreadable"]}
    assert set(unreadable) == {"a/broken.json", "b/page_0001.json#studies[4]", "c/more.jsonl.gz:6", "c/more.jsonl.gz:8"}
    assert unreadable["b/page_0001.json#studies[4]"] == "JSON int, not an object"
    assert summary["duplicates"] == [{"path": "c/more.jsonl.gz:5", "reason": f"duplicate of an earlier {sid(v2_studies[0])}"}]
    # studies pass through unchanged
    by_id = {nct_id(s): s for s in written}
    for s in v2_studies:
        assert by_id[sid(s)] == s


def test_zip_gives_the_same_output_as_the_directory(v2_studies, tmp_path):
    root = tmp_path / "dump"
    make_mixed_dump(root, v2_studies)
    archive = tmp_path / "dump.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(root.rglob("*"), reverse=True):  # written out of order on purpose
            if p.is_file():
                zf.write(p, p.relative_to(root).as_posix())
        zf.writestr("__MACOSX/a/._NCT00000000.json", b"\x00resource fork")
    out_dir, out_zip = tmp_path / "dir.jsonl.gz", tmp_path / "zip.jsonl.gz"
    s_dir = dump.collect(root, out_dir, progress=False)
    s_zip = dump.collect(archive, out_zip, progress=False)
    assert out_dir.read_bytes() == out_zip.read_bytes()
    assert {k: v for k, v in s_zip["counts"].items() if k != "files_ignored"} == \
        {k: v for k, v in s_dir["counts"].items() if k != "files_ignored"}
    assert s_zip["unreadable"][0]["path"] == "dump.zip!a/broken.json"
    assert "dump.zip!__MACOSX/a/._NCT00000000.json" in s_zip["ignored_files"]


def test_shared_records_one_per_file(v2_studies, tmp_path):
    out = tmp_path / "s.jsonl.gz"
    summary = dump.collect(SHARED_V2, out, progress=False)
    c = summary["counts"]
    assert (c["items_seen"], c["written"], c["invalid"], c["duplicates_skipped"], c["unreadable"]) == (13, 13, 1, 0, 0)
    again = tmp_path / "again.jsonl.gz"
    dump.collect(SHARED_V2, again, progress=False)
    assert out.read_bytes() == again.read_bytes()


def test_a_single_jsonl_file_and_a_corrupt_gzip(v2_studies, tmp_path):
    path = tmp_path / "all.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in v2_studies[:3]))
    summary = dump.collect(path, tmp_path / "a.jsonl.gz", progress=False)
    assert summary["counts"]["written"] == 3
    bad = tmp_path / "d"
    bad.mkdir()
    data = gzip.compress("".join(json.dumps(s) + "\n" for s in v2_studies[:3]).encode())
    (bad / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    summary = dump.collect(bad, tmp_path / "b.jsonl.gz", progress=False)
    c = summary["counts"]
    assert c["unreadable"] == 1 and c["items_seen"] == c["written"] + c["unreadable"]
    assert "unreadable from this line on" in summary["unreadable"][0]["reason"]


def test_missing_dump_path_is_named(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="nope"):
        dump.collect(missing, tmp_path / "s.jsonl.gz", progress=False)
    assert not (tmp_path / "s.jsonl.gz").exists()
