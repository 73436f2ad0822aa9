"""Answers from imagined results: a question's option probabilities from the imagined target (a
local question, against its posted anchor) or from the compared arms' imagined results (a CT
Open-format question: a two-group test at the trial's n per arm). Pure functions; ``s`` is an
``imagine.Settings`` (bins ``edges_sd`` / ``edges_rel``, ``alpha_z``)."""
from __future__ import annotations

import math
from collections import Counter
from typing import Optional, Sequence

from ..core.operator import finite_or_none
from ..core.questions import (CHANGE_OPTIONS, COMPARATIVE_OPTIONS, COMPARATIVE_OPTIONS_IMPROVEMENT, DIRECTION_OPTIONS,
                              SUPERIORITY_OPTIONS, Question)
from ..core.semantics import compared_arms, option_roles
from ..core.states import question_states

Z_ALPHA = 1.959963984540054
MIN_SD = 1e-9
ENDPOINT_DRAWS = 20000   # Monte Carlo draws for P(at least one compared pair significant), seeded


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def local_roles(q: Question) -> Optional[str]:
    opts = list(q.options)
    if opts == DIRECTION_OPTIONS:
        return "direction"
    if opts == CHANGE_OPTIONS:
        return "change"
    if opts == COMPARATIVE_OPTIONS:
        return "comparative"
    if opts == COMPARATIVE_OPTIONS_IMPROVEMENT:
        return "comparative_improvement"
    if opts == SUPERIORITY_OPTIONS:
        return "superiority"
    return None


def interval(mean: float, sd: float, lo: float, hi: float) -> float:
    """P(lo < X <= hi) for X ~ N(mean, sd^2) (sd 0: a point mass)."""
    if sd <= MIN_SD:
        return float(lo < mean <= hi)
    f = lambda x: 1.0 if x == math.inf else 0.0 if x == -math.inf else _phi((x - mean) / sd)  # noqa: E731
    return max(f(hi) - f(lo), 0.0)


def significance_probs(d_mean: float, d_var: float, se: float, z: float = Z_ALPHA) -> tuple[float, float, float]:
    """(P(significantly higher), P(significantly lower), P(not significant)) of a two-group test whose
    observed difference is the imagined difference plus sampling error: D_obs ~ N(d_mean, d_var + se^2)."""
    sd = math.sqrt(max(d_var + se * se, MIN_SD ** 2))
    up = 1.0 - _phi((z * se - d_mean) / sd)
    down = _phi((-z * se - d_mean) / sd)
    return up, down, max(1.0 - up - down, 0.0)


def any_significant(pairs: Sequence[tuple[str, str]], means: Sequence[float], sds: Sequence[float],
                    thresholds: Sequence[float], draws: int = ENDPOINT_DRAWS, seed: int = 0) -> float:
    """P(D_i > threshold_i for at least one compared pair i), D_i ~ N(means_i, sds_i^2) jointly normal
    with the correlation of differences of independent, equally variable arm results: pairs
    (a, b) and (a, c) correlate +0.5, (a, b) and (c, a) -0.5, pairs with no arm in common 0 (the
    many-to-one structure of Dunnett's test). Treating them as independent, 1 - prod(1 - p_i),
    overstates P(any): two comparisons with one placebo arm succeed or fail together. One pair:
    the normal tail exactly; more: a seeded Monte Carlo (``draws``)."""
    import numpy as np

    if len(pairs) == 1:
        sd = max(sds[0], MIN_SD)
        return 1.0 - _phi((thresholds[0] - means[0]) / sd)
    arms = sorted({x for pair in pairs for x in pair})
    col = {a: i for i, a in enumerate(arms)}
    m = np.zeros((len(pairs), len(arms)))
    for i, (a, b) in enumerate(pairs):
        m[i, col[a]] += 1.0
        m[i, col[b]] -= 1.0
    norms = np.sqrt((m * m).sum(axis=1, keepdims=True))
    m = np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)     # unit-variance combinations
    z = np.random.default_rng(seed).standard_normal((draws, len(arms))) @ m.T
    d = np.asarray(means)[None, :] + np.maximum(np.asarray(sds), MIN_SD)[None, :] * z
    return float((d > np.asarray(thresholds)[None, :]).any(axis=1).mean())


def normalise(p: Sequence[float], floor: float = 1e-6) -> list[float]:
    p = [max(x, floor) for x in p]
    t = sum(p)
    return [x / t for x in p]


def local_answer(q: Question, mean: float, var: float, s) -> list[float]:
    """Option probabilities of a local question from the imagined target N(mean, var) vs the posted anchor."""
    anchor, _ = question_states(q)
    av = float(anchor["value"])
    sd = math.sqrt(var)
    meta = q.meta or {}
    role = local_roles(q)
    if role == "direction":
        m = float(meta.get("margin") or 0.0)
        up, down = interval(mean - av, sd, m, math.inf), interval(mean - av, sd, -math.inf, -m)
        return normalise([up, down, 1.0 - up - down])
    if role == "change":
        scale = finite_or_none(meta.get("sd")) or max(abs(av), MIN_SD)
        edges = list(meta.get("edges") or (s.edges_sd if finite_or_none(meta.get("sd")) else s.edges_rel))
        bounds = [-math.inf] + [e * scale for e in edges] + [math.inf]
        return normalise([interval(mean - av, sd, lo, hi) for lo, hi in zip(bounds, bounds[1:])])
    n = finite_or_none(anchor.get("n")) or 30.0
    a_sd = finite_or_none(meta.get("sd")) or finite_or_none(anchor.get("spread")) or max(abs(av), MIN_SD)
    se = a_sd * math.sqrt(2.0 / n)
    up, down, none = significance_probs(mean - av, var, se, s.alpha_z)
    better = (q.context.get("outcome") or {}).get("better")
    if role == "comparative":
        return normalise([up, down, none])
    improve, worsen = (up, down) if better != "lower" else (down, up)
    if role == "comparative_improvement":
        return normalise([improve, worsen, none])
    return normalise([improve, 1.0 - improve])


def ct_format_answer(q: Question, beliefs: dict[str, tuple[float, float, float]], s,
                     differences: Optional[dict[tuple[str, str], tuple[float, float]]] = None) -> list[float]:
    """Option probabilities of a CT Open-format question from the imagined arm results; a compared
    pair in ``differences`` (trial-paired chains: ``paired_difference``) uses its paired difference."""
    differences = differences or {}
    states = q.context.get("arm_states") or {}
    anchors = (q.context.get("anchors") or {}).get("arms") or {}
    votes = Counter(a.get("better") for lst in anchors.values() for a in lst if a.get("better") in ("higher", "lower"))
    better = votes.most_common(1)[0][0] if votes else "higher"

    def n_of(arm: str) -> float:
        n = finite_or_none((states.get(arm) or {}).get("n_planned"))
        if n:
            return n
        ns = [finite_or_none(a.get("n")) for a in anchors.get(arm, []) if finite_or_none(a.get("n"))]
        return sorted(ns)[len(ns) // 2] if ns else 30.0

    def difference(a: str, b: str) -> tuple[float, float, float]:
        """(mean, variance) of a's result minus b's, and the two-group test's standard error."""
        (ma, va, sa), (mb, vb, sb) = beliefs[a], beliefs[b]
        sd = math.sqrt((sa * sa + sb * sb) / 2)
        se = sd * math.sqrt(1.0 / n_of(a) + 1.0 / n_of(b))
        d_mean, d_var = ma - mb, va + vb
        if (a, b) in differences:
            d_mean, d_var = differences[(a, b)]
        elif (b, a) in differences:
            d_mean, d_var = -differences[(b, a)][0], differences[(b, a)][1]
        return d_mean, d_var, se

    def sig(a: str, b: str) -> tuple[float, float, float]:
        """(P(a significantly better than b), P(a significantly worse), P(neither))."""
        d_mean, d_var, se = difference(a, b)
        up, down, none = significance_probs(d_mean, d_var, se, s.alpha_z)
        return (up, down, none) if better == "higher" else (down, up, none)

    def any_met() -> float:
        """P(at least one compared arm significantly better than its reference), the comparisons
        correlated through their shared arms (``any_significant``)."""
        pairs = compared_arms(q)
        stats = [difference(a, b) for a, b in pairs]
        sign = 1.0 if better == "higher" else -1.0      # "better" as a positive difference
        return any_significant(pairs, [sign * d for d, _, _ in stats],
                               [math.sqrt(max(v + se * se, MIN_SD ** 2)) for _, v, se in stats],
                               [s.alpha_z * se for _, _, se in stats])

    roles = option_roles(q) or []
    p_any = any_met() if any(r[0] in ("any_met", "none_met") for r in roles) else None   # one Monte Carlo per question
    probs = []
    for role in roles:
        if role[0] == "improves":
            probs.append(sig(role[1], role[2])[0])
        elif role[0] == "not_improves":
            probs.append(1.0 - sig(role[1], role[2])[0])
        elif role[0] == "worse":
            probs.append(sig(role[1], role[2])[1])
        elif role[0] == "none":
            a, b = compared_arms(q)[0]
            probs.append(sig(a, b)[2])
        elif role[0] in ("any_met", "none_met"):
            probs.append(p_any if role[0] == "any_met" else 1.0 - p_any)
    return normalise(probs)
