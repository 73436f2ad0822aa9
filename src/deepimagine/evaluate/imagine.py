"""Successive counterfactual imagining.

For a target question (anchor A with a known result -> target condition T):

1. retrieve ``k`` start cells S from ``cells.parquet``, TRAIN split only, same outcome measure and
   unit as the question (so results are comparable), ranked by: same intervention, shared
   condition, same phase, shared region, same time frame (ties: nct_id, arm label);
2. for each S, a path S -> ... -> T changing ONE differing factor at a time, in the order
   intervention, dose, region, population, phase, time frame; each step is a direction question
   whose known result is S's posted result at step 1 and, later, the imagined result carried
   forward (previous value + (P(up) - P(down)) x the meaningful-difference margin);
3. the model answers every step; a path's answer is the composed sign distribution of
   net = bridge + sum(step signs), where each step contributes +1 / -1 / 0 with its P(up) / P(down) /
   P(none) and the bridge is the known sign of S's result vs A's result (0 when S is A);
4. the k paths are averaged into P(up), P(down), P(none) of T vs A and mapped onto the question's
   options (``mechanism.options_from_direction``): direction/comparative options take the matching
   meaning; improvement wording maps up/down through the outcome's better direction; superiority
   takes P(improve) = P(moving in the better direction).

When fewer than k train cells match, the remaining paths start at the question's own anchor A.
Questions without a numeric anchor result or with non-canonical options (CT Open, ``endpoint``)
fall back to direct prediction; the reason is counted.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from ..questions import DIRECTION_OPTIONS, Question, parse_decision
from .mechanism import direction_probs, option_semantics, options_from_direction

FACTOR_ORDER = ("intervention", "dose", "region", "population", "phase", "time_frame")
# fields copied from the target state when a factor changes
FACTOR_FIELDS = {
    "intervention": ("intervention", "arm_label", "arm_type", "arm_description", "dose_value", "dose_unit",
                     "dose_value_mg"),
    "dose": ("dose_value", "dose_unit", "dose_value_mg", "arm_label", "arm_description"),
    "region": ("regions",),
    "population": ("sex", "min_age", "max_age"),
    "phase": ("phase",),
    "time_frame": ("time_frame", "time_weeks"),
}


def _norm(x):
    if isinstance(x, str):
        return x.strip().lower() or None
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, (list, tuple)) or hasattr(x, "tolist"):
        x = list(x.tolist() if hasattr(x, "tolist") else x)
        return tuple(sorted(str(v).lower() for v in x)) or None
    return x


def factor_key(state: dict, factor: str):
    """The comparable value of ``factor`` in a state (None = unknown: never a step)."""
    if factor == "intervention":
        return _norm(state.get("intervention"))
    if factor == "dose":
        v = state.get("dose_value_mg") if state.get("dose_value_mg") is not None else state.get("dose_value")
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
    if factor == "region":
        return _norm(state.get("regions"))
    if factor == "population":
        key = tuple(_norm(state.get(k)) for k in ("sex", "min_age", "max_age"))
        return None if all(v is None for v in key) else key
    if factor == "phase":
        return _norm(state.get("phase"))
    if factor == "time_frame":
        w = state.get("time_weeks")
        return float(w) if isinstance(w, (int, float)) and not math.isnan(w) else _norm(state.get("time_frame"))
    raise ValueError(f"unknown factor {factor!r}")


def cell_state(row: dict) -> dict:
    """A retrieval-pool row as a path state."""
    keys = ("nct_id", "title", "conditions", "phase", "regions", "sex", "min_age", "max_age", "arm_label", "arm_type",
            "arm_description", "intervention", "dose_value", "dose_unit", "dose_value_mg", "measure", "measure_norm",
            "time_frame", "time_weeks", "unit", "better", "value", "spread", "n", "dispersion_type")
    state = {}
    for k in keys:
        v = row.get(k)
        state[k] = list(v.tolist() if hasattr(v, "tolist") else v) if isinstance(v, (list, tuple)) or hasattr(v, "tolist") else v
    return state


def question_states(q: Question) -> tuple[dict, dict]:
    """(anchor state A, target state T) from a question's structured context."""
    c = q.context or {}
    out = c.get("outcome") or {}
    trial_a = c.get("trial") or {}
    trial_t = c.get("counterfactual_trial") or trial_a

    def state(trial: dict, arm: dict) -> dict:
        dose = arm.get("dose") or {}
        res = arm.get("result") or {}
        return {"nct_id": trial.get("nct_id"), "title": trial.get("title"), "conditions": trial.get("conditions"),
                "phase": trial.get("phase"), "regions": trial.get("regions"), "sex": trial.get("sex"),
                "min_age": trial.get("min_age"), "max_age": trial.get("max_age"), "arm_label": arm.get("label"),
                "arm_type": arm.get("type"), "arm_description": arm.get("description"),
                "intervention": arm.get("intervention"), "dose_value": dose.get("value"), "dose_unit": dose.get("unit"),
                "dose_value_mg": dose.get("value_mg"), "measure": out.get("measure"),
                "measure_norm": (out.get("measure") or "").lower() or None, "time_frame": out.get("time_frame"),
                "time_weeks": out.get("time_weeks"), "unit": out.get("unit") or res.get("unit"),
                "better": out.get("better"), "value": res.get("value"), "spread": res.get("spread"), "n": res.get("n"),
                "dispersion_type": res.get("dispersion_type")}

    a = state(trial_a, c.get("anchor") or {})
    t = state(trial_t, c.get("target") or {})
    if q.factor in ("time_point", "time_frame") and q.to_value:
        t["time_frame"], t["time_weeks"] = q.to_value, None
    return a, t


@dataclass
class PathStep:
    factor: str
    before: dict
    after: dict


def build_path(start: dict, target: dict, order: Sequence[str] = FACTOR_ORDER) -> list[PathStep]:
    """Change one differing factor at a time, in ``order``, until ``start`` matches ``target``.

    A factor whose value is unknown on either side is not changed. The intervention step also
    carries the dose (a new drug comes with its own dose), so a later dose step is then skipped."""
    steps, state = [], dict(start)
    for factor in order:
        a, b = factor_key(state, factor), factor_key(target, factor)
        if a is None or b is None or a == b:
            continue
        new = dict(state)
        for f in FACTOR_FIELDS[factor]:
            new[f] = target.get(f)
        steps.append(PathStep(factor, state, new))
        state = new
    return steps


def margin_for(value: Optional[float], spread: Optional[float], rel: float, sd: float) -> float:
    """The meaningful-difference margin: sd x spread when a spread is posted, else rel x |value|."""
    cands = []
    if isinstance(spread, (int, float)) and not math.isnan(spread) and spread > 0:
        cands.append(sd * spread)
    if isinstance(value, (int, float)) and not math.isnan(value):
        cands.append(rel * abs(value))
    return max(cands) if cands and max(cands) > 0 else 1e-9


def bridge_sign(start_value: float, anchor_value: float, margin: float) -> int:
    """Known sign of the start cell's result vs the question's anchor result."""
    d = start_value - anchor_value
    return 1 if d > margin else -1 if d < -margin else 0


def compose_signs(bridge: int, step_dists: Sequence[dict]) -> dict:
    """P(net > 0), P(net < 0), P(net = 0) for net = bridge + sum of independent step signs."""
    dist = {bridge: 1.0}
    for s in step_dists:
        new: dict[int, float] = {}
        for v, p in dist.items():
            for sign, key in ((1, "up"), (-1, "down"), (0, "none")):
                new[v + sign] = new.get(v + sign, 0.0) + p * s[key]
        dist = new
    up = sum(p for v, p in dist.items() if v > 0)
    down = sum(p for v, p in dist.items() if v < 0)
    return {"up": up, "down": down, "none": max(0.0, 1.0 - up - down)}


def _fmt_dose(s: dict) -> str:
    v = s.get("dose_value")
    return f"{v:g} {s.get('dose_unit') or ''}".strip() if isinstance(v, (int, float)) else "unknown dose"


def _describe(state: dict, factor: str) -> str:
    if factor == "intervention":
        return f"{state.get('intervention') or state.get('arm_label')} {_fmt_dose(state)}"
    if factor == "dose":
        return _fmt_dose(state)
    if factor == "region":
        return ", ".join(state.get("regions") or []) or "unknown"
    if factor == "population":
        return f"sex {state.get('sex') or 'all'}, age {state.get('min_age') or '?'}-{state.get('max_age') or '?'}"
    if factor == "phase":
        return str(state.get("phase"))
    return str(state.get("time_frame"))


def step_question(step: PathStep, value: float, imagined: bool, qid: str) -> Question:
    """A direction question for one step; the known result is ``value`` (imagined after step 1)."""
    b, a = step.before, step.after

    def trial(s: dict) -> dict:
        return {"nct_id": s.get("nct_id"), "title": s.get("title") or "", "conditions": s.get("conditions") or [],
                "phase": s.get("phase"), "regions": s.get("regions") or [], "sex": s.get("sex"),
                "min_age": s.get("min_age"), "max_age": s.get("max_age")}

    def arm(s: dict, result: Optional[dict]) -> dict:
        return {"label": s.get("arm_label") or "", "type": s.get("arm_type"), "description": s.get("arm_description"),
                "intervention": s.get("intervention"), "result": result,
                "dose": {"value": s.get("dose_value"), "unit": s.get("dose_unit"), "value_mg": s.get("dose_value_mg")}}

    label = (b.get("arm_label") or "anchor") + (" (imagined)" if imagined else "")
    result = {"value": round(value, 4), "unit": b.get("unit"), "spread": b.get("spread"),
              "dispersion_type": b.get("dispersion_type"), "n": b.get("n")}
    ctx = {"trial": trial(b), "outcome": {"measure": b.get("measure"), "time_frame": b.get("time_frame"),
                                          "unit": b.get("unit"), "better": b.get("better")},
           "anchor": {**arm(b, result), "label": label}, "target": arm(a, None)}
    if step.factor == "region" or step.factor == "population":
        ctx["counterfactual_trial"] = trial(a)
    return Question(id=qid, source="approximate", kind="time_frame" if step.factor == "time_frame" else
                    {"intervention": "comparator", "dose": "dose", "region": "geography",
                     "population": "population", "phase": "phase"}[step.factor],
                    category="direction", split="test", nct_ids=[str(b.get("nct_id") or "")], factor=step.factor,
                    from_value=_describe(b, step.factor), to_value=_describe(a, step.factor),
                    options=list(DIRECTION_OPTIONS), answer_index=0, context=ctx, meta={"imagined": True})


def _train_pool(cells) -> list[dict]:
    """TRAIN-split rows of the retrieval pool (a DataFrame or a list of dicts) with a numeric value."""
    rows = cells.to_dict("records") if hasattr(cells, "to_dict") else list(cells)
    return [r for r in rows if r.get("split") == "train" and isinstance(r.get("value"), (int, float))
            and not math.isnan(r["value"])]


def retrieve_anchors(q: Question, pool: Sequence[dict], k: int) -> list[dict]:
    """Top-k train cells for ``q``: same measure (measure_norm, else measure) and unit; ranked by
    similarity to the target state; the question's own trials excluded."""
    _, target = question_states(q)
    measure = _norm(target.get("measure"))
    unit = _norm(target.get("unit"))
    own = set(q.nct_ids)
    conds = set(_norm(target.get("conditions")) or ())
    scored = []
    for r in pool:
        if r.get("nct_id") in own:
            continue
        if _norm(r.get("measure_norm")) != measure and _norm(r.get("measure")) != measure:
            continue
        if _norm(r.get("unit")) != unit:
            continue
        s = cell_state(r)
        score = (4 * (factor_key(s, "intervention") == factor_key(target, "intervention"))
                 + 2 * bool(conds & set(_norm(s.get("conditions")) or ()))
                 + (factor_key(s, "phase") == factor_key(target, "phase"))
                 + bool(set(_norm(s.get("regions")) or ()) & set(_norm(target.get("regions")) or ()))
                 + (factor_key(s, "time_frame") == factor_key(target, "time_frame"))
                 + (factor_key(s, "dose") == factor_key(target, "dose")))
        scored.append((-score, str(r.get("nct_id")), str(r.get("arm_label")), s))
    scored.sort(key=lambda t: t[:3])
    return [s for *_, s in scored[:k]]


def fallback_reason(q: Question) -> Optional[str]:
    """Why imagine mode cannot run on ``q`` (then: direct), or None."""
    if q.source == "ct_open":
        return "ct_open_unstructured"
    if option_semantics(q) is None:
        return "options_not_directional"
    anchor, target = question_states(q)
    if not isinstance(anchor.get("value"), (int, float)):
        return "no_anchor_result"
    if _norm(anchor.get("measure")) != _norm(target.get("measure")) or q.kind == "outcome_measure":
        return "outcome_changes"
    if not build_path(anchor, target):
        return "no_imaginable_step"
    return None


@dataclass
class PathRun:
    start: dict
    steps: list[PathStep]
    bridge: int
    value: float
    dists: list[dict] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    invalid_steps: int = 0


def plan_paths(q: Question, pool: Sequence[dict], k: int, margin_rel: float, margin_sd: float) -> list[PathRun]:
    """The k paths for ``q`` (pure): retrieved train starts, padded with the question's own anchor."""
    anchor, target = question_states(q)
    margin = margin_for(anchor["value"], anchor.get("spread"), margin_rel, margin_sd)
    starts = retrieve_anchors(q, pool, k)
    runs = [PathRun(s, build_path(s, target), bridge_sign(float(s["value"]), float(anchor["value"]), margin),
                    float(s["value"])) for s in starts]
    while len(runs) < k:
        runs.append(PathRun(anchor, build_path(anchor, target), 0, float(anchor["value"])))
    return runs


Ask = Callable[[list[Question]], list[str]]


def imagine(questions: Sequence[Question], pool: Sequence[dict], ask: Ask, k: int = 3, margin_rel: float = 0.05,
            margin_sd: float = 0.2) -> tuple[dict[str, Optional[list[float]]], dict[str, dict], Counter]:
    """Run successive imagining for ``questions`` (those with a ``fallback_reason`` are skipped).

    ``ask`` answers a batch of step questions (one generated text each). Steps are asked level by
    level across all paths of all questions, so each model call is one batch.
    Returns (probs by question id (None = invalid), trajectories by id, counts)."""
    counts: Counter = Counter()
    plans = {q.id: plan_paths(q, pool, k, margin_rel, margin_sd) for q in questions}
    depth = max((len(r.steps) for runs in plans.values() for r in runs), default=0)
    for level in range(depth):
        batch, owners = [], []
        for qid, runs in plans.items():
            for p, run in enumerate(runs):
                if level < len(run.steps):
                    batch.append(step_question(run.steps[level], run.value, level > 0, f"{qid}/path{p}/step{level}"))
                    owners.append(run)
        texts = ask(batch) if batch else []
        counts["steps"] += len(batch)
        for run, sq, text in zip(owners, batch, texts):
            parsed = parse_decision(text, len(sq.options))
            dist = direction_probs(sq, parsed.probs) if parsed.valid else None
            run.texts.append(text)
            if dist is None:
                run.invalid_steps += 1
                counts["invalid_steps"] += 1
                dist = {"up": 1 / 3, "down": 1 / 3, "none": 1 / 3}
            run.dists.append(dist)
            b = sq.context["anchor"]["result"]
            run.value += (dist["up"] - dist["down"]) * margin_for(b["value"], b.get("spread"), margin_rel, margin_sd)
    probs: dict[str, Optional[list[float]]] = {}
    trajectories: dict[str, dict] = {}
    for q in questions:
        runs = plans[q.id]
        finals = [compose_signs(r.bridge, r.dists) for r in runs if r.invalid_steps == 0]
        counts["paths"] += len(runs)
        counts["zero_step_paths"] += sum(not r.steps for r in runs)
        if finals:
            mean = {key: sum(f[key] for f in finals) / len(finals) for key in ("up", "down", "none")}
            probs[q.id] = options_from_direction(q, mean)
        else:
            probs[q.id] = None
            counts["invalid_questions"] += 1
        trajectories[q.id] = {"paths": [
            {"start": {k2: r.start.get(k2) for k2 in ("nct_id", "arm_label", "value")}, "bridge": r.bridge,
             "steps": [{"factor": s.factor, "from": _describe(s.before, s.factor), "to": _describe(s.after, s.factor),
                        "text": t} for s, t in zip(r.steps, r.texts)],
             "final": compose_signs(r.bridge, r.dists), "invalid_steps": r.invalid_steps} for r in runs],
            "probs": probs[q.id]}
    return probs, trajectories, counts
