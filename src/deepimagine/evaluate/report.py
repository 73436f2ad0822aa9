"""The headline metrics file (metrics/eval.json) and the Markdown report (metrics/report.md)."""
from __future__ import annotations

import math

from .metrics import HEADLINE, THREE_WAY, headline_categories

HEADLINE_KEYS = ("overall_bacc", "overall_f1", "overall_ce", "ece", "invalid_rate")


def _r(x: float, nd: int = 4):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)


def _headline_row(res: dict) -> dict:
    """The overall figures, and per headline category its official bacc, f1, ce (CT Open's table)."""
    cats = res.get("categories") or {}
    return {k: _r(res[k]) for k in HEADLINE_KEYS} | {
        "categories": {c: {m: _r(cats[c][m]) for m in HEADLINE} for c in headline_categories(cats)}}


def headline(results: dict[str, dict[str, dict]]) -> dict:
    """{benchmark: {predictor: {overall_bacc, overall_f1, overall_ce, ece, invalid_rate,
    categories: {cat: {bacc, f1, ce}}}}}: what dvc exp show lists."""
    return {bench: {pred: _headline_row(res) for pred, res in preds.items()} for bench, preds in results.items()}


def _cell(value, ci) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if ci and all(c is not None and not math.isnan(c) for c in ci):
        return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{value:.3f}"


def _diff_cell(row: dict, m: str) -> str:
    d, lo, hi = row[f"{m}_diff"], row[f"{m}_lo"], row[f"{m}_hi"]
    if any(x is None or math.isnan(x) for x in (lo, hi)):
        return f"{d:+.3f}"
    return f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def render_comparisons(bench: str, rows: dict[str, dict]) -> list[str]:
    """A table of paired differences A - B: an interval that excludes 0 is a difference beyond noise."""
    lines = [f"### {bench}: paired differences (A - B, same questions and bootstrap resamples; "
             "`evaluate.bootstrap_unit` says whether they resample trials or questions)", "",
             "| A vs B | n | trials | dBAcc | P(A better) | dF1 | dCE (negative: A better) |",
             "|---|---:|---:|---|---:|---|---|"]
    for comp, row in rows.items():
        lines.append(f"| {comp} | {row['n']} | {row.get('n_trials', '')} | {_diff_cell(row, 'bacc')} | "
                     f"{row['bacc_p_a_better']:.3f} | "
                     f"{_diff_cell(row, 'f1')} | {_diff_cell(row, 'ce')} |")
    return lines + [""]


def render_report(results: dict[str, dict[str, dict]], notes: dict[str, str] | None = None,
                  comparisons: dict[str, dict[str, dict]] | None = None) -> str:
    """A Markdown table per benchmark: predictor x category, balanced accuracy, macro-F1, CE (95% bootstrap CIs)."""
    lines = ["# DeepImagine evaluation", "",
             "Balanced accuracy (BAcc), macro-F1 and cross-entropy of the true option (CE, lower is better), "
             "with 95% bootstrap intervals, as CT Open's official evaluation.py scores them: "
             "`comparative_effect` BAcc and F1 on the collapsed labels (significant either way vs none), its CE "
             "on the 3 options; `overall` = mean over the categories with those figures. "
             f"`{THREE_WAY}` = its uncollapsed 3-way figures (not in overall). "
             "Invalid answers count as wrong (BAcc, F1) and as uniform (CE). See docs/evaluation.md.", ""]
    for bench, preds in results.items():
        lines += [f"## {bench}", ""]
        if notes and notes.get(bench):
            lines += [notes[bench], ""]
        lines += ["| predictor | category | n | BAcc | macro-F1 | CE | invalid |", "|---|---|---:|---|---|---|---:|"]
        for pred, res in preds.items():
            ci = res.get("ci", {})
            lines.append(f"| {pred} | **overall** | {res['n']} | {_cell(res['overall_bacc'], ci.get('overall_bacc'))} | "
                         f"{_cell(res['overall_f1'], ci.get('overall_f1'))} | {_cell(res['overall_ce'], ci.get('overall_ce'))} | "
                         f"{res['invalid_rate']:.3f} |")
            for cat, cres in res["categories"].items():
                lines.append(f"| {pred} | {cat} | {cres['n']} | {_cell(cres['bacc'], ci.get(f'{cat}.bacc'))} | "
                             f"{_cell(cres['f1'], ci.get(f'{cat}.f1'))} | {_cell(cres['ce'], ci.get(f'{cat}.ce'))} | |")
        lines.append("")
        temps = {pred.split("/")[0]: res["temperature_scaling"] for pred, res in preds.items()
                 if (res.get("temperature_scaling") or {}).get("questions")}
        if temps:
            n = next(iter(temps.values()))["questions"]
            lines += [f"Likelihood temperature per model, fitted on {n} training questions (evaluate.calibration_questions): "
                      + ", ".join(f"{m} {c['temperature']:g}" for m, c in temps.items()) + ".", ""]
        if comparisons and comparisons.get(bench):
            lines += render_comparisons(bench, comparisons[bench])
    return "\n".join(lines)


# ---------------------------------------------------------------- metrics/headline.json: what dvc exp show lists first

METHODS = ("sft/imagine", "rl/imagine", "base/imagine")      # the method: the first of these that ran
BASELINES = ("majority", "logistic", "random_forest", "lightgbm")
SHORT_BENCH = {"prospective": "prosp", "test": "local", "ct_open": "ctopen"}


def _controls(method: str) -> tuple[str, ...]:
    """The method's controls: the no-model retrieval and prior, its own model's rag and direct modes, untuned imagining."""
    model = method.split("/")[0]
    return tuple(dict.fromkeys(c for c in ("retrieval", "prior", f"{model}/rag", f"{model}/direct", "base/imagine")
                               if c != method))


def headline_choice(preds: dict[str, dict]) -> tuple[str | None, str | None, str | None]:
    """(method, best control, best baseline) of one benchmark's results, by overall BAcc (None when absent)."""
    def best(names):
        ran = [n for n in names if n in preds and preds[n].get("overall_bacc") is not None
               and not math.isnan(preds[n]["overall_bacc"])]
        return max(ran, key=lambda n: preds[n]["overall_bacc"]) if ran else None

    method = next((m for m in METHODS if m in preds), None)
    return method, best(_controls(method)) if method else None, best(BASELINES)


def headline_pairs(preds: dict[str, dict]) -> list[str]:
    """The paired comparisons headline.json reports: method vs its best control and vs the best baseline."""
    method, control, baseline = headline_choice(preds)
    return [f"{method} vs {x}" for x in (control, baseline) if method and x]


def headline_summary(results: dict[str, dict[str, dict]], diffs: dict[str, dict[str, dict]]) -> dict:
    """metrics/headline.json, per benchmark (the scored sets, not the ``_full`` ones), four numbers with
    short keys so that ``dvc exp show`` fits 160 columns: ``bacc`` (the method's overall BAcc), ``ctrl``
    (its best control's), ``base`` (the best baseline's), ``diff`` (method - best control, paired); under
    ``about``: the names, n, the paired difference with the best baseline (``d_base``) and every CI."""
    out = {}
    for bench, preds in results.items():
        if bench.endswith("_full"):
            continue
        method, control, baseline = headline_choice(preds)
        d_ctrl = (diffs.get(bench) or {}).get(f"{method} vs {control}") if method and control else None
        d_base = (diffs.get(bench) or {}).get(f"{method} vs {baseline}") if method and baseline else None
        out[SHORT_BENCH.get(bench, bench)] = {
            "bacc": _r(preds[method]["overall_bacc"]) if method else None,
            "ctrl": _r(preds[control]["overall_bacc"]) if control else None,
            "base": _r(preds[baseline]["overall_bacc"]) if baseline else None,
            "diff": _r(d_ctrl["bacc_diff"]) if d_ctrl else None,
            "about": {"method": method, "control": control, "baseline": baseline, "metric": "overall_bacc",
                      "n": preds[method]["n"] if method else None,
                      "diff_lo": _r(d_ctrl["bacc_lo"]) if d_ctrl else None, "diff_hi": _r(d_ctrl["bacc_hi"]) if d_ctrl else None,
                      "d_base": _r(d_base["bacc_diff"]) if d_base else None,
                      "d_base_lo": _r(d_base["bacc_lo"]) if d_base else None,
                      "d_base_hi": _r(d_base["bacc_hi"]) if d_base else None}}
    return out
