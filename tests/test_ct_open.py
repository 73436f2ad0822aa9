"""CT Open import: CT Open's own pickle (restricted unpickler) and JSON Lines give the same questions,
every question kept with its options, answer and official key exactly; malformed items counted."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from deepimagine.pairs.ct_open import CTOpenPickleError, import_ct_open, load_restricted_pickle, official_category
from deepimagine.core.questions import Question, render_prompt

SHARED_CT_OPEN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ct_open"
CT_OPEN = SHARED_CT_OPEN / "winter_2025.jsonl"
WINTER_PICKLE = SHARED_CT_OPEN / "Winter_2025.pickle"


@pytest.mark.skipif(not CT_OPEN.exists(), reason="../shared CT Open file not available")
def test_import_all_questions_preserved():
    questions, counts = import_ct_open(CT_OPEN)
    assert counts["items"] == 561 and counts["questions"] == 605 and len(questions) == 605
    assert not {k for k in counts if k.startswith(("line_", "item_", "question_"))} - {"question_answer_text_mismatch"}
    by_cat = {}
    for q in questions:
        by_cat[q.category] = by_cat.get(q.category, 0) + 1
    assert by_cat == {"superiority": 470, "endpoint": 80, "comparative_effect": 55}
    # options and answers exactly as in the file, in file order
    expected = []
    for line in CT_OPEN.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        expected += [(item["nct_id"], q["category"], q["options"], q["answer_index"], q["answer"]) for q in item["questions"]]
    got = [(q.nct_ids[0], q.category, q.options, q.answer_index, q.meta["answer"]) for q in questions]
    assert got == expected
    assert all(q.options[q.answer_index] == q.meta["answer"] for q in questions)
    assert len({q.id for q in questions}) == 605
    q = questions[0]
    assert q.source == "ct_open" and q.kind == "ct_open" and q.split == "test"
    assert q.context["trial"]["arms"][0]["label"] == "Telitacicept"
    assert q.context["trial"]["arms"][0]["interventions"][0]["name"] == "Telitacicept"
    assert q.context["outcome"]["time_frame"] == "39 weeks"
    assert q.meta["meta_label"] == "single_arm" and q.meta["list_of_tuples"] == [["Telitacicept", "MET", "Placebo"]]
    assert (q.from_value, q.to_value) == ("Placebo", "Telitacicept")
    assert (q.meta["nct_id"], q.meta["question_index"]) == ("NCT05799287", 0)
    assert q.meta["endpoint_key"].startswith("{'measure': 'Change from baseline in urine protein")
    prompt = render_prompt(q)
    assert "Telitacicept" in prompt and "Change:" not in prompt and q.options[0] in prompt
    assert Question.from_row(q.to_row()) == q


@pytest.mark.skipif(not (WINTER_PICKLE.exists() and CT_OPEN.exists()), reason="../shared CT Open files not available")
def test_pickle_as_shipped_imports_to_the_same_questions_as_jsonl():
    from_pickle, counts = import_ct_open(WINTER_PICKLE)
    from_jsonl, _ = import_ct_open(CT_OPEN)
    assert counts == {"items": 561, "questions": 605}
    assert [q.to_row() for q in from_pickle] == [q.to_row() for q in from_jsonl]
    # the official key of every question points back at CT Open's item and its question
    data = load_restricted_pickle(WINTER_PICKLE)
    for q in from_pickle:
        item = data[(q.meta["nct_id"], q.meta["endpoint_key"])]
        assert item["question_list_of_lists"][q.meta["question_index"]] == q.options
        assert item["answer_list_of_lists"][q.meta["question_index"]] == q.options[q.answer_index]
        assert q.category == official_category(len(q.options), item["meta_label"])
    # the published evidence reaches no question field
    evidence = {str(u) for item in data.values() for u in (item.get("reported_results") or {})}
    evidence |= {v for item in data.values() for v in (item.get("reported_results") or {}).values()
                 if isinstance(v, str) and len(v) > 40}
    assert len(evidence) > 100
    for q in from_pickle:
        row = json.dumps(q.to_row(), ensure_ascii=False)
        assert "reported_results" not in row and "question_idx2result_idx_list" not in row
        assert not any(e in row for e in evidence)


class _Planted:
    """Unpickling this would call os.system (the classic pickle payload)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


def test_pickle_with_a_global_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    payload = {("NCT1", "{'measure': 'm'}"): {"meta_label": "single_arm", "arms": [_Planted(marker)],
                                             "question_list_of_lists": [["a", "b"]], "answer_list_of_lists": ["a"]}}
    path = tmp_path / "Evil.pickle"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(CTOpenPickleError, match=r"Evil\.pickle: refused global (posix|nt|os)\.system"):
        import_ct_open(path)
    assert not marker.exists()
    # a protocol-0 pickle of a set needs the global builtins.set: refused too, by name
    legacy = tmp_path / "legacy.pkl"
    legacy.write_bytes(pickle.dumps({1, 2}, protocol=0))
    with pytest.raises(CTOpenPickleError, match=r"refused global __builtin__\.set"):
        load_restricted_pickle(legacy)


def test_pickle_items_read_with_the_official_rule(tmp_path):
    ep = "{'measure': 'Pain', 'description': 'VAS', 'timeFrame': '12 weeks', 'outcome_type': 'primaryOutcomes'}"
    data = {
        ("NCT1", ep): {"brief_title": "t", "meta_label": "no_arm", "arms": [{"label": "A"}], "list_of_tuples": [],
                       "listed_arms": None, "reported_results": {"http://x": "secret result"},
                       "question_list_of_lists": [["met", "not met"], ["x", "y", "z"]],
                       "answer_list_of_lists": ["not met", "z"]},
        ("NCT2", "not a dict literal"): {"meta_label": "distinguishable_arm", "arms": [],
                                         "question_list_of_lists": [["better", "worse", "same"], ["a", "b"]],
                                         "answer_list_of_lists": ["same", "c"]},
        ("NCT3",): {"meta_label": "single_arm"},
        ("NCT4", ep): "not a dict",
    }
    path = tmp_path / "Mini_2025.pickle"
    path.write_bytes(pickle.dumps(data, protocol=5))
    questions, counts = import_ct_open(path)
    assert [(q.id, q.category, q.answer_index) for q in questions] == [
        ("ctopen-NCT1-L1-Q0", "endpoint", 1), ("ctopen-NCT2-L2-Q0", "comparative_effect", 2)]
    assert counts == {"items": 2, "questions": 2, "item_bad_key": 1, "item_not_a_dict": 1,
                      "item_endpoint_not_a_dict": 1, "question_unknown_category": 1,  # 3-way implicit
                      "question_bad_answer_index": 1}                                  # answer not an option
    q = questions[0]
    assert q.context["outcome"] == {"measure": "Pain", "description": "VAS", "time_frame": "12 weeks",
                                    "outcome_type": "primaryOutcomes"}
    assert (q.meta["nct_id"], q.meta["endpoint_key"], q.meta["question_index"]) == ("NCT1", ep, 0)
    assert "secret" not in json.dumps(q.to_row())
    assert questions[1].meta["endpoint_key"] == "not a dict literal"
    assert questions[1].context["outcome"]["measure"] == "not a dict literal"


def test_official_category_rule():
    assert official_category(2, "no_arm") == official_category(2, "no_distinguishable_arm") == "endpoint"
    assert official_category(2, "single_arm") == official_category(2, "distinguishable_arm") == "superiority"
    assert official_category(3, "single_arm") == "comparative_effect"
    assert official_category(3, "no_arm") is None and official_category(2, "other") is None


def test_unknown_suffix_is_a_clear_error(tmp_path):
    path = tmp_path / "ct.csv"
    path.write_text("x")
    with pytest.raises(ValueError, match="ct_open_path.*pickle"):
        import_ct_open(path)


def test_malformed_items_counted(tmp_path):
    good = {"nct_id": "NCT1", "endpoint": {"measure": "m"}, "brief_title": "t", "arms": [{"label": "A"}],
            "meta_label": "x", "list_of_tuples": [], "questions": [
                {"index": 0, "category": "superiority", "options": ["yes", "no"], "answer": "no", "answer_index": 1},
                {"index": 1, "category": "nonsense", "options": ["a", "b"], "answer_index": 0},
                {"index": 2, "category": "endpoint", "options": ["a", "b"], "answer_index": 5},
                {"index": 3, "category": "endpoint", "options": "ab", "answer_index": 0},
                {"index": 4, "category": "endpoint", "options": ["a", "b"], "answer_index": True},
                "not a question"]}
    lines = [json.dumps(good), "{not json", json.dumps([1, 2]), json.dumps({"questions": []}),
             json.dumps({"nct_id": "NCT2", "questions": "x"}), "",
             json.dumps({"nct_id": "NCT3", "endpoint": None, "arms": None, "questions": [
                 {"category": "comparative_effect", "options": ["a", "b", "c"], "answer_index": 2}]})]
    path = tmp_path / "ct.jsonl"
    path.write_text("\n".join(lines) + "\n")
    questions, counts = import_ct_open(path)
    assert [q.id for q in questions] == ["ctopen-NCT1-L1-Q0", "ctopen-NCT3-L7-Q0"]
    assert counts == {"items": 4, "questions": 2, "line_not_json": 1, "line_not_an_object": 1,
                      "item_missing_nct_id": 1, "item_without_questions": 1, "question_unknown_category": 1,
                      "question_bad_answer_index": 2, "question_bad_options": 1, "question_not_an_object": 1,
                      "question_without_official_key": 2}   # no endpoint_key: not exportable
    assert questions[1].answer_index == 2 and questions[1].context["trial"]["arms"] == []


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="ct_open_path"):
        import_ct_open(tmp_path / "absent.jsonl")
