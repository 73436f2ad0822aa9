"""Read a local dump of ClinicalTrials.gov API v2 JSON (a directory or a .zip), streaming.

Accepted, in any mix, walked recursively in sorted path order (zip members too, and .zip
files found inside a directory):
- one study per file: ``{"protocolSection": ...}`` (``.json``, or ``.json.gz``);
- API page files: ``{"studies": [...], "nextPageToken": ...}``, or a top-level JSON array;
- JSON Lines: ``.jsonl`` / ``.ndjson`` (optionally ``.gz``), one study per line.

Every item is accounted for: a JSON object is written through (de-duplicated by nctId, first
kept); objects with no ``protocolSection.identificationModule.nctId`` (e.g. legacy v1
``{"FullStudiesResponse": ...}`` records) are written too and counted as ``invalid`` (the
tables stage quarantines them with a reason); anything that is not a JSON object (an
unparseable file or line, a JSON scalar) is ``unreadable`` and listed with its reason.
``items_seen = written + duplicates_skipped + unreadable``. Every item not written (unreadable or a
duplicate) is also a row of the summary's ``quarantine`` list (complete, with file and line), which the
tables stage folds into its ``rejects`` and ``accounting`` tables.

Hostile dumps: a record nested too deeply to parse, or holding a lone surrogate (valid JSON that cannot
be written as UTF-8), is unreadable with its file and line; a symlink that resolves outside the dump
directory is refused; a zip member larger than ``MAX_DOCUMENT_BYTES`` or inflating more than
``MAX_ZIP_RATIO`` times is refused before it is read, and every read is bounded (a whole-document JSON
file by ``MAX_DOCUMENT_BYTES``, a JSON Lines line by ``MAX_LINE_BYTES``). A UTF-8 BOM is accepted.
"""
from __future__ import annotations

import gzip
import io as _io
import json
import logging
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Callable, Iterator, Optional

from tqdm import tqdm

from ..core import io
from .ctgov import encode_problem, nct_id

log = logging.getLogger(__name__)

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
MAX_LISTED = 1000  # entries kept per reason list in the manifest (the counts and `quarantine` are complete)
MAX_DOCUMENT_BYTES = 1 << 30  # one whole-document JSON file (an API page of 1000 studies is far smaller)
MAX_LINE_BYTES = 64 << 20     # one JSON Lines line (the largest real study is a few MiB)
MAX_ZIP_RATIO = 200           # inflated / compressed size above which a zip member is refused ...
MIN_RATIO_CHECK_BYTES = 16 << 20  # ... when it inflates to more than this
BOM = b"\xef\xbb\xbf"


class TooLarge(OSError):
    """A file or line past its read bound."""


class _Bounded(_io.RawIOBase):
    """A binary stream that raises ``TooLarge`` once more than ``limit`` bytes were read through it."""

    def __init__(self, inner: IO[bytes], limit: int, what: str):
        self.inner, self.left, self.limit, self.what = inner, limit, limit, what

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.inner.read(min(len(b), self.left + 1))
        if len(data) > self.left:
            raise TooLarge(f"{self.what} is larger than {self.limit} bytes; refused")
        self.left -= len(data)
        b[:len(data)] = data
        return len(data)


@dataclass
class Item:
    """One record found in the dump: a JSON object (``study``) or an unreadable item (``error``)."""

    where: str
    study: Optional[dict] = None
    error: Optional[str] = None


def _ignored(rel: str) -> bool:
    """Hidden files and folders (``.DS_Store``, ``.git``) and macOS zip resource forks."""
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(rel).parts)


def _classify(value: Any, where: str) -> Iterator[Item]:
    """Items in one parsed JSON value: a study, a page of studies, or an array of them."""
    if isinstance(value, dict):
        if "protocolSection" not in value and isinstance(value.get("studies"), list):
            for i, element in enumerate(value["studies"]):
                yield from _element(element, f"{where}#studies[{i}]")
        else:
            yield Item(where, study=value)
    elif isinstance(value, list):
        for i, element in enumerate(value):
            yield from _element(element, f"{where}#[{i}]")
    else:
        yield Item(where, error=f"JSON {type(value).__name__}, not an object")


def _element(value: Any, where: str) -> Iterator[Item]:
    if isinstance(value, dict):
        yield Item(where, study=value)
    else:
        yield Item(where, error=f"JSON {type(value).__name__}, not an object")


def _loads(data: bytes) -> Any:
    """JSON from UTF-8 bytes (a leading BOM dropped); ValueError for anything unparseable, deep nesting included."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError("JSON nesting too deep to parse") from None


def _read_file(opener: Callable[[], IO[bytes]], name: str, where: str) -> Iterator[Item]:
    """Items in one file, given a function that opens it as a binary stream."""
    lower = name.lower()
    with opener() as raw:
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if lower.endswith(".gz") else raw
        if lower.endswith(JSONL_SUFFIXES):
            lineno = 0
            try:
                while True:
                    line = stream.readline(MAX_LINE_BYTES + 1)
                    if not line:
                        break
                    lineno += 1
                    if len(line) > MAX_LINE_BYTES:
                        raise TooLarge(f"line {lineno} is longer than {MAX_LINE_BYTES} bytes; refused")
                    if not line.strip():
                        continue
                    try:
                        value = _loads(line)
                    except ValueError as e:  # includes UnicodeDecodeError
                        yield Item(f"{where}:{lineno}", error=f"not JSON: {e}")
                        continue
                    yield from _classify(value, f"{where}:{lineno}")
            except (OSError, EOFError, zlib.error) as e:  # e.g. a truncated or corrupt .gz
                yield Item(f"{where}:{lineno + 1}", error=f"unreadable from this line on: {type(e).__name__}: {e}")
            return
        try:
            value = _loads(_io.BufferedReader(_Bounded(stream, MAX_DOCUMENT_BYTES, where)).read())
        except (ValueError, OSError, EOFError, zlib.error) as e:
            yield Item(where, error=f"not JSON: {type(e).__name__}: {e}")
            return
    yield from _classify(value, where)


def _zip_member_problem(info: zipfile.ZipInfo) -> Optional[str]:
    """Why a zip member is refused before reading it (too large, or a decompression bomb), or None."""
    if info.file_size > MAX_DOCUMENT_BYTES and not info.filename.lower().endswith(JSONL_SUFFIXES):
        return f"zip member inflates to {info.file_size} bytes (limit {MAX_DOCUMENT_BYTES}); refused"
    if info.file_size > MIN_RATIO_CHECK_BYTES and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
        return (f"zip member inflates {info.file_size / max(info.compress_size, 1):.0f}x "
                f"({info.compress_size} -> {info.file_size} bytes, limit {MAX_ZIP_RATIO}x); refused as a zip bomb")
    return None


def _walk_zip(zip_path: Path, label: str, files: list) -> Iterator[Item]:
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        yield Item(label, error=f"not a readable zip: {e}")
        return
    with zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            where = f"{label}!{info.filename}"
            if _ignored(info.filename):
                files.append(("ignored", where))
                continue
            files.append(("file", where))
            problem = _zip_member_problem(info)
            if problem:
                yield Item(where, error=problem)
                continue
            try:
                yield from _read_file(lambda info=info: zf.open(info), info.filename, where)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as e:
                yield Item(where, error=f"unreadable zip member: {type(e).__name__}: {e}")


def iter_items(dump_path: str | Path, files: Optional[list] = None) -> Iterator[Item]:
    """Every item in the dump, in sorted path order. ``files`` collects ("file"|"ignored", path)."""
    root = Path(dump_path)
    files = [] if files is None else files
    if not root.exists():
        raise FileNotFoundError(f"data.dump_path {str(dump_path)!r} does not exist")
    if root.is_file():
        if root.suffix.lower() == ".zip":
            yield from _walk_zip(root, root.name, files)
        else:
            files.append(("file", root.name))
            yield from _read_file(lambda: open(root, "rb"), root.name, root.name)
        return
    inside = root.resolve()
    for path in sorted((p for p in root.rglob("*") if p.is_file()), key=lambda p: p.relative_to(root).as_posix()):
        rel = path.relative_to(root).as_posix()
        if _ignored(rel):
            files.append(("ignored", rel))
            continue
        if not path.resolve().is_relative_to(inside):
            files.append(("file", rel))
            yield Item(rel, error=f"symlink to {path.resolve()} outside the dump directory; refused")
            continue
        if path.suffix.lower() == ".zip":
            yield from _walk_zip(path, rel, files)
            continue
        files.append(("file", rel))
        try:
            yield from _read_file(lambda path=path: open(path, "rb"), path.name, rel)
        except OSError as e:
            yield Item(rel, error=f"unreadable file: {e}")


def invalid_reason(study: dict) -> str:
    if "FullStudiesResponse" in study or "FullStudies" in study:
        return "legacy API v1 record (FullStudiesResponse), not an API v2 study"
    if not isinstance(study.get("protocolSection"), dict):
        return "no protocolSection"
    ident = study["protocolSection"].get("identificationModule")
    value = ident.get("nctId") if isinstance(ident, dict) else None
    if value is not None:
        return f"malformed nctId {str(value)[:40]!r} (expected NCT and 8 digits)"
    return "no protocolSection.identificationModule.nctId"


def collect(dump_path: str | Path, out_path: str | Path, progress: bool = True) -> dict:
    """Write every study of the dump to ``out_path`` (gzipped JSON Lines); return a summary."""
    files: list = []
    tally = {"items_seen": 0, "written": 0, "duplicates_skipped": 0, "invalid": 0, "unreadable": 0}
    lists: dict[str, list] = {"unreadable": [], "invalid": [], "duplicates": []}
    seen: set[str] = set()

    quarantine: list[dict] = []  # every item not written, complete

    def note(kind: str, where: str, reason: str, sid: Optional[str] = None) -> None:
        if len(lists[kind]) < MAX_LISTED:
            lists[kind].append({"path": where, "reason": reason})
        if kind != "invalid":
            quarantine.append({"stage": "download", "outcome": "duplicate" if kind == "duplicates" else "unreadable",
                               "where": where, "nct_id": sid, "reason": reason})

    def studies() -> Iterator[dict]:
        for item in tqdm(iter_items(dump_path, files), unit="item", desc="dump", disable=not progress):
            tally["items_seen"] += 1
            problem = item.error if item.study is None else encode_problem(item.study)
            if problem:
                tally["unreadable"] += 1
                note("unreadable", item.where, problem or "unreadable", nct_id(item.study) if item.study else None)
                continue
            sid = nct_id(item.study)
            if sid is None:
                tally["invalid"] += 1
                note("invalid", item.where, invalid_reason(item.study))
            elif sid in seen:
                tally["duplicates_skipped"] += 1
                note("duplicates", item.where, f"duplicate of an earlier {sid}", sid)
                continue
            else:
                seen.add(sid)
            tally["written"] += 1
            yield item.study

    io.write_jsonl(out_path, studies())
    assert tally["items_seen"] == tally["written"] + tally["duplicates_skipped"] + tally["unreadable"]
    tally["files_seen"] = sum(1 for kind, _ in files if kind == "file")
    tally["files_ignored"] = sum(1 for kind, _ in files if kind == "ignored")
    if tally["unreadable"]:
        log.warning("%d unreadable item(s) in %s (listed in the manifest)", tally["unreadable"], dump_path)
    if tally["invalid"]:
        log.warning("%d object(s) without an nctId passed through for the tables stage to quarantine", tally["invalid"])
    return {
        "query": {"dump_path": str(dump_path)},
        "counts": tally,
        "unreadable": lists["unreadable"],
        "invalid": lists["invalid"],
        "duplicates": lists["duplicates"],
        "ignored_files": [where for kind, where in files if kind == "ignored"][:MAX_LISTED],
        "quarantine": quarantine,
    }
