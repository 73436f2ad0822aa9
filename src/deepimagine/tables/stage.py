"""``deepimagine tables``: data/raw/studies.jsonl.gz -> data/registry.duckdb + metrics/tables.json."""
from __future__ import annotations

import logging

from ..core import io
from ..core.params import Params
from .build import build

log = logging.getLogger(__name__)

METRICS_FILE = io.METRICS_DIR / "tables.json"
TIMINGS_FILE = io.TIMINGS_DIR / "tables.json"


def run(params: Params) -> dict:
    """Build the registry database from the raw studies and write the stage metrics (no timings: those go
    to TIMINGS_FILE, untracked); returns the metrics."""
    result = build(io.STUDIES_FILE, io.REGISTRY_DB, threads=params.tables.threads,
                   memory_limit=params.tables.memory_limit)
    metrics = result.metrics()
    io.write_json(TIMINGS_FILE, {"seconds": metrics.pop("seconds", result.seconds)})
    io.write_json(METRICS_FILE, metrics)
    log.info("wrote %s and %s", io.REGISTRY_DB, METRICS_FILE)
    return metrics
