"""The evaluate stage end to end on fixture files in a temp dir; predictors registry; sampling."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from deepimagine.core import io
from deepimagine.baselines import stage as baselines_stage
from deepimagine.evaluate import stage as evaluate_stage
from deepimagine.evaluate.predictors import MajorityPredictor, Prediction, expand_names, make_predictors
from deepimagine.core.params import Params, default_params
from deepimagine.core.questions import format_answer, parse_decision
from fixtures.baselines import CT_OPEN, ct_open_questions, make_questions


def _params(**evaluate) -> Params:
    p = default_params()
    p.baselines.rf_n_estimators = 30
    p.baselines.lgbm_n_estimators = 40
    p.evaluate.bootstrap = 100
    p.evaluate.max_llm_questions_local = None      # the local benchmark sampled as max_llm_questions says
    for k, v in evaluate.items():
        setattr(p.evaluate, k, v)
    return p


def _write_pairs(root: Path, with_ct_open: bool) -> None:
    pairs = root / "data" / "pairs"
    io.write_jsonl(pairs / "train.jsonl", [q.to_row() for q in make_questions(240, 11)])
    io.write_jsonl(pairs / "test.jsonl", [q.to_row() for q in make_questions(90, 12, "test")])
    if with_ct_open:
        io.write_jsonl(pairs / "ct_open.jsonl", [q.to_row() for q in ct_open_questions(limit=120)])


def test_stage_writes_metrics_report_and_plots(tmp_path, monkeypatch, capsys):
    with_ct = CT_OPEN.exists()
    _write_pairs(tmp_path, with_ct)
    monkeypatch.chdir(tmp_path)
    params = _params()
    baselines_stage.run(params)
    assert (tmp_path / "models/baselines/summary.json").exists()
    evaluate_stage.run(params)  # base/sft/rl: no model directories here -> skipped with a warning

    ev = json.loads((tmp_path / "metrics/eval.json").read_text())
    benches = {"test", "ct_open"} if with_ct else {"test"}
    assert set(ev) == benches  # no LLM predictors -> full sets, no *_full duplicates
    for bench in benches:
        # retrieval and prior run without a model; the oracle needs the simulated truth.json (absent: skipped)
        assert set(ev[bench]) == {"majority", "logistic", "random_forest", "lightgbm", "retrieval", "prior"}
        for res in ev[bench].values():
            assert set(res) == {"overall_bacc", "overall_f1", "overall_ce", "ece", "invalid_rate", "categories"}
            assert res["invalid_rate"] == 0
        detail = json.loads((tmp_path / f"metrics/predictions/{bench}/lightgbm.json").read_text())
        assert "ci" in detail and "by_factor" in detail and "calibration" in detail
        rows = (tmp_path / f"metrics/predictions/{bench}/lightgbm.jsonl").read_text().splitlines()
        assert len(rows) == detail["n"]
        for kind in ("calibration", "confusion", "by_factor"):
            assert (tmp_path / f"metrics/plots/images/{bench}_{kind}.png").stat().st_size > 1000
            assert (tmp_path / f"metrics/plots/data/{kind}/{bench}/majority.json").exists()
    # the rule in the fixture is learnable: LightGBM beats the majority class on the internal test set
    assert ev["test"]["lightgbm"]["overall_bacc"] > ev["test"]["majority"]["overall_bacc"] + 0.15
    if with_ct:
        detail = json.loads((tmp_path / "metrics/predictions/ct_open/majority.json").read_text())
        assert "comparative_effect_3way" in detail["categories"]
        assert (tmp_path / "metrics/predictions/ct_open/lightgbm.answers.pkl").exists()  # CT Open's answer form
    report = (tmp_path / "metrics/report.md").read_text()
    assert "| lightgbm | **overall** |" in report and "[" in report  # CIs present
    # one row per predictor x category, each with BAcc, macro-F1 and CE and a 95% interval on each
    import re

    for predictor in ("majority", "logistic", "random_forest", "lightgbm"):
        for category in ("direction", "comparative_effect", "superiority", "comparative_effect_3way"):
            row = next((line for line in report.splitlines() if line.startswith(f"| {predictor} | {category} |")), None)
            assert row is not None, (predictor, category)
            assert len(re.findall(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", row)) == 3, row
    assert "| lightgbm | **overall** |" in capsys.readouterr().out


class EchoLLM:
    """A text-answering predictor (stands in for an LLM): answers via the DECISION format, one garbled."""

    def __init__(self, name: str):
        self.name = name
        self.seen: list[str] = []

    def predict(self, questions):
        out = []
        for i, q in enumerate(questions):
            self.seen.append(q.id)
            text = "I am not sure." if i == 0 else format_answer([1.0] + [0.0] * (len(q.options) - 1), "first")
            parsed = parse_decision(text, len(q.options))
            out.append(Prediction(q.id, parsed.probs, parsed.valid, text))
        return out


def test_llm_sampling_same_questions_and_full(tmp_path):
    train, test = make_questions(150, 21), make_questions(120, 22, "test")
    params = _params(max_llm_questions=30)
    llm = EchoLLM("sft/direct")
    predictors = {"majority": MajorityPredictor(train), "sft/direct": llm}
    results = evaluate_stage.evaluate_all(params, train, {"test": test}, predictors, metrics_dir=tmp_path)
    assert set(results) == {"test", "test_full"}
    assert results["test"]["sft/direct"]["n"] == results["test"]["majority"]["n"] == 30
    assert set(results["test_full"]) == {"majority"} and results["test_full"]["majority"]["n"] == 120
    sampled = [json.loads(x)["id"] for x in (tmp_path / "predictions/test/majority.jsonl").read_text().splitlines()]
    assert sampled == llm.seen                                           # the very same questions
    assert results["test"]["sft/direct"]["invalid_rate"] == pytest.approx(1 / 30)
    assert (tmp_path / "predictions/test/sft_direct.jsonl").exists()
    ev = json.loads((tmp_path / "eval.json").read_text())
    assert ev["test"]["sft/direct"]["invalid_rate"] == pytest.approx(1 / 30, abs=1e-4)
    # evaluate.max_llm_questions_local sizes the local (test) benchmark's sample on its own
    params.evaluate.max_llm_questions_local = 50
    results = evaluate_stage.evaluate_all(params, train, {"test": test}, {"sft/direct": EchoLLM("sft/direct")},
                                          metrics_dir=tmp_path / "local")
    assert results["test"]["sft/direct"]["n"] == 50 and params.evaluate.sample_size("prospective") == 30


def test_paired_comparisons_written_and_reported(tmp_path):
    train, test = make_questions(150, 21), make_questions(120, 22, "test")
    params = _params(max_llm_questions=40, comparisons=["sft/direct vs majority", "rl/direct vs majority"])
    predictors = {"majority": MajorityPredictor(train), "sft/direct": EchoLLM("sft/direct")}
    results = evaluate_stage.evaluate_all(params, train, {"test": test}, predictors, metrics_dir=tmp_path)
    comp = json.loads((tmp_path / "comparisons.json").read_text())
    assert set(comp) == {"test"} and set(comp["test"]) == {"sft/direct vs majority"}  # rl/direct did not run
    row = comp["test"]["sft/direct vs majority"]
    assert row["n"] == 40
    assert row["bacc_diff"] == pytest.approx(results["test"]["sft/direct"]["overall_bacc"]
                                             - results["test"]["majority"]["overall_bacc"], abs=1e-9)
    assert row["bacc_lo"] <= row["bacc_diff"] <= row["bacc_hi"] and 0 <= row["bacc_p_a_better"] <= 1
    assert all(isinstance(v, (int, float)) for v in row.values())  # flat scalars for dvc metrics
    report = (tmp_path / "report.md").read_text()
    assert "paired differences" in report and "| sft/direct vs majority | 40 |" in report


def test_stratified_sample_deterministic_and_proportional():
    qs = make_questions(300, 31, "test")
    a = evaluate_stage.stratified_sample(qs, 60, seed=1)
    assert [q.id for q in a] == [q.id for q in evaluate_stage.stratified_sample(qs, 60, seed=1)]
    assert len(a) == 60 and [q.id for q in a] != [q.id for q in evaluate_stage.stratified_sample(qs, 60, seed=2)]
    per_cat = {c: sum(q.category == c for q in a) for c in {q.category for q in qs}}
    assert all(v == 20 for v in per_cat.values())                        # 100 per category -> 20 each
    assert evaluate_stage.stratified_sample(qs, None, 1) == qs and len(evaluate_stage.stratified_sample(qs, 999, 1)) == 300


def test_stratified_sample_spreads_over_clusters():
    qs = make_questions(300, 31, "test")
    # 300 questions in 30 trials of uneven size (trial t holds t+1..: a few large trials, many small)
    sizes = [i % 10 + 1 for i in range(30)]
    sizes[0] += 300 - sum(sizes)
    clusters = [f"T{t}" for t, n in enumerate(sizes) for _ in range(n)]
    plain = evaluate_stage.stratified_sample(qs, 60, seed=1)
    spread = evaluate_stage.stratified_sample(qs, 60, seed=1, clusters=clusters)
    cluster_of = dict(zip((q.id for q in qs), clusters))
    per_cat = {c: sum(q.category == c for q in spread) for c in {q.category for q in qs}}
    assert len(spread) == 60 and all(v == 20 for v in per_cat.values())   # still proportional
    assert spread == evaluate_stage.stratified_sample(qs, 60, seed=1, clusters=clusters)
    for c in per_cat:  # within a category no trial gives a second question before every trial gave one
        counts = Counter(cluster_of[q.id] for q in spread if q.category == c)
        available = {cluster_of[q.id] for q in qs if q.category == c}
        assert max(counts.values()) - min(counts.get(t, 0) for t in available) <= 1
    assert len({cluster_of[q.id] for q in spread}) > len({cluster_of[q.id] for q in plain})
    with pytest.raises(ValueError, match="clusters"):
        evaluate_stage.stratified_sample(qs, 60, seed=1, clusters=clusters[:-1])


def test_registry_names_and_skips(tmp_path):
    assert expand_names(["majority", "sft", "rl"], ["direct", "imagine"]) == [
        "majority", "sft/direct", "sft/imagine", "rl/direct", "rl/imagine"]
    params = _params(predictors=["majority", "lightgbm", "sft"])
    preds = make_predictors(params, make_questions(30, 41), baselines_dir=tmp_path / "none", models_dir=tmp_path)
    assert list(preds) == ["majority"]  # no fitted baselines, no sft model dir: skipped, not fatal
    maj = preds["majority"]
    ct_like = make_questions(3, 42)[0]
    # an unseen category borrows its equivalent (endpoint -> superiority frequencies)
    assert maj.distribution("endpoint", 2) == maj.distribution("superiority", 2)
    assert maj.distribution("unknown", 4) == [0.25] * 4
    assert abs(sum(maj.predict([ct_like])[0].probs) - 1) < 1e-9


def test_comparisons_resample_trials_or_questions_as_params_say():
    """``evaluate.bootstrap_unit``: 'trial' resamples each question's trial (Question.trial), 'question'
    the questions; the point difference is the same, the intervals are those of metrics.paired_difference."""
    from deepimagine.evaluate.metrics import paired_difference

    import numpy as np

    qs = make_questions(120, 23, "test")
    for i, q in enumerate(qs):   # 20 trials of 6 questions
        q.nct_ids = [f"NCT{i // 6:08d}"]
    rng = np.random.default_rng(0)
    preds = {name: [Prediction(q.id, rng.dirichlet(np.ones(len(q.options))).tolist(), True, "") for q in qs]
             for name in ("sft/direct", "majority")}
    args = ([p.probs for p in preds["sft/direct"]], [p.valid for p in preds["sft/direct"]],
            [p.probs for p in preds["majority"]], [p.valid for p in preds["majority"]],
            [q.answer_index for q in qs], [q.category for q in qs], [len(q.options) for q in qs])
    rows = {unit: evaluate_stage.compare(qs, preds, ["sft/direct vs majority"], 200, 7, unit)["sft/direct vs majority"]
            for unit in ("trial", "question")}
    by_trial = paired_difference(*args, bootstrap=200, seed=7, clusters=[q.nct_ids[0] for q in qs])["bacc"]
    by_question = paired_difference(*args, bootstrap=200, seed=7)["bacc"]
    assert [rows["trial"]["bacc_lo"], rows["trial"]["bacc_hi"]] == by_trial["ci"]
    assert [rows["question"]["bacc_lo"], rows["question"]["bacc_hi"]] == by_question["ci"]
    assert by_trial["ci"] != by_question["ci"] and rows["trial"]["bacc_diff"] == rows["question"]["bacc_diff"]
    assert rows["trial"]["n_trials"] == rows["question"]["n_trials"] == 20
