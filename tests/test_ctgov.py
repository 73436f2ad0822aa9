"""The ClinicalTrials.gov API v2 client against a local fake API (tests/ctgov_server.py)."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctgov_server import SHARED_V2, CtgovTestServer, load_real_studies, replicate
from deepimagine.core import io
from deepimagine.core.params import CtgovParams, default_params
from deepimagine.registry import ctgov

pytestmark = pytest.mark.skipif(not SHARED_V2.is_dir(), reason="../shared/data/ctgov_v2 is absent")

N_STUDIES = 60
PAGE_SIZE = 7  # 60 studies -> 9 pages


@pytest.fixture(scope="module")
def studies() -> list[dict]:
    real = load_real_studies()
    assert len(real) == 12
    return replicate(real, N_STUDIES)


@pytest.fixture
def server(studies):
    with CtgovTestServer(studies) as srv:
        srv.retry_after = "0"
        yield srv


def make_cfg(srv: CtgovTestServer, **kw) -> CtgovParams:
    base = dict(base_url=srv.base_url, page_size=PAGE_SIZE, max_studies=None, requests_per_second=1000.0,
                max_retries=3, timeout_s=0.5)
    base.update(kw)
    return dataclasses.replace(default_params().data.ctgov, **base)


def ids_in(path: Path) -> list[str]:
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in io.read_jsonl(path)]


def expected_ids(studies) -> list[str]:
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in studies]


def fetch(srv, tmp_path, **kw):
    out = tmp_path / "raw" / "studies.jsonl.gz"
    summary = ctgov.download(make_cfg(srv, **kw), out, tmp_path / "partial", backoff_base_s=0.01, progress=False)
    return out, summary


# ---------------------------------------------------------------- query


def test_query_params_match_the_params():
    cfg = dataclasses.replace(default_params().data.ctgov, condition="type 2 diabetes", term="metformin", phases=["PHASE2", "PHASE3"],
                      results_only=True, interventional_only=True, start_date_from="2008-01-01",
                      start_date_to=None, max_studies=5000, page_size=1000)
    assert ctgov.build_query(cfg) == {
        "format": "json",
        "query.cond": "type 2 diabetes",
        "query.term": "metformin",
        "filter.advanced": "AREA[Phase](PHASE2 OR PHASE3) AND AREA[StudyType]INTERVENTIONAL "
                           "AND AREA[StartDate]RANGE[2008-01-01,MAX]",
        "aggFilters": "results:with",
        "pageSize": "1000",
    }
    open_cfg = dataclasses.replace(default_params().data.ctgov, phases=[], results_only=False, interventional_only=False, start_date_from=None,
                           start_date_to="2020-12-31", max_studies=50, page_size=1000)
    assert ctgov.build_query(open_cfg) == {"format": "json", "filter.advanced": "AREA[StartDate]RANGE[MIN,2020-12-31]",
                                           "pageSize": "50"}


@pytest.mark.parametrize("kw, key", [
    ({"max_studies": 0}, "max_studies"), ({"page_size": 1001}, "page_size"), ({"page_size": 0}, "page_size"),
    ({"phases": ["PHASE 2"]}, "phases"), ({"start_date_from": "01/01/2008"}, "start_date_from"),
    ({"requests_per_second": 0.0}, "requests_per_second"), ({"max_retries": -1}, "max_retries"),
    ({"base_url": "clinicaltrials.gov"}, "base_url"),
])
def test_bad_params_fail_with_a_message_naming_the_key(kw, key):
    with pytest.raises(ValueError, match=f"data.ctgov.{key}"):
        ctgov.build_query(dataclasses.replace(default_params().data.ctgov, **kw))


def test_version_url():
    assert ctgov.version_url("https://clinicaltrials.gov/api/v2/studies") == "https://clinicaltrials.gov/api/v2/version"


def test_retry_after_parsing():
    assert ctgov.parse_retry_after("3") == 3.0
    assert ctgov.parse_retry_after(None) is None
    assert ctgov.parse_retry_after("soon") is None
    assert ctgov.parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)


def test_rate_limiter_spaces_request_starts():
    clock = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        clock[0] += s

    limiter = ctgov.RateLimiter(2.0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        limiter.wait()
    assert slept == [pytest.approx(0.5), pytest.approx(0.5)]


# ---------------------------------------------------------------- paging


def test_paging_returns_every_study_exactly_once(server, studies, tmp_path):
    out, summary = fetch(server, tmp_path)
    assert ids_in(out) == expected_ids(studies)
    assert summary["counts"] == {"fetched": 60, "stored": 60, "written": 60, "duplicates_skipped": 0,
                                 "non_object_dropped": 0, "quarantined": 0, "invalid": 0, "over_max_studies": 0}
    assert summary["total_count"] == 60 and summary["pages"] == 9
    assert summary["api_version"] == {"apiVersion": "2.0.5-test", "dataTimestamp": "2025-01-01T00:00:00"}
    calls = server.studies_calls()
    assert len(calls) == 9
    assert "pageToken" not in calls[0]["params"] and calls[0]["params"]["countTotal"] == "true"
    for c in calls[1:]:
        assert c["params"]["pageToken"] and "countTotal" not in c["params"]
    for c in calls:
        assert c["params"]["pageSize"] == str(PAGE_SIZE)
        assert c["params"]["format"] == "json"
        assert c["params"]["aggFilters"] == "results:with"
        assert c["params"]["filter.advanced"] == ("AREA[Phase](PHASE2 OR PHASE3) AND AREA[StudyType]INTERVENTIONAL "
                                                  "AND AREA[StartDate]RANGE[2008-01-01,MAX]")
        assert c["user_agent"].startswith("deepimagine/")
    # the study objects are the API's, unchanged
    first = next(io.read_jsonl(out))
    assert first == studies[0]


def test_output_is_byte_reproducible(server, tmp_path):
    out1, _ = fetch(server, tmp_path / "a")
    out2, _ = fetch(server, tmp_path / "b")
    assert out1.read_bytes() == out2.read_bytes()


def test_max_studies_caps_the_output(server, studies, tmp_path):
    out, summary = fetch(server, tmp_path, max_studies=20)
    assert ids_in(out) == expected_ids(studies)[:20]
    c = summary["counts"]
    assert (c["fetched"], c["written"], c["over_max_studies"]) == (21, 20, 1)
    assert c["fetched"] == c["written"] + c["duplicates_skipped"] + c["non_object_dropped"] + c["over_max_studies"]
    assert len(server.studies_calls()) == 3


def test_duplicates_and_non_objects_from_the_api_are_accounted(studies, tmp_path):
    messy = studies[:10] + [studies[3], "not a study", {"hasResults": False}] + studies[10:15]
    with CtgovTestServer(messy) as srv:
        out, summary = fetch(srv, tmp_path)
    assert ids_in_or_none(out) == expected_ids(studies[:10]) + [None] + expected_ids(studies[10:15])
    c = summary["counts"]
    assert (c["fetched"], c["written"], c["duplicates_skipped"], c["non_object_dropped"], c["invalid"]) == (18, 16, 1, 1, 1)


def ids_in_or_none(path):
    return [ctgov.nct_id(s) for s in io.read_jsonl(path)]


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize("fault", ["429", "500", "503", "reset", "disconnect", "truncated", "slow"])
def test_each_fault_is_retried(server, studies, tmp_path, fault):
    server.slow_s = 1.0  # beyond the client's 0.3 s timeout
    server.faults.extend([None, fault, None, fault, fault])  # faults on pages 1 and 3 (twice)
    out, _ = fetch(server, tmp_path, timeout_s=0.3)
    assert ids_in(out) == expected_ids(studies)
    outcomes = [c["outcome"] for c in server.studies_calls()]
    assert outcomes.count(fault) == 3 and outcomes.count(200) == 9


def test_429_waits_for_retry_after(server, studies, tmp_path):
    server.retry_after = "1"
    server.faults.append("429")
    out, _ = fetch(server, tmp_path)
    calls = server.studies_calls()
    assert calls[0]["outcome"] == "429"
    assert calls[1]["time"] - calls[0]["time"] >= 0.95
    assert ids_in(out) == expected_ids(studies)


def test_gives_up_after_max_retries_with_a_clear_error(server, tmp_path):
    server.fail_forever = "500"
    with pytest.raises(ctgov.CtgovError) as e:
        fetch(server, tmp_path, max_retries=3)
    msg = str(e.value)
    assert server.base_url in msg and "4 attempts" in msg and "HTTP 500" in msg
    assert len(server.studies_calls()) == 4


def test_non_retryable_status_fails_at_once(server, tmp_path):
    cfg = make_cfg(server, base_url=server.base_url.replace("/studies", "/nothing"))
    with pytest.raises(ctgov.CtgovError, match="HTTP 404"):
        ctgov.download(cfg, tmp_path / "s.jsonl.gz", tmp_path / "partial", backoff_base_s=0.01, progress=False)
    assert sum(1 for r in server.requests if r["params"].get("format") == "json") == 1


# ---------------------------------------------------------------- resume


CHILD = """
import json, sys
from deepimagine.core.params import CtgovParams
from deepimagine.registry import ctgov
cfg = CtgovParams(**json.loads(sys.argv[1]))
ctgov.download(cfg, sys.argv[2], sys.argv[3], backoff_base_s=0.01, progress=False)
"""


def test_resume_after_sigkill_loses_and_repeats_nothing(server, studies, tmp_path):
    cfg = make_cfg(server)
    out, work = tmp_path / "raw" / "studies.jsonl.gz", tmp_path / "partial"
    server.block_at = 3  # pages 0-2 complete; the request for page 3 hangs
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(dataclasses.asdict(cfg)), str(out), str(work)])
    try:
        assert server.blocked.wait(timeout=30), "the client never asked for page 3"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
        server.release.set()
    assert child.returncode == -signal.SIGKILL
    state = io.read_json(work / "state.json")
    assert state["pages_done"] == 3 and not state["finished"] and not out.exists()
    first_run = server.studies_calls()
    blocked_token = first_run[3]["params"]["pageToken"]
    done_tokens = {c["params"].get("pageToken") for c in first_run[:3]}

    ctgov.download(cfg, out, work, backoff_base_s=0.01, progress=False)
    assert ids_in(out) == expected_ids(studies)
    second_run = server.studies_calls()[len(first_run):]
    assert second_run[0]["params"]["pageToken"] == blocked_token
    assert not done_tokens & {c["params"].get("pageToken") for c in second_run}
    assert len(second_run) == 9 - 3


class _FailAfter:
    """Make the fake API answer 500 from the n-th /studies request on."""

    def __init__(self, server, n):
        self.server, self.n = server, n

    def __enter__(self):
        self.server.faults.clear()
        self.server.faults.extend([None] * (self.n - self.server.studies_requests))
        self.server.faults.extend(["500"] * 100)

    def __exit__(self, *exc):
        self.server.faults.clear()


def test_repeated_kills_at_random_moments(server, studies, tmp_path):
    """SIGKILL at random moments (mid-request, mid-write, mid-merge), then one run to the end."""
    import random

    rng = random.Random(7)
    server.delay_s = 0.04
    cfg = make_cfg(server, page_size=3)  # 20 pages
    out, work = tmp_path / "raw" / "studies.jsonl.gz", tmp_path / "partial"
    args = [sys.executable, "-c", CHILD, json.dumps(dataclasses.asdict(cfg)), str(out), str(work)]
    kills = 0
    for _ in range(6):
        child = subprocess.Popen(args)
        time.sleep(rng.uniform(0.25, 0.6))
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            kills += 1
        child.wait(timeout=10)
    assert kills >= 2
    finished = subprocess.run(args, timeout=60)
    assert finished.returncode == 0
    assert ids_in(out) == expected_ids(studies)
    served = [c["params"].get("pageToken") for c in server.studies_calls() if c["outcome"] == 200]
    assert len(served) - len(set(served)) <= kills  # at most the page in flight is fetched again per kill


def test_expired_token_restarts_paging_and_skips_stored_studies(server, studies, tmp_path):
    cfg = make_cfg(server)
    out, work = tmp_path / "studies.jsonl.gz", tmp_path / "partial"
    with _FailAfter(server, 4), pytest.raises(ctgov.CtgovError):
        ctgov.fetch_pages(dataclasses.replace(cfg, max_retries=0), work, backoff_base_s=0.01, progress=False)
    assert io.read_json(work / "state.json")["pages_done"] == 4
    server.expire_tokens()
    n_before = len(server.studies_calls())
    summary = ctgov.download(cfg, out, work, backoff_base_s=0.01, progress=False)
    assert ids_in(out) == expected_ids(studies)
    calls = server.studies_calls()[n_before:]
    assert calls[0]["outcome"] == 400 and "pageToken" in calls[0]["params"]  # the stored token expired
    assert "pageToken" not in calls[1]["params"]  # paging restarted from the first page
    assert summary["token_restarts"] == 1
    c = summary["counts"]
    assert c["duplicates_skipped"] == 4 * PAGE_SIZE and c["written"] == 60
    assert c["fetched"] == c["written"] + c["duplicates_skipped"]


def test_kill_between_page_file_and_state_or_during_merge(server, studies, tmp_path):
    cfg = make_cfg(server)
    out, work = tmp_path / "raw" / "studies.jsonl.gz", tmp_path / "partial"
    with _FailAfter(server, 2), pytest.raises(ctgov.CtgovError):
        ctgov.fetch_pages(dataclasses.replace(cfg, max_retries=0), work, backoff_base_s=0.01, progress=False)
    # as if killed after writing page 2 (or half of it) but before recording it in state.json
    (work / "page_00002.jsonl").write_text(json.dumps(studies[0]) + "\n" + '{"protocolSection": {"identif')
    (work / ".page_00003.jsonl.abc.tmp").write_text("half a page")
    ctgov.fetch_pages(cfg, work, backoff_base_s=0.01, progress=False)
    assert not list(work.glob(".*.tmp"))
    # as if killed while writing the final file: a stale temp file, no output yet
    out.parent.mkdir(parents=True)
    (out.parent / ".studies.jsonl.gz.xyz.tmp").write_bytes(b"\x1f\x8b partial")
    n_before = len(server.studies_calls())
    ctgov.download(cfg, out, work, backoff_base_s=0.01, progress=False)
    assert len(server.studies_calls()) == n_before  # finished pages are merged, not fetched again
    assert ids_in(out) == expected_ids(studies)
    fresh, _ = fetch(server, tmp_path / "fresh")
    assert out.read_bytes() == fresh.read_bytes()


def test_a_different_query_discards_the_partial_download(server, studies, tmp_path):
    cfg = make_cfg(server)
    work = tmp_path / "partial"
    with _FailAfter(server, 2), pytest.raises(ctgov.CtgovError):
        ctgov.fetch_pages(dataclasses.replace(cfg, max_retries=0), work, backoff_base_s=0.01, progress=False)
    n_before = len(server.studies_calls())
    out = tmp_path / "studies.jsonl.gz"
    ctgov.download(dataclasses.replace(cfg, condition="asthma"), out, work, backoff_base_s=0.01, progress=False)
    calls = server.studies_calls()[n_before:]
    assert "pageToken" not in calls[0]["params"] and calls[0]["params"]["query.cond"] == "asthma"
    assert ids_in(out) == expected_ids(studies)


def test_remove_work_dir(server, tmp_path):
    work = tmp_path / "partial"
    ctgov.download(make_cfg(server), tmp_path / "s.jsonl.gz", work, backoff_base_s=0.01, progress=False,
                   remove_work_dir=True)
    assert not work.exists()
