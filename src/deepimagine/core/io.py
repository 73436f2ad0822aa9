"""Small I/O helpers shared by the stages: the canonical file names (and which benchmark files exist),
JSON, JSON Lines (optionally gzipped), atomic writes."""
from __future__ import annotations

import gzip
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

# Canonical locations of stage outputs (all relative to the repository root).
RAW_DIR = Path("data/raw")
STUDIES_FILE = RAW_DIR / "studies.jsonl.gz"
MANIFEST_FILE = RAW_DIR / "manifest.json"
TRUTH_FILE = RAW_DIR / "truth.json"
REGISTRY_DB = Path("data/registry.duckdb")
PAIRS_DIR = Path("data/pairs")
TRACES_DIR = Path("data/traces")
CALIBRATION_FILE = TRACES_DIR / "calibration.jsonl"   # teacher-imagined steps never trained on: the operator's calibration
MODELS_DIR = Path("models")
METRICS_DIR = Path("metrics")
# wall-clock seconds per stage: git-ignored and no DVC out, so that repros leave tracked metrics identical
TIMINGS_DIR = METRICS_DIR / "timings"


def _open(path: Path, mode: str):
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8", compresslevel=6) if "b" not in mode else gzip.open(path, mode)
    return open(path, mode, encoding="utf-8")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Write rows as JSON Lines (gzipped if the name ends in .gz), atomically. Returns the count."""
    n = 0
    path = Path(path)
    with atomic_path(path) as tmp:
        with open_text_writer(tmp, gz=path.suffix == ".gz") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str))
                f.write("\n")
                n += 1
    return n


def open_text_writer(path: str | Path, gz: bool):
    """A text writer; gzip output is byte-reproducible (no file name or time in the header)."""
    if not gz:
        return open(path, "w", encoding="utf-8")
    raw = open(path, "wb")
    gzf = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)
    import io as _io

    class _Writer(_io.TextIOWrapper):
        def close(self) -> None:  # close the gzip stream and the file beneath it
            super().close()
            raw.close()

    return _Writer(gzf, encoding="utf-8")


def read_jsonl(path: str | Path) -> Iterator[dict]:
    with _open(Path(path), "r") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def benchmark_files(pairs_dir: Path = PAIRS_DIR) -> dict[str, Path]:
    """The benchmark question files present: 'test' (local) always; 'prospective' and 'ct_open' when the
    pairs stage wrote them."""
    files = {"test": pairs_dir / "test.jsonl"}
    for name in ("prospective", "ct_open"):
        if (pairs_dir / f"{name}.jsonl").exists():
            files[name] = pairs_dir / f"{name}.jsonl"
    return files
