"""The simulated world's causal mechanism: the true mean of an arm (placebo response, Emax
dose-response, region / sex / age modifiers, time course), a pure function of ``truth.json``'s
world and a study's design. The simulator draws results from it; the oracle teacher and the
oracle operator (``deepimagine.core.oracle``) read truth with it.
"""
from __future__ import annotations

import math
from typing import Optional


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _expit(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


FIXED_DOSE_UNITS = ("mg", "mcg", "g")
MG_PER_UNIT = {"mg": 1.0, "mcg": 0.001, "g": 1000.0}


def _mixture(world: dict, region_weights: Optional[dict[str, float]], age_group: str, female_share: float) -> list[tuple]:
    """(weight, placebo multiplier, efficacy multiplier, exposure multiplier) per (region, sex) stratum."""
    if region_weights is None:
        region_weights = {"North America": 1.0}
    total = sum(region_weights.values())
    if total <= 0:
        raise ValueError("region_weights must have a positive sum")
    age = world["age_groups"][age_group]
    out = []
    for region, w in region_weights.items():
        if w <= 0:
            continue
        reg = world["regions"][region]
        for sex, ws in (("FEMALE", female_share), ("MALE", 1.0 - female_share)):
            if ws <= 0:
                continue
            sx = world["sexes"][sex]
            out.append((w / total * ws, reg["placebo"] * sx["placebo"] * age["placebo"],
                        reg["efficacy"] * sx["efficacy"] * age["efficacy"], reg["exposure"] * age["exposure"]))
    return out


def _mixture_mean(world: dict, drug_id: Optional[str], dose: float, endpoint_id: str, weeks: float,
                  strata: list[tuple], placebo_factor: float) -> float:
    ep = world["endpoints"][endpoint_id]
    pbo0 = ep["placebo"] * placebo_factor * (1.0 - math.exp(-weeks / ep["tau_placebo_weeks"]))
    par = None
    if drug_id is not None and dose > 0:
        drug = world["drugs"][drug_id]
        par = drug["emax"].get(endpoint_id)  # no effect on endpoints of conditions the drug does not target
        if par is not None:
            fixed = drug["dose_unit"] in FIXED_DOSE_UNITS
            h, ed50h = par["hill"], par["ed50"] ** par["hill"]
            emax_t = par["emax"] * (1.0 - math.exp(-weeks / drug["tau_weeks"]))
    continuous = ep["kind"] == "continuous"
    out = 0.0
    for w, pm, em, xm in strata:
        pbo = pbo0 * pm
        effect = 0.0
        if par is not None:
            dh = (dose * xm if fixed else dose) ** h
            effect = emax_t * dh / (ed50h + dh) * em
        if continuous:
            out += w * (pbo + effect)
        else:
            out += w * 100.0 * _expit(_logit(min(max(pbo, 0.01), 0.95)) + effect)
    return out


def true_mean(world: dict, drug_id: Optional[str], dose: float, endpoint_id: str, weeks: float,
              region_weights: Optional[dict[str, float]] = None, age_group: str = "adult",
              female_share: float = 0.5, placebo_factor: float = 1.0) -> float:
    """Expected arm mean (mean change, or percent responders) under the world's mechanisms.

    ``drug_id`` None (or dose 0) is placebo. ``region_weights`` maps region -> share of
    participants (default: all North America). The value is the participant-weighted mixture of
    the per-(region, sex) means, exactly what ``iter_studies`` records as truth.
    """
    strata = _mixture(world, region_weights, age_group, female_share)
    return _mixture_mean(world, drug_id, dose, endpoint_id, weeks, strata, placebo_factor)


