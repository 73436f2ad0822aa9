"""``deepimagine download``: write data/raw/{studies.jsonl.gz, manifest.json, truth.json}.

Source by ``data.source``: ``simulated`` (the simulated registry, with its ground truth),
``ctgov`` (the ClinicalTrials.gov API v2, resumable) or ``dump`` (a local directory or zip).

The manifest's ``quarantine`` lists every input item that did not reach studies.jsonl.gz (unreadable,
quarantined, or a dump-level duplicate), with where it was; the tables stage folds it into its
``rejects`` and ``accounting`` tables. ``data.ctgov.base_url`` is recorded without credentials.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path

from ..core import io
from ..core.params import Params, to_dict

log = logging.getLogger(__name__)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def count_lines(path: Path) -> int:
    return sum(1 for _ in io.read_jsonl(path))


def _simulated(params: Params) -> dict:
    from .simulate import simulate_to_files  # lazy: written alongside this module

    counts = simulate_to_files(params.data.n_studies, params.seed, io.STUDIES_FILE, io.TRUTH_FILE)
    counts = dict(counts or {})
    counts.setdefault("written", count_lines(io.STUDIES_FILE))
    return {"query": {"n_studies": params.data.n_studies, "seed": params.seed}, "counts": counts, "api_version": None}


def _ctgov(params: Params, work_dir: Path) -> dict:
    from . import ctgov

    return ctgov.download(params.data.ctgov, io.STUDIES_FILE, work_dir)


def _dump(params: Params) -> dict:
    from . import dump

    if not params.data.dump_path:
        raise ValueError("data.source is 'dump' but data.dump_path is not set (a directory or .zip of API v2 JSON)")
    summary = dump.collect(params.data.dump_path, io.STUDIES_FILE)
    summary["api_version"] = None
    return summary


def run(params: Params, ctgov_work_dir: Path | None = None) -> dict:
    """Run the download stage in the current directory; return the manifest."""
    from .ctgov import DEFAULT_WORK_DIR, remove_work

    source = params.data.source
    work_dir = Path(ctgov_work_dir or DEFAULT_WORK_DIR)
    io.RAW_DIR.mkdir(parents=True, exist_ok=True)
    for tmp in io.RAW_DIR.glob(".*.tmp"):  # left by an atomic write that was killed
        tmp.unlink(missing_ok=True)
    started = _now()
    log.info("download: source=%s", source)
    if source == "simulated":
        summary = _simulated(params)
    elif source == "ctgov":
        summary = _ctgov(params, work_dir)
    elif source == "dump":
        summary = _dump(params)
    else:  # params.py already restricts this; keep a clear message for direct callers
        raise ValueError(f"data.source: unknown source {source!r} (simulated | ctgov | dump)")
    if source != "simulated":
        io.write_json(io.TRUTH_FILE, {"source": source, "studies": {}})
    from .ctgov import redact_url

    data = to_dict(params.data)
    data["ctgov"]["base_url"] = redact_url(data["ctgov"]["base_url"])
    summary.setdefault("quarantine", [])
    manifest = {
        "source": source,
        "params": {"seed": params.seed, "data": data},
        **summary,
        "started": started,
        "finished": _now(),
        "studies_file": io.STUDIES_FILE.as_posix(),
        "studies_sha256": sha256_file(io.STUDIES_FILE),
    }
    io.write_json(io.MANIFEST_FILE, manifest)
    if source == "ctgov":
        remove_work(work_dir)  # only now: a kill before this point re-merges, never re-fetches
    log.info("download: %s studies written to %s", manifest["counts"].get("written"), io.STUDIES_FILE)
    return manifest
