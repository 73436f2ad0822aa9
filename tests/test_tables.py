"""tables stage: build data/registry.duckdb from real API v2 records and from deliberately bad input."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from deepimagine.tables.build import TABLES, build

REAL_DIR = Path(__file__).parents[1].parent / "shared" / "data" / "ctgov_v2"
RESULTS_STUDIES = {  # nct_id -> (outcome measures, analyses) as stated in the brief
    "NCT02210780": (11, 7), "NCT02552212": (31, 12), "NCT00763412": (9, 0), "NCT05594173": (2, 0),
}


def _write_jsonl_gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    return path


def _real_records() -> list[tuple[str, dict]]:
    if not REAL_DIR.is_dir():
        pytest.skip(f"{REAL_DIR} not present")
    return [(p.name, json.loads(p.read_text())) for p in sorted(REAL_DIR.glob("*.json"))]


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    records = _real_records()
    tmp = tmp_path_factory.mktemp("real")
    src = _write_jsonl_gz(tmp / "studies.jsonl.gz", [json.dumps(d) for _n, d in records])
    result = build(src, tmp / "registry.duckdb", threads=2, memory_limit="1GB")
    con = duckdb.connect(str(tmp / "registry.duckdb"), read_only=True)
    yield records, result, con
    con.close()


def _v2(records):
    return {d["protocolSection"]["identificationModule"]["nctId"]: d for _n, d in records if "protocolSection" in d}


def test_every_v2_record_is_a_study_and_legacy_is_rejected(real):
    records, result, con = real
    v2 = _v2(records)
    ids = {r[0] for r in con.execute("SELECT nct_id FROM studies").fetchall()}
    assert ids == set(v2)
    assert "NCT02552212" in ids and "NCT02278341" not in ids  # the file name is not the id
    assert "NCT03453554" in ids  # minimal record: kept as a study without results / arms
    assert con.execute("SELECT has_results, n_arms, enrollment FROM studies WHERE nct_id='NCT03453554'").fetchone() == (False, 0, None)
    legacy_line = 1 + [n for n, _d in records].index("NCT04780763.json")
    rej = con.execute("SELECT line, level, reason FROM rejects WHERE level='study'").fetchall()
    assert rej == [(legacy_line, "study", "legacy v1 format (FullStudiesResponse)")]
    assert result.studies_in_raw == len(records) == result.rows["studies"] + 1


@pytest.mark.parametrize("nct", sorted(RESULTS_STUDIES))
def test_results_counts_match_the_json(real, nct):
    records, _result, con = real
    study = _v2(records)[nct]
    oms = study["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]
    n_meas = sum(len(cat.get("measurements", [])) for o in oms for c in o.get("classes", []) for cat in c.get("categories", []))
    n_an = sum(len(o.get("analyses", [])) for o in oms)
    n_groups = sum(len(o.get("groups", [])) for o in oms)
    assert (len(oms), n_an) == RESULTS_STUDIES[nct]
    q = lambda t: con.execute(f"SELECT count(*) FROM {t} WHERE nct_id = ?", [nct]).fetchone()[0]  # noqa: E731
    assert (q("outcomes"), q("analyses"), q("measurements"), q("result_groups")) == (len(oms), n_an, n_meas, n_groups)
    arms = study["protocolSection"].get("armsInterventionsModule", {}).get("armGroups", [])
    assert q("arms") == len(arms)
    types = [r[0] for r in con.execute("SELECT outcome_type FROM outcomes WHERE nct_id=? ORDER BY outcome_id", [nct]).fetchall()]
    assert types == [o["type"] for o in oms]


def test_nct02552212_primary_outcome_values(real):
    _records, _result, con = real
    meas = dict(con.execute("""SELECT group_id, value FROM measurements WHERE nct_id='NCT02552212' AND outcome_id=0""").fetchall())
    assert meas == {"OG000": 7.0, "OG001": 47.2}
    groups = con.execute("""SELECT group_id, arm_id, n FROM result_groups r WHERE nct_id='NCT02552212' AND outcome_id=0
                            ORDER BY group_id""").fetchall()
    labels = dict(con.execute("SELECT arm_id, label FROM arms WHERE nct_id='NCT02552212'").fetchall())
    assert [(g, labels[a], n) for g, a, n in groups] == [("OG000", "Placebo", 158), ("OG001", "Certolizumab Pegol 200 mg Q2W", 159)]
    an = con.execute("""SELECT group_ids, p_value_text, p_value, p_value_modifier, param_type, estimate, ci_pct, ci_lower, ci_upper
                        FROM analyses WHERE nct_id='NCT02552212' AND outcome_id=0 AND analysis_id=0""").fetchone()
    assert an == (["OG000", "OG001"], "<0.001", 0.001, "<", "Odds Ratio (OR)", 15.231, 95.0, 7.336, 31.623)
    out = con.execute("SELECT outcome_type, time_frame, time_weeks FROM outcomes WHERE nct_id='NCT02552212' AND outcome_id=0").fetchone()
    assert out == ("PRIMARY", "Week 52", 52.0)
    st = con.execute("SELECT phase, start_date::VARCHAR, enrollment, n_arms, has_results FROM studies WHERE nct_id='NCT02552212'").fetchone()
    assert st == ("PHASE3", "2015-09-01", 317, 2, True)  # start date '2015-09' -> first of the month


def test_treatment_sequence_groups_map_to_no_arm(real):
    """'Placebo->OL CZP' is a switch group, not the Placebo arm it contains; plain groups still map."""
    _records, _result, con = real
    got = dict(con.execute("""SELECT DISTINCT r.title, a.label FROM result_groups r LEFT JOIN arms a USING (nct_id, arm_id)
                              WHERE r.nct_id='NCT02552212'""").fetchall())
    assert got["Placebo->OL CZP (SS)"] is None and got["CZP->OL CZP (SS)"] is None
    assert got["Placebo (SS)"] == "Placebo" and got["CZP 200 mg Q2W (FAS)"] == "Certolizumab Pegol 200 mg Q2W"


def test_posted_na_value_is_a_value_reject(real):
    records, _result, con = real
    oms = _v2(records)["NCT02552212"]["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]
    na = [(i, m["groupId"]) for i, o in enumerate(oms) for c in o.get("classes", []) for cat in c["categories"]
          for m in cat["measurements"] if m.get("value") == "NA"]
    assert na, "the record is expected to hold an 'NA' measurement"
    rej = con.execute("""SELECT detail FROM rejects WHERE nct_id='NCT02552212' AND reason='unparseable measurement value'""").fetchall()
    assert sorted(r[0] for r in rej) == sorted(f"outcome {i} {g}: NA" for i, g in na)
    assert con.execute("""SELECT count(*) FROM measurements WHERE nct_id='NCT02552212' AND value_text='NA' AND value IS NULL""").fetchone()[0] == len(na)


def test_arms_interventions_doses_and_mappings(real):
    _records, _result, con = real
    assert con.execute("SELECT count(*) FROM arms WHERE nct_id='NCT05594173'").fetchone()[0] == 0
    links = con.execute("""SELECT a.label, i.name FROM arm_interventions x JOIN arms a USING (nct_id, arm_id)
                           JOIN interventions i USING (nct_id, intervention_id) WHERE nct_id='NCT02552212' ORDER BY 1""").fetchall()
    assert links == [("Certolizumab Pegol 200 mg Q2W", "Certolizumab Pegol"), ("Placebo", "Placebo")]
    doses = con.execute("""SELECT value, unit, frequency, route FROM doses WHERE nct_id='NCT02552212' AND arm_id=0 AND source='arm'
                           ORDER BY dose_index""").fetchall()
    assert doses == [(400.0, "mg", None, "sc"), (200.0, "mg", "Q2W", "sc")]
    assert con.execute("""SELECT bool_and(is_placebo) FROM doses WHERE nct_id='NCT02552212' AND arm_id=1""").fetchone()[0]
    regions = con.execute("SELECT DISTINCT region FROM countries WHERE nct_id='NCT02552212' ORDER BY 1").fetchall()
    assert ("North America",) in regions and ("Europe",) in regions
    el = con.execute("SELECT min_age_years, max_age_years, sex FROM eligibility WHERE nct_id='NCT00763412'").fetchone()
    assert el == (12.0, 24.0, "ALL")
    cond = con.execute("SELECT condition_norm, mesh_term FROM conditions WHERE nct_id='NCT02210780'").fetchall()
    assert cond == [("atopic dermatitis", "Dermatitis, Atopic")]
    assert con.execute("SELECT count(*) FROM result_groups WHERE nct_id='NCT02210780' AND arm_id IS NULL").fetchone()[0] == 0


# ----------------------------------------------------------------- bad input


def _study(nct: str, **over) -> dict:
    d = {
        "protocolSection": {
            "identificationModule": {"nctId": nct, "briefTitle": f"Study {nct}"},
            "statusModule": {"startDateStruct": {"date": "2015-09"}, "resultsFirstPostDateStruct": {"date": "2020-01-15"}},
            "designModule": {"studyType": "INTERVENTIONAL", "phases": ["PHASE2"], "enrollmentInfo": {"count": 120}},
            "armsInterventionsModule": {
                "armGroups": [{"label": "Drug X 10 mg", "type": "EXPERIMENTAL", "description": "Drug X 10 mg orally once daily",
                               "interventionNames": ["Drug: Drug X"]},
                              {"label": "Placebo", "type": "PLACEBO_COMPARATOR", "description": "Matching placebo once daily",
                               "interventionNames": ["Drug: Placebo"]}],
                "interventions": [{"type": "DRUG", "name": "Drug X", "armGroupLabels": ["Drug X 10 mg"]},
                                  {"type": "DRUG", "name": "Placebo", "armGroupLabels": ["Placebo"]}]},
            "eligibilityModule": {"minimumAge": "6 Months", "maximumAge": "65 Years", "sex": "ALL"},
            "contactsLocationsModule": {"locations": [{"country": "Japan"}, {"country": "Germany"}, {"country": "Atlantis"}]},
        },
        "resultsSection": {"outcomeMeasuresModule": {"outcomeMeasures": [{
            "type": "PRIMARY", "title": "Change in score", "timeFrame": "Baseline, Week 24", "paramType": "MEAN",
            "groups": [{"id": "OG000", "title": "Drug X 10 mg"}, {"id": "OG001", "title": "Placebo"}],
            "denoms": [{"units": "Participants", "counts": [{"groupId": "OG000", "value": "60"}, {"groupId": "OG001", "value": "58"}]}],
            "classes": [{"categories": [{"measurements": [{"groupId": "OG000", "value": "-3.5", "spread": "1.2"},
                                                          {"groupId": "OG001", "value": "NA"}]}]}],
            "analyses": [{"groupIds": ["OG000", "OG001"], "pValue": "<0.001", "paramValue": "-2.1"},
                         {"groupIds": ["OG000", "OG001"], "pValue": "NA"},
                         {"groupIds": ["OG000", "OG001"], "pValue": "0.0342"},
                         {"groupIds": ["OG000", "OG001"], "pValue": "ND"}]}]}},
        "hasResults": True,
    }
    for path, value in over.items():
        node = d
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        if value is _DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return d


_DELETE = object()


def _bad_lines() -> list[tuple[str, str | None]]:
    """(line, expected study-level reject reason or None when the study must be kept)."""
    good = json.dumps(_study("NCT90000001"))
    return [
        (good, None),
        (good[: len(good) // 2], "invalid JSON"),                                   # truncated line
        ("[1, 2, 3]", "not a JSON object"),
        ('"just a string"', "not a JSON object"),
        (json.dumps({"FullStudiesResponse": {"FullStudies": []}}), "legacy v1 format (FullStudiesResponse)"),
        (json.dumps({"protocolSection": {"identificationModule": {"briefTitle": "no id"}}}), "missing nctId"),
        (json.dumps({"protocolSection": "oops"}), "missing nctId"),
        (json.dumps(_study("NCT90000002", protocolSection__designModule__enrollmentInfo={"count": "abc"},
                           protocolSection__statusModule__startDateStruct={"date": "sometime"},
                           protocolSection__eligibilityModule__minimumAge="a few years",
                           resultsSection={"outcomeMeasuresModule": {"outcomeMeasures": {"not": "a list"}}})), None),
        (json.dumps(_study("NCT90000003", resultsSection=_DELETE, hasResults=False)), None),        # protocol only
        (json.dumps(_study("NCT90000004", protocolSection__armsInterventionsModule=_DELETE)), None),  # no arms module
        (json.dumps(_study("NCT90000005", protocolSection__armsInterventionsModule__armGroups="x")), None),
        (json.dumps(_study("NCT90000001")), "duplicate nctId"),
        ("", None),                                                                  # blank: not a study
        (json.dumps(_study("NCT90000006", protocolSection__armsInterventionsModule__armGroups=[
            {"label": "High", "type": "EXPERIMENTAL", "description": "Drug X 12 puffs via device",
             "interventionNames": ["Drug: Drug X"]}])), None),
    ]


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    lines = _bad_lines()
    src = _write_jsonl_gz(tmp / "studies.jsonl.gz", [t for t, _r in lines])
    result = build(src, tmp / "registry.duckdb", threads=1, memory_limit="1GB")
    con = duckdb.connect(str(tmp / "registry.duckdb"), read_only=True)
    yield lines, result, con
    con.close()


def test_bad_input_study_level_rejects_and_invariant(bad):
    lines, result, con = bad
    expected = sorted((i + 1, r) for i, (_t, r) in enumerate(lines) if r)
    got = con.execute("SELECT line, reason FROM rejects WHERE level='study' ORDER BY line").fetchall()
    assert got == expected
    kept = {json.loads(t)["protocolSection"]["identificationModule"]["nctId"] for t, r in lines if t and r is None}
    assert {r[0] for r in con.execute("SELECT nct_id FROM studies").fetchall()} == kept
    non_blank = sum(1 for t, _r in lines if t.strip())
    study_rejects = con.execute("SELECT count(DISTINCT line) FROM rejects WHERE level='study'").fetchone()[0]
    assert result.studies_in_raw == non_blank == result.rows["studies"] + study_rejects
    dup = con.execute("SELECT nct_id, detail FROM rejects WHERE reason='duplicate nctId'").fetchone()
    assert dup == ("NCT90000001", "first seen at line 1")


def test_bad_input_value_level_rejects(bad):
    _lines, _result, con = bad
    rej = con.execute("SELECT nct_id, tbl, reason, detail FROM rejects WHERE level='value' ORDER BY ALL").fetchall()
    assert ("NCT90000002", "studies", "unparseable enrollment", "abc") in rej
    assert ("NCT90000002", "studies", "unparseable date", "start_date: sometime") in rej
    assert ("NCT90000002", "eligibility", "unparseable age", "minimumAge: a few years") in rej
    assert any(r[0] == "NCT90000002" and r[1] == "outcomes" and r[2].startswith("wrong type: resultsSection.outcomeMeasuresModule"
                                                                                 ".outcomeMeasures is OBJECT") for r in rej)
    assert any(r[0] == "NCT90000005" and r[1] == "arms" and "armGroups is VARCHAR" in r[2] for r in rej)
    assert ("NCT90000001", "measurements", "unparseable measurement value", "outcome 0 OG001: NA") in rej
    assert ("NCT90000001", "analyses", "unparseable p-value", "outcome 0 analysis 1: NA") in rej
    assert ("NCT90000001", "analyses", "unparseable p-value", "outcome 0 analysis 3: ND") in rej
    assert ("NCT90000006", "doses", "unparseable dose", "arm 0: Drug X 12 puffs via device") in rej
    # the studies with value rejects are kept, with the bad value NULL
    assert con.execute("SELECT enrollment, start_date FROM studies WHERE nct_id='NCT90000002'").fetchone() == (None, None)
    assert con.execute("SELECT count(*) FROM outcomes WHERE nct_id='NCT90000002'").fetchone()[0] == 0


def test_bad_input_parsed_values(bad):
    _lines, _result, con = bad
    pv = con.execute("SELECT p_value_text, p_value, p_value_modifier FROM analyses WHERE nct_id='NCT90000001' ORDER BY analysis_id").fetchall()
    assert pv == [("<0.001", 0.001, "<"), ("NA", None, None), ("0.0342", 0.0342, "="), ("ND", None, None)]
    assert con.execute("SELECT min_age_years, max_age_years FROM eligibility WHERE nct_id='NCT90000001'").fetchone() == (0.5, 65.0)
    assert con.execute("SELECT time_weeks FROM outcomes WHERE nct_id='NCT90000001'").fetchone() == (24.0,)
    assert con.execute("SELECT has_results, n_arms FROM studies WHERE nct_id='NCT90000003'").fetchone() == (False, 2)
    assert con.execute("SELECT n_arms FROM studies WHERE nct_id='NCT90000004'").fetchone() == (0,)
    regions = dict(con.execute("SELECT country, region FROM countries WHERE nct_id='NCT90000001'").fetchall())
    assert regions == {"Japan": "Asia", "Germany": "Europe", "Atlantis": "Other"}
    assert con.execute("SELECT n_countries FROM studies WHERE nct_id='NCT90000001'").fetchone() == (3,)
    arm = dict(con.execute("SELECT group_id, arm_id FROM result_groups WHERE nct_id='NCT90000001'").fetchall())
    assert arm == {"OG000": 0, "OG001": 1}
    d = con.execute("SELECT value, unit, value_mg, frequency, route, is_placebo FROM doses WHERE nct_id='NCT90000001' AND arm_id=0 AND source='arm'").fetchall()
    assert d == [(10.0, "mg", 10.0, "QD", "oral", False)]


def test_all_tables_exist_even_when_empty(tmp_path):
    src = _write_jsonl_gz(tmp_path / "s.jsonl.gz", ["not json at all"])
    result = build(src, tmp_path / "r.duckdb", threads=1, memory_limit="512MB")
    assert set(result.rows) == set(TABLES) and result.rows["studies"] == 0 and result.rows["rejects"] == 1


def _dump(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in TABLES}
    finally:
        con.close()


def test_build_is_idempotent_and_atomic(tmp_path):
    src = _write_jsonl_gz(tmp_path / "studies.jsonl.gz", [t for t, _r in _bad_lines()])
    db = tmp_path / "out" / "registry.duckdb"
    build(src, db, threads=2, memory_limit="1GB")
    first = _dump(db)
    build(src, db, threads=1, memory_limit="1GB")
    assert _dump(db) == first  # same contents, row order included, whatever the thread count
    assert sorted(p.name for p in db.parent.iterdir() if not p.name.startswith(".duckdb_tmp")) == ["registry.duckdb"]
    # a failing build leaves the previous database untouched and no temp file behind
    with pytest.raises(FileNotFoundError):
        build(tmp_path / "missing.jsonl.gz", db)
    assert _dump(db) == first


def test_stage_cli_writes_db_and_metrics(tmp_path, monkeypatch):
    from deepimagine import cli

    repo = Path(__file__).parents[1]
    (tmp_path / "data" / "raw").mkdir(parents=True)
    _write_jsonl_gz(tmp_path / "data" / "raw" / "studies.jsonl.gz", [t for t, _r in _bad_lines()])
    (tmp_path / "params.yaml").write_text((repo / "params.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert cli.main(["tables", "-S", "tables.threads=1", "-S", "tables.memory_limit=1GB"]) == 0
    metrics = json.loads((tmp_path / "metrics" / "tables.json").read_text())
    assert metrics["studies_in_raw"] == 13
    assert metrics["rows"]["studies"] + metrics["rejects_by_level"]["study"] == 13
    assert metrics["rejects_by_reason"]["study: duplicate nctId"] == 1
    assert set(metrics["rows"]) == set(TABLES) and "seconds" not in metrics       # timings: untracked file
    con = duckdb.connect(str(tmp_path / "data" / "registry.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM studies").fetchone()[0] == metrics["rows"]["studies"]
    con.close()


def test_line_too_long_for_duckdbs_buffers_is_not_lost(tmp_path, monkeypatch):
    """DuckDB's CSV reader drops or fails on a line longer than its buffers: the exact reader takes over."""
    from deepimagine.tables import build as build_mod

    monkeypatch.setattr(build_mod, "MAX_LINE_BYTES", 2**16)
    monkeypatch.setattr(build_mod, "CSV_BUFFER_BYTES", 2**17)
    long_study = _study("NCT90000009")
    long_study["protocolSection"]["identificationModule"]["briefTitle"] = "x" * 200_000
    lines = [json.dumps(_study("NCT90000008")), json.dumps(long_study), "", "{broken", json.dumps(_study("NCT90000010"))]
    src = _write_jsonl_gz(tmp_path / "s.jsonl.gz", lines)
    result = build(src, tmp_path / "r.duckdb", threads=1, memory_limit="512MB")
    assert result.rows["studies"] == 3 and result.studies_in_raw == 4
    con = duckdb.connect(str(tmp_path / "r.duckdb"), read_only=True)
    assert con.execute("SELECT line, reason FROM rejects WHERE level = 'study'").fetchall() == [(4, "invalid JSON")]
    assert con.execute("SELECT length(brief_title) FROM studies WHERE nct_id = 'NCT90000009'").fetchone() == (200_000,)
    con.close()


def test_count_lines_matches_a_line_reader(tmp_path):
    from deepimagine.tables.build import count_lines

    for body in [b"", b"a\n", b"a\nb", b"a\n\n\nb\n", b"x" * 10 + b"\r\n" + b"y"]:
        plain = tmp_path / "f.jsonl"
        plain.write_bytes(body)
        gz = tmp_path / "f.jsonl.gz"
        gz.write_bytes(gzip.compress(body[:3]) + gzip.compress(body[3:]))  # two gzip members
        expected = len(body.splitlines()) if body else 0
        assert count_lines(plain) == count_lines(gz) == expected
