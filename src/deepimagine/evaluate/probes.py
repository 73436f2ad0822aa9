"""Operator probes: what each trained local operator learned about ONE factor, against the true mechanism.

Over 500 lines: the sweep of each factor, its truth and its agreement figures are read together, factor by factor;
splitting them apart would separate each sweep from the truth it is scored against.

For each factor (dose, intervention / arm type, region, population, phase, time frame) a few
held-out states are held fixed (test-split cells of ``data/pairs/cells.parquet`` with a posted
result) and that one factor is swept: dose over ratios of the state's dose, the trial's other arms,
single regions, population groups, phases, time frames. Each (state, value) is the very
``change`` question imagining asks at a step (``states.build_path`` + ``states.step_question``,
the state's posted value as the known result), asked to each operator through its predictor's
public ``ask`` (so the answer is read exactly as in imagine mode: likelihood or generation, the
fitted temperature, the per-factor adapter of its group). The answer's expected standardised
change (``pairs.operator.bin_centres`` / ``expected_change``) is the probe's reading.

On the simulated registry the TRUE standardised change of the same step is computed from
``truth.json``'s mechanism (``oracle.Oracle``: the Emax dose-response, region / sex / age
modifiers, the time course; phase has no effect in the simulator) and scaled like the step
(the state's SD, else |value|). Per factor and operator:

* ``sign_agreement``: share of probes whose true change lies beyond the operator's "about the
  same" band (the inner bin edges) where the expected change has the true sign;
* ``state_sign_agreement``: share of states where most such probes agree;
* ``rank_corr``: Spearman correlation of expected vs true change over all probes of the factor;
  ``rank_corr_within``: its mean over states (the shape of each state's sweep);
* ``null_rate``: share of probes inside the band whose expected change is inside it too (a factor
  without effect, e.g. phase, should read "about the same").

On real data (no truth) the curves are written without truth and the agreements are null.

Operators: one per LLM predictor model (``base``, ``sft``, ``rl``) as imagining uses it (with
per-factor adapters where they exist), and, for a model with per-factor adapters, ``<model>_shared``:
its shared adapter alone. Kept cheap on purpose (``SIZES``: states per factor; a few hundred
questions per operator).
"""
from __future__ import annotations

import logging
import math
import random
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from ..core import io
from ..core.operator import bin_centres, cell_sd, expected_change, finite_or_none, standardised_change
from ..core.questions import Question, parse_decision
from ..core.states import FACTOR_GROUP, TRAINING_FACTOR, build_path, cell_state, describe, factor_key, step_question

log = logging.getLogger(__name__)

FACTORS = ("dose", "intervention", "region", "population", "phase", "time_frame")
SIZES = {"dose": 12, "intervention": 6, "region": 3, "population": 3, "phase": 2, "time_frame": 3}   # states per factor
DOSE_RATIOS = (0.25, 0.5, 2.0, 4.0)
REGIONS = ("North America", "Europe", "Asia", "Latin America")
# (label, sex, min age, max age, simulator age group, female share: None = the state's own)
POPULATIONS = (("adults, all sexes", "ALL", 18.0, 75.0, "adult", None), ("adult women", "FEMALE", 18.0, 75.0, "adult", 1.0),
               ("adult men", "MALE", 18.0, 75.0, "adult", 0.0), ("older adults", "ALL", 65.0, 85.0, "older_adult", None),
               ("children 12-17", "ALL", 12.0, 17.0, "pediatric", 0.5))
PHASES = ("PHASE1", "PHASE2", "PHASE3", "PHASE4")
WEEKS = (4.0, 12.0, 24.0, 52.0)
MAX_ARMS = 3
OPERATOR_ORDER = ("base", "base_shared", "sft", "sft_shared", "rl", "rl_shared")


@dataclass
class ProbePoint:
    factor: str
    state: int                 # index of the held-fixed state within its factor
    state_label: str           # e.g. "NCT... | arm | measure"
    label: str                 # the swept value in words ("x4", "Asia", "PHASE3", ...)
    x: float                   # position on the sweep axis (log2 dose ratio, or the value's index)
    question: Question
    relative: bool             # standardised by |value| (no SD posted) instead of the SD
    truth: Optional[float]     # true standardised change (None: no truth)


def _clean_row(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if hasattr(v, "tolist"):
            v = v.tolist()
        if isinstance(v, float) and math.isnan(v):
            v = None
        out[k] = v
    return out


def read_cells(path: Path) -> list[dict]:
    """Test-split cells with a posted value (the held-out states), as plain dicts."""
    import pandas as pd

    df = pd.read_parquet(path)
    if "split" in df:
        df = df[df["split"] == "test"]
    rows = [_clean_row(r) for r in df.to_dict("records")]
    return [r for r in rows if finite_or_none(r.get("value")) is not None]


def _state_label(row: dict) -> str:
    return f"{row.get('nct_id')} | {row.get('arm_label')} | {row.get('measure')}"


def _dose_label(label: Optional[str], old: float, new: float) -> Optional[str]:
    if not label:
        return label
    return re.sub(rf"(?<![\d.]){re.escape(f'{old:g}')}(?![\d.])", f"{new:g}", str(label))


class Truth:
    """The true standardised change of a one-factor step of a cell (simulated registry), or None."""

    def __init__(self, truth: Optional[dict]):
        self.oracle = None
        if truth and truth.get("studies"):
            from ..core.oracle import Oracle

            self.oracle = Oracle(truth)

    def truth_params(self, row: dict) -> Optional[dict]:
        return self.oracle.params(row) if self.oracle else None

    def change(self, row: dict, target_params: Optional[dict]) -> Optional[float]:
        """(true mean after - before) / scale, with the step's scale (SD, else |value|)."""
        p = self.truth_params(row)
        if p is None or target_params is None:
            return None
        try:
            d = self.oracle.mean({**p, **target_params}) - self.oracle.mean(p)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return None
        value = float(row["value"])
        z, _ = standardised_change(value, value + d, cell_sd(row))
        return z


def sweep(row: dict, factor: str, truth: Truth, arms: Sequence[dict] = ()) -> list[tuple[str, float, dict, Optional[dict]]]:
    """The swept values of one state: (label, x, target state, truth parameters changed)."""
    s = cell_state(row)
    p = truth.truth_params(row)
    out = []
    if factor == "dose":
        d = factor_key(s, "dose")
        if not d:
            return []
        for r in DOSE_RATIOS:
            t = dict(s)
            t["dose_value"] = None if s.get("dose_value") is None else s["dose_value"] * r
            t["dose_value_mg"] = None if s.get("dose_value_mg") is None else s["dose_value_mg"] * r
            if s.get("dose_value") is not None:
                t["arm_label"] = _dose_label(s.get("arm_label"), s["dose_value"], t["dose_value"])
                t["arm_description"] = _dose_label(s.get("arm_description"), s["dose_value"], t["dose_value"])
            tp = {"dose": p["dose"] * r} if p and p.get("drug") and (p.get("dose") or 0) > 0 else None
            out.append((f"x{r:g}", math.log2(r), t, tp))
    elif factor == "intervention":
        for i, other in enumerate(arms[:MAX_ARMS]):
            t = cell_state(other, with_result=False)
            po = truth.truth_params(other)
            label = "placebo" if t.get("is_placebo") else describe(t, "intervention")
            out.append((label, float(i), t, None if po is None else {"drug": po["drug"], "dose": po["dose"]}))
    elif factor == "region":
        for i, reg in enumerate(REGIONS):
            out.append((reg, float(i), {**s, "regions": [reg]}, {"region_weights": {reg: 1.0}}))
    elif factor == "population":
        for i, (label, sex, lo, hi, group, female) in enumerate(POPULATIONS):
            share = female if female is not None else (p or {}).get("female_share", 0.5) if s.get("sex") in (None, "ALL") else 0.5
            out.append((label, float(i), {**s, "sex": sex, "min_age": lo, "max_age": hi},
                        {"age_group": group, "female_share": share}))
    elif factor == "phase":
        for i, ph in enumerate(PHASES):
            out.append((ph, float(i), {**s, "phase": ph}, {}))
    elif factor == "time_frame":
        for i, w in enumerate(WEEKS):
            out.append((f"week {w:g}", float(i), {**s, "time_frame": f"Week {w:g}", "time_weeks": w}, {"weeks": w}))
    else:
        raise ValueError(f"unknown factor {factor!r}")
    return out


def _eligible(row: dict, factor: str, truth: Truth, arms: Optional[list]) -> bool:
    if truth.oracle is not None and truth.truth_params(row) is None:
        return False
    s = cell_state(row)
    if factor == "dose":
        if not factor_key(s, "dose"):
            return False
        p = truth.truth_params(row)
        return truth.oracle is None or bool(p and p.get("drug") and (p.get("dose") or 0) > 0)
    if factor == "intervention":
        return bool(arms)
    return factor_key(s, factor) is not None


def _outcome_key(row: dict) -> tuple:
    return (row.get("nct_id"), row.get("measure"), row.get("time_frame"))


def build_points(cells: Sequence[dict], truth: Truth, seed: int, sizes: Optional[dict] = None,
                 factors: Sequence[str] = FACTORS) -> list[ProbePoint]:
    """The probe questions: per factor, ``sizes[factor]`` held-out states (seeded, one per trial
    first), each swept over its factor's values; steps that change nothing are left out."""
    sizes = {**SIZES, **(sizes or {})}
    by_outcome: dict[tuple, list[dict]] = defaultdict(list)
    for r in cells:
        by_outcome[_outcome_key(r)].append(r)
    points: list[ProbePoint] = []
    for factor in factors:
        arms: dict[int, list[dict]] = {}
        if factor == "intervention":       # the other arms of the same outcome with another intervention (or placebo)
            for rows in by_outcome.values():
                for r in rows:
                    key = factor_key(cell_state(r), "intervention")
                    others = [o for o in rows if o is not r and factor_key(cell_state(o), "intervention") not in (None, key)]
                    if others and key is not None:
                        arms[id(r)] = others
        eligible = [r for r in cells if _eligible(r, factor, truth, arms.get(id(r)))]
        random.Random(f"{seed}-{factor}").shuffle(eligible)
        picked, trials = [], set()
        for r in eligible:                   # one state per trial first ...
            if len(picked) < sizes[factor] and r["nct_id"] not in trials:
                picked.append(r)
                trials.add(r["nct_id"])
        chosen = {id(r) for r in picked}
        picked += [r for r in eligible if id(r) not in chosen][: max(sizes[factor] - len(picked), 0)]   # ... then the rest
        for i, row in enumerate(picked):
            s = cell_state(row)
            sd = cell_sd(row)
            for label, x, target, tp in sweep(row, factor, truth, arms.get(id(row), ())):
                steps = build_path(s, target, (factor,))
                if not steps:
                    continue
                q = step_question(steps[0], float(row["value"]), sd, row.get("n"), False,
                                  f"probe/{factor}/{i}/{len(points)}", unit=row.get("unit"))
                points.append(ProbePoint(factor, i, _state_label(row), label, x, q, sd is None or sd <= 0,
                                         truth.change(row, tp) if tp is not None else None))
    return points


def read_points(points: Sequence[ProbePoint], texts: Sequence[str], edges_sd: Sequence[float],
                edges_rel: Sequence[float]) -> list[Optional[dict]]:
    """Each answer's bin probabilities, expected standardised change and its SD (None: invalid)."""
    out = []
    for p, text in zip(points, texts):
        parsed = parse_decision(text, len(p.question.options))
        if not parsed.valid:
            out.append(None)
            continue
        mean, var = expected_change(parsed.probs, bin_centres(edges_rel if p.relative else edges_sd))
        out.append({"probs": [round(x, 4) for x in parsed.probs], "expected": round(mean, 4), "sd": round(math.sqrt(var), 4)})
    return out


def _ranks(xs: Sequence[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> Optional[float]:
    """Spearman's rank correlation (average ranks for ties); None when either side is constant or n < 3."""
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    ra, rb = _ranks(a), _ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va, vb = sum((x - ma) ** 2 for x in ra), sum((y - mb) ** 2 for y in rb)
    return cov / math.sqrt(va * vb)


def _r(x, nd: int = 4):
    return None if x is None else round(float(x), nd)


def agreement(points: Sequence[ProbePoint], readings: Sequence[Optional[dict]], band_sd: float, band_rel: float) -> dict:
    """Per factor: n, invalid, sign agreement (probe and state level), rank correlations, null rate, mean |change|."""
    out = {}
    for factor in dict.fromkeys(p.factor for p in points):
        idx = [i for i, p in enumerate(points) if p.factor == factor]
        valid = [i for i in idx if readings[i] is not None]
        band = {i: band_rel if points[i].relative else band_sd for i in idx}
        known = [i for i in valid if points[i].truth is not None]
        moving = [i for i in known if abs(points[i].truth) > band[i]]
        still = [i for i in known if abs(points[i].truth) <= band[i]]
        agree = {i: math.copysign(1, readings[i]["expected"]) == math.copysign(1, points[i].truth)
                 and readings[i]["expected"] != 0 for i in moving}
        per_state: dict[int, list[bool]] = defaultdict(list)
        for i in moving:
            per_state[points[i].state].append(agree[i])
        within = []
        for s in {points[i].state for i in known}:
            ii = [i for i in known if points[i].state == s]
            rho = spearman([readings[i]["expected"] for i in ii], [points[i].truth for i in ii])
            if rho is not None:
                within.append(rho)
        out[factor] = {
            "n": len(idx), "states": len({points[i].state for i in idx}), "invalid": len(idx) - len(valid),
            "with_truth": len(known), "beyond_band": len(moving),
            "sign_agreement": _r(sum(agree.values()) / len(agree)) if agree else None,
            "state_sign_agreement": _r(sum(sum(v) > len(v) / 2 for v in per_state.values()) / len(per_state)) if per_state else None,
            "rank_corr": _r(spearman([readings[i]["expected"] for i in known], [points[i].truth for i in known])),
            "rank_corr_within": _r(sum(within) / len(within)) if within else None,
            "null_rate": _r(sum(abs(readings[i]["expected"]) <= band[i] for i in still) / len(still)) if still else None,
            "mean_abs_expected": _r(sum(abs(readings[i]["expected"]) for i in valid) / len(valid)) if valid else None,
            "mean_abs_truth": _r(sum(abs(points[i].truth) for i in known) / len(known)) if known else None,
        }
    return out


# ---------------------------------------------------------------- the operators of the evaluated models


def probe_operators(params, predictors: dict) -> dict[str, object]:
    """{operator name: an object with ``ask(questions) -> texts``}: for each LLM model evaluated, a fresh
    predictor of it (its own cache and counts; the generator and fitted temperatures are shared with
    the evaluated one), and ``<model>_shared`` (per-factor adapters off) where it has per-factor adapters."""
    from . import llm

    out: dict[str, object] = {}
    evaluated = list(dict.fromkeys(n.split("/", 1)[0] for n in predictors))
    for model in reversed([m for m in evaluated if m in ("base", "sft", "rl")]):   # the last loaded model first
        src = next((p for n, p in predictors.items() if n.split("/", 1)[0] == model and callable(getattr(p, "ask", None))), None)
        if src is None:
            continue

        def fresh():
            try:
                return llm.make_llm_predictor(params, model, "direct", getattr(src, "train", None))
            except Exception as e:  # noqa: BLE001 - the operator code may change; fall back to the evaluated predictor
                log.warning("probes: a fresh %s predictor could not be built (%s); probing the evaluated one", model, e)
                return src

        out[model] = fresh()
        if getattr(out[model], "operators", None):
            shared = fresh()
            if shared is not out[model]:
                shared.operators = {}
                out[f"{model}_shared"] = shared
    return out


def adapter_of(operator, factor: str) -> Optional[str]:
    """The per-factor adapter that answers ``factor``'s steps for this operator (None: its shared one)."""
    group = FACTOR_GROUP.get(TRAINING_FACTOR.get(factor, factor))
    return group if group in (getattr(operator, "operators", None) or {}) else None


def run_probes(points: Sequence[ProbePoint], operators: dict[str, object], edges_sd: Sequence[float],
               edges_rel: Sequence[float]) -> dict:
    """Ask every operator every probe. Returns {"models": {name: {factor: metrics}}, "readings": {name: [...]},
    "adapters": {name: {factor: adapter}}, "seconds": {name: s}}."""
    band_sd, band_rel = float(edges_sd[len(edges_sd) // 2]), float(edges_rel[len(edges_rel) // 2])
    qs = [p.question for p in points]
    res: dict = {"models": {}, "readings": {}, "adapters": {}, "seconds": {}, "cpu_seconds": {}}
    for name, op in operators.items():
        started, cpu = time.perf_counter(), time.process_time()
        try:
            texts = op.ask(qs)
        except Exception as e:  # noqa: BLE001 - a probe must never fail the evaluation
            log.warning("probes: operator %s failed (%s); skipped", name, e)
            continue
        readings = read_points(points, texts, edges_sd, edges_rel)
        res["readings"][name] = readings
        res["models"][name] = agreement(points, readings, band_sd, band_rel)
        res["adapters"][name] = {f: adapter_of(op, f) for f in dict.fromkeys(p.factor for p in points)}
        res["seconds"][name] = round(time.perf_counter() - started, 2)
        res["cpu_seconds"][name] = round(time.process_time() - cpu, 2)
        log.info("probes: %s: %d questions in %.1fs; dose sign agreement %s", name, len(qs), res["seconds"][name],
                 (res["models"][name].get("dose") or {}).get("sign_agreement"))
    return res


def point_rows(points: Sequence[ProbePoint], readings: Sequence[Optional[dict]]) -> list[dict]:
    """One row per probe: the plot data of one operator (x / truth / expected)."""
    return [{"factor": p.factor, "state": p.state, "state_label": p.state_label, "value": p.label, "x": p.x,
             "from": p.question.from_value, "to": p.question.to_value, "relative": p.relative,
             "truth": None if p.truth is None else round(p.truth, 4),
             "expected": None if r is None else r["expected"], "sd": None if r is None else r["sd"],
             "probs": None if r is None else r["probs"]} for p, r in zip(points, readings)]


def dose_curve(rows: Sequence[dict], key: str) -> list[dict]:
    """Mean change per dose ratio over the probed states, each state's sign aligned with its true
    response at the highest ratio (so that curves of endpoints where lower is the drug's effect do not
    cancel); without truth, unaligned."""
    sign = {}
    for r in rows:
        if r["factor"] == "dose" and r["truth"] is not None and (r["state"] not in sign or r["x"] > sign[r["state"]][0]):
            sign[r["state"]] = (r["x"], 1.0 if r["truth"] >= 0 else -1.0)
    acc: dict[float, list[float]] = defaultdict(list)
    for r in rows:
        if r["factor"] == "dose" and r.get(key) is not None:
            acc[r["x"]].append(r[key] * sign.get(r["state"], (0, 1.0))[1])
    return [{"log2_ratio": x, "change": round(sum(v) / len(v), 4), "n": len(v)} for x, v in sorted(acc.items())]


def probes(params, predictors: dict, cells_path: Path = io.PAIRS_DIR / "cells.parquet",
           truth_path: Path = io.TRUTH_FILE, sizes: Optional[dict] = None) -> dict:
    """The whole probe: states, questions, every evaluated LLM's operators, agreement. Empty ``models``
    when no LLM predictor ran or there is no cells table."""
    import json

    started, cpu = time.perf_counter(), time.process_time()
    edges_sd, edges_rel = list(params.pairs.change_edges_sd), list(params.pairs.change_edges_rel)
    out = {"factors": list(FACTORS), "sizes": {**SIZES, **(sizes or {})}, "sweeps": {
        "dose": [f"x{r:g}" for r in DOSE_RATIOS], "intervention": f"the trial's other arms (up to {MAX_ARMS})",
        "region": list(REGIONS), "population": [p[0] for p in POPULATIONS], "phase": list(PHASES),
        "time_frame": [f"week {w:g}" for w in WEEKS]}, "band_sd": edges_sd[len(edges_sd) // 2],
        "band_rel": edges_rel[len(edges_rel) // 2], "truth": False, "models": {}, "points": {}}
    operators = probe_operators(params, predictors)
    if not operators or not Path(cells_path).exists():
        out["skipped"] = "no LLM predictor" if not operators else f"no {cells_path}"
        return out
    doc = json.loads(Path(truth_path).read_text(encoding="utf-8")) if Path(truth_path).exists() else None
    truth = Truth(doc)
    points = build_points(read_cells(Path(cells_path)), truth, params.seed, sizes)
    res = run_probes(points, operators, edges_sd, edges_rel)
    for key in ("models", "readings", "adapters"):       # reported in a fixed order, whatever order they ran in
        res[key] = dict(sorted(res[key].items(), key=lambda kv: (OPERATOR_ORDER.index(kv[0]) if kv[0] in OPERATOR_ORDER
                                                                  else len(OPERATOR_ORDER), kv[0])))
    out.update(truth=truth.oracle is not None, questions=len(points), models=res["models"], adapters=res["adapters"],
               seconds_per_model=res["seconds"], cpu_seconds_per_model=res["cpu_seconds"])
    out["points"] = {name: point_rows(points, r) for name, r in res["readings"].items()}
    out["seconds"] = round(time.perf_counter() - started, 2)
    out["cpu_seconds"] = round(time.process_time() - cpu, 2)   # all threads: on a busy machine wall time says little
    log.info("probes: %d questions x %d operators in %.1fs (%.1f CPU s)", len(points), len(operators), out["seconds"], out["cpu_seconds"])
    return out


# ---------------------------------------------------------------- outputs


TIMING_KEYS = ("seconds", "cpu_seconds", "seconds_per_model", "cpu_seconds_per_model")


def metrics_doc(result: dict) -> dict:
    """metrics/operators.json: the agreement figures and how the probe was built (no per-probe rows, and
    no wall-clock numbers: those go to the untracked ``timings/operators.json``)."""
    return {k: v for k, v in result.items() if k != "points" and k not in TIMING_KEYS}


def write_probe_outputs(result: dict, metrics_dir: Path) -> list[Path]:
    """metrics/operators.json, plot data (``plots/data/operators/<model>.json``: every probe, x truth y
    expected; ``plots/data/operator_dose/<model>.json``: the aligned mean dose curve, truth as its own
    series) and a figure per factor (``plots/images/operator_probes.png``, ``plots/images/dose_probe.png``)."""
    metrics_dir = Path(metrics_dir)
    written = [metrics_dir / "operators.json"]
    io.write_json(written[0], metrics_doc(result))
    io.write_json(metrics_dir / "timings" / "operators.json", {k: result[k] for k in TIMING_KEYS if k in result})
    points = result.get("points") or {}
    for name, rows in points.items():
        path = metrics_dir / "plots" / "data" / "operators" / f"{name}.json"
        io.write_json(path, [r for r in rows if r["expected"] is not None and r["truth"] is not None] or rows)
        written.append(path)
        path = metrics_dir / "plots" / "data" / "operator_dose" / f"{name}.json"
        io.write_json(path, dose_curve(rows, "expected"))
        written.append(path)
    if points and result.get("truth"):
        path = metrics_dir / "plots" / "data" / "operator_dose" / "truth.json"
        io.write_json(path, dose_curve(next(iter(points.values())), "truth"))
        written.append(path)
    if points:
        try:
            written += write_probe_figures(result, metrics_dir / "plots" / "images")
        except Exception as e:  # noqa: BLE001 - a figure must not fail the stage
            log.warning("probes: figures not drawn (%s)", e)
    return written


COLOURS = {"truth": "#111111", "base": "#9e9e9e", "sft": "#1f77b4", "sft_shared": "#17becf", "rl": "#d62728",
           "rl_shared": "#ff9896", "base_shared": "#bcbd22"}


def write_probe_figures(result: dict, out_dir: Path, factors: Sequence[str] = FACTORS) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def _save(fig, path: Path) -> Path:          # as plots._save, keeping this figure's own layout
        path.parent.mkdir(parents=True, exist_ok=True)
        with io.atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        return path

    points = result["points"]
    models = list(points)
    written = []
    # dose: one panel per probed state, truth vs every operator
    rows0 = points[models[0]]
    states = sorted({r["state"] for r in rows0 if r["factor"] == "dose"})
    if states:
        cols = 4
        nrows = math.ceil(len(states) / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(3.1 * cols, 2.4 * nrows), squeeze=False, sharex=True)
        for k, s in enumerate(states):
            ax = axes[k // cols][k % cols]
            ax.axhline(0, c="#dddddd", lw=0.8)
            band = result.get("band_sd", 0.15)
            ax.axhspan(-band, band, color="#f2f2f2", lw=0)
            series = [("truth", rows0)] + [(m, points[m]) for m in models]
            for name, rows in series:
                key = "truth" if name == "truth" else "expected"
                pts = sorted((r["x"], r[key]) for r in rows if r["factor"] == "dose" and r["state"] == s and r[key] is not None)
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, lw=2 if name == "truth" else 1.2,
                            ls="--" if name == "truth" else "-", c=COLOURS.get(name), label=name)
            lab = next(r["state_label"] for r in rows0 if r["factor"] == "dose" and r["state"] == s)
            ax.set_title(lab.split(" | ")[1][:34], fontsize=7)
            ax.tick_params(labelsize=6)
            ax.set_xticks([math.log2(r) for r in DOSE_RATIOS], [f"x{r:g}" for r in DOSE_RATIOS])
        for k in range(len(states), nrows * cols):
            axes[k // cols][k % cols].axis("off")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), fontsize=8, frameon=False)
        dose = {m: (result["models"].get(m, {}).get("dose") or {}).get("sign_agreement") for m in models}
        fig.suptitle("Dose probe: expected standardised change vs the true Emax response (dashed), per held-out state; "
                     "sign agreement " + ", ".join(f"{m} {v:.2f}" for m, v in dose.items() if v is not None), fontsize=8)
        fig.tight_layout(rect=(0, 0.07, 1, 0.96))
        written.append(_save(fig, out_dir / "dose_probe.png"))
    # every factor: the mean expected change per swept value (states pooled), truth beside
    present = [f for f in factors if any(r["factor"] == f for r in rows0)]
    if present:
        fig, axes = plt.subplots(1, len(present), figsize=(3.2 * len(present), 3), squeeze=False)
        for ax, f in zip(axes[0], present):
            labels = list(dict.fromkeys(r["value"] for r in sorted(rows0, key=lambda r: r["x"]) if r["factor"] == f))
            for name in ["truth"] + models:
                rows = rows0 if name == "truth" else points[name]
                key = "truth" if name == "truth" else "expected"
                ys = []
                for lab in labels:
                    v = [r[key] for r in rows if r["factor"] == f and r["value"] == lab and r[key] is not None]
                    ys.append(sum(v) / len(v) if v else float("nan"))
                ax.plot(range(len(labels)), ys, marker="o", ms=3, ls="--" if name == "truth" else "-", c=COLOURS.get(name), label=name)
            ax.set_xticks(range(len(labels)), [lab[:14] for lab in labels], rotation=45, ha="right", fontsize=6)
            ax.set_title(f, fontsize=8)
            ax.tick_params(labelsize=6)
        axes[0][0].set_ylabel("mean standardised change", fontsize=7)
        axes[0][-1].legend(fontsize=6)
        fig.tight_layout()
        written.append(_save(fig, out_dir / "operator_probes.png"))
    return written
