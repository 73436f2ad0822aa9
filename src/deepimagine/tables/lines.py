"""Reading the lines of studies.jsonl.gz in Python: a line count independent of DuckDB (``scan_lines``)
and the exact, slower reader the tables build falls back to (``exact_lines``) when DuckDB's CSV reader
cannot be trusted with a file (a line too long for its buffers, a damaged gzip)."""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Iterator, Optional

import pyarrow as pa


def _raw_chunks(path: Path, problem: list) -> Iterator[bytes]:
    """Decompressed bytes of a (possibly gzipped, possibly multi-member) file; stops at damage.

    A corrupt stream or one cut short ends the iteration and appends the reason to ``problem``.
    """
    with open(path, "rb") as f:
        if path.suffix != ".gz":
            yield from iter(lambda: f.read(1 << 22), b"")
            return
        d, started = zlib.decompressobj(31), False
        for chunk in iter(lambda: f.read(1 << 16), b""):  # small pieces: damage loses little before it
            while chunk:
                try:
                    out = d.decompress(chunk)
                except zlib.error as e:
                    problem.append(f"corrupt gzip data ({e})")
                    return
                started = True
                yield out
                chunk = b""
                if d.eof:  # next gzip member
                    chunk, d, started = d.unused_data, zlib.decompressobj(31), False
        if started and not d.eof:
            problem.append("the gzip stream is cut short (no end-of-stream marker)")
        yield d.flush()


def scan_lines(path: Path) -> tuple[int, Optional[str]]:
    """(lines a line reader sees, why the file could not be read to its end or None)."""
    n, last, problem = 0, b"", []
    for out in _raw_chunks(path, problem):
        n += out.count(b"\n")
        last = out[-1:] or last
    return n + (1 if last and last != b"\n" else 0), (problem[0] if problem else None)


def count_lines(path: Path) -> int:
    """Number of lines in a (possibly gzipped, possibly multi-member) text file, as a line reader sees them."""
    return scan_lines(path)[0]


def exact_lines(con, studies_path: Path, batch: int = 2000) -> None:
    """The slow, exact path: lines split by Python (stopping at gzip damage), loaded in Arrow batches.

    A line that is not valid UTF-8 is kept as its repaired text for the reject's detail and listed in
    ``bad_lines``, so it is rejected, never parsed as repaired text.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE lines (txt VARCHAR)")  # appended in file order: line = rowid + 1
    lines, txts, bad, tail, i = [], [], [], b"", 0

    def flush():
        nonlocal lines, txts
        if lines:
            _append_lines(con, lines, txts)
        lines, txts = [], []

    def add(raw: bytes):
        nonlocal i
        i += 1
        raw = raw.rstrip(b"\r\n")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            text = raw.decode("utf-8", errors="replace")
            bad.append((i, "invalid UTF-8", f"byte {e.start}: " + text[:200]))
        lines.append(i)
        txts.append(text or None)
        if len(lines) == batch:
            flush()

    for out in _raw_chunks(studies_path, []):
        parts = (tail + out).split(b"\n")
        tail = parts.pop()
        for raw in parts:
            add(raw)
    if tail:
        add(tail)
    flush()
    if bad:
        con.executemany("INSERT INTO bad_lines VALUES (?, ?, ?)", bad)


def _append_lines(con, lines: list[int], txts: list[Optional[str]]) -> None:
    con.register("lines_batch", pa.table({"line": pa.array(lines, pa.int64()), "txt": pa.array(txts, pa.string())}))
    con.execute("INSERT INTO lines SELECT txt FROM lines_batch ORDER BY line")
    con.unregister("lines_batch")
