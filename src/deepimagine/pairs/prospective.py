"""The prospective benchmark: test-split trials asked as CT Open asks, with none of their own results shown.

``prospective_items`` writes, for every test trial with posted two-group analyses, items in CT
Open's own format (``nct_id``, ``endpoint``, ``brief_title``, ``arms``, ``meta_label``,
``list_of_tuples``, ``questions``), with CT Open's option wording:

- ``superiority`` (2 options, explicit arms, ``meta_label: single_arm``): did the experimental arm
  achieve a significant improvement over the control arm (p < ``alpha`` in the better direction)?
- ``comparative_effect`` (3 options, explicit): which arm is significantly worse, or neither;
- ``endpoint`` (2 options, implicit, ``meta_label: no_arm``): did at least one listed arm meet the
  endpoint (a significant improvement over the control)?

One item per (trial, outcome), as CT Open keys them (nct_id, endpoint): an outcome with one posted
two-arm analysis gives the explicit superiority and comparative-effect questions, an outcome with
several (dose-ranging arms against a control) the implicit endpoint question. The items are read
back by the CT Open importer, so both benchmarks are one code path.
``attach_states`` then gives every CT Open-format question the *protocol* state of each compared
arm: from the registry when the trial is in it (never its results), else from the item's text.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from typing import Iterator

import duckdb

from ..core.normalize import intervention_name_norm
from ..core.operator import finite_or_none
from ..core.semantics import CMP_NONE, CMP_WORSE, END_NO, END_YES, SUP_NO, SUP_YES, compared_arms
from ..core.states import cell_state, weeks_of
from .build import significance
from .natural import _arm_order, _fetch, load_analyses

log = logging.getLogger(__name__)

def _item_arm(c: dict) -> dict:
    name = c.get("intervention_name") or ("Placebo" if c.get("is_placebo") else None)
    return {"label": c.get("arm_label"), "type": c.get("arm_type"), "description": c.get("arm_description"),
            "interventionNames": [f"{(c.get('intervention_type') or 'DRUG').title()}: {name}"] if name else [],
            "interventions": [{"type": c.get("intervention_type") or "DRUG", "name": name}] if name else []}


def _question(index: int, category: str, options: list[str], answer_index: int) -> dict:
    return {"index": index, "category": category, "options": options, "answer": options[answer_index],
            "answer_index": answer_index}


def trial_items(cells: list[dict], analyses: dict, trial: dict, better_of, alpha: float) -> Iterator[dict]:
    """The CT Open-format items of one trial (pure)."""
    by_outcome: dict[int, dict[str, dict]] = defaultdict(dict)
    for c in cells:
        by_outcome[c["outcome_id"]][c["group_id"]] = c
    for oid in sorted(by_outcome):
        groups = by_outcome[oid]
        first = next(iter(groups.values()))
        better = better_of(first)
        if better not in ("higher", "lower"):
            continue
        endpoint = {"measure": first.get("measure"), "description": first.get("outcome_description") or "",
                    "timeFrame": first.get("time_frame") or "",
                    "outcome_type": "primaryOutcomes" if first.get("outcome_type") == "PRIMARY" else "secondaryOutcomes"}
        base = {"nct_id": trial["nct_id"], "endpoint_key": str(endpoint), "endpoint": endpoint, "brief_title": trial.get("title") or "",
                "listed_arms": None}
        compared = []
        for key, analysis in sorted(analyses.items(), key=lambda kv: sorted(kv[0][1])):
            if key[0] != oid:
                continue
            ga, gb = sorted(key[1])
            if ga not in groups or gb not in groups:
                continue
            ctrl, exp = _arm_order(groups[ga], groups[gb])
            if ctrl.get("arm_id") is None or exp.get("arm_id") is None or ctrl.get("arm_label") == exp.get("arm_label"):
                continue
            status = significance(analysis, alpha)
            ve, vc = finite_or_none(exp.get("value")), finite_or_none(ctrl.get("value"))
            if status in ("missing", "undecided") or ve is None or vc is None:
                continue
            sig = status == "yes"
            improved = (ve > vc) if better == "higher" else (ve < vc)
            compared.append((exp, ctrl, sig, improved))
        if len(compared) == 1:     # two arms compared: explicit superiority and comparative effect
            exp, ctrl, sig, improved = compared[0]
            a, b = exp["arm_label"], ctrl["arm_label"]
            yield {**base, "arms": [_item_arm(exp), _item_arm(ctrl)], "meta_label": "single_arm",
                   "list_of_tuples": [[a, "MET" if sig and improved else "NOT MET", b]],
                   "questions": [_question(0, "superiority", [SUP_YES.format(a=a, b=b), SUP_NO.format(a=a, b=b)],
                                           0 if sig and improved else 1),
                                 _question(1, "comparative_effect",
                                           [CMP_WORSE.format(x=b, y=a), CMP_WORSE.format(x=a, y=b),
                                            CMP_NONE.format(a=a, b=b)],
                                           2 if not sig else (0 if improved else 1))]}
        elif compared:             # several arms against their controls: did any meet the endpoint (implicit)
            arms = {}
            for exp, ctrl, _, _ in compared:
                arms[exp["arm_label"]], arms[ctrl["arm_label"]] = _item_arm(exp), _item_arm(ctrl)
            met = any(sig and improved for _, _, sig, improved in compared)
            yield {**base, "arms": list(arms.values()), "meta_label": "no_arm",
                   "list_of_tuples": [[e["arm_label"], "MET" if sig and imp else "NOT MET", c["arm_label"]]
                                      for e, c, sig, imp in compared],
                   "questions": [_question(0, "endpoint", [END_YES, END_NO], 0 if met else 1)]}


def prospective_items(con: duckdb.DuckDBPyConnection, better_of, alpha: float) -> Iterator[dict]:
    """Items for every TEST-split trial of the working tables (``cells``, ``trials``, ``split``)."""
    ncts = [r[0] for r in con.execute("SELECT DISTINCT c.nct_id FROM cells c JOIN trials t USING (nct_id) "
                                      "WHERE t.split = 'test' ORDER BY c.nct_id").fetchall()]
    if not ncts:
        return
    lo, hi = ncts[0], ncts[-1]
    analyses = load_analyses(con, lo, hi)
    trials = {t["nct_id"]: t for t in _fetch(con, "SELECT * FROM trials WHERE split = 'test'", [])}
    cells = _fetch(con, "SELECT c.* FROM cells c JOIN trials t USING (nct_id) WHERE t.split = 'test' "
                        "ORDER BY c.nct_id, c.outcome_id, c.group_id", [])
    by_nct: dict[str, list[dict]] = defaultdict(list)
    for c in cells:
        by_nct[c["nct_id"]].append(c)
    for nct in ncts:
        yield from trial_items(by_nct[nct], analyses.get(nct, {}), trials[nct], better_of, alpha)


# ---------------------------------------------------------------- arm states of CT Open-format questions


def _text_state(arm: dict, outcome: dict, trial: dict) -> dict:
    """A protocol state from a CT Open item's own text (a trial not in the registry)."""
    names = [str(i.get("name")) for i in arm.get("interventions") or [] if isinstance(i, dict) and i.get("name")]
    placebo = str(arm.get("type") or "").upper() in ("PLACEBO_COMPARATOR", "SHAM_COMPARATOR") or \
        bool(names) and all("placebo" in n.lower() or "sham" in n.lower() for n in names)
    active = [n for n in names if "placebo" not in n.lower()]
    return {"nct_id": trial.get("nct_id"), "title": trial.get("title"), "conditions": [], "arm_label": arm.get("label"),
            "arm_type": arm.get("type"), "arm_description": arm.get("description"),
            "intervention": None if placebo or not active else intervention_name_norm(active[0]),
            "intervention_name": None if placebo or not active else active[0], "is_placebo": placebo,
            "measure": outcome.get("measure"), "time_frame": outcome.get("time_frame"),
            "time_weeks": weeks_of(outcome.get("time_frame"))}


def attach_states(questions: list, protocol: dict[str, dict[str, dict]]) -> Counter:
    """Give each CT Open-format question ``context['arm_states']`` {arm label: protocol state}.

    ``protocol``: nct_id -> arm label -> protocol state (registry cells, results stripped)."""
    counts: Counter = Counter()
    for q in questions:
        c = q.context
        out = c.get("outcome") or {}
        trial = c.get("trial") or {}
        registry_arms = protocol.get(q.nct_ids[0], {})
        item_arms = {a.get("label"): a for a in trial.get("arms") or []}
        states = {}
        for label in {x for pair in compared_arms(q) for x in pair}:
            if label in registry_arms:
                s = dict(registry_arms[label])
                counts["arm_state_registry"] += 1
            elif label in item_arms:
                s = _text_state(item_arms[label], out, trial)
                counts["arm_state_text"] += 1
            else:
                counts["arm_state_missing"] += 1
                continue
            s.update(measure=out.get("measure"), time_frame=out.get("time_frame"),
                     time_weeks=weeks_of(out.get("time_frame")) if s.get("time_weeks") is None or label not in registry_arms
                     else s.get("time_weeks"))
            states[label] = s
        c["arm_states"] = states
    return counts


def protocol_states(con: duckdb.DuckDBPyConnection, ncts: set[str]) -> dict[str, dict[str, dict]]:
    """nct_id -> arm label -> protocol state (no result fields) for the given trials of the registry."""
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    if not ncts:
        return out
    con.register("wanted_ncts", __import__("pyarrow").table({"nct_id": sorted(ncts)}))
    rows = _fetch(con, """SELECT c.*, t.title, t.conditions, t.phase, t.regions, t.sex, t.min_age, t.max_age, t.enrollment
                          FROM cells c JOIN trials t USING (nct_id) JOIN wanted_ncts w USING (nct_id)
                          ORDER BY c.nct_id, c.outcome_id, c.group_id""", [])
    con.unregister("wanted_ncts")
    for r in rows:
        out[r["nct_id"]].setdefault(r.get("arm_label"), cell_state(r, with_result=False))
    for nct, arms in out.items():   # planned arm size: enrolment shared by the arms (a protocol fact)
        for s in arms.values():
            s["n_planned"] = round(s["enrollment"] / len(arms), 1) if s.get("enrollment") else None
    return out
