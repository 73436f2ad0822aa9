"""evaluate/replicate.py: one paired comparison pooled over runs (registries of other seeds)."""
import json
import shutil
import subprocess

import numpy as np
import pytest

from deepimagine.core.questions import Question
from deepimagine.evaluate import metrics as M
from deepimagine.evaluate import replicate as R


def _run(n: int, p_a: float, p_b: float, seed: int) -> dict:
    """A superiority run: A right with probability p_a, B with p_b, independently."""
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 2, n)
    pick = lambda p: np.where(rng.random(n) < p, gold, 1 - gold)  # noqa: E731
    probs = lambda pred: [[0.8, 0.2] if x == 0 else [0.2, 0.8] for x in pred]  # noqa: E731
    return {"probs_a": probs(pick(p_a)), "valid_a": [True] * n, "probs_b": probs(pick(p_b)), "valid_b": [True] * n,
            "gold": gold.tolist(), "categories": ["superiority"] * n, "n_options": [2] * n}


def test_one_run_is_its_paired_difference():
    run = _run(200, 0.7, 0.6, 0)
    got = R.pooled_difference([run], bootstrap=300, seed=5)
    ref = M.paired_difference(**run, bootstrap=300, seed=5)
    for m in ("bacc", "f1", "ce"):
        assert got["runs"][0][m] == ref[m] and got["pooled"][m]["diff"] == pytest.approx(ref[m]["diff"])
    assert got["pooled"]["n_runs"] == 1 and got["pooled"]["n"] == 200


def test_pooled_is_the_mean_of_the_runs_and_narrower():
    runs = [_run(300, 0.75, 0.65, 1), _run(300, 0.7, 0.7, 2)]
    got = R.pooled_difference(runs, bootstrap=1000, seed=0)
    diffs = [r["bacc"]["diff"] for r in got["runs"]]
    assert got["pooled"]["bacc"]["diff"] == pytest.approx(sum(diffs) / 2)
    width = lambda x: x["ci"][1] - x["ci"][0]  # noqa: E731
    assert width(got["pooled"]["bacc"]) < min(width(r["bacc"]) for r in got["runs"])
    assert got["pooled"]["n"] == 600
    with pytest.raises(ValueError):
        R.pooled_difference([])


def _q(i: int, answer: int) -> Question:
    return Question(id=f"q{i}", source="ct_open", kind="ct_open", category="superiority", split="test",
                    nct_ids=[f"NCT{i:08d}"], factor="arm", from_value="a", to_value="b",
                    options=["yes", "no"], answer_index=answer, context={})


def test_run_inputs_align_by_id_and_refuse_mismatches():
    qs = [_q(0, 0), _q(1, 1), _q(2, 0)]
    a = [{"id": "q2", "probs": [0.9, 0.1], "valid": True}, {"id": "q0", "probs": [0.2, 0.8], "valid": True}]
    b = [{"id": "q0", "probs": [0.6, 0.4], "valid": False}, {"id": "q2", "probs": [0.3, 0.7]}]
    got = R.run_inputs(qs, a, b)
    assert got["gold"] == [0, 0] and got["probs_b"] == [[0.3, 0.7], [0.6, 0.4]] and got["valid_b"] == [True, False]
    assert got["clusters"] == ["NCT00000002", "NCT00000000"]          # trials resampled by default
    assert R.run_inputs(qs, a, b, unit="question")["clusters"] is None
    with pytest.raises(ValueError, match="different questions"):
        R.run_inputs(qs, a, b[:1])
    with pytest.raises(ValueError, match="not in the question file"):
        R.run_inputs(qs[:1], a, b)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_reads_each_run_at_its_revision(tmp_path, monkeypatch):
    """Two commits of a real git + DVC repository: questions DVC-tracked, predictions in git; the
    tool reads each revision's own files (the second run flips B's answers)."""
    import dvc.repo

    repo = tmp_path / "repo"
    repo.mkdir()
    git = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    d = dvc.repo.Repo.init(str(repo))
    qs = [_q(i, i % 2) for i in range(40)]
    (repo / "data" / "pairs").mkdir(parents=True)
    (repo / "metrics" / "predictions" / "prospective").mkdir(parents=True)
    revs = []
    for flip in (False, True):
        (repo / "params.yaml").write_text(f"seed: {4 if flip else 3}\n")
        (repo / "data" / "pairs" / "prospective.jsonl").write_text("".join(json.dumps(q.to_row()) + "\n" for q in qs))
        d.add(str(repo / "data" / "pairs" / "prospective.jsonl"))
        for name, right in (("sft_imagine", True), ("retrieval", flip)):
            rows = [{"id": q.id, "probs": [0.9, 0.1] if (q.answer_index == 0) == right else [0.1, 0.9], "valid": True}
                    for q in qs]
            (repo / "metrics" / "predictions" / "prospective" / f"{name}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in rows))
        git("add", "-A")
        git("commit", "-qm", f"run {flip}")
        revs.append(subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True,
                                   text=True).stdout.strip())
    got = R.replicate(revs, "sft/imagine", "retrieval", bootstrap=50, repo=str(repo))
    assert [r["bacc"]["diff"] for r in got["runs"]] == [pytest.approx(1.0), pytest.approx(0.0)]
    assert got["pooled"]["bacc"]["diff"] == pytest.approx(0.5) and got["runs"][0]["rev"] == revs[0]
    assert [r["seed"] for r in got["runs"]] == [3, 4] and got["pooled"]["distinct_registries"]
    assert not R.replicate([revs[0], revs[0]], "sft/imagine", "retrieval", bootstrap=10,
                           repo=str(repo))["pooled"]["distinct_registries"]
    with pytest.raises(FileNotFoundError, match="rag"):
        R.replicate(revs[:1], "sft/rag", "retrieval", bootstrap=10, repo=str(repo))
    assert R.main([revs[0], "--repo", str(repo), "--a", "sft/rag"]) == 2
