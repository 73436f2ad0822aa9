"""Operator probes (evaluate/probes.py): on a hand-built world whose true dose-response is known (an
Emax drug in truth.json's format) and hand-built operators with a known response, the probe recovers
that response: an operator that follows the dose reads sign agreement 1 and rank correlation 1, the
reversed one 0 and -1, a flat one nothing; the whole probe writes operators.json, plot data and figures."""
from __future__ import annotations

import json
import math
import re

import pytest

from deepimagine.evaluate import probes
from deepimagine.core.operator import bin_centres
from deepimagine.core import params as params_mod
from deepimagine.core.questions import format_answer

N_TRIALS = 6


def world() -> dict:
    """truth.json for N_TRIALS placebo-controlled trials of one Emax drug (10 and 20 mg) on one endpoint."""
    w = {"endpoints": {"ep": {"placebo": -1.0, "tau_placebo_weeks": 2.0, "kind": "continuous"}},
         "drugs": {"drugx": {"emax": {"ep": {"emax": -12.0, "ed50": 15.0, "hill": 1.2}}, "dose_unit": "mg", "tau_weeks": 3.0}},
         "regions": {r: {"placebo": 1.0, "efficacy": e, "exposure": 1.0} for r, e in
                     (("North America", 1.0), ("Europe", 1.0), ("Asia", 1.2), ("Latin America", 0.9))},
         "sexes": {"FEMALE": {"placebo": 1.0, "efficacy": 1.1}, "MALE": {"placebo": 1.0, "efficacy": 1.0}},
         "age_groups": {"adult": {"placebo": 1.0, "efficacy": 1.0, "exposure": 1.0},
                        "older_adult": {"placebo": 1.0, "efficacy": 0.9, "exposure": 1.1},
                        "pediatric": {"placebo": 1.0, "efficacy": 0.8, "exposure": 1.0}}}
    studies = {}
    for t in range(N_TRIALS):
        studies[f"NCT9{t:07d}"] = {
            "arms": {"Placebo": {"drug": None, "dose": None}, "Drugx 10 mg": {"drug": "drugx", "dose": 10.0},
                     "Drugx 20 mg": {"drug": "drugx", "dose": 20.0}},
            "outcomes": {"Change in Score at Week 12 | Week 12": {"endpoint": "ep", "weeks": 12}},
            "population": {"age_group": "adult", "female_share": 0.5}, "region_weights": {"Europe": 1.0},
            "placebo_factor": 1.0}
    return {"world": w, "studies": studies}


def cells(truth: dict) -> list[dict]:
    """The test-split cells of those trials, each posting its true mean with SD 5."""
    from deepimagine.core.oracle import Oracle

    oracle, rows = Oracle(truth), []
    for nct in truth["studies"]:
        for label, dose in (("Placebo", None), ("Drugx 10 mg", 10.0), ("Drugx 20 mg", 20.0)):
            row = {"nct_id": nct, "split": "test", "arm_label": label, "design_label": label,
                   "arm_type": "PLACEBO_COMPARATOR" if dose is None else "EXPERIMENTAL", "is_placebo": dose is None,
                   "intervention": "placebo" if dose is None else "drugx", "intervention_name": "Drugx",
                   "arm_description": f"{label} once daily", "dose_value": dose, "dose_unit": None if dose is None else "mg",
                   "dose_value_mg": dose, "dose_frequency": None if dose is None else "QD", "conditions": ["Condition"],
                   "phase": "PHASE2", "regions": ["Europe"], "sex": "ALL", "min_age": 18.0, "max_age": 75.0,
                   "enrollment": 300, "title": f"Trial {nct}", "measure": "Change in Score at Week 12",
                   "time_frame": "Week 12", "time_weeks": 12.0, "unit": "points", "better": "lower",
                   "spread": 5.0, "dispersion_type": "Standard Deviation", "n": 100, "posted_date": "2025-01-01"}
            row["value"] = round(oracle.mean(oracle.params(row)), 3)
            rows.append(row)
    return rows


def _dose(text: str):
    m = re.search(r"(\d+(?:\.\d+)?)", text or "")
    return float(m.group(1)) if m else None


class DoseOperator:
    """A hand-built operator with a known response: for a dose step, the bin of k x log2(new / old)
    (k < 0: the drug lowers the score, as the world's Emax does; k > 0: reversed); any other step
    'about the same'. Reads only the step question's public fields, as a model reads its prompt."""

    def __init__(self, k: float):
        self.k = k
        self.asked = 0

    def ask(self, questions):
        out = []
        for q in questions:
            z = 0.0
            if q.factor == "dose" and _dose(q.from_value) and _dose(q.to_value):
                z = self.k * math.log2(_dose(q.to_value) / _dose(q.from_value))
            centres = bin_centres(EDGES_SD)               # -1.05, -0.375, 0, 0.375, 1.05
            best = min(range(5), key=lambda i: abs(centres[i] - z))
            out.append(format_answer([1.0 if i == best else 0.0 for i in range(5)], "hand-built"))
            self.asked += 1
        return out


EDGES_SD, EDGES_REL = (-0.6, -0.15, 0.15, 0.6), (-0.3, -0.05, 0.05, 0.3)


@pytest.fixture(scope="module")
def probe_points():
    truth = world()
    return probes.build_points(cells(truth), probes.Truth(truth), seed=1)


def test_probe_questions_are_one_factor_steps_with_truth(probe_points):
    by_factor = {f: [p for p in probe_points if p.factor == f] for f in probes.FACTORS}
    assert all(by_factor[f] for f in probes.FACTORS), {f: len(v) for f, v in by_factor.items()}
    dose = by_factor["dose"]
    assert len({p.state for p in dose}) == 2 * N_TRIALS       # every drug arm (fewer than SIZES['dose'])
    assert {p.label for p in dose} == {f"x{r:g}" for r in probes.DOSE_RATIOS}
    for p in probe_points:
        assert p.question.category == "change" and p.question.options[2] == "about the same"
        assert p.truth is not None
    # the true change follows the Emax curve: lower (more negative) with more dose, none for phase
    for s in {p.state for p in dose}:
        pts = sorted((p.x, p.truth) for p in dose if p.state == s)
        assert all(a[1] > b[1] for a, b in zip(pts, pts[1:])), pts
    assert all(p.truth == 0 for p in by_factor["phase"])
    # a doubled dose is asked as the step imagining asks it: from -> to in the prompt, posted value as the known result
    q = next(p.question for p in dose if p.label == "x2")
    assert _dose(q.to_value) == 2 * _dose(q.from_value)
    assert q.context["anchor"]["result"]["value"] is not None and q.context["anchor"]["result"]["spread"] == 5.0


@pytest.mark.parametrize("k, sign, rho", [(-0.6, 1.0, 1.0), (0.6, 0.0, -1.0)])
def test_probe_recovers_a_known_dose_response(probe_points, k, sign, rho):
    op = DoseOperator(k)
    res = probes.run_probes(probe_points, {"hand": op}, EDGES_SD, EDGES_REL)
    dose = res["models"]["hand"]["dose"]
    assert op.asked == len(probe_points)
    assert dose["invalid"] == 0 and dose["beyond_band"] > 0
    assert dose["sign_agreement"] == sign and dose["state_sign_agreement"] == sign
    assert dose["rank_corr_within"] == pytest.approx(rho)
    assert dose["rank_corr"] == pytest.approx(rho, abs=0.2)
    # the reading is the expected change of the answered bin
    readings = res["readings"]["hand"]
    assert {r["expected"] for p, r in zip(probe_points, readings) if p.factor == "dose"} <= {-1.05, -0.375, 0.375, 1.05}
    # a factor without effect in the world (phase) read as 'about the same': null rate 1, no sign to agree with
    phase = res["models"]["hand"]["phase"]
    assert phase["null_rate"] == 1.0 and phase["sign_agreement"] is None and phase["rank_corr"] is None


def test_flat_operator_agrees_with_nothing(probe_points):
    res = probes.run_probes(probe_points, {"flat": DoseOperator(0.0)}, EDGES_SD, EDGES_REL)
    dose = res["models"]["flat"]["dose"]
    assert dose["sign_agreement"] == 0.0 and dose["rank_corr"] is None and dose["mean_abs_expected"] == 0


def test_spearman_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    a, b = [1, 2, 2, 5, 3, 9, 0], [2, 1, 4, 4, 3, 8, -1]
    assert probes.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)
    assert probes.spearman([1, 1, 1], [1, 2, 3]) is None


def test_probes_end_to_end_write_metrics_plots_and_figures(tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    truth = world()
    pd.DataFrame(cells(truth)).to_parquet(tmp_path / "cells.parquet")
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    monkeypatch.chdir(tmp_path)          # no models/ here: the probe asks the evaluated predictor itself
    op = DoseOperator(-0.6)
    result = probes.probes(params_mod.from_dict({}), {"sft/imagine": op, "majority": object()}, tmp_path / "cells.parquet",
                           tmp_path / "truth.json")
    assert result["truth"] and set(result["models"]) == {"sft"}
    assert result["models"]["sft"]["dose"]["sign_agreement"] == 1.0
    written = probes.write_probe_outputs(result, tmp_path / "metrics")
    doc = json.loads((tmp_path / "metrics/operators.json").read_text())
    assert doc["models"]["sft"]["dose"]["sign_agreement"] == 1.0 and "points" not in doc
    assert not any("seconds" in k for k in doc)                          # wall-clock numbers stay untracked
    assert json.loads((tmp_path / "metrics/timings/operators.json").read_text())["seconds"] >= 0
    rows = json.loads((tmp_path / "metrics/plots/data/operators/sft.json").read_text())
    assert rows and {"truth", "expected", "factor", "x"} <= set(rows[0])
    curve = json.loads((tmp_path / "metrics/plots/data/operator_dose/sft.json").read_text())
    true_curve = json.loads((tmp_path / "metrics/plots/data/operator_dose/truth.json").read_text())
    assert [r["log2_ratio"] for r in curve] == [-2, -1, 1, 2] and len(true_curve) == 4
    assert [r["change"] for r in curve] == sorted(r["change"] for r in curve)   # aligned: rising with the dose
    for name in ("dose_probe.png", "operator_probes.png"):
        assert (tmp_path / "metrics/plots/images" / name).stat().st_size > 5000
    assert len(written) >= 5


def test_no_llm_or_no_cells_skips(tmp_path):
    result = probes.probes(params_mod.from_dict({}), {"majority": object()}, tmp_path / "cells.parquet", tmp_path / "truth.json")
    assert result["models"] == {} and result["skipped"]
    probes.write_probe_outputs(result, tmp_path)
    assert json.loads((tmp_path / "operators.json").read_text())["models"] == {}
