"""The public generator API: ``make_study``, ``iter_studies`` (streaming, deterministic), the truth
document and ``simulate_to_files`` (what the download stage calls)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, Optional

from .catalogue import FORMAT_VERSION, REGISTRY_DATE
from .study import _Study
from .world import build_world

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- public API


def make_study(world: dict, seed: int, index: int) -> tuple[dict, dict]:
    """Study ``index`` of the registry with ``seed``: (API v2 record, its truth). Independent of registry size."""
    return _Study(world, seed, index).build()


def iter_studies(world: dict, n_studies: int, seed: int, truth_sink: Optional[dict] = None) -> Iterator[dict]:
    """Yield ``n_studies`` API v2 study records, one at a time (streaming, deterministic).

    Study ``i`` depends only on (world, seed, i), so a registry of 300 is a prefix of one of 600.
    When ``truth_sink`` is a dict, each study's truth is stored in it under its NCT id.
    """
    if n_studies < 0:
        raise ValueError(f"n_studies must be >= 0, got {n_studies}")
    for i in range(n_studies):
        record, truth = make_study(world, seed, i)
        if truth_sink is not None:
            truth_sink[record["protocolSection"]["identificationModule"]["nctId"]] = truth
        yield record


def truth_document(world: dict, truth_sink: dict) -> dict:
    """The content of data/raw/truth.json: the world and every study's ground truth."""
    return {
        "format_version": FORMAT_VERSION,
        "registry_date": REGISTRY_DATE.isoformat(),
        "key_format": "studies[nct_id].arms[arm_label].outcomes[outcome_measure_title + ' | ' + time_frame] = true mean "
                      "(mean change for continuous endpoints, percent responders for responder endpoints)",
        "world": world,
        "studies": truth_sink,
    }


def ground_truth(world: dict, truth_sink: dict) -> dict:
    """Alias of ``truth_document``."""
    return truth_document(world, truth_sink)


def simulate_to_files(n_studies: int, seed: int, studies_path: str | Path, truth_path: str | Path) -> dict:
    """Write ``n_studies`` simulated records (JSON Lines, gzipped if .gz) and truth.json. Returns counts."""
    from tqdm import tqdm

    from deepimagine.core.io import write_json, write_jsonl

    world = build_world(seed)
    sink: dict[str, dict] = {}
    counts = {"studies": 0, "with_results": 0, "dose_ranging": 0, "arms": 0, "outcome_measures": 0}

    def rows() -> Iterator[dict]:
        for rec in tqdm(iter_studies(world, n_studies, seed, sink), total=n_studies, desc="simulate", mininterval=2.0):
            counts["studies"] += 1
            counts["with_results"] += int(rec["hasResults"])
            yield rec

    write_jsonl(studies_path, rows())
    for t in sink.values():
        counts["dose_ranging"] += int(t["design"] == "dose_ranging")
        counts["arms"] += len(t["arms"])
        counts["outcome_measures"] += len(t["outcomes"])
    write_json(truth_path, truth_document(world, sink))
    log.info("simulated %d studies (%d with results) -> %s", counts["studies"], counts["with_results"], studies_path)
    return counts
