"""Metrics against hand-computed values."""
from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from deepimagine.evaluate import metrics as M

# superiority (2 options): the 4th answer is unparseable
SUP_PROBS = [[0.8, 0.2], [0.4, 0.6], [0.3, 0.7], None]
SUP_VALID = [True, True, True, False]
SUP_GOLD = [0, 0, 1, 1]
# comparative effect (3 options)
CE_PROBS = [[0.5, 0.3, 0.2], [0.4, 0.1, 0.5], [0.2, 0.3, 0.5]]
CE_GOLD = [0, 2, 1]


def _score(**kw):
    probs = SUP_PROBS + CE_PROBS
    return M.score(probs, SUP_VALID + [True] * 3, SUP_GOLD + CE_GOLD, ["superiority"] * 4 + ["comparative_effect"] * 3,
                   [2] * 4 + [3] * 3, kinds=["dose", "dose", "arm", "arm", "dose", "arm", "arm"],
                   factors=["dose", "dose", "arm", "arm", "dose", "arm", "arm"], **kw)


def test_superiority_hand_values():
    s = _score(ece_bins=10)["categories"]["superiority"]
    # predictions 0, 1, 1, invalid -> recall 1/2 for each class
    assert s["bacc"] == pytest.approx(0.5)
    # F1 class 0: tp 1, fp 0, fn 1 -> 2/3 ; class 1: tp 1, fp 1, fn 1 -> 1/2
    assert s["f1"] == pytest.approx((2 / 3 + 0.5) / 2)
    # CE: the invalid answer is uniform (0.5)
    assert s["ce"] == pytest.approx(-(math.log(0.8) + math.log(0.4) + math.log(0.7) + math.log(0.5)) / 4)
    assert s["brier"] == pytest.approx((0.08 + 0.72 + 0.18 + 0.5) / 4)
    assert s["acc"] == pytest.approx(0.5)


def test_comparative_collapsed_as_ct_open():
    r = _score()
    c = r["categories"]["comparative_effect"]
    # predictions 0, 2, 2 for gold 0, 2, 1 -> collapsed gold: sig, none, sig ; collapsed predicted: sig, none, none
    assert c["bacc"] == pytest.approx((0.5 + 1.0) / 2)
    assert c["f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)   # sig: tp 1 fn 1 ; none: tp 1 fp 1
    assert c["ce"] == pytest.approx(-(math.log(0.5) + math.log(0.5) + math.log(0.3)) / 3)  # 3-way CE
    t = r["categories"][M.THREE_WAY]
    assert t["bacc"] == pytest.approx(2 / 3)            # recalls 1, 0, 1
    assert t["f1"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    # overall = mean over the categories with the collapsed figures (the 3-way view is excluded)
    assert r["overall_bacc"] == pytest.approx((0.5 + 0.75) / 2)
    assert r["overall_ce"] == pytest.approx((r["categories"]["superiority"]["ce"] + c["ce"]) / 2)
    assert r["invalid_rate"] == pytest.approx(1 / 7) and r["n_valid"] == 6


def test_a_category_with_two_option_counts_is_refused():
    with pytest.raises(ValueError, match="mixes option counts"):
        M.score([[0.5, 0.5], [0.2, 0.3, 0.5]], [True, True], [0, 2], ["superiority"] * 2, [2, 3])


def test_ece_hand_values():
    conf, correct = [0.8, 0.6, 0.7, 0.5], [1, 0, 1, 0]
    assert M.expected_calibration_error(conf, correct, 10) == pytest.approx((0.2 + 0.6 + 0.3 + 0.5) / 4)
    assert M.expected_calibration_error(conf, correct, 2) == pytest.approx(abs(0.5 - 0.65))
    assert M.expected_calibration_error([1.0, 0.0], [1, 0], 5) == pytest.approx(0.0)  # edges land in bins


def test_unparseable_answer_is_uniform_and_wrong():
    P, pred, ok = M.prepare([None, [2, 2, 0], [1, 0]], [False, True, True], [3, 3, 2])
    np.testing.assert_allclose(P[0], [1 / 3] * 3)
    np.testing.assert_allclose(P[1], [0.5, 0.5, 1e-12], atol=1e-15)  # renormalised, zero clipped at 1e-12
    np.testing.assert_allclose(P[2], [1, 1e-12, 0], atol=1e-15)       # zero-padded past its options
    assert pred.tolist() == [-1, 0, 0] and ok.tolist() == [False, True, True]
    # a wrong-length or negative vector marked valid is still invalid
    _, pred2, ok2 = M.prepare([[0.5, 0.5], [-1, 2]], [True, True], [3, 2])
    assert pred2.tolist() == [-1, -1] and not ok2.any()
    # all answers invalid: accuracy-type metrics 0, CE = log(k)
    r = M.score([None] * 4, [False] * 4, [0, 1, 0, 1], ["endpoint"] * 4, [2] * 4)
    assert r["overall_bacc"] == 0 and r["overall_f1"] == 0
    assert r["overall_ce"] == pytest.approx(math.log(2)) and r["invalid_rate"] == 1


def test_matches_sklearn_when_all_valid():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    P = rng.dirichlet([1, 1, 1], 200)
    pred = P.argmax(axis=1)
    assert M.balanced_accuracy(y, pred, 3) == pytest.approx(balanced_accuracy_score(y, pred))
    assert M.macro_f1(y, pred, 3) == pytest.approx(f1_score(y, pred, average="macro"))
    assert M.cross_entropy(P, y) == pytest.approx(-np.mean(np.log(P[np.arange(200), y])))
    # a clipped zero probability
    assert M.cross_entropy([[1.0, 0.0]], [1]) == pytest.approx(-math.log(M.EPS))


def test_bootstrap_ci_and_breakdowns():
    r1, r2 = _score(bootstrap=300, seed=7), _score(bootstrap=300, seed=7)
    assert r1["ci"] == r2["ci"]                                     # seeded
    lo, hi = r1["ci"]["overall_ce"]
    assert lo <= r1["overall_ce"] <= hi and hi > lo
    assert set(r1["ci"]) >= {"overall_bacc", "overall_f1", "superiority.bacc", f"{M.THREE_WAY}.ce",
                             "comparative_effect.f1"}
    assert r1["by_kind"]["dose"]["n"] == 3 and r1["by_kind"]["arm"]["n"] == 4
    # dose items: sup q0 right, sup q1 wrong, ce q0 right
    assert r1["by_factor"]["dose"]["acc"] == pytest.approx(2 / 3)
    assert r1["by_kind"]["arm"]["invalid_rate"] == pytest.approx(1 / 4)
    assert sum(b["count"] for b in r1["calibration"]) == 7
    assert np.asarray(r1["confusion"]["superiority"]).tolist() == [[1, 1, 0], [0, 1, 1]]


def test_bad_input():
    with pytest.raises(ValueError):
        M.score([[0.5, 0.5]], [True], [2], ["superiority"], [2])
    with pytest.raises(ValueError):
        M.score([], [], [], [], [])


# ---------------------------------------------------------------- paired differences


def test_paired_difference_identical_and_opposite():
    probs = SUP_PROBS + CE_PROBS
    valid = SUP_VALID + [True] * 3
    gold, cats, k = SUP_GOLD + CE_GOLD, ["superiority"] * 4 + ["comparative_effect"] * 3, [2] * 4 + [3] * 3
    same = M.paired_difference(probs, valid, probs, valid, gold, cats, k, bootstrap=200, seed=1)
    for m in ("bacc", "f1", "ce"):
        assert same[m]["diff"] == 0 and same[m]["ci"] == [0, 0] and same[m]["p_a_better"] == 0
    # A always right (one-hot on gold), B always wrong, collapsed too: BAcc 1 - 0 in every category and resample
    right = [[1.0 if j == g else 0.0 for j in range(n)] for g, n in zip(gold, k)]
    miss = [1 - g if n == 2 else (2 if g < 2 else 0) for g, n in zip(gold, k)]
    wrong = [[1.0 if j == w else 0.0 for j in range(n)] for w, n in zip(miss, k)]
    d = M.paired_difference(right, [True] * 7, wrong, [True] * 7, gold, cats, k, bootstrap=200, seed=1)
    assert d["bacc"]["diff"] == pytest.approx(1.0) and d["bacc"]["ci"] == [pytest.approx(1.0)] * 2
    assert d["bacc"]["p_a_better"] == 1.0 and d["ce"]["diff"] < 0 and d["ce"]["p_a_better"] == 1.0
    # the point difference is exactly score(A) - score(B)
    d = M.paired_difference(probs, valid, wrong, [True] * 7, gold, cats, k, bootstrap=0)
    a, b = M.score(probs, valid, gold, cats, k), M.score(wrong, [True] * 7, gold, cats, k)
    for m in ("bacc", "f1", "ce"):
        assert d[m]["diff"] == pytest.approx(a[f"overall_{m}"] - b[f"overall_{m}"])
    with pytest.raises(ValueError):
        M.paired_difference(probs, valid, probs[:3], valid[:3], gold, cats, k, bootstrap=10)


def test_paired_interval_sees_a_difference_the_marginal_intervals_miss():
    """B = A except on 12 of 300 items where A is right and B wrong: the marginal CIs overlap, the
    paired interval of the difference excludes 0."""
    rng = np.random.default_rng(0)
    n = 300
    gold = rng.integers(0, 2, n)
    pred_a = np.where(rng.random(n) < 0.65, gold, 1 - gold)
    pred_b = pred_a.copy()
    flip = rng.choice(np.flatnonzero(pred_a == gold), 12, replace=False)
    pred_b[flip] = 1 - gold[flip]
    probs = lambda pred: [[0.7, 0.3] if p == 0 else [0.3, 0.7] for p in pred]  # noqa: E731
    args = (gold.tolist(), ["superiority"] * n, [2] * n)
    sa = M.score(probs(pred_a), [True] * n, *args, bootstrap=1000, seed=3)
    sb = M.score(probs(pred_b), [True] * n, *args, bootstrap=1000, seed=3)
    assert sb["ci"]["overall_bacc"][1] > sa["ci"]["overall_bacc"][0]  # marginal intervals overlap
    d = M.paired_difference(probs(pred_a), [True] * n, probs(pred_b), [True] * n, *args, bootstrap=1000, seed=3)
    assert d["bacc"]["diff"] == pytest.approx(sa["overall_bacc"] - sb["overall_bacc"])
    assert d["bacc"]["ci"][0] > 0 and d["bacc"]["p_a_better"] > 0.99


# ---------------------------------------------------------------- cluster (trial) bootstrap


def test_weighted_batch_equals_the_expanded_resample():
    """Integer weights (a question's multiplicity) give exactly the metrics of the resampled indices."""
    rng = np.random.default_rng(0)
    n, k = 60, 3
    s = M.Stratum(rng.integers(0, k, n), rng.integers(-1, k, n), k, rng.random(n), rng.random(n))
    idx = rng.integers(0, n, (25, n))
    W = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(float)
    plain, weighted = M._category_batch(s, idx), M._weighted_category_batch(s, W)
    for m in plain:
        np.testing.assert_allclose(weighted[m], plain[m], atol=1e-12, err_msg=m)


def test_cluster_weights_draw_whole_clusters():
    clusters = ["t1", "t1", "t2", "t3", "t3", "t3"]
    W = M.cluster_weights(clusters, 200, np.random.default_rng(1))
    assert W.shape == (201, 6) and np.all(W[0] == 1)
    assert np.all(W[:, 0] == W[:, 1]) and np.all(W[:, 3] == W[:, 4]) and np.all(W[:, 4] == W[:, 5])
    per_cluster = W[1:, [0, 2, 3]]
    assert np.all(per_cluster.sum(axis=1) == 3)            # as many clusters drawn as there are
    assert 0.8 < per_cluster.mean() < 1.2 and per_cluster.max() >= 2   # with replacement


def _trial_correlated(n_trials: int = 30, per_trial: int = 10, seed: int = 0):
    """A is right on every question of 60% of the trials, B on 40%: questions of a trial move together."""
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 2, n_trials * per_trial)
    trials = np.repeat(np.arange(n_trials), per_trial)
    a_right, b_right = rng.random(n_trials) < 0.6, rng.random(n_trials) < 0.4
    probs = lambda right: [[0.9, 0.1] if (g == 0) == r else [0.1, 0.9] for g, r in zip(gold, right[trials])]  # noqa: E731
    return dict(probs_a=probs(a_right), valid_a=[True] * len(gold), probs_b=probs(b_right), valid_b=[True] * len(gold),
                gold=gold.tolist(), categories=["superiority"] * len(gold), n_options=[2] * len(gold)), trials


def test_trial_bootstrap_is_wider_when_a_trials_questions_move_together():
    inputs, trials = _trial_correlated()
    width = lambda d: d["bacc"]["ci"][1] - d["bacc"]["ci"][0]  # noqa: E731
    by_question = M.paired_difference(**inputs, bootstrap=500, seed=3)
    by_trial = M.paired_difference(**inputs, bootstrap=500, seed=3, clusters=[f"NCT{t}" for t in trials])
    assert by_trial["bacc"]["diff"] == by_question["bacc"]["diff"]      # same point estimate
    assert width(by_trial) > 2 * width(by_question)                    # ~sqrt(10) x for 10 questions per trial
    # one question per trial: the trial bootstrap is the question bootstrap (up to resampling noise)
    singletons = M.paired_difference(**inputs, bootstrap=500, seed=3, clusters=list(range(len(trials))))
    assert width(singletons) == pytest.approx(width(by_question), rel=0.25)
    s = M.score(inputs["probs_a"], inputs["valid_a"], inputs["gold"], inputs["categories"], inputs["n_options"],
                bootstrap=500, seed=3, clusters=trials.tolist())
    s_q = M.score(inputs["probs_a"], inputs["valid_a"], inputs["gold"], inputs["categories"], inputs["n_options"],
                  bootstrap=500, seed=3)
    w = lambda r: r["ci"]["overall_bacc"][1] - r["ci"]["overall_bacc"][0]  # noqa: E731
    assert w(s) > 2 * w(s_q) and s["overall_bacc"] == s_q["overall_bacc"]
    with pytest.raises(ValueError, match="clusters"):
        M.paired_difference(**inputs, bootstrap=10, clusters=["x"])


def test_a_trial_resample_missing_a_category_is_dropped_not_counted():
    """Two trials, one per category: most trial resamples miss a category; those draws are NaN and
    both the CI and P(A better) are read over the finite draws only."""
    probs_a = [[0.9, 0.1]] * 4 + [[0.1, 0.9]] * 4
    probs_b = [[0.1, 0.9]] * 8
    gold = [0, 1, 0, 1, 0, 1, 0, 1]
    d = M.paired_difference(probs_a, [True] * 8, probs_b, [True] * 8, gold, ["superiority"] * 4 + ["endpoint"] * 4,
                            [2] * 8, bootstrap=200, seed=0, clusters=["t1"] * 4 + ["t2"] * 4)
    assert all(math.isfinite(x) for x in d["bacc"]["ci"]) and 0.0 <= d["bacc"]["p_a_better"] <= 1.0
    draws = M.paired_draws(probs_a, [True] * 8, probs_b, [True] * 8, gold, ["superiority"] * 4 + ["endpoint"] * 4,
                           [2] * 8, bootstrap=200, rng=np.random.default_rng(0), clusters=["t1"] * 4 + ["t2"] * 4)
    finite = draws["bacc"][1:][np.isfinite(draws["bacc"][1:])]
    assert 0 < len(finite) < 200                  # about half the resamples drew both trials
    assert d["bacc"]["p_a_better"] == pytest.approx(float((finite > 0).mean()))
