"""``deepimagine download`` end to end in a temp dir, for each source."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ctgov_server import SHARED_V2, CtgovTestServer, load_real_studies, replicate
from deepimagine.core import io

REPO = Path(__file__).resolve().parents[1]


def run_stage(cwd: Path, *overrides: str, check: bool = True) -> subprocess.CompletedProcess:
    if not (cwd / "params.yaml").exists():
        shutil.copy(REPO / "params.yaml", cwd / "params.yaml")
    args = [sys.executable, "-m", "deepimagine.cli", "download"]
    for o in overrides:
        args += ["-S", o]
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"download failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def check_outputs(cwd: Path, source: str) -> dict:
    raw = cwd / "data" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == ["manifest.json", "studies.jsonl.gz", "truth.json"]
    manifest = io.read_json(raw / "manifest.json")
    studies = raw / "studies.jsonl.gz"
    assert manifest["source"] == source
    assert manifest["studies_sha256"] == hashlib.sha256(studies.read_bytes()).hexdigest()
    assert manifest["counts"]["written"] == sum(1 for _ in io.read_jsonl(studies))
    assert manifest["started"] <= manifest["finished"]
    return manifest


def test_simulated_source(tmp_path):
    run_stage(tmp_path, "data.source=simulated", "data.n_studies=12")
    manifest = check_outputs(tmp_path, "simulated")
    assert manifest["counts"]["written"] == 12
    assert manifest["query"] == {"n_studies": 12, "seed": 42}
    truth = io.read_json(tmp_path / "data" / "raw" / "truth.json")
    assert truth and truth != {"source": "simulated", "studies": {}}
    first = (tmp_path / "data" / "raw" / "studies.jsonl.gz").read_bytes()
    run_stage(tmp_path, "data.source=simulated", "data.n_studies=12")
    assert (tmp_path / "data" / "raw" / "studies.jsonl.gz").read_bytes() == first


@pytest.mark.skipif(not SHARED_V2.is_dir(), reason="../shared/data/ctgov_v2 is absent")
def test_dump_source(tmp_path):
    run_stage(tmp_path, "data.source=dump", f"data.dump_path={SHARED_V2}")
    manifest = check_outputs(tmp_path, "dump")
    c = manifest["counts"]
    assert (c["written"], c["invalid"], c["unreadable"], c["duplicates_skipped"], c["files_seen"]) == (13, 1, 0, 0, 13)
    assert manifest["query"] == {"dump_path": str(SHARED_V2)}
    assert manifest["invalid"][0]["path"] == "NCT04780763.json"
    assert io.read_json(tmp_path / "data" / "raw" / "truth.json") == {"source": "dump", "studies": {}}


@pytest.mark.skipif(not SHARED_V2.is_dir(), reason="../shared/data/ctgov_v2 is absent")
def test_ctgov_source_against_a_local_api(tmp_path):
    with CtgovTestServer(replicate(load_real_studies(), 30)) as srv:
        run_stage(tmp_path, "data.source=ctgov", f"data.ctgov.base_url={srv.base_url}", "data.ctgov.page_size=4",
                  "data.ctgov.max_studies=23", "data.ctgov.requests_per_second=1000", "data.ctgov.condition=asthma")
    manifest = check_outputs(tmp_path, "ctgov")
    assert manifest["counts"]["written"] == 23 and manifest["counts"]["over_max_studies"] == 1
    assert manifest["query"]["params"]["query.cond"] == "asthma"
    assert manifest["query"]["params"]["pageSize"] == "4"
    assert manifest["api_version"]["apiVersion"] == "2.0.5-test"
    assert manifest["total_count"] == 30 and manifest["pages"] == 6
    assert not (tmp_path / "data" / ".ctgov_partial").exists()
    assert io.read_json(tmp_path / "data" / "raw" / "truth.json") == {"source": "ctgov", "studies": {}}


def test_clear_errors(tmp_path):
    proc = run_stage(tmp_path, "data.source=dump", f"data.dump_path={tmp_path / 'no_such_dump'}", check=False)
    assert proc.returncode != 0 and "FileNotFoundError" in proc.stderr and "no_such_dump" in proc.stderr
    proc = run_stage(tmp_path, "data.source=ctgov", "data.ctgov.max_studies=0", check=False)
    assert proc.returncode != 0 and "data.ctgov.max_studies must be >= 1" in proc.stderr
    proc = run_stage(tmp_path, "data.source=dump", check=False)
    assert proc.returncode != 0 and "data.dump_path is not set" in proc.stderr
