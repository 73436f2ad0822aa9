"""Anchor retrieval across the wordings of one endpoint (``pairs.anchor_pool: endpoint``)."""
from __future__ import annotations

import numpy as np
import pytest

from deepimagine.core.states import arm_similarity
from deepimagine.pairs.anchors import AnchorIndex, endpoint_key, same_endpoint

EASI_A = "Proportion of Participants With EASI-75 at Week 16"
EASI_B = "Percentage of Participants Achieving EASI-75 at Week 12"
EASI_50 = "Proportion of Participants With EASI-50 at Week 16"


def cell(nct, label, drug, measure, unit="percent of participants", weeks=16.0, placebo=False, value=10.0):
    return {"nct_id": nct, "arm_label": label, "intervention": None if placebo else drug, "is_placebo": placebo,
            "arm_type": "PLACEBO_COMPARATOR" if placebo else "EXPERIMENTAL", "dose_value": None if placebo else 30.0,
            "dose_value_mg": None if placebo else 30.0, "dose_unit": "mg", "regions": ["Europe"], "sex": "ALL",
            "phase": "PHASE2", "time_weeks": weeks, "time_frame": f"Week {weeks:g}", "conditions": ["Atopic Dermatitis"],
            "measure": measure, "unit": unit, "value": value, "spread": 20.0, "dispersion_type": "Standard Deviation",
            "n": 50, "posted_date": "2019-01-01"}


def embed(texts):
    """A deterministic stand-in for the sentence model: bags of a few words (both EASI-75 wordings
    are close, EASI-50 closer still to the first: the key, not the cosine, must keep it out)."""
    vocab = ["easi-75", "easi-50", "proportion", "percentage", "participants", "week", "with", "achieving"]
    m = np.array([[t.lower().count(w) for w in vocab] for t in texts], dtype=np.float32) + 1e-3
    return m / np.linalg.norm(m, axis=1, keepdims=True)


@pytest.mark.parametrize("a, b, same", [
    (EASI_A, EASI_B, True),
    ("Change From Baseline in FEV1 at Week 12", "Change from baseline to Week 24 in forced expiratory volume in "
     "1 second (FEV1)", True),
    ("Change from baseline in mean seated systolic blood pressure (SBP) at week 12",
     "Change from baseline in mean seated diastolic blood pressure (DBP) at week 12", False),
    (EASI_A, EASI_50, False),
    # the keys alone match a mean change and a responder rate of one measure; the unit (% vs percent of
    # participants) keeps them apart in the index (retrieve pools blocks of the question's unit only)
    ("Change From Baseline to Week 24 in HbA1c", "Proportion of Participants With HbA1c <7.0% at Week 24", True),
])
def test_same_endpoint_ignores_time_points_and_generic_wording(a, b, same):
    assert same_endpoint(endpoint_key(a), endpoint_key(b)) is same


def test_endpoint_key_drops_time_and_wording():
    assert endpoint_key(EASI_A) == endpoint_key(EASI_B) == frozenset({"easi-75"})
    assert not same_endpoint(frozenset(), frozenset({"x"}))


def _pool():
    # the question's wording (EASI_A) is posted only by trials of another drug; the target drug's
    # trials worded it as EASI_B (two time points each), one posted counts (another unit), one EASI-50
    return [cell("NCT1", "Other 30 mg", "otherumab", EASI_A), cell("NCT1", "Placebo", None, EASI_A, placebo=True),
            cell("NCT2", "Other 60 mg", "otherumab", EASI_A), cell("NCT2", "Placebo", None, EASI_A, placebo=True),
            cell("NCT3", "Target 30 mg", "targetilast", EASI_B, weeks=12.0, value=30.0),
            cell("NCT3", "Target 30 mg", "targetilast", EASI_B.replace("12", "4"), weeks=4.0, value=15.0),
            cell("NCT3", "Placebo", None, EASI_B, weeks=12.0, placebo=True),
            cell("NCT4", "Target 30 mg", "targetilast", EASI_B.replace("Percentage", "Number"), unit="participants"),
            cell("NCT5", "Target 30 mg", "targetilast", EASI_50)]


def _targets():
    drug = cell("NCT9", "Targetilast 30 mg", "targetilast", EASI_A)
    pbo = cell("NCT9", "Placebo", None, EASI_A, placebo=True)
    return {"drug": drug, "placebo": pbo}


def test_block_pool_keeps_one_wording():
    index = AnchorIndex.build(_pool(), embed)
    got = index.retrieve(embed([EASI_A])[0], _targets(), 3, 0.5, {"NCT9"})
    assert {a["nct_id"] for a in got["arms"]["drug"]} == {"NCT1", "NCT2"} and got["blocks"] == 1


def test_endpoint_pool_finds_the_target_drug_under_another_wording():
    pool = _pool()
    index = AnchorIndex.build(pool, embed)
    q = embed([EASI_A])[0]
    got = index.retrieve(q, _targets(), 3, 0.5, {"NCT9"}, pool="endpoint", query_text=EASI_A, outcome_weight=2.0)
    drug = got["arms"]["drug"]
    # the target's own drug first (one cell per trial arm: NCT3's week-4 cell is the same arm again),
    # never the count-unit block (NCT4) nor EASI-50 (NCT5)
    assert [(a["nct_id"], a["time_weeks"]) for a in drug] == [("NCT3", 12.0), ("NCT1", 16.0), ("NCT2", 16.0)]
    assert got["blocks"] == 3 and got["unit"] == "percent of participants"
    # brute force over the same-endpoint, same-unit cells: arm similarity + 2 x outcome similarity
    sims = {t: float(embed([t])[0] @ q) for t in {c["measure"] for c in pool}}
    ok = [c for c in pool if same_endpoint(endpoint_key(c["measure"]), endpoint_key(EASI_A))
          and c["unit"] == "percent of participants"]
    best = {}
    for c in ok:
        sc = arm_similarity(c, _targets()["drug"]) + 2.0 * sims[c["measure"]]
        key = (c["nct_id"], c["arm_label"])
        best[key] = max(best.get(key, -1), sc)
    brute = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    assert [(a["nct_id"], a["arm_label"]) for a in drug] == [k for k, _ in brute]
    assert [a["score"] for a in drug] == pytest.approx([round(v, 4) for _, v in brute])
    # the placebo arm's anchors include the trial that holds the target drug (the chains can pair)
    assert "NCT3" in [a["nct_id"] for a in got["arms"]["placebo"]]


def test_ties_go_to_the_trial_that_fits_every_arm():
    """Placebo arms of one wording tie as arms: the one whose trial also holds the target drug wins."""
    pool = [cell(f"NCT{i}", "Placebo", None, EASI_A, placebo=True) for i in range(1, 5)]
    pool += [cell("NCT4", "Target 30 mg", "targetilast", EASI_A), cell("NCT2", "Other 30 mg", "otherumab", EASI_A)]
    index = AnchorIndex.build(pool, embed)
    got = index.retrieve(embed([EASI_A])[0], _targets(), 2, 0.5, {"NCT9"}, pool="endpoint", query_text=EASI_A,
                         outcome_weight=2.0)
    assert [a["nct_id"] for a in got["arms"]["placebo"]] == ["NCT4", "NCT2"]
    assert [a["nct_id"] for a in got["arms"]["drug"]] == ["NCT4", "NCT2"]


def test_endpoint_pool_respects_the_cutoff_and_exclusions():
    pool = _pool()
    pool[4]["posted_date"] = pool[5]["posted_date"] = pool[6]["posted_date"] = "2030-01-01"
    index = AnchorIndex.build(pool, embed)
    got = index.retrieve(embed([EASI_A])[0], _targets(), 3, 0.5, {"NCT1"}, before="2025-01-01", pool="endpoint",
                         query_text=EASI_A, outcome_weight=2.0)
    assert {a["nct_id"] for a in got["arms"]["drug"]} == {"NCT2"}
