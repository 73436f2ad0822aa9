"""CT Open import: every question kept with its options and answer exactly; malformed items counted."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepimagine.pairs.ct_open import import_ct_open
from deepimagine.questions import Question, render_prompt

CT_OPEN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ct_open" / "winter_2025.jsonl"


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
    prompt = render_prompt(q)
    assert "Telitacicept" in prompt and "Change:" not in prompt and q.options[0] in prompt
    assert Question.from_row(q.to_row()) == q


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
                      "question_bad_answer_index": 2, "question_bad_options": 1, "question_not_an_object": 1}
    assert questions[1].answer_index == 2 and questions[1].context["trial"]["arms"] == []


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="ct_open_path"):
        import_ct_open(tmp_path / "absent.jsonl")
