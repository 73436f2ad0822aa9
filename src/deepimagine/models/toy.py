"""Hand-built questions and result cells in the pairs-stage format, for tests and smoke runs
of the model stages before (or without) a real ``data/pairs``. Deterministic in ``seed``."""
from __future__ import annotations

import random

from ..questions import DIRECTION_OPTIONS, SUPERIORITY_OPTIONS, Question

_DRUGS = [("metformin", "type 2 diabetes", "HbA1c change", "%", "lower"),
          ("atorvastatin", "hypercholesterolemia", "LDL-C change", "mg/dL", "lower"),
          ("lisinopril", "hypertension", "systolic blood pressure change", "mmHg", "lower"),
          ("sertraline", "major depressive disorder", "HAM-D total score change", "points", "lower")]
_REGIONS = ["North America", "Europe", "East Asia", "Latin America"]


def toy_state(rng: random.Random, drug: tuple, dose: float) -> dict:
    name, condition, measure, unit, better = drug
    return {"drug": name, "condition": condition, "measure": measure, "unit": unit, "better": better,
            "dose": dose, "region": rng.choice(_REGIONS), "weeks": rng.choice([12, 24, 52])}


def _context(nct: str, a: dict, b: dict, value: float, n: int) -> dict:
    trial = {"nct_id": nct, "title": f"A study of {a['drug']} in {a['condition']}", "conditions": [a["condition"]],
             "phase": "PHASE2", "enrollment": 2 * n, "countries": [], "regions": [a["region"]], "sex": "ALL",
             "min_age": "18 Years", "max_age": None, "population": "adults"}
    outcome = {"measure": a["measure"], "description": "", "time_frame": f"{a['weeks']} weeks",
               "time_weeks": a["weeks"], "unit": a["unit"], "param_type": "MEAN", "dispersion_type": "SD",
               "outcome_type": "PRIMARY", "better": a["better"]}

    def arm(s: dict, v: float | None) -> dict:
        return {"label": f"{s['drug']} {s['dose']:g} mg", "type": "EXPERIMENTAL",
                "description": f"{s['drug']} {s['dose']:g} mg orally once daily", "intervention": s["drug"],
                "intervention_type": "DRUG",
                "dose": {"value": s["dose"], "unit": "mg", "value_mg": s["dose"], "frequency": "QD", "route": "oral"},
                "result": None if v is None else {"value": v, "spread": 1.0, "dispersion_type": "SD", "n": n,
                                                  "unit": s["unit"]}}

    return {"trial": trial, "outcome": outcome, "anchor": arm(a, value), "target": arm(b, None),
            "question": "How does the result under the target arm compare with the known result?"}


def toy_questions(n: int = 40, seed: int = 0, split: str = "train") -> list[Question]:
    """Dose questions whose answers follow a monotone (Emax-like) dose-response plus noise.

    ``expected_effect`` is the noiseless standardised effect (target - anchor; negative = lower)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        drug = _DRUGS[i % len(_DRUGS)]
        d1, d2 = rng.sample([5.0, 10.0, 20.0, 40.0, 80.0], 2)
        a, b = toy_state(rng, drug, d1), toy_state(rng, drug, d2)
        b["region"], b["weeks"] = a["region"], a["weeks"]
        emax = lambda d: -2.0 * d / (d + 15.0)  # noqa: E731  (lowers the measure)
        effect = emax(d2) - emax(d1)
        noisy = effect + rng.gauss(0, 0.3)
        superiority = i % 5 == 4
        if superiority:
            options, answer = list(SUPERIORITY_OPTIONS), 0 if noisy < -0.2 else 1
            category = "superiority"
        else:
            options, category = list(DIRECTION_OPTIONS), "direction"
            answer = 0 if noisy > 0.2 else 1 if noisy < -0.2 else 2
        value = round(rng.uniform(-3, -0.5), 2)
        out.append(Question(
            id=f"toy-{split}-{i:04d}", source="natural", kind="dose", category=category, split=split,
            nct_ids=[f"NCT{9000000 + i:08d}"], factor="dose", from_value=f"{d1:g} mg", to_value=f"{d2:g} mg",
            options=options, answer_index=answer, context=_context(f"NCT{9000000 + i:08d}", a, b, value, 60),
            expected_effect=round(effect, 4), posted_date="2020-01-01",
            meta={"better": drug[4], "chain_id": f"chain-{i // 3}", "step": i % 3}))
    return out


def toy_cells(n_trials: int = 12, seed: int = 0) -> list[dict]:
    """Rows shaped like ``data/pairs/cells.parquet`` (one per trial x arm x outcome)."""
    rng = random.Random(seed)
    rows = []
    for t in range(n_trials):
        drug = _DRUGS[t % len(_DRUGS)]
        region = _REGIONS[t % len(_REGIONS)]
        weeks = [12, 24][t % 2]
        for dose in (10.0, 40.0):
            rows.append({"nct_id": f"NCT{8000000 + t:08d}", "split": "train" if t % 3 else "test",
                         "arm_label": f"{drug[0]} {dose:g} mg", "arm_type": "EXPERIMENTAL",
                         "arm_description": f"{drug[0]} {dose:g} mg once daily", "intervention": drug[0],
                         "dose_value": dose, "dose_unit": "mg", "dose_value_mg": dose, "conditions": [drug[1]],
                         "phase": "PHASE2", "enrollment": 120, "regions": [region], "sex": "ALL",
                         "min_age": "18 Years", "max_age": None, "measure": drug[2], "measure_norm": drug[2].lower(),
                         "time_frame": f"{weeks} weeks", "time_weeks": weeks, "unit": drug[3], "better": drug[4],
                         "value": round(-1.0 - dose / 40 + rng.gauss(0, 0.1), 2), "spread": 1.0, "n": 60,
                         "dispersion_type": "SD", "title": f"{drug[0]} in {drug[1]}",
                         "text": f"{drug[0]} {dose:g} mg in {drug[1]}"})
    return rows
