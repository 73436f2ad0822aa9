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

    def sig(a: str, b: str) -> tuple[float, float, float]:
        """(P(a significantly better than b), P(a significantly worse), P(neither))."""
        (ma, va, sa), (mb, vb, sb) = beliefs[a], beliefs[b]
        sd = math.sqrt((sa * sa + sb * sb) / 2)
        se = sd * math.sqrt(1.0 / n_of(a) + 1.0 / n_of(b))
        d_mean, d_var = ma - mb, va + vb
        if (a, b) in differences:
            d_mean, d_var = differences[(a, b)]
        elif (b, a) in differences:
            d_mean, d_var = -differences[(b, a)][0], differences[(b, a)][1]
        up, down, none = significance_probs(d_mean, d_var, se, s.alpha_z)
        return (up, down, none) if better == "higher" else (down, up, none)

    probs = []
    for role in option_roles(q) or []:
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
            p_none = 1.0
            for a, b in compared_arms(q):
                p_none *= 1.0 - sig(a, b)[0]
            probs.append(1.0 - p_none if role[0] == "any_met" else p_none)
    return normalise(probs)
