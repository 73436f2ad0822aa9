"""The generative world (``build_world(seed)``): drugs with Emax parameters, endpoint correlations,
effect modifiers, drawn from the catalogue; and ``dose_mg``. The mechanism itself (true means)
lives in ``deepimagine.core.mechanism``."""
from __future__ import annotations

import math
import random
from typing import Optional

from ...core.mechanism import _logit, MG_PER_UNIT
from .catalogue import (AGE_GROUPS, BRAND_SUFFIXES, CLASS_FIELDS, CLASSES_SPEC, CONDITIONS_SPEC, COUNTRIES,
                        ENDPOINT_FIELDS, FORMAT_VERSION, INDUSTRY_SPONSORS, NAME_MIDDLES, NAME_PREFIXES,
                        REGIONS, REGISTRY_DATE, SEXES)

# --------------------------------------------------------------------------- world


def _round_sig(x: float, sig: int = 4) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, sig - 1 - int(math.floor(math.log10(abs(x)))))


def build_world(seed: int) -> dict:
    """The generative world: conditions, endpoints, drugs with Emax parameters, effect modifiers.

    Deterministic for ``seed`` and JSON-serialisable; it is written verbatim into truth.json.
    """
    rng = random.Random(f"deepimagine-world:{seed}")
    endpoints: dict[str, dict] = {}
    conditions: dict[str, dict] = {}
    correlations: dict[str, dict] = {}
    for spec in CONDITIONS_SPEC:
        ep_ids = []
        for tup in spec["endpoints"]:
            ep = dict(zip(ENDPOINT_FIELDS, tup))
            ep["condition"] = spec["id"]
            ep["value_scale"] = "mean_change" if ep["kind"] == "continuous" else "percent"
            # per-participant SD, the scale for standardised effects: sd, or the binomial SD at the placebo rate
            pr = min(max(ep["placebo"], 0.1), 0.9)
            ep["scale_sd"] = ep["sd"] if ep["kind"] == "continuous" else round(100.0 * math.sqrt(pr * (1.0 - pr)), 4)
            endpoints[ep["id"]] = ep
            ep_ids.append(ep["id"])
        cond = {k: v for k, v in spec.items() if k != "endpoints"}
        cond["endpoints"] = ep_ids
        cond["mesh"] = list(spec["mesh"])
        cond["ancestors"] = [list(a) for a in spec["ancestors"]]
        cond["branches"] = [list(b) for b in spec["branches"]]
        conditions[spec["id"]] = cond
        loads = [endpoints[e]["loading"] for e in ep_ids]
        correlations[spec["id"]] = {
            "endpoints": ep_ids,
            "matrix": [[1.0 if i == j else round(li * lj, 4) for j, lj in enumerate(loads)] for i, li in enumerate(loads)],
        }

    classes: dict[str, dict] = {}
    drugs: dict[str, dict] = {}
    used_names: set[str] = set()
    prefixes = NAME_PREFIXES[:]
    rng.shuffle(prefixes)
    for tup in CLASSES_SPEC:
        cls = dict(zip(CLASS_FIELDS, tup))
        cls["ladder"] = [float(x) for x in cls["ladder"]]
        cls["typical"] = float(cls["typical"])
        classes[cls["id"]] = cls
        n_drugs = 2 if rng.random() < 0.15 else 1
        for _ in range(n_drugs):
            for _attempt in range(100):
                pre = prefixes[rng.randrange(len(prefixes))]
                mid = rng.choice(NAME_MIDDLES)
                base = pre + mid + (cls["stem"] or "stemcel")
                if base not in used_names:
                    break
            used_names.add(base)
            name = base.capitalize() + ("-L" if cls["id"] == "cells" else "")
            sponsor, code_prefix = INDUSTRY_SPONSORS[rng.randrange(len(INDUSTRY_SPONSORS))]
            code = f"{code_prefix}-{rng.randrange(100, 9999)}"
            other = [code]
            if rng.random() < 0.5:
                other.append((pre + rng.choice(BRAND_SUFFIXES)).capitalize())
            potency = {c: round(p * math.exp(rng.gauss(0.0, 0.25)), 4) for c, p in cls["potency"].items()}
            ed50_ratio = math.exp(rng.uniform(math.log(0.4), math.log(1.5)))
            hill = round(rng.uniform(0.8, 2.2), 3)
            emax: dict[str, dict] = {}
            for c, pot in potency.items():
                for ep_id in conditions[c]["endpoints"]:
                    ep = endpoints[ep_id]
                    dev = max(0.3, 1.0 + rng.gauss(0.0, 0.08 + 0.5 * (1.0 - ep["loading"])))
                    e0 = ep["placebo"] if ep["kind"] == "continuous" else _logit(ep["placebo"])
                    emax[ep_id] = {
                        "e0": round(e0, 4),
                        "emax": _round_sig(ep["effect_scale"] * pot * dev, 4),
                        "ed50": _round_sig(cls["typical"] * ed50_ratio * math.exp(rng.gauss(0.0, 0.1)), 4),
                        "hill": round(max(0.5, hill + rng.gauss(0.0, 0.1)), 3),
                        "emax_scale": "mean_change" if ep["kind"] == "continuous" else "log_odds",
                    }
            drug_id = base
            drugs[drug_id] = {
                "id": drug_id, "name": name, "code": code, "other_names": other,
                "mechanism_class": cls["name"], "class_id": cls["id"], "mechanism": cls["phrase"],
                "route": cls["route"], "dose_unit": cls["unit"], "frequency": cls["frequency"],
                "dose_levels": cls["ladder"], "typical_dose": cls["typical"],
                "intervention_type": cls["intervention_type"], "sponsor": sponsor,
                "conditions": sorted(potency), "potency": potency,
                "tau_weeks": round(cls["tau_weeks"] * rng.uniform(0.8, 1.25), 3),
                "emax": emax, "ae_terms": cls["ae_terms"],
            }
    return {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "registry_date": REGISTRY_DATE.isoformat(),
        "regions": REGIONS,
        "age_groups": AGE_GROUPS,
        "sexes": SEXES,
        "countries": {c: v[0] for c, v in COUNTRIES.items()},
        "conditions": conditions,
        "endpoints": endpoints,
        "endpoint_correlations": correlations,
        "classes": {k: {kk: v[kk] for kk in ("name", "phrase", "route", "unit", "frequency", "ladder", "typical", "tau_weeks", "potency")}
                    for k, v in classes.items()},
        "drugs": drugs,
        "better_direction": {k: v["better"] for k, v in endpoints.items()},
    }


# --------------------------------------------------------------------------- mechanism
# The world's mechanism (true means of an arm) lives in deepimagine.core.mechanism: the contract the
# oracle teacher and the oracle operator read truth.json with.

def dose_mg(dose: Optional[float], unit: Optional[str]) -> Optional[float]:
    """Dose in mg when the unit is a mass (mg, mcg, g), else None."""
    if dose is None or unit not in MG_PER_UNIT:
        return None
    return _round_sig(dose * MG_PER_UNIT[unit], 6)
