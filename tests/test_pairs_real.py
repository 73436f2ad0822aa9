"""The pairs stage on real ClinicalTrials.gov records (../shared/data/ctgov_v2), built by the tables stage.

Checked by hand against NCT02552212 (file NCT02278341.json, certolizumab pegol vs placebo, C-AXSPAND):
- outcome 0 (primary, ASDAS-MI response at week 52): placebo 7.0 % vs CZP 47.2 %, posted p '<0.001'
  -> direction higher, comparative 'significantly higher', superiority achieved (response: higher is better);
- outcome 1 (primary, ASAS40 at week 12): 11.4 % vs 47.8 %, p '<0.001' -> the same answers;
- outcome 27 (anterior uveitis flares): 8 vs 4 participants, p '=0.247' -> no significant difference,
  superiority not achieved;
- outcome 26 (nocturnal spinal pain NRS change): -2.1 vs -4.0, p '<0.001' -> significantly lower, an
  improvement (pain: lower is better);
- outcome 12 (BASFI change, week 12): significantly lower, but BASFI is not in the better-direction
  lexicon -> no superiority question (skipped, counted).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepimagine.core import params as params_mod
from deepimagine.core.questions import COMPARATIVE_OPTIONS, DIRECTION_OPTIONS, SUPERIORITY_OPTIONS

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CTGOV = SHARED / "ctgov_v2"
CT_OPEN = SHARED / "ct_open" / "winter_2025.jsonl"
CZP = "NCT02552212"

pytestmark = pytest.mark.skipif(not CTGOV.is_dir(), reason="../shared/data/ctgov_v2 not available")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    from deepimagine.pairs import stage
    from fixtures.registry import registry_from_records

    tmp = registry_from_records(CTGOV, tmp_path_factory.mktemp("real"))
    # cutoff between the four results studies: NCT00763412 (2017), NCT02210780 (2020-05) train;
    # NCT02552212 (2020-08) and NCT05594173 (2022) test
    raw = {"pairs": {"test_cutoff": "2020-06-01", "ct_open_path": str(CT_OPEN) if CT_OPEN.exists() else None}}
    report = stage.run(params_mod.from_dict(raw), registry=tmp / "registry.duckdb", truth_path=tmp / "truth.json",
                       out_dir=tmp / "pairs", metrics_path=tmp / "pairs.json")
    rows = {s: [json.loads(x) for x in (tmp / "pairs" / f"{s}.jsonl").read_text().splitlines()] for s in ("train", "test")}
    return tmp, report, rows


def _czp(rows, outcome_id):
    out = {}
    for r in rows["test"]:
        meta = json.loads(r["meta"])
        if meta["pair_id"] == f"{CZP}|arm|{outcome_id}:OG000>{outcome_id}:OG001":
            out[r["category"]] = r
    return out


def test_czp_primary_outcomes(real):
    _, _, rows = real
    for oid, (a, t) in {0: (7.0, 47.2), 1: (11.4, 47.8)}.items():
        q = _czp(rows, oid)
        assert set(q) == {"direction", "change", "comparative_effect", "superiority"}, oid
        assert q["change"]["answer_index"] == 4                    # +40 points on a binomial SD of ~40: much higher
        d = q["direction"]
        ctx = json.loads(d["context"])
        assert ctx["anchor"]["result"]["value"] == a and "Placebo" in ctx["anchor"]["label"]
        assert "CZP" in ctx["target"]["label"] and ctx["target"]["dose"]["value"] == 200.0
        assert ctx["outcome"]["outcome_type"] == "PRIMARY" and ctx["outcome"]["better"] == "higher"
        assert d["options"] == DIRECTION_OPTIONS and d["answer_index"] == 0
        c = q["comparative_effect"]
        assert c["options"] == COMPARATIVE_OPTIONS and c["answer_index"] == 0        # significantly higher
        assert json.loads(c["meta"])["p_value_text"] == "<0.001"
        s = q["superiority"]
        assert s["options"] == SUPERIORITY_OPTIONS and s["answer_index"] == 0
        assert d["split"] == "test" and d["posted_date"] == "2020-08-17" and d["nct_ids"] == [CZP]


def test_czp_secondary_outcomes(real):
    _, report, rows = real
    uveitis = _czp(rows, 27)
    assert uveitis["comparative_effect"]["answer_index"] == 2 and uveitis["superiority"]["answer_index"] == 1
    pain = _czp(rows, 26)
    assert pain["comparative_effect"]["answer_index"] == 1 and pain["superiority"]["answer_index"] == 0
    basfi = _czp(rows, 12)
    assert basfi["comparative_effect"]["answer_index"] == 1 and "superiority" not in basfi
    assert report["skipped"]["superiority_skipped_unknown_better"] >= 1


def test_no_pair_crosses_split(real):
    _, report, rows = real
    train = {n for r in rows["train"] for n in r["nct_ids"]}
    test = {n for r in rows["test"] for n in r["nct_ids"]}
    assert CZP in test and "NCT02210780" in train and not train & test
    assert all(r["split"] == "train" for r in rows["train"]) and all(r["split"] == "test" for r in rows["test"])
    assert all(v == 0 for v in report["overlap"].values())
    ids = [r["id"] for r in rows["train"] + rows["test"]]
    assert len(ids) == len(set(ids))
    natural_per_study = {}
    for r in rows["train"] + rows["test"]:
        pid = json.loads(r["meta"])["pair_id"]
        natural_per_study.setdefault(r["nct_ids"][0], set()).add(pid)
    assert max(len(v) for v in natural_per_study.values()) <= 40


@pytest.mark.skipif(not CT_OPEN.exists(), reason="CT Open file not available")
def test_ct_open_written(real):
    tmp, report, _ = real
    rows = [json.loads(x) for x in (tmp / "pairs" / "ct_open.jsonl").read_text().splitlines()]
    assert len(rows) == 605 and report["ct_open"]["items"] == 561
    assert {r["split"] for r in rows} == {"test"} and {r["source"] for r in rows} == {"ct_open"}
