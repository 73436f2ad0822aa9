"""Imagining on a CT Open-format item end to end, on a small registry made from the real records in
../shared: the pairs stage gives the item's arms their states (from its text: the trial is not in
the registry) and anchors from the registry's posted cells; imagine, rag and retrieval then answer
it with no fallback, and the answers export in CT Open's official form."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepimagine.core import params as params_mod
from deepimagine.core.semantics import SUP_NO, SUP_YES

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ctgov_v2"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/ctgov_v2 not available")

ARM_A, ARM_B = "Certolizumab pegol 200 mg", "Placebo"
ITEM = {
    "nct_id": "NCT09999901",     # a trial the registry does not hold: its states come from this text
    "endpoint_key": "{'measure': 'Proportion of patients achieving ASAS40 at Week 12', 'description': '', 'timeFrame': 'Week 12', "
                    "'outcome_type': 'primaryOutcomes'}",
    "endpoint": {"measure": "Proportion of patients achieving ASAS40 at Week 12", "description": "", "timeFrame": "Week 12",
                 "outcome_type": "primaryOutcomes"},
    "brief_title": "Certolizumab pegol in axial spondyloarthritis",
    "arms": [{"label": ARM_A, "type": "EXPERIMENTAL", "description": "Certolizumab pegol 200 mg sc Q2W",
              "interventionNames": ["Biological: Certolizumab Pegol"],
              "interventions": [{"type": "BIOLOGICAL", "name": "Certolizumab Pegol"}]},
             {"label": ARM_B, "type": "PLACEBO_COMPARATOR", "description": "Matching placebo",
              "interventionNames": ["Other: Placebo"], "interventions": [{"type": "OTHER", "name": "Placebo"}]}],
    "meta_label": "single_arm", "list_of_tuples": [[ARM_A, "MET", ARM_B]], "listed_arms": None,
    "questions": [{"index": 0, "category": "superiority", "options": [SUP_YES.format(a=ARM_A, b=ARM_B),
                                                                      SUP_NO.format(a=ARM_A, b=ARM_B)],
                   "answer": SUP_YES.format(a=ARM_A, b=ARM_B), "answer_index": 0}],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from deepimagine.pairs import stage
    from fixtures.registry import registry_from_records

    tmp = registry_from_records(SHARED, tmp_path_factory.mktemp("ctimagine"))
    (tmp / "items.jsonl").write_text(json.dumps(ITEM) + "\n")
    # every results study is train (posted before 2024), CT Open anchors posted before 2025-02-01
    params = params_mod.from_dict({"pairs": {"test_cutoff": "2024-01-01", "ct_open_path": str(tmp / "items.jsonl"),
                                             "prospective": False, "ct_open_cutoff": "2025-02-01"},
                                   "model": {"decision": "likelihood"}, "evaluate": {"imagine_k": 1}})
    report = stage.run(params, registry=tmp / "registry.duckdb", truth_path=tmp / "truth.json",
                       out_dir=tmp / "pairs", metrics_path=tmp / "pairs.json")
    from deepimagine.core.questions import read_questions

    return params, report, read_questions(tmp / "pairs" / "ct_open.jsonl")


def test_item_gets_text_states_and_registry_anchors(built):
    _, report, questions = built
    (q,) = questions
    assert report["anchors"]["ct_open"] == {"anchored": 1}
    assert report["arm_states"] == {"arm_state_text": 2}
    states = q.context["arm_states"]
    assert states[ARM_A]["intervention"] == "certolizumab pegol" and states[ARM_B]["is_placebo"]
    anchors = q.context["anchors"]["arms"]
    # the ASAS40 week-12 cells of the CZP trial (NCT02552212), the right arm type first
    assert {a["nct_id"] for lst in anchors.values() for a in lst} == {"NCT02552212"}
    assert "asas40" in q.context["anchors"]["outcome"]
    assert anchors[ARM_A][0]["intervention"] == "certolizumab pegol" and anchors[ARM_B][0]["is_placebo"]
    assert anchors[ARM_A][0]["value"] > anchors[ARM_B][0]["value"]        # 47.8 % vs 11.4 %


def test_imagine_rag_and_retrieval_answer_without_fallback(built, tiny_base_dir, tmp_path):
    from deepimagine.evaluate.export import export_answers
    from deepimagine.evaluate.llm import LLMPredictor, RetrievalPredictor

    params, _, questions = built
    models = tmp_path / "models"
    models.mkdir()
    (models / "base").symlink_to(tiny_base_dir, target_is_directory=True)
    retrieval = RetrievalPredictor(params)
    (r,) = retrieval.predict(questions)
    assert not any(k.startswith("fallback") for k in retrieval.counts)
    assert r.valid and r.probs[0] > 0.9          # the best anchors' posted results: CZP 47.8 % vs placebo 11.4 %
    for mode in ("imagine", "rag"):
        llm = LLMPredictor(params, "base", mode, models_dir=models)
        (p,) = llm.predict(questions)
        assert p.valid and abs(sum(p.probs) - 1) < 1e-6
        assert not any(k.startswith("fallback") for k in llm.counts), llm.counts
    assert llm.counts["rag"] == 1
    out = export_answers(questions, {"retrieval": [r]}, tmp_path / "answers")
    assert out
