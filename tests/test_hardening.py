"""Issue 12: the download, the dump, the tables and the baselines survive bad servers, records and artifacts."""
from __future__ import annotations

import dataclasses
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from deepimagine.baselines.fit import fit_baseline, make_estimator, portable
from deepimagine.baselines.stage import make_encoder
from deepimagine.core.baseline_model import BASELINES, BaselineLoadError, load_baseline, save_baseline
from fixtures.baselines import make_questions
from test_baselines import small_params


# ---------------------------------------------------------------- 11: no code from pulled artifacts


class _RunsCode:
    """A pickle payload that would create ``marker`` when unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    d = tmp_path_factory.mktemp("baselines")
    train, test = make_questions(240, 3), make_questions(60, 4, "test")
    hp = small_params().baselines
    encoder = make_encoder(hp).fit(train)
    X = encoder.transform(train)
    models = {name: fit_baseline(name, encoder, X, train, hp, 42) for name in BASELINES}
    for m in models.values():
        save_baseline(m, d)
    return d, models, train, test, encoder, X, hp


@pytest.mark.parametrize("name", BASELINES)
def test_predictions_after_save_and_load_equal_those_before(fitted, name):
    d, models, _, test, _, _, _ = fitted
    before = models[name].predict_proba(test)
    after = load_baseline(name, d).predict_proba(test)
    assert after == before  # exactly: the same parameters, the same arithmetic


@pytest.mark.parametrize("name", ["logistic", "random_forest"])
def test_plain_parameter_models_equal_scikit_learn(fitted, name):
    from deepimagine.core.baseline_model import _dense_imputed

    _, _, train, test, encoder, X, hp = fitted
    y = np.array([q.answer_index for q in train])
    idx = np.flatnonzero([len(q.options) == 3 for q in train])
    est = make_estimator(name, hp, 42).fit(_dense_imputed(X[idx]), y[idx])
    Xt = _dense_imputed(encoder.transform(test))
    # scikit-learn fits the logistic regression in float32 (the features' dtype); the saved one runs in float64
    atol = 1e-6 if name == "logistic" else 1e-12
    np.testing.assert_allclose(portable(name, est).predict_proba(Xt), est.predict_proba(Xt), rtol=0, atol=atol)


def test_no_pickle_is_written(fitted):
    d = fitted[0]
    assert not [p for p in d.iterdir() if p.suffix in (".joblib", ".pkl", ".pickle")]
    for p in d.glob("*.json"):
        json.loads(p.read_text())  # plain JSON


def test_a_planted_pickle_is_refused_and_runs_nothing(fitted, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_RunsCode(marker))
    # the old layout: joblib files only
    old = tmp_path / "old"
    old.mkdir()
    (old / "encoder.joblib").write_bytes(payload)
    (old / "logistic.joblib").write_bytes(payload)
    with pytest.raises(BaselineLoadError, match="pickle"):
        load_baseline("logistic", old)
    # the new layout with the encoder replaced by a pickle
    d = tmp_path / "new"
    d.mkdir()
    for p in fitted[0].iterdir():
        if p.is_file():
            (d / p.name).write_bytes(p.read_bytes())
    (d / "encoder.json").write_bytes(payload)
    for name in BASELINES:
        with pytest.raises(BaselineLoadError, match="pickle"):
            load_baseline(name, d)
    assert not marker.exists()


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in src.iterdir():
        if p.is_file():
            (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_tampered_artifacts_fail_with_a_clear_error(fitted, tmp_path):
    # a LightGBM text model edited after saving
    d = _copy(fitted[0], tmp_path / "a")
    txt = d / "lightgbm_3.txt"
    txt.write_text(txt.read_text().replace("learning_rate", "learning_rate_x", 1))
    with pytest.raises(BaselineLoadError, match="checksum"):
        load_baseline("lightgbm", d)
    # a tree whose child points back to its root (would loop forever)
    d = _copy(fitted[0], tmp_path / "b")
    meta = json.loads((d / "random_forest.json").read_text())
    tree = meta["families"]["3"]["model"]["trees"][0]
    tree["left"][0] = 0
    (d / "random_forest.json").write_text(json.dumps(meta))
    with pytest.raises(BaselineLoadError, match="not a valid tree"):
        load_baseline("random_forest", d)
    # a coefficient matrix of the wrong shape, and a non-numeric one
    d = _copy(fitted[0], tmp_path / "c")
    meta = json.loads((d / "logistic.json").read_text())
    meta["families"]["3"]["model"]["coef"] = meta["families"]["3"]["model"]["coef"][:1]
    (d / "logistic.json").write_text(json.dumps(meta))
    with pytest.raises(BaselineLoadError, match="coef"):
        load_baseline("logistic", d)
    meta["families"]["3"]["model"]["coef"] = {"__class__": "os.system"}
    (d / "logistic.json").write_text(json.dumps(meta))
    with pytest.raises(BaselineLoadError):
        load_baseline("logistic", d)


# ---------------------------------------------------------------- 1-6: the download against a hostile server

from ctgov_server import SHARED_V2, CtgovTestServer, load_real_studies, replicate  # noqa: E402
from deepimagine.core import io  # noqa: E402
from deepimagine.core.params import CtgovParams, default_params  # noqa: E402
from deepimagine.registry import ctgov  # noqa: E402

needs_shared = pytest.mark.skipif(not SHARED_V2.is_dir(), reason="../shared/data/ctgov_v2 is absent")
PAGE = 7


@pytest.fixture(scope="module")
def studies40() -> list[dict]:
    return replicate(load_real_studies(), 40) if SHARED_V2.is_dir() else []


def _cfg(srv, **kw) -> CtgovParams:
    base = dict(base_url=srv.base_url, page_size=PAGE, max_studies=None, requests_per_second=1000.0,
                max_retries=2, timeout_s=2.0)
    base.update(kw)
    return dataclasses.replace(default_params().data.ctgov, **base)


def _download(srv, tmp_path, **kw):
    out = tmp_path / "studies.jsonl.gz"
    return out, ctgov.download(_cfg(srv, **kw), out, tmp_path / "partial", backoff_base_s=0.01, progress=False)


@needs_shared
def test_1_paging_that_ends_early_fails_or_warns(studies40, tmp_path, caplog):
    with CtgovTestServer(studies40) as srv:
        srv.stop_paging_after = 21
        with pytest.raises(ctgov.CtgovError, match=r"totalCount 40 .* after 21 studies: 19 missing"):
            _download(srv, tmp_path / "a")
        out, summary = _download(srv, tmp_path / "b", on_shortfall="warn")
    assert summary["shortfall"] == {"total_count": 40, "fetched": 21, "missing": 19}
    assert summary["counts"]["written"] == 21
    assert any("19 missing" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


@needs_shared
def test_2_token_cycles_and_endless_empty_pages_stop_with_a_clear_error(studies40, tmp_path):
    with CtgovTestServer(studies40) as srv:
        srv.cycle = (3 * PAGE, PAGE)  # page 3's token points back at page 1: A -> B -> C -> A
        with pytest.raises(ctgov.CtgovError, match="cycle"):
            _download(srv, tmp_path / "a")
        assert len(srv.studies_calls()) <= 5
    with CtgovTestServer(studies40) as srv:
        srv.endless_empty = True  # past the end: empty pages with fresh tokens forever
        with pytest.raises(ctgov.CtgovError, match="nothing new"):
            _download(srv, tmp_path / "b", max_empty_pages=3)
        assert len(srv.studies_calls()) == 6 + 3
    with CtgovTestServer(studies40) as srv:
        srv.endless_empty = True
        with pytest.raises(ctgov.CtgovError, match="budget"):
            _download(srv, tmp_path / "c", max_pages=4)
        assert len(srv.studies_calls()) == 4


@needs_shared
def test_3_a_study_without_nctid_is_written_once_after_a_paging_restart(studies40, tmp_path):
    no_id = {"protocolSection": {"descriptionModule": {"briefSummary": "no identification module"}}}
    items = studies40[:3] + [no_id] + studies40[3:20]
    with CtgovTestServer(items) as srv:
        cfg, work = _cfg(srv), tmp_path / "partial"
        srv.max_requests = 2  # page 0 and 1 stored, then the server stops answering
        with pytest.raises(ctgov.CtgovError):
            ctgov.fetch_pages(cfg, work, backoff_base_s=0.01, progress=False)
        srv.max_requests = 300
        srv.expire_tokens()  # the stored token is rejected: paging restarts from page 0
        out = tmp_path / "studies.jsonl.gz"
        summary = ctgov.download(cfg, out, work, backoff_base_s=0.01, progress=False)
    rows = list(io.read_jsonl(out))
    assert rows.count(no_id) == 1 and len(rows) == len(items)
    assert summary["token_restarts"] == 1 and summary["counts"]["invalid"] == 1


@needs_shared
def test_4_5_a_lone_surrogate_or_deep_nesting_quarantines_one_study(studies40, tmp_path):
    items = [json.loads(json.dumps(s)) for s in studies40[:20]]
    items[2]["protocolSection"]["identificationModule"]["briefTitle"] = "broken \ud83d emoji"
    bad_ids = [ctgov.nct_id(items[2]), ctgov.nct_id(items[9])]
    with CtgovTestServer(items) as srv:
        # study 9 nested 5,000 levels deep: valid JSON that json.loads cannot parse (RecursionError)
        srv.raw_studies = {9: '{"protocolSection": {"identificationModule": {"nctId": "%s"}}, "x": %s%s}'
                              % (bad_ids[1], "[" * 5000, "]" * 5000)}
        out, summary = _download(srv, tmp_path)
    written = [ctgov.nct_id(s) for s in io.read_jsonl(out)]
    assert written == [ctgov.nct_id(s) for i, s in enumerate(items) if i not in (2, 9)]
    q = {r["nct_id"]: r for r in summary["quarantine"]}
    assert set(q) == set(bad_ids)
    assert "surrogate" in q[bad_ids[0]]["reason"] and q[bad_ids[0]]["where"] == "page 0 position 2"
    assert "nesting" in q[bad_ids[1]]["reason"] and q[bad_ids[1]]["where"] == "page 1 position 2"
    c = summary["counts"]
    assert c["quarantined"] == 2 and c["fetched"] == c["written"] + c["duplicates_skipped"] + c["quarantined"] \
        + c["non_object_dropped"] + c["over_max_studies"]


@needs_shared
def test_6_a_dripping_server_hits_the_request_deadline(studies40, tmp_path):
    import time

    with CtgovTestServer(studies40[:5]) as srv:
        srv.drip_s = 0.2  # each read comes well within timeout_s: only a total deadline stops it
        srv.fail_forever = "drip"
        started = time.monotonic()
        with pytest.raises(ctgov.CtgovError, match="deadline"):
            _download(srv, tmp_path, request_deadline_s=1.0, max_retries=1, timeout_s=1.0)
        assert time.monotonic() - started < 8


def test_credentials_in_base_url_are_redacted():
    url = "https://alice:s3cret@example.org/api/v2/studies?api_key=XYZ&pageSize=10"
    red = ctgov.redact_url(url)
    assert "s3cret" not in red and "alice" not in red and "XYZ" not in red
    assert red.startswith("https://***@example.org/api/v2/studies") and "pageSize=10" in red


@needs_shared
def test_credentials_never_reach_the_manifest_or_logs(studies40, tmp_path, caplog):
    with CtgovTestServer(studies40[:10]) as srv:
        secret_url = srv.base_url.replace("http://", "http://bob:hunter2@") + "?token=abc123"
        srv.faults.extend(["500"])
        out, summary = _download(srv, tmp_path, base_url=secret_url)
    text = json.dumps(summary) + "\n".join(r.getMessage() for r in caplog.records)
    assert "hunter2" not in text and "abc123" not in text and "bob" not in text
    assert summary["counts"]["written"] == 10
    state = (tmp_path / "partial" / "state.json").read_text()
    assert "hunter2" not in state


# ---------------------------------------------------------------- 7, 10, 12: hostile dumps

import gzip  # noqa: E402
import zipfile  # noqa: E402

from deepimagine.registry import dump  # noqa: E402


def _study(i: int, **extra) -> dict:
    s = {"protocolSection": {"identificationModule": {"nctId": f"NCT{80000000 + i:08d}", "briefTitle": f"t{i}"}}}
    s.update(extra)
    return s


def _deep(depth: int) -> str:
    return '{"protocolSection": {"identificationModule": {"nctId": "NCT80000099"}}, "x": ' + "[" * depth + "]" * depth + "}"


def test_7_deep_nesting_and_lone_surrogates_are_quarantined_with_file_and_line(tmp_path):
    d = tmp_path / "dump"
    d.mkdir()
    lines = [json.dumps(_study(1)), _deep(1200), json.dumps(_study(2, note="broken \ud83d")), json.dumps(_study(3))]
    (d / "a.jsonl").write_text("\n".join(lines) + "\n")
    (d / "b.json").write_text(_deep(5000))
    out = tmp_path / "studies.jsonl.gz"
    summary = dump.collect(d, out, progress=False)
    assert [dump.nct_id(s) for s in io.read_jsonl(out)] == ["NCT80000001", "NCT80000003"]
    q = {r["where"]: r for r in summary["quarantine"]}
    assert set(q) == {"a.jsonl:2", "a.jsonl:3", "b.json"}
    assert "nesting" in q["a.jsonl:2"]["reason"] and "surrogate" in q["a.jsonl:3"]["reason"]
    assert q["a.jsonl:3"]["nct_id"] == "NCT80000002"
    c = summary["counts"]
    assert c["items_seen"] == c["written"] + c["duplicates_skipped"] + c["unreadable"] == 5


def test_10_bom_accepted_and_malformed_ids_invalid(tmp_path):
    d = tmp_path / "dump"
    d.mkdir()
    (d / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(_study(1)).encode())
    (d / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps(_study(2)).encode() + b"\n")
    num = _study(3)
    num["protocolSection"]["identificationModule"]["nctId"] = 83000014
    (d / "num.json").write_text(json.dumps(num))
    (d / "dup.json").write_text(json.dumps(_study(1)))
    out = tmp_path / "studies.jsonl.gz"
    summary = dump.collect(d, out, progress=False)
    c = summary["counts"]
    assert (c["written"], c["invalid"], c["duplicates_skipped"], c["unreadable"]) == (3, 1, 1, 0)
    assert [r["outcome"] for r in summary["quarantine"]] == ["duplicate"]
    assert "malformed nctId" in summary["invalid"][0]["reason"]


def test_12_symlinks_outside_and_zip_bombs_are_refused(tmp_path):
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps(_study(7)))
    d = tmp_path / "dump"
    d.mkdir()
    (d / "ok.json").write_text(json.dumps(_study(1)))
    (d / "link.json").symlink_to(outside)
    (d / "inner.json").symlink_to(d / "ok.json")  # inside the dump: followed (and a duplicate)
    with zipfile.ZipFile(d / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("page.json", '{"studies": [' + " " * (40 << 20) + "]}")
        zf.writestr("fine.json", json.dumps(_study(2)))
    out = tmp_path / "studies.jsonl.gz"
    summary = dump.collect(d, out, progress=False)
    assert sorted(dump.nct_id(s) for s in io.read_jsonl(out)) == ["NCT80000001", "NCT80000002"]
    q = {r["where"]: r["reason"] for r in summary["quarantine"]}
    assert "outside the dump directory" in q["link.json"]
    assert "zip bomb" in q["bomb.zip!page.json"]
    assert "duplicate" in q["ok.json"] or "duplicate" in q["inner.json"]


# ---------------------------------------------------------------- 8-10, 14: the tables stage

import duckdb  # noqa: E402

from deepimagine.tables.build import build  # noqa: E402


def _gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wb") as f:
        f.write(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def _rejects(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT nct_id, line, level, reason, detail FROM rejects ORDER BY line NULLS LAST, reason").fetchall()
    finally:
        con.close()


def _query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("cut", ["end", "middle"])
def test_8_a_damaged_gzip_keeps_what_precedes_and_rejects_the_rest(tmp_path, cut):
    import random

    rng = random.Random(0)  # incompressible-ish text: many deflate blocks, so damage lands mid-file
    src = _gz(tmp_path / "studies.jsonl.gz", [json.dumps(_study(i, text="".join(rng.choice("abcdefgh ") for _ in range(400))))
                                              for i in range(400)])
    data = bytearray(src.read_bytes())
    if cut == "end":
        data = data[: len(data) - 40]
    else:  # corrupt a run of bytes in the middle of the deflate stream
        mid = len(data) // 2
        data[mid:mid + 64] = bytes(64)
    src.write_bytes(bytes(data))
    result = build(src, tmp_path / "r.duckdb", threads=1, memory_limit="1GB")
    rej = _rejects(tmp_path / "r.duckdb")
    tail = [r for r in rej if r[3] == "unreadable gzip"]
    assert len(tail) == 1 and ("cut short" in tail[0][4] or "corrupt" in tail[0][4])
    assert 0 < result.rows["studies"] < 400
    assert result.studies_in_raw == result.rows["studies"] + len({r[1] for r in rej if r[2] == "study"})
    assert result.accounting["checks"]["tables: read = studies + rejected"]


def test_10_invalid_utf8_in_the_studies_file_is_rejected_not_repaired(tmp_path):
    src = tmp_path / "studies.jsonl.gz"
    good = [json.dumps(_study(i)).encode() for i in range(3)]
    bad = json.dumps(_study(9, note="caf\u00e9"), ensure_ascii=False).encode().replace("\u00e9".encode(), b"\xe9")  # latin-1 byte
    with gzip.open(src, "wb") as f:
        f.write(b"\n".join([good[0], bad, good[1], good[2]]) + b"\n")
    result = build(src, tmp_path / "r.duckdb", threads=1, memory_limit="1GB")
    assert result.rows["studies"] == 3
    assert [(r[1], r[3]) for r in _rejects(tmp_path / "r.duckdb")] == [(2, "invalid UTF-8")]
    assert not _query(tmp_path / "r.duckdb", "SELECT * FROM studies WHERE nct_id = 'NCT80000009'")


def test_9_non_string_and_malformed_nct_ids_are_rejected(tmp_path):
    rows = [_study(1), _study(2), _study(3), _study(4), _study(5)]
    rows[1]["protocolSection"]["identificationModule"]["nctId"] = 83000014
    rows[2]["protocolSection"]["identificationModule"]["nctId"] = {"id": "NCT80000003"}
    rows[3]["protocolSection"]["identificationModule"]["nctId"] = "NCT123"
    src = _gz(tmp_path / "studies.jsonl.gz", [json.dumps(r) for r in rows])
    result = build(src, tmp_path / "r.duckdb", threads=1, memory_limit="1GB")
    assert sorted(r[0] for r in _query(tmp_path / "r.duckdb", "SELECT nct_id FROM studies")) == ["NCT80000001", "NCT80000005"]
    rej = [(r[1], r[3], r[4]) for r in _rejects(tmp_path / "r.duckdb")]
    assert rej == [(2, "malformed nctId", "83000014"), (3, "malformed nctId", '{"id":"NCT80000003"}'),
                   (4, "malformed nctId", "NCT123")]
    # the dump and the tables agree: the same three are invalid there
    assert [dump.nct_id(r) for r in rows] == ["NCT80000001", None, None, None, "NCT80000005"]
    assert result.rows["studies"] == 2


def test_10_one_accounting_reconciles_every_dump_item(tmp_path):
    d = tmp_path / "dump"
    d.mkdir()
    (d / "a.jsonl").write_text("\n".join([json.dumps(_study(1)), "{not json", json.dumps(_study(2)),
                                          json.dumps(_study(1)), json.dumps({"FullStudiesResponse": {}}), "42"]) + "\n")
    raw = tmp_path / "raw"
    raw.mkdir()
    summary = dump.collect(d, raw / "studies.jsonl.gz", progress=False)
    from deepimagine.registry.stage import sha256_file

    manifest = {"source": "dump", **summary, "studies_sha256": sha256_file(raw / "studies.jsonl.gz")}
    (raw / "manifest.json").write_text(json.dumps(manifest))
    result = build(raw / "studies.jsonl.gz", tmp_path / "r.duckdb", threads=1, memory_limit="1GB")
    acc = result.accounting
    assert acc["reconciled"], acc
    assert acc["totals"]["download"] == {"read": 6, "written": 3, "duplicate": 1, "unreadable": 2}
    assert acc["totals"]["tables"] == {"read": 3, "studies": 2, "rejected": 1}
    rej = [(r[2], r[3], r[4]) for r in _rejects(tmp_path / "r.duckdb")]
    assert ("download", "duplicate: duplicate of an earlier NCT80000001", "a.jsonl:4") in rej
    assert sum(1 for r in rej if r[0] == "download") == 3  # duplicate + two unreadable: every item not written
    assert ("study", "legacy v1 format (FullStudiesResponse)", None) in rej
    table = _query(tmp_path / "r.duckdb", "SELECT stage, outcome, items FROM accounting WHERE reason IS NULL ORDER BY ALL")
    assert ("download", "read", 6) in table and ("tables", "studies", 2) in table


def _arm_study(groups: list[str], arms: list[str]) -> dict:
    s = _study(50)
    s["protocolSection"]["armsInterventionsModule"] = {"armGroups": [{"label": a, "type": "EXPERIMENTAL"} for a in arms]}
    s["resultsSection"] = {"outcomeMeasuresModule": {"outcomeMeasures": [{
        "type": "PRIMARY", "title": "FEV1", "groups": [{"id": f"OG{i:03d}", "title": g} for i, g in enumerate(groups)]}]}}
    return s


def test_14_pooled_groups_and_ties_map_to_no_arm_plural_near_misses_map(tmp_path):
    s = _arm_study(["Part 1: Drug X + Drug Y, all dose levels", "Asthmatics", "Dose Level", "Total"],
                   ["Dose Level 1", "Dose Level 2", "Asthmatic", "Part 1: Drug X"])
    src = _gz(tmp_path / "studies.jsonl.gz", [json.dumps(s)])
    build(src, tmp_path / "r.duckdb", threads=1, memory_limit="1GB")
    got = dict(_query(tmp_path / "r.duckdb", "SELECT title, arm_id FROM result_groups"))
    assert got == {"Part 1: Drug X + Drug Y, all dose levels": None,  # pooled, not 'Dose Level 1'
                   "Asthmatics": 2,                                   # plural near miss
                   "Dose Level": None,                                # tie between Dose Level 1 and 2
                   "Total": None}
