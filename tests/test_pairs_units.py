"""Pure pieces of the pairs stage: better-direction lexicon, dispersion -> SD, significance, top-k, dose chains."""
from __future__ import annotations

import math

import numpy as np
import pytest

from deepimagine.pairs.approximate import neighbour_pairs
from deepimagine.pairs.better import better_from_text
from deepimagine.core.operator import cell_sd
from deepimagine.pairs.build import direction_answer, direction_margin, significance
from deepimagine.pairs.natural import cap_pairs, outcome_pairs


@pytest.mark.parametrize("measure, better", [
    ("All-cause mortality at Day 28", "lower"),
    ("Number of Participants With Treatment-Emergent Adverse Events", "lower"),
    ("Change From Baseline in Nocturnal Spinal Pain NRS at Week 52", "lower"),
    ("Percentage of Participants With ACR20 Response at Week 24", "higher"),
    ("Progression-free Survival", "higher"),
    ("Overall survival", "higher"),
    ("Clinical Remission at Week 8", "higher"),
    ("Percentage of Participants Achieving Pain Relief", "higher"),
    ("Time to First Relapse", None),
    ("Number of Subjects Without Relevant Changes to Background Medication", None),
    ("Change From Baseline in HbA1c", None),
    ("", None),
    (None, None),
])
def test_better_lexicon(measure, better):
    assert better_from_text(measure) == better


def test_cell_sd_from_dispersion():
    assert cell_sd({"dispersion_type": "STANDARD_DEVIATION", "spread": 2.0}) == 2.0
    assert cell_sd({"dispersion_type": "STANDARD_ERROR", "spread": 0.5, "n": 100}) == pytest.approx(5.0)
    assert cell_sd({"dispersion_type": "STANDARD_ERROR", "spread": 0.5, "n": None}) is None
    ci = cell_sd({"dispersion_type": "95% Confidence Interval", "lower_limit": 1.0, "upper_limit": 2.0 * 1.959963984540054 + 1,
                  "n": 25})
    assert ci == pytest.approx(5.0)
    assert cell_sd({"dispersion_type": "INTER_QUARTILE_RANGE", "lower_limit": 0.0, "upper_limit": 1.349}) == pytest.approx(1.0)
    assert cell_sd({"unit": "percentage of participants", "value": 50.0}) == pytest.approx(50.0)
    assert cell_sd({"unit": "participants", "value": 50.0}) is None
    assert cell_sd({"dispersion_type": "FULL_RANGE", "lower_limit": 0.0, "upper_limit": 9.0}) is None


def test_margin_and_direction():
    a = {"value": -0.1, "dispersion_type": "STANDARD_DEVIATION", "spread": 1.0}
    t = {"value": -0.5, "dispersion_type": "STANDARD_DEVIATION", "spread": 2.0}
    m, how = direction_margin(a, t, 0.2, 0.05)
    assert how == "sd" and m == pytest.approx(0.2 * math.sqrt(2.5))
    m, how = direction_margin({"value": 40.0}, {"value": 41.0}, 0.2, 0.05)
    assert how == "relative" and m == pytest.approx(2.0)
    assert direction_answer(40.0, 41.0, 2.0) == 2 and direction_answer(40.0, 43.0, 2.0) == 0
    assert direction_answer(40.0, 37.0, 2.0) == 1


@pytest.mark.parametrize("p, mod, status", [
    (0.001, "<", "yes"), (0.05, "<", "yes"), (0.05, "=", "no"), (0.049, "=", "yes"), (0.05, "<=", "no"),
    (0.01, ">", "undecided"), (0.05, ">", "no"), (None, None, "missing"), (0.2, None, "no"),
])
def test_significance(p, mod, status):
    assert significance({"p_value": p, "p_value_modifier": mod}, 0.05) == status


def test_neighbour_pairs_top_k_and_threshold():
    emb = np.array([[1, 0], [0.99, 0.141], [0.9, 0.436], [0, 1]], dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    pairs = neighbour_pairs(emb, top_k=1, min_sim=0.5)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1), (1, 2)]     # 3's best neighbour (2) is below 0.5
    assert all(s >= 0.5 for _, _, s in pairs)
    assert neighbour_pairs(emb[:1], 3, 0.0) == []


def _cell(gid, placebo=False, dose=None, rank=6, key="drugx"):
    return {"nct_id": "NCT1", "outcome_id": 0, "group_id": gid, "is_placebo": placebo, "dose_value": dose,
            "dose_unit": "mg" if dose else None, "dose_frequency": "QD", "interventions_key": "placebo" if placebo else key,
            "arm_rank": 0 if placebo else rank, "arm_label": gid, "value": 1.0}


def test_dose_chain_kinds():
    cells = [_cell("OG000", placebo=True), _cell("OG001", dose=25.0), _cell("OG002", dose=5.0), _cell("OG003", dose=10.0)]
    pairs = {(p["anchor"]["group_id"], p["target"]["group_id"]): p for p in outcome_pairs(cells)}
    assert len(pairs) == 6
    steps = {k: p["meta"]["step"] for k, p in pairs.items() if p["kind"] == "dose_successive"}
    assert steps == {("OG000", "OG002"): 1, ("OG002", "OG003"): 2, ("OG003", "OG001"): 3}
    assert {k for k, p in pairs.items() if p["kind"] == "dose"} == {("OG002", "OG001")}
    assert {k for k, p in pairs.items() if p["kind"] == "arm"} == {("OG000", "OG001"), ("OG000", "OG003")}
    assert len({p["meta"]["chain_id"] for p in pairs.values() if p["kind"] == "dose_successive"}) == 1
    # two groups at one dose: no chain, the dose pairs stay 'dose'
    cells2 = [_cell("OG000", placebo=True), _cell("OG001", dose=5.0), _cell("OG002", dose=5.0), _cell("OG003", dose=10.0)]
    kinds = sorted(p["kind"] for p in outcome_pairs(cells2))
    assert "dose_successive" not in kinds and kinds.count("dose") == 2
    # a different intervention set is an arm pair, not a dose pair
    cells3 = [_cell("OG000", dose=5.0), _cell("OG001", dose=10.0, key="drugx + metformin")]
    assert [p["kind"] for p in outcome_pairs(cells3)] == ["arm"]


def test_cap_is_deterministic_and_keeps_chains():
    cells = [_cell("OG000", placebo=True)] + [_cell(f"OG00{i}", dose=float(i)) for i in range(1, 6)]
    pairs = outcome_pairs(cells)
    assert len(pairs) == 15
    capped = cap_pairs(list(pairs), 7, set())
    assert capped == cap_pairs(list(reversed(pairs)), 7, set())
    assert len(capped) == 7 and {p["kind"] for p in capped} == {"dose_successive", "dose", "arm"}
    steps = sorted(p["meta"]["step"] for p in capped if p["kind"] == "dose_successive")
    assert steps == list(range(1, len(steps) + 1))              # a chain's steps are kept from the start


def test_embedding_model_by_path_or_name(tmp_path):
    """Any sentence-transformers model by path (here a copy of the shipped one) embeds as the default does;
    an unknown name fails with the name in the error, not silently."""
    import shutil

    from deepimagine.core.embed import DEFAULT_MODEL, embed_texts, resolve_model

    copy = tmp_path / "my-encoder"
    shutil.copytree(resolve_model(DEFAULT_MODEL), copy)
    assert resolve_model(str(copy)) == str(copy)
    texts = ["Drug X 10 mg in type 2 diabetes", "Placebo in asthma", "Drug X 10 mg in type 2 diabetes"]
    default = embed_texts(texts, DEFAULT_MODEL)
    by_path = embed_texts(texts, str(copy))
    assert default.shape == (3, 384) and np.allclose(np.linalg.norm(default, axis=1), 1, atol=1e-4)
    assert np.allclose(default, by_path, atol=1e-5)
    assert float(default[0] @ default[2]) > 0.999 > float(default[0] @ default[1])
    with pytest.raises(Exception, match="no-such-encoder"):
        embed_texts(texts, str(tmp_path / "no-such-encoder"))
