"""Study planning: condition and design (arms, drugs, doses), geography, dates and status, each drawn
from the study's random generator."""
from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Optional

from .catalogue import COUNTRIES, COUNTRIES_BY_REGION, REGION_WEIGHTS, REGISTRY_DATE
from .text import _apportion


# --------------------------------------------------------------------------- study plan

CONDITION_WEIGHTS = {"t2d": 1.3, "htn": 1.0, "ra": 1.2, "pso": 1.1, "asthma": 1.0, "mdd": 0.9, "copd": 0.9, "hf": 0.8,
                     "ad": 1.0, "migraine": 0.8, "hchol": 0.8, "nsclc": 0.7}


def _choose(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _plan_design(world: dict, rng: random.Random) -> dict:
    """Condition, design, arms (drug, dose), phase, population."""
    cond_id = _choose(rng, CONDITION_WEIGHTS)
    cond = world["conditions"][cond_id]
    cands = sorted(d for d, v in world["drugs"].items() if cond_id in v["conditions"])
    u = rng.random()
    design = "dose_ranging" if u < 0.32 else "placebo" if u < 0.62 else "active" if u < 0.78 else "multi"
    test = world["drugs"][rng.choice(cands)]
    others = [d for d in cands if world["drugs"][d]["class_id"] != test["class_id"]] or [d for d in cands if d != test["id"]]
    comparator = world["drugs"][rng.choice(others)] if others else None
    if comparator is None and design in ("active", "multi"):
        design = "placebo"

    def arm(drug: Optional[dict], dose: float, role: str) -> dict:
        return {"drug": drug, "dose": dose, "role": role}

    ladder = test["dose_levels"]
    typ_idx = ladder.index(test["typical_dose"]) if test["typical_dose"] in ladder else len(ladder) // 2
    arms: list[dict] = []
    if design == "dose_ranging":
        k = min(len(ladder), 3 if rng.random() < 0.5 else 4)
        lo = max(0, min(len(ladder) - k, typ_idx - (k - 1) + rng.randrange(2)))  # doses span up to the typical dose
        arms.append(arm(None, 0.0, "placebo"))
        arms += [arm(test, ladder[j], "experimental") for j in range(lo, lo + k)]
        if comparator is not None and rng.random() < 0.15:
            arms.append(arm(comparator, comparator["typical_dose"], "active_comparator"))
        phases = rng.choices([["PHASE2"], ["PHASE1", "PHASE2"], ["PHASE2", "PHASE3"], ["PHASE1"]], [0.7, 0.1, 0.05, 0.15])[0]
    elif design == "placebo":
        dose = test["typical_dose"] if rng.random() < 0.6 else rng.choice(ladder)
        arms = [arm(None, 0.0, "placebo"), arm(test, dose, "experimental")]
        phases = rng.choices([["PHASE3"], ["PHASE2"], ["PHASE2", "PHASE3"]], [0.6, 0.3, 0.1])[0]
    elif design == "active":
        dose = test["typical_dose"] if rng.random() < 0.7 else rng.choice(ladder)
        arms = [arm(comparator, comparator["typical_dose"], "active_comparator"), arm(test, dose, "experimental")]
        phases = rng.choices([["PHASE3"], ["PHASE4"]], [0.5, 0.5])[0]
    else:
        arms = [arm(None, 0.0, "placebo")]
        if rng.random() < 0.5 and len(ladder) >= 2:
            j = max(0, min(len(ladder) - 2, typ_idx - rng.randrange(2)))
            arms += [arm(test, ladder[j], "experimental"), arm(test, ladder[j + 1], "experimental")]
        else:
            arms.append(arm(test, test["typical_dose"], "experimental"))
        arms.append(arm(comparator, comparator["typical_dose"], "active_comparator"))
        phases = rng.choices([["PHASE3"], ["PHASE2"]], [0.6, 0.4])[0]

    u = rng.random()
    age_group = "pediatric" if u < cond["pediatric"] else "older_adult" if u < cond["pediatric"] + cond["older"] else "adult"
    u = rng.random()
    sex = "FEMALE" if u < 0.03 and cond["female_share"] > 0.3 else "MALE" if u < 0.05 and cond["female_share"] < 0.7 else "ALL"
    if sex == "ALL":
        base = 0.5 if age_group == "pediatric" else cond["female_share"]
        female_share = min(0.95, max(0.05, base + rng.gauss(0.0, 0.05)))
    else:
        female_share = 1.0 if sex == "FEMALE" else 0.0
    return {"condition": cond_id, "design": design, "test": test, "comparator": comparator, "arms": arms,
            "phases": phases, "age_group": age_group, "sex": sex, "female_share": round(female_share, 4)}


def _plan_geography(rng: random.Random, phases: list[str], enrollment: int) -> dict:
    top = phases[-1]
    n_countries = {"PHASE1": (1, 2), "PHASE2": (1, 8), "PHASE3": (2, 15), "PHASE4": (1, 4)}[top]
    n = rng.randint(*n_countries)
    primary_region = _choose(rng, REGION_WEIGHTS)
    pool = COUNTRIES_BY_REGION[primary_region]
    first = "United States" if primary_region == "North America" and rng.random() < 0.8 else rng.choice(pool)
    countries = [first]
    all_countries = list(COUNTRIES)
    while len(countries) < n:
        c = rng.choice(pool) if rng.random() < 0.6 else rng.choice(all_countries)
        if c not in countries:
            countries.append(c)
        elif len(set(pool) - set(countries)) == 0 and len(countries) >= len(all_countries):
            break
    weights = [3.0 if k == 0 else rng.uniform(0.3, 1.5) for k in range(len(countries))]
    per_country = _apportion(enrollment, weights)
    sites = [max(1, min(30, round(nc / rng.uniform(8, 20)))) for nc in per_country]
    region_n: dict[str, int] = {}
    for c, nc in zip(countries, per_country):
        region_n[COUNTRIES[c][0]] = region_n.get(COUNTRIES[c][0], 0) + nc
    total = sum(region_n.values()) or 1
    region_weights = {r: round(v / total, 4) for r, v in sorted(region_n.items()) if v > 0}
    if not region_weights:
        region_weights = {COUNTRIES[first][0]: 1.0}
    main_region = max(region_weights, key=lambda r: (region_weights[r], r))
    return {"countries": countries, "per_country": per_country, "sites": sites, "region_weights": region_weights,
            "region": main_region}


def _add_months(d: date, months: float) -> date:
    return d + timedelta(days=int(round(months * 30.44)))


def _plan_dates(rng: random.Random, phases: list[str]) -> dict:
    span = (date(2026, 12, 31) - date(2008, 1, 1)).days  # a few start after REGISTRY_DATE: not yet recruiting
    start = date(2008, 1, 1) + timedelta(days=int(span * rng.random() ** 1.1))
    months = {"PHASE1": (8, 18), "PHASE2": (12, 30), "PHASE3": (16, 48), "PHASE4": (12, 36)}[phases[-1]]
    primary = _add_months(start, rng.uniform(*months))
    completion = _add_months(primary, rng.choice([0, 0, 0, 1, 2, 3, 6]))
    first_submit = start - timedelta(days=rng.randint(0, 120))
    first_submit = min(first_submit, REGISTRY_DATE - timedelta(days=rng.randint(10, 200)))
    results_submit = _add_months(primary, rng.uniform(6, 26))
    return {"start": start, "primary": primary, "completion": completion, "first_submit": first_submit,
            "results_submit": results_submit, "full_dates": rng.random() < 0.6 or start.year >= 2017}


def _status(rng: random.Random, dates: dict) -> tuple[str, bool]:
    ref = REGISTRY_DATE
    if dates["start"] > ref:
        return "NOT_YET_RECRUITING", False
    if dates["completion"] > ref:
        elapsed = (ref - dates["start"]).days / max(1, (dates["primary"] - dates["start"]).days)
        return ("RECRUITING" if elapsed < 0.6 else "ACTIVE_NOT_RECRUITING"), False
    u = rng.random()
    posted = dates["results_submit"] + timedelta(days=150) <= ref
    if u < 0.04:
        return "TERMINATED", posted and rng.random() < 0.6
    if u < 0.06 and dates["start"].year < 2017:
        return "UNKNOWN", False
    return "COMPLETED", posted and rng.random() < 0.96
