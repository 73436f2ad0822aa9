"""CT Open's official scoring, plus the project's extra figures. Pure functions on arrays.

Conventions (see docs/evaluation.md):
- ``probs``: one probability vector per question (its options in order) or ``None`` for an invalid
  (unparseable) answer; ``valid`` flags; ``gold``: the index of the true option; ``categories``.
- As CT Open's ``evaluations/evaluation.py``: scores are normalised to sum 1, clipped at ``EPS``
  (1e-12) and renormalised; the prediction is the argmax (first on ties).
- An invalid answer is counted in ``invalid_rate``, scored as a uniform distribution over the
  question's options for cross-entropy / Brier / calibration, and as a wrong prediction for
  accuracy / balanced accuracy / macro-F1 (predicted label -1: a false negative of the true class,
  a false positive of no class). (CT Open's script has no rule: it raises on an unparseable answer.)
- Per category: class-balanced accuracy (mean recall over the classes present in the gold labels),
  macro-F1 (mean F1 over the labels present in the gold labels or the valid predictions; F1 0 where
  tp = 0), cross-entropy of the probability given to the true option.
- The 3-option ``comparative_effect`` category (CT Open's 3-way explicit) is scored as CT Open
  scores it: balanced accuracy, macro-F1 and accuracy on the collapsed labels (options 0/1 ->
  "significant difference", 2 -> "no difference"; the predicted label is the collapse of the 3-way
  argmax), cross-entropy and Brier on the 3 options. Its uncollapsed 3-way figures are kept as
  ``comparative_effect_3way``, outside the overall.
- ``direction`` (project-only, 3 options higher / lower / none, not a CT Open category) is scored 3-way.
- ``overall_*`` = the unweighted mean over the headline categories present (CT Open: the mean of its
  three categories; the internal benchmark also averages in ``direction``).
"""
from __future__ import annotations

import warnings
from typing import NamedTuple, Optional, Sequence

import numpy as np

EPS = 1e-12
HEADLINE = ("bacc", "f1", "ce")
COLLAPSED_CATEGORY = "comparative_effect"      # scored on collapsed labels when it has 3 options
THREE_WAY = "comparative_effect_3way"          # its uncollapsed figures (an extra, not in the overall)
EXTRA = (THREE_WAY,)


# ---------------------------------------------------------------- inputs


def prepare(probs: Sequence[Optional[Sequence[float]]], valid: Sequence[bool],
            n_options: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (P, pred, is_valid): P is (n, max_k), rows normalised, clipped at EPS and renormalised (as CT
    Open), uniform over the question's options when invalid, zero-padded past them; pred is the argmax
    (first on ties), -1 when invalid."""
    n = len(n_options)
    k_max = max(n_options) if n else 1
    P = np.zeros((n, k_max), dtype=float)
    pred = np.full(n, -1, dtype=int)
    ok = np.zeros(n, dtype=bool)
    for i, (p, v, k) in enumerate(zip(probs, valid, n_options)):
        arr = None
        if v and p is not None and len(p) == k:
            arr = np.asarray(p, dtype=float)
            if not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.sum() <= 0:
                arr = None
        if arr is None:
            P[i, :k] = 1.0 / k
        else:
            arr = np.clip(arr / arr.sum(), EPS, 1.0)
            P[i, :k] = arr / arr.sum()
            pred[i] = int(np.argmax(P[i, :k]))
            ok[i] = True
    return P, pred, ok


# ---------------------------------------------------------------- batched core (also used by the bootstrap)


def _confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Confusion counts for a batch of resamples. y, pred: (B, n) -> (B, k, k + 1); column k = invalid."""
    B = y.shape[0]
    col = np.where(pred < 0, k, pred)
    flat = (np.arange(B)[:, None] * k * (k + 1) + y * (k + 1) + col).ravel()
    return np.bincount(flat, minlength=B * k * (k + 1)).reshape(B, k, k + 1)


def _bacc_f1(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = C.shape[1]
    tp = np.diagonal(C[:, :, :k], axis1=1, axis2=2).astype(float)
    support = C.sum(axis=2).astype(float)            # gold count per class
    predicted = C[:, :, :k].sum(axis=1).astype(float)  # predicted count per class
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / np.maximum(support, 1), np.nan)
        bacc = np.nanmean(np.where(support > 0, recall, np.nan), axis=1)
        denom = 2 * tp + (predicted - tp) + (support - tp)
        f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
        present = (support > 0) | (predicted > 0)
        f1 = np.where(present, f1, np.nan)
        macro = np.nanmean(f1, axis=1)
    return bacc, macro


def _item_losses(P: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-question cross-entropy (clipped at EPS) and multi-class Brier score."""
    p_true = np.clip(P[np.arange(len(y)), y], EPS, 1.0)
    onehot = np.zeros_like(P)
    onehot[np.arange(len(y)), y] = 1.0
    return -np.log(p_true), ((P - onehot) ** 2).sum(axis=1)


class Stratum(NamedTuple):
    """One scored category: the labels its accuracy-type metrics use (y, pred over k classes) and its
    per-question losses (always over the question's own options)."""
    y: np.ndarray
    pred: np.ndarray
    k: int
    ce: np.ndarray
    brier: np.ndarray


def _category_batch(s: Stratum, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics of one stratum for each row of resample indices ``idx`` (B, n)."""
    bacc, f1 = _bacc_f1(_confusion(s.y[idx], s.pred[idx], s.k))
    return {"bacc": bacc, "f1": f1, "ce": s.ce[idx].mean(axis=1), "brier": s.brier[idx].mean(axis=1),
            "acc": (s.pred[idx] == s.y[idx]).mean(axis=1)}


def _weighted_category_batch(s: Stratum, W: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics of one stratum for each row of question weights ``W`` (B, n): a resample where each
    question counts as often as its weight (a cluster bootstrap gives a resampled trial's questions
    its multiplicity). Integer weights give exactly the metrics of the expanded sample."""
    k = s.k
    cells = s.y * (k + 1) + np.where(s.pred < 0, k, s.pred)
    onehot = np.zeros((len(cells), k * (k + 1)))
    onehot[np.arange(len(cells)), cells] = 1.0
    with warnings.catch_warnings():   # a resample without this category: NaN metrics, dropped by _ci
        warnings.simplefilter("ignore", RuntimeWarning)
        bacc, f1 = _bacc_f1((W @ onehot).reshape(len(W), k, k + 1))
    total = W.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        def mean(v: np.ndarray) -> np.ndarray:
            return np.where(total > 0, (W @ v) / total, np.nan)
        return {"bacc": bacc, "f1": f1, "ce": mean(s.ce), "brier": mean(s.brier),
                "acc": mean((s.pred == s.y).astype(float))}


def cluster_weights(clusters: Sequence, bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """(bootstrap + 1, n) question weights of a cluster bootstrap: row 0 all ones (the sample itself),
    rows 1..B the multiplicity of each question's cluster (e.g. its trial) when the clusters are
    drawn with replacement, as many as there are. Questions of one trial share its anchors and
    imagined chains, so they are not independent: the trial is the unit that is resampled."""
    _, inverse = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    m = int(inverse.max()) + 1 if len(inverse) else 0
    counts = rng.multinomial(m, np.full(m, 1.0 / m), size=bootstrap) if m else np.zeros((bootstrap, 0))
    return np.concatenate([np.ones((1, m)), counts])[:, inverse].astype(float)


def _stratum_rows(cats: np.ndarray, name: str) -> np.ndarray:
    """The question rows of a stratum of ``strata`` (the 3-way view: its category's rows)."""
    return np.flatnonzero(cats == (COLLAPSED_CATEGORY if name == THREE_WAY else name))


def collapse_labels(labels: np.ndarray) -> np.ndarray:
    """3-option comparative effect labels -> 0 = significant difference (options 0/1), 1 = none; -1 stays."""
    labels = np.asarray(labels)
    return np.where(labels < 0, -1, (labels == 2).astype(int))


def strata(pred: np.ndarray, y: np.ndarray, cats: np.ndarray, n_options: np.ndarray, ce_items: np.ndarray,
           brier_items: np.ndarray) -> dict[str, Stratum]:
    """{category: Stratum} by the official rule, plus ``comparative_effect_3way`` where it applies.
    A category must have one option count (CT Open's category is (number of options, arm group))."""
    out: dict[str, Stratum] = {}
    for c in sorted(set(cats)):
        m = np.flatnonzero(cats == c)
        ks = set(n_options[m].tolist())
        if len(ks) != 1:
            raise ValueError(f"category {c!r} mixes option counts {sorted(ks)}: one category, one option count")
        k = ks.pop()
        if c == COLLAPSED_CATEGORY and k == 3:
            out[c] = Stratum(collapse_labels(y[m]), collapse_labels(pred[m]), 2, ce_items[m], brier_items[m])
            out[THREE_WAY] = Stratum(y[m], pred[m], 3, ce_items[m], brier_items[m])
        else:
            out[c] = Stratum(y[m], pred[m], k, ce_items[m], brier_items[m])
    return out


def headline_categories(names) -> list[str]:
    """The categories the overall averages (extras such as comparative_effect_3way excluded)."""
    return [c for c in names if c not in EXTRA]


# ---------------------------------------------------------------- simple metrics (single sample)


def balanced_accuracy(y_true, y_pred, n_classes: int) -> float:
    y = np.asarray(y_true)[None]
    return float(_bacc_f1(_confusion(y, np.asarray(y_pred)[None], n_classes))[0][0])


def macro_f1(y_true, y_pred, n_classes: int) -> float:
    y = np.asarray(y_true)[None]
    return float(_bacc_f1(_confusion(y, np.asarray(y_pred)[None], n_classes))[1][0])


def cross_entropy(P, y_true) -> float:
    return float(_item_losses(np.asarray(P, float), np.asarray(y_true))[0].mean())


def brier_score(P, y_true) -> float:
    return float(_item_losses(np.asarray(P, float), np.asarray(y_true))[1].mean())


def calibration_bins(confidence, correct, n_bins: int) -> list[dict]:
    """Equal-width bins of top-label confidence: count, mean confidence, accuracy (empty bins kept)."""
    conf = np.asarray(confidence, float)
    corr = np.asarray(correct, float)
    b = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    out = []
    for i in range(n_bins):
        m = b == i
        out.append({
            "bin": i, "lo": i / n_bins, "hi": (i + 1) / n_bins, "count": int(m.sum()),
            "confidence": float(conf[m].mean()) if m.any() else None,
            "accuracy": float(corr[m].mean()) if m.any() else None,
        })
    return out


def expected_calibration_error(confidence, correct, n_bins: int) -> float:
    """ECE = sum over bins of (bin share) * |accuracy - mean confidence| (top-label, equal-width bins)."""
    n = len(confidence)
    if n == 0:
        return float("nan")
    return float(sum(b["count"] / n * abs(b["accuracy"] - b["confidence"])
                     for b in calibration_bins(confidence, correct, n_bins) if b["count"]))


# ---------------------------------------------------------------- full scoring


def _checked_clusters(clusters: Sequence, n: int) -> Sequence:
    if len(clusters) != n:
        raise ValueError(f"clusters: {len(clusters)} keys for {n} questions")
    return clusters


def _ci(values: np.ndarray) -> list[float]:
    v = values[np.isfinite(values)]
    if not len(v):
        return [float("nan"), float("nan")]
    return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]


def _inputs(probs, valid, gold, categories, n_options):
    P, pred, ok = prepare(probs, valid, n_options)
    y = np.asarray(gold, dtype=int)
    k = np.asarray(n_options, dtype=int)
    if np.any((y < 0) | (y >= k)):
        raise ValueError("a gold index is out of its question's option range")
    return P, pred, ok, y, np.asarray(categories, dtype=object), k


def _group_table(keys: Sequence[str], P, pred, ok, y, cats, n_opts, ce_items, brier_items) -> dict:
    """Breakdown by an item attribute (kind, factor): n, accuracy, mean per-category bacc (official
    rule), CE, Brier, invalid rate."""
    keys = np.asarray([str(k) for k in keys])
    table = {}
    for key in sorted(set(keys)):
        m = keys == key
        st = strata(pred[m], y[m], cats[m], n_opts[m], ce_items[m], brier_items[m])
        baccs = [balanced_accuracy(st[c].y, st[c].pred, st[c].k) for c in headline_categories(st)]
        table[key] = {
            "n": int(m.sum()),
            "acc": float((pred[m] == y[m]).mean()),
            "bacc": float(np.mean(baccs)),
            "ce": float(ce_items[m].mean()),
            "brier": float(brier_items[m].mean()),
            "invalid_rate": float(1 - ok[m].mean()),
        }
    return table


def score(probs: Sequence[Optional[Sequence[float]]], valid: Sequence[bool], gold: Sequence[int],
          categories: Sequence[str], n_options: Sequence[int], *, kinds: Optional[Sequence[str]] = None,
          factors: Optional[Sequence[str]] = None, ece_bins: int = 10, bootstrap: int = 0,
          seed: int = 0, clusters: Optional[Sequence] = None) -> dict:
    """All metrics of one predictor on one question set.

    Returns {"n", "invalid_rate", "overall_{bacc,f1,ce,brier}", "ece", "categories": {cat: {...}},
    "ci": {"overall_bacc": [lo, hi], ..., "<cat>.bacc": [lo, hi], ...}, "calibration": [...],
    "by_kind": {...}, "by_factor": {...}}. CIs: bootstrap percentiles, resampling questions within
    category, or, with ``clusters`` (one key per question, e.g. its trial), whole clusters
    (``cluster_weights``).
    """
    n = len(gold)
    if not (len(probs) == len(valid) == len(categories) == len(n_options) == n):
        raise ValueError("probs, valid, gold, categories and n_options must have the same length")
    if n == 0:
        raise ValueError("no questions to score")
    P, pred, ok, y, cats, n_opts = _inputs(probs, valid, gold, categories, n_options)
    ce_items, brier_items = _item_losses(P, y)
    st = strata(pred, y, cats, n_opts, ce_items, brier_items)

    result: dict = {"n": n, "n_valid": int(ok.sum()), "invalid_rate": float(1 - ok.mean()), "categories": {}}
    rng = np.random.default_rng(seed)
    boot: dict[str, dict[str, np.ndarray]] = {}
    idx: dict[str, np.ndarray] = {}
    W = None   # cluster bootstrap: question weights of the resamples (rows 1..B of cluster_weights)
    if clusters is not None and bootstrap > 0:
        W = cluster_weights(_checked_clusters(clusters, n), bootstrap, rng)[1:]
    for name, s in st.items():
        full = _category_batch(s, np.arange(len(s.y))[None])
        result["categories"][name] = {m: float(v[0]) for m, v in full.items()} | {
            "n": int(len(s.y)), "class_counts": np.bincount(s.y, minlength=s.k).tolist()}
        if bootstrap > 0 and W is not None:
            boot[name] = _weighted_category_batch(s, W[:, _stratum_rows(cats, name)])
        elif bootstrap > 0:  # the 3-way view reuses its category's resamples (inserted right after it)
            idx[name] = (idx[COLLAPSED_CATEGORY] if name == THREE_WAY
                         else rng.integers(0, len(s.y), size=(bootstrap, len(s.y))))
            boot[name] = _category_batch(s, idx[name])

    main = headline_categories(result["categories"])
    for m in ("bacc", "f1", "ce", "brier"):
        result[f"overall_{m}"] = float(np.mean([result["categories"][c][m] for c in main]))

    conf = P.max(axis=1)
    correct = pred == y
    result["ece"] = expected_calibration_error(conf, correct, ece_bins)
    result["calibration"] = calibration_bins(conf, correct, ece_bins)
    result["confusion"] = {c: _confusion(s.y[None], s.pred[None], s.k)[0].tolist() for c, s in st.items()}

    if bootstrap > 0:
        ci = {}
        for m in ("bacc", "f1", "ce", "brier"):
            ci[f"overall_{m}"] = _ci(np.mean([boot[c][m] for c in main], axis=0))
        for c, b in boot.items():
            for m in HEADLINE:
                ci[f"{c}.{m}"] = _ci(b[m])
        result["ci"] = ci
    if kinds is not None:
        result["by_kind"] = _group_table(kinds, P, pred, ok, y, cats, n_opts, ce_items, brier_items)
    if factors is not None:
        result["by_factor"] = _group_table(factors, P, pred, ok, y, cats, n_opts, ce_items, brier_items)
    return result


# ---------------------------------------------------------------- paired comparison


def paired_draws(probs_a: Sequence[Optional[Sequence[float]]], valid_a: Sequence[bool],
                 probs_b: Sequence[Optional[Sequence[float]]], valid_b: Sequence[bool],
                 gold: Sequence[int], categories: Sequence[str], n_options: Sequence[int], *,
                 bootstrap: int, rng: np.random.Generator, clusters: Optional[Sequence] = None
                 ) -> dict[str, np.ndarray]:
    """{metric: overall A minus B} for m in ``HEADLINE``: element 0 on the sample itself, elements
    1..B on ``bootstrap`` resamples that both predictors share, stratified within category, or, with
    ``clusters``, of whole clusters (``cluster_weights``; the overall is that of ``score``: the mean
    over the official categories, per resample)."""
    n = len(gold)
    if not (len(probs_a) == len(valid_a) == len(probs_b) == len(valid_b) == len(categories) == len(n_options) == n):
        raise ValueError("both predictors, gold, categories and n_options must have the same length")
    if n == 0:
        raise ValueError("no questions to compare")
    Pa, pred_a, _, y, cats, n_opts = _inputs(probs_a, valid_a, gold, categories, n_options)
    Pb, pred_b, _ = prepare(probs_b, valid_b, n_options)
    st_a = strata(pred_a, y, cats, n_opts, *_item_losses(Pa, y))
    st_b = strata(pred_b, y, cats, n_opts, *_item_losses(Pb, y))
    per_cat: dict[str, list[np.ndarray]] = {m: [] for m in HEADLINE}
    W = cluster_weights(_checked_clusters(clusters, n), bootstrap, rng) if clusters is not None else None
    for c in headline_categories(st_a):
        if W is not None:
            rows = W[:, _stratum_rows(cats, c)]
            a, b = _weighted_category_batch(st_a[c], rows), _weighted_category_batch(st_b[c], rows)
        else:
            size = len(st_a[c].y)
            # row 0: the sample itself; rows 1..B: shared resamples
            idx = np.concatenate([np.arange(size)[None], rng.integers(0, size, size=(bootstrap, size))])
            a, b = _category_batch(st_a[c], idx), _category_batch(st_b[c], idx)
        for metric in HEADLINE:
            per_cat[metric].append(a[metric] - b[metric])
    with np.errstate(invalid="ignore"):   # a cluster resample may miss a category: that draw is NaN, dropped by _ci
        return {metric: np.mean(diffs, axis=0) for metric, diffs in per_cat.items()}


def summarise_draws(draws: dict[str, np.ndarray], bootstrap: int) -> dict:
    """{metric: {"diff", "ci": [lo, hi], "p_a_better"}} of ``paired_draws``-shaped differences;
    ``p_a_better`` is the bootstrap share where A is better (higher BAcc/F1, lower CE), both over
    the finite draws (a trial resample that missed a category has none)."""
    out: dict = {}
    for metric, d in draws.items():
        boot = d[1:][np.isfinite(d[1:])]
        better = boot < 0 if metric == "ce" else boot > 0
        out[metric] = {"diff": float(d[0]), "ci": _ci(boot) if len(boot) else [float("nan")] * 2,
                       "p_a_better": float(better.mean()) if len(boot) else float("nan")}
    return out


def paired_difference(probs_a: Sequence[Optional[Sequence[float]]], valid_a: Sequence[bool],
                      probs_b: Sequence[Optional[Sequence[float]]], valid_b: Sequence[bool],
                      gold: Sequence[int], categories: Sequence[str], n_options: Sequence[int], *,
                      bootstrap: int, seed: int = 0, clusters: Optional[Sequence] = None) -> dict:
    """Overall metrics of predictor A minus predictor B on the same questions, with a paired bootstrap.

    The overall is that of ``score`` (the same categories and official rule). Both predictors are
    scored on the *same* resamples (stratified within category), so the interval is that of the
    difference itself, narrower and more honest than comparing two marginal CIs. ``clusters`` (one
    key per question, e.g. its trial) resamples whole clusters instead of questions.
    Returns {"n", "<m>": {"diff", "ci": [lo, hi], "p_a_better"}} for m in bacc, f1, ce;
    ``p_a_better`` is the bootstrap share where A is better (higher BAcc/F1, lower CE).
    """
    draws = paired_draws(probs_a, valid_a, probs_b, valid_b, gold, categories, n_options,
                         bootstrap=bootstrap, rng=np.random.default_rng(seed), clusters=clusters)
    return {"n": len(gold), **summarise_draws(draws, bootstrap)}
