"""Trial-arm states and one-factor paths: the contract shared by the pairs stage (anchor retrieval),
the traces stage (teacher-imagined steps) and evaluation (successive imagining).

A *state* is a flat dict describing one arm of one trial on one outcome: condition, phase,
regions, population, the arm (label, type, description, intervention and dose), the outcome
(measure, time frame) and, for a cell with posted results, its result (value, spread, n,
dispersion type, unit). A *path* changes ONE differing factor per step, in a configurable order,
until a start state equals a target state; each step is asked as one local-operator question.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from .questions import CHANGE_OPTIONS, Question

FACTOR_ORDER = ("intervention", "dose", "region", "population", "phase", "time_frame")
# the state fields a factor carries from the target when it changes
FACTOR_FIELDS = {
    "intervention": ("intervention", "intervention_name", "arm_label", "arm_type", "arm_description", "dose_value",
                     "dose_unit", "dose_value_mg", "dose_frequency", "is_placebo"),
    "dose": ("dose_value", "dose_unit", "dose_value_mg", "dose_frequency", "arm_label", "arm_description"),
    "region": ("regions",),
    "population": ("sex", "min_age", "max_age"),
    "phase": ("phase",),
    "time_frame": ("time_frame", "time_weeks"),
}
# the factor name of the training questions that teach each imagining step
TRAINING_FACTOR = {"intervention": "arm", "dose": "dose", "region": "region", "population": "population",
                   "phase": "phase", "time_frame": "time_frame"}
# question factors -> operator group (per-factor adapters)
FACTOR_GROUP = {"arm": "arm", "comparator": "arm", "intervention": "arm", "dose": "dose",
                "outcome_measure": "outcome", "time_point": "time", "time_frame": "time",
                "region": "context", "population": "context", "phase": "context"}


def operator_group(factor: Optional[str], from_value=None, to_value=None) -> Optional[str]:
    """The group of an operator step: its factor group (``FACTOR_GROUP``), with the arm steps to or
    from a placebo ('arm_placebo') apart from those between two active arms ('arm'). The two kinds
    differ in size (a drug's whole effect vs a difference of potencies) and in how well the operator
    reads them (README, Results, session 17): calibration and bin centres are fitted per group."""
    group = FACTOR_GROUP.get(factor or "")
    if group == "arm" and any("placebo" in str(v or "").lower() for v in (from_value, to_value)):
        return "arm_placebo"
    return group


PROTOCOL_KEYS = ("nct_id", "title", "conditions", "phase", "regions", "sex", "min_age", "max_age", "enrollment",
                 "arm_label", "arm_type", "arm_description", "intervention", "intervention_name", "is_placebo", "dose_value", "dose_unit",
                 "dose_value_mg", "dose_frequency", "measure", "measure_norm", "time_frame", "time_weeks")
RESULT_KEYS = ("value", "spread", "n", "dispersion_type", "unit", "sd")


def _clean(v):
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def cell_state(row: dict, with_result: bool = True) -> dict:
    """A ``cells.parquet`` row as a state; ``with_result=False`` keeps the protocol fields only
    (what is known of a trial before its results post)."""
    keys = PROTOCOL_KEYS + (RESULT_KEYS + ("better", "posted_date") if with_result else ())
    state = {k: _clean(row.get(k)) for k in keys}
    if state.get("intervention") is None and row.get("intervention_name"):
        state["intervention"] = str(row["intervention_name"]).lower()
    return state


def weeks_of(text) -> Optional[float]:
    """Weeks of the last 'N day/week/month/year' in a time-frame text (None when there is none)."""
    found = re.findall(r"(\d+(?:\.\d+)?)\s*-?\s*(day|week|month|year)s?", str(text or "").lower())
    if not found:
        return None
    n, unit = found[-1]
    return round(float(n) * {"day": 1 / 7, "week": 1.0, "month": 4.348, "year": 52.18}[unit], 3)


def _norm(x):
    x = _clean(x)
    if isinstance(x, str):
        return x.strip().lower() or None
    if isinstance(x, (list, tuple)):
        return tuple(sorted(str(v).lower() for v in x)) or None
    return x


def factor_key(state: dict, factor: str):
    """The comparable value of ``factor`` in a state (None = unknown: never a step)."""
    if factor == "intervention":
        if state.get("is_placebo"):
            return "placebo"
        return _norm(state.get("intervention"))
    if factor == "dose":
        if state.get("is_placebo"):
            return None
        v = _clean(state.get("dose_value_mg"))
        v = _clean(state.get("dose_value")) if v is None else v
        return None if v is None else float(v)
    if factor == "region":
        return _norm(state.get("regions"))
    if factor == "population":
        key = tuple(_norm(state.get(k)) for k in ("sex", "min_age", "max_age"))
        return None if all(v is None for v in key) else key
    if factor == "phase":
        return _norm(state.get("phase"))
    if factor == "time_frame":
        w = _clean(state.get("time_weeks"))
        w = weeks_of(state.get("time_frame")) if not isinstance(w, (int, float)) else w
        return float(w) if isinstance(w, (int, float)) else _norm(state.get("time_frame"))
    raise ValueError(f"unknown factor {factor!r}")


@dataclass
class PathStep:
    factor: str          # intervention | dose | region | population | phase | time_frame
    before: dict
    after: dict


def build_path(start: dict, target: dict, order: Sequence[str] = FACTOR_ORDER) -> list[PathStep]:
    """Change one differing factor at a time, in ``order``, until ``start`` matches ``target``.

    A factor unknown on either side is not changed. The intervention step brings the target's dose
    with the new intervention, so a later dose step is then skipped."""
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


def dose_text(s: dict) -> str:
    if s.get("is_placebo"):
        return "placebo"
    v = _clean(s.get("dose_value"))
    if not isinstance(v, (int, float)):
        return "unknown dose"
    return f"{v:g} {s.get('dose_unit') or ''}".strip() + (f" {s['dose_frequency']}" if s.get("dose_frequency") else "")


def population_text(s: dict) -> str:
    sex = {"FEMALE": "women", "MALE": "men"}.get(str(s.get("sex") or "").upper(), "all sexes")
    lo, hi = _clean(s.get("min_age")), _clean(s.get("max_age"))
    return f"{sex}, age {lo if lo is not None else '?'}-{hi if hi is not None else '?'}"


def shown_intervention(s: dict) -> Optional[str]:
    """The intervention as prompts name it: its compound's one name, the normalised, synonym-merged
    key that steps compare ('femataclidinium' for 'CSP-5373 25 µg' and 'Femataclidinium 50
    micrograms' alike), so that a model reads one name per compound wherever a trial lists it by
    code, brand or generic name with its dose; the registry's own name where no key was made."""
    return "placebo" if s.get("is_placebo") else (s.get("intervention") or s.get("intervention_name"))


def describe(state: dict, factor: str) -> str:
    """The value of ``factor`` in words (a step's from / to)."""
    if factor == "intervention":
        return "placebo" if state.get("is_placebo") else f"{shown_intervention(state) or state.get('arm_label')} {dose_text(state)}"
    if factor == "dose":
        return dose_text(state)
    if factor == "region":
        return ", ".join(state.get("regions") or []) or "unknown"
    if factor == "population":
        return population_text(state)
    if factor == "phase":
        return str(state.get("phase"))
    return str(state.get("time_frame"))


def state_trial(s: dict) -> dict:
    return {"nct_id": s.get("nct_id"), "title": s.get("title") or "", "conditions": list(s.get("conditions") or []),
            "phase": s.get("phase"), "regions": list(s.get("regions") or []), "sex": s.get("sex"),
            "min_age": s.get("min_age"), "max_age": s.get("max_age")}


def state_arm(s: dict, result: Optional[dict] = None) -> dict:
    return {"label": s.get("arm_label") or "", "type": s.get("arm_type"), "description": s.get("arm_description"),
            "intervention": shown_intervention(s), "result": result,
            "dose": None if s.get("is_placebo") or s.get("dose_value") is None else
            {"value": s.get("dose_value"), "unit": s.get("dose_unit"), "value_mg": s.get("dose_value_mg"),
             "frequency": s.get("dose_frequency")}}


def step_question(step: PathStep, value: float, sd: Optional[float], n, imagined: bool, qid: str,
                  unit: Optional[str] = None, answer_index: int = 2, source: str = "approximate") -> Question:
    """The local-operator ('change') question of one step: the state before the step with the
    carried (posted or imagined) value, and the ONE change, from -> to."""
    b, a = step.before, step.after
    result = {"value": round(float(value), 4), "unit": unit if unit is not None else b.get("unit"),
              "spread": None if sd is None else round(float(sd), 4),
              "dispersion_type": "STANDARD_DEVIATION" if sd is not None else None, "n": n}
    ctx = {"trial": state_trial(b),
           "outcome": {"measure": b.get("measure"), "time_frame": b.get("time_frame"), "unit": b.get("unit"),
                       "better": b.get("better")},
           "anchor": state_arm(b, result), "target": state_arm(a)}
    if step.factor == "time_frame":
        ctx["target_outcome"] = {"measure": a.get("measure"), "time_frame": a.get("time_frame")}
    kind = {"intervention": "arm", "dose": "dose", "region": "geography", "population": "population",
            "phase": "phase", "time_frame": "time_frame"}[step.factor]
    return Question(id=qid, source=source, kind=kind, category="change", split="train" if source == "synthetic" else "test",
                    nct_ids=[str(b.get("nct_id") or "")], factor=TRAINING_FACTOR[step.factor],
                    from_value=describe(b, step.factor), to_value=describe(a, step.factor),
                    options=list(CHANGE_OPTIONS), answer_index=answer_index, context=ctx,
                    meta={"imagined": imagined})


def arm_similarity(anchor: dict, target: dict) -> float:
    """How close an anchor arm state is to a target arm state (higher = closer; 0..11)."""
    return signature_similarity(arm_signature(anchor), arm_signature(target))


def arm_signature(state: dict) -> tuple:
    """What ``arm_similarity`` compares of a state, normalised once (an index keeps its cells'):
    intervention, arm type, conditions, dose, regions, phase, population, time frame."""
    return (factor_key(state, "intervention"), _norm(state.get("arm_type")),
            frozenset(_norm(state.get("conditions")) or ()), factor_key(state, "dose"),
            frozenset(_norm(state.get("regions")) or ()), factor_key(state, "phase"),
            factor_key(state, "population"), factor_key(state, "time_frame"))


def signature_similarity(a: tuple, t: tuple) -> float:
    """``arm_similarity`` of two ``arm_signature``s: same intervention 4, arm type 2, a shared
    condition 1.5, a dose within 1.5x of the same intervention's 1, a shared region, the same
    phase, population and time frame 0.5 each."""
    def same(x, y):
        return x is not None and x == y

    same_drug = same(a[0], t[0])
    score = 4.0 * same_drug + 2.0 * same(a[1], t[1]) + 1.5 * bool(a[2] & t[2])
    if a[3] and t[3] and same_drug:
        score += 1.0 * (max(a[3], t[3]) / min(a[3], t[3]) <= 1.5)
    score += 0.5 * bool(a[4] & t[4])
    return score + 0.5 * same(a[5], t[5]) + 0.5 * same(a[6], t[6]) + 0.5 * same(a[7], t[7])


def question_states(q: Question) -> tuple[dict, dict]:
    """(anchor state with its posted result, target state) of a local question."""
    c = q.context or {}
    out = c.get("outcome") or {}
    t_out = c.get("target_outcome") or out
    trial_a = c.get("trial") or {}
    trial_t = c.get("counterfactual_trial") or trial_a

    def state(trial: dict, arm: dict, outcome: dict) -> dict:
        dose = arm.get("dose") or {}
        res = arm.get("result") or {}
        return {"nct_id": trial.get("nct_id"), "title": trial.get("title"), "conditions": trial.get("conditions"),
                "phase": trial.get("phase"), "regions": trial.get("regions"), "sex": trial.get("sex"),
                "min_age": trial.get("min_age"), "max_age": trial.get("max_age"), "enrollment": trial.get("enrollment"),
                "arm_label": arm.get("label"), "arm_type": arm.get("type"), "arm_description": arm.get("description"),
                "intervention": arm.get("intervention"),
                "is_placebo": str(arm.get("type") or "").upper() in ("PLACEBO_COMPARATOR", "SHAM_COMPARATOR"),
                "dose_value": dose.get("value"), "dose_unit": dose.get("unit"), "dose_value_mg": dose.get("value_mg"),
                "dose_frequency": dose.get("frequency"), "measure": outcome.get("measure"),
                "measure_norm": (outcome.get("measure") or "").lower() or None, "time_frame": outcome.get("time_frame"),
                "time_weeks": outcome.get("time_weeks"), "unit": outcome.get("unit") or res.get("unit"),
                "better": outcome.get("better"), "value": res.get("value"), "spread": res.get("spread"),
                "n": res.get("n"), "dispersion_type": res.get("dispersion_type")}

    return state(trial_a, c.get("anchor") or {}, out), state(trial_t, c.get("target") or {}, t_out)
