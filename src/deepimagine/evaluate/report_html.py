"""metrics/report.html: one static, self-contained page (no server, no network: inline CSS, SVG and a

Over 500 lines: one self-contained page, its inline CSS, SVG and script beside the Python that fills
them, so a change to the page is made in one place.
little JS) that reads what the evaluation found.

Sections: the headline (metrics/headline.json), a table per benchmark (every predictor of eval.json,
BAcc with its 95% CI, macro-F1, CE, ECE, invalid rate), the paired comparisons, the operator probes
(per factor and operator: sign agreement and rank correlation against the true mechanism, and each
probed state's sweep drawn beside its truth), and a sample of questions with every imagining path
from its anchor to the target: the factor changed at each step, the imagined value with its +-1 SD
band, the reference (a local question's posted anchor), the truth along the path where the oracle
knows it, the final answer against the gold one, and the REASON text where the model wrote one.
The sample is filterable by benchmark, predictor, kind, factor and correct / wrong.

Open it with any browser (``xdg-open metrics/report.html``); nothing is fetched.
"""
from __future__ import annotations

import html
import json
import math
import random
from collections import defaultdict
from pathlib import Path
from typing import Optional, Sequence

from ..core import io
from ..core.questions import Question, parse_decision

PER_BENCHMARK = 36          # sampled questions per benchmark
LIKELIHOOD_REASON = "scored by option likelihood"    # the likelihood readout's placeholder, not a model's reason
COLOURS = {"truth": "#111111", "base": "#9e9e9e", "sft": "#1f77b4", "sft_shared": "#17becf", "rl": "#d62728",
           "rl_shared": "#ff9896", "base_shared": "#bcbd22"}
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def esc(x) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _f(x, nd: int = 3, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:+.{nd}f}" if signed else f"{x:.{nd}f}"


def _colour(name: str, i: int = 0) -> str:
    return COLOURS.get(name) or PALETTE[i % len(PALETTE)]


CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1d2b3a;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;opacity:.8}
nav{padding:6px 24px;background:#eef1f4;border-bottom:1px solid #d8dde2}nav a{margin-right:16px;color:#1d4f91;text-decoration:none}
main{padding:8px 24px 40px;max-width:1400px}section{margin:18px 0 28px}h2{font-size:18px;border-bottom:2px solid #d8dde2;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}table{border-collapse:collapse;background:#fff;font-size:13px;margin:6px 0}
th,td{border:1px solid #dde1e5;padding:3px 8px;text-align:right;white-space:nowrap}th{background:#f0f3f6}
td.l,th.l{text-align:left}tr.best td{font-weight:600;background:#fffbe6}.ci{color:#777;font-size:11px}
.pos{color:#1a7f37}.neg{color:#b42318}.muted{color:#777}.grid{display:flex;flex-wrap:wrap;gap:8px}
.panel{background:#fff;border:1px solid #dde1e5;border-radius:4px;padding:4px}.panel .t{font-size:11px;color:#444;max-width:240px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.legend span{display:inline-block;margin-right:12px;font-size:12px}.legend i{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:4px}
.filters{position:sticky;top:0;background:#fafafa;padding:8px 0;border-bottom:1px solid #ddd;z-index:2}
.filters label{margin-right:14px;font-size:13px}.card{background:#fff;border:1px solid #dde1e5;border-left:5px solid #999;border-radius:4px;margin:10px 0;padding:8px 12px}
.card.ok{border-left-color:#2da44e}.card.bad{border-left-color:#cf222e}.card h4{margin:0 0 4px;font-size:14px}
.badge{display:inline-block;font-size:11px;padding:1px 6px;border-radius:8px;background:#eef1f4;margin-right:4px}
.badge.ok{background:#dafbe1;color:#116329}.badge.bad{background:#ffebe9;color:#a40e26}
.opts td{white-space:normal;text-align:left}.bar{display:inline-block;height:9px;background:#1f77b4;vertical-align:middle}
.gold{font-weight:600}.steps td{font-size:12px}.reason{font-size:12px;background:#f6f8fa;border-left:3px solid #ccd;padding:4px 8px;margin:4px 0;white-space:pre-wrap}
.chains{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}details summary{cursor:pointer;color:#1d4f91}
"""

JS = """
(function(){
  function apply(){
    var sel={};document.querySelectorAll('.filters select').forEach(function(s){sel[s.name]=s.value;});
    var shown=0,total=0;
    document.querySelectorAll('.card').forEach(function(c){
      total++;
      var ok=(sel.bench==='*'||c.dataset.bench===sel.bench)&&(sel.pred==='*'||c.dataset.pred===sel.pred)
        &&(sel.kind==='*'||c.dataset.kind===sel.kind)&&(sel.outcome==='*'||c.dataset.outcome===sel.outcome)
        &&(sel.factor==='*'||(' '+c.dataset.factors+' ').indexOf(' '+sel.factor+' ')>=0);
      c.style.display=ok?'':'none';if(ok)shown++;
    });
    var n=document.getElementById('shown');if(n)n.textContent=shown+' of '+total+' shown';
  }
  document.querySelectorAll('.filters select').forEach(function(s){s.addEventListener('change',apply);});
  apply();
})();
"""


# ---------------------------------------------------------------- small SVG charts


def _scale(lo: float, hi: float, a: float, b: float):
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    return lambda v: a + (v - lo) / (hi - lo) * (b - a)


def svg_lines(series: Sequence[dict], xlabels: Sequence[str], width: int = 240, height: int = 150,
              band: Optional[float] = None, title: str = "") -> str:
    """A small line chart: ``series`` = [{name, colour, points: [(x index, y)], dashed}], y=0 line,
    an optional "about the same" band, x tick labels."""
    ys = [y for s in series for _, y in s["points"] if y is not None] + [0.0] + ([band, -band] if band else [])
    lo, hi = min(ys), max(ys)
    pad = (hi - lo) * 0.08 or 0.1
    lo, hi = lo - pad, hi + pad
    L, R, T, B = 34, width - 6, 8, height - 30
    sx = _scale(0, max(len(xlabels) - 1, 1), L + 6, R - 6)
    sy = _scale(lo, hi, B, T)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    if title:
        out.append(f"<title>{esc(title)}</title>")
    if band:
        out.append(f'<rect x="{L}" y="{sy(band):.1f}" width="{R - L}" height="{max(sy(-band) - sy(band), 0):.1f}" fill="#f1f1f1"/>')
    out.append(f'<line x1="{L}" x2="{R}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" stroke="#bbb" stroke-width="0.8"/>')
    out.append(f'<line x1="{L}" x2="{L}" y1="{T}" y2="{B}" stroke="#999" stroke-width="0.8"/>')
    for v in (lo + pad, hi - pad):
        out.append(f'<text x="{L - 3}" y="{sy(v) + 3:.1f}" font-size="8" text-anchor="end" fill="#555">{v:.2g}</text>')
    for i, lab in enumerate(xlabels):
        out.append(f'<text x="{sx(i):.1f}" y="{B + 10}" font-size="8" text-anchor="end" fill="#555" '
                   f'transform="rotate(-30 {sx(i):.1f} {B + 10})">{esc(str(lab)[:16])}</text>')
    for s in series:
        pts = [(sx(x), sy(y)) for x, y in s["points"] if y is not None]
        if not pts:
            continue
        dash = ' stroke-dasharray="4 2"' if s.get("dashed") else ""
        out.append(f'<polyline fill="none" stroke="{s["colour"]}" stroke-width="{2 if s.get("dashed") else 1.4}"{dash} '
                   f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}"><title>{esc(s["name"])}</title></polyline>')
        for x, y in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{s["colour"]}"/>')
    out.append("</svg>")
    return "".join(out)


def svg_chain(chain: dict, truth: Optional[list], reference: Optional[float], width: int = 300, height: int = 170) -> str:
    """One imagining path: imagined mean after each step with its +-1 SD band, the truth along the path
    (dashed, where known) and the reference value (dotted)."""
    start = chain.get("start") or {}
    v0 = start.get("value")
    steps = chain.get("steps") or []
    means = [v0] + [s.get("mean") for s in steps]
    sds = [0.0] + [s.get("sd") or 0.0 for s in steps]
    labels = ["anchor"] + [s.get("factor") or "?" for s in steps]
    ys = [m for m in means if m is not None] + [m + s for m, s in zip(means, sds) if m is not None] + \
         [m - s for m, s in zip(means, sds) if m is not None] + [t for t in (truth or []) if t is not None] + \
         ([reference] if reference is not None else [])
    if not ys:
        return ""
    lo, hi = min(ys), max(ys)
    pad = (hi - lo) * 0.1 or max(abs(hi), 1.0) * 0.1
    lo, hi = lo - pad, hi + pad
    L, R, T, B = 44, width - 8, 8, height - 32
    sx = _scale(0, max(len(labels) - 1, 1), L + 8, R - 8)
    sy = _scale(lo, hi, B, T)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    pts = [(i, m, s) for i, (m, s) in enumerate(zip(means, sds)) if m is not None]
    if pts:
        upper = " ".join(f"{sx(i):.1f},{sy(m + s):.1f}" for i, m, s in pts)
        lower = " ".join(f"{sx(i):.1f},{sy(m - s):.1f}" for i, m, s in reversed(pts))
        out.append(f'<polygon points="{upper} {lower}" fill="#1f77b4" fill-opacity="0.15" stroke="none"/>')
    out.append(f'<line x1="{L}" x2="{L}" y1="{T}" y2="{B}" stroke="#999" stroke-width="0.8"/>')
    for v in (lo + pad, hi - pad):
        out.append(f'<text x="{L - 3}" y="{sy(v) + 3:.1f}" font-size="8" text-anchor="end" fill="#555">{v:.3g}</text>')
    if reference is not None:
        out.append(f'<line x1="{L}" x2="{R}" y1="{sy(reference):.1f}" y2="{sy(reference):.1f}" stroke="#e08a00" '
                   f'stroke-dasharray="1 2" stroke-width="1.2"><title>reference {reference:.4g}</title></line>')
    if truth and any(t is not None for t in truth):
        tp = [(sx(i), sy(t)) for i, t in enumerate(truth) if t is not None]
        out.append(f'<polyline fill="none" stroke="#111" stroke-dasharray="4 2" stroke-width="1.5" '
                   f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in tp)}"><title>truth along the path</title></polyline>')
    if pts:
        out.append(f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.8" '
                   f'points="{" ".join(f"{sx(i):.1f},{sy(m):.1f}" for i, m, _ in pts)}"/>')
        for i, m, s in pts:
            out.append(f'<circle cx="{sx(i):.1f}" cy="{sy(m):.1f}" r="2.5" fill="#1f77b4"><title>{esc(labels[i])}: '
                       f'{m:.4g} ± {s:.3g}</title></circle>')
    for i, lab in enumerate(labels):
        out.append(f'<text x="{sx(i):.1f}" y="{B + 10}" font-size="8" text-anchor="end" fill="#555" '
                   f'transform="rotate(-25 {sx(i):.1f} {B + 10})">{esc(lab)}</text>')
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------- sections


def headline_section(summary: dict) -> str:
    if not summary:
        return ""
    rows = []
    for bench, row in summary.items():
        a = row.get("about") or {}

        def diff(d, lo, hi):
            cls = "" if d is None or lo is None else "pos" if lo > 0 else "neg" if hi < 0 else ""
            ci = f' <span class="ci">[{_f(lo, signed=True)}, {_f(hi, signed=True)}]</span>' if lo is not None else ""
            return f'<td class="{cls}">{_f(d, signed=True)}{ci}</td>'

        rows.append(f'<tr><td class="l">{esc(bench)}</td><td class="l">{esc(a.get("method"))}</td><td>{_f(row.get("bacc"))}</td>'
                    f'<td class="l">{esc(a.get("control"))}</td><td>{_f(row.get("ctrl"))}</td>'
                    f'{diff(row.get("diff"), a.get("diff_lo"), a.get("diff_hi"))}'
                    f'<td class="l">{esc(a.get("baseline"))}</td><td>{_f(row.get("base"))}</td>'
                    f'{diff(a.get("d_base"), a.get("d_base_lo"), a.get("d_base_hi"))}'
                    f'<td>{esc(a.get("n"))}</td></tr>')
    return ('<section id="headline"><h2>Headline</h2><p>Overall balanced accuracy (CT Open\'s official metric). '
            'The method is the first of sft/imagine, rl/imagine, base/imagine that ran; its best control is the best of '
            'retrieval, its own model\'s rag and direct modes and untuned imagining; paired differences on the same '
            'questions and bootstrap resamples (green: the 95% interval is above 0, red: below).</p>'
            '<table><tr><th class="l">benchmark</th><th class="l">method</th><th>BAcc</th><th class="l">best control</th>'
            '<th>BAcc</th><th>method − control</th><th class="l">best baseline</th><th>BAcc</th><th>method − baseline</th>'
            '<th>n</th></tr>' + "".join(rows) + "</table></section>")


def results_section(results: dict[str, dict[str, dict]], notes: dict[str, str]) -> str:
    parts = ['<section id="results"><h2>Every predictor</h2>']
    for bench, preds in results.items():
        best = max((p for p in preds if preds[p].get("overall_bacc") is not None), key=lambda p: preds[p]["overall_bacc"], default=None)
        cats = list(dict.fromkeys(c for r in preds.values() for c in (r.get("categories") or {})))
        head = ("<tr><th class='l'>predictor</th><th>n</th><th>BAcc [95% CI]</th><th>macro-F1</th><th>CE</th><th>ECE</th>"
                "<th>invalid</th>" + "".join(f"<th>{esc(c)} BAcc</th>" for c in cats) + "</tr>")
        rows = []
        for pred, r in preds.items():
            ci = (r.get("ci") or {}).get("overall_bacc")
            cis = f' <span class="ci">[{_f(ci[0])}, {_f(ci[1])}]</span>' if ci else ""
            cat_cells = "".join(f"<td>{_f(((r.get('categories') or {}).get(c) or {}).get('bacc'))}</td>" for c in cats)
            rows.append(f'<tr class="{"best" if pred == best else ""}" data-predictor="{esc(pred)}"><td class="l">{esc(pred)}</td>'
                        f'<td>{esc(r.get("n"))}</td><td>{_f(r.get("overall_bacc"))}{cis}</td><td>{_f(r.get("overall_f1"))}</td>'
                        f'<td>{_f(r.get("overall_ce"))}</td><td>{_f(r.get("ece"))}</td><td>{_f(r.get("invalid_rate"))}</td>{cat_cells}</tr>')
        note = f'<p class="muted">{esc(notes.get(bench))}</p>' if notes.get(bench) else ""
        parts.append(f'<h3 id="bench-{esc(bench)}">{esc(bench)}</h3>{note}<table>{head}{"".join(rows)}</table>')
    return "".join(parts) + "</section>"


def comparisons_section(comparisons: dict[str, dict[str, dict]]) -> str:
    if not comparisons:
        return ""
    parts = ['<section id="comparisons"><h2>Paired comparisons</h2><p>A − B on the same questions and bootstrap '
             'resamples (of whole trials, or of questions: <code>evaluate.bootstrap_unit</code>); an interval '
             'that excludes 0 is a difference beyond noise.</p>']
    for bench, rows in comparisons.items():
        body = []
        for comp, r in rows.items():
            lo, hi = r.get("bacc_lo"), r.get("bacc_hi")
            cls = "" if lo is None else "pos" if lo > 0 else "neg" if hi < 0 else ""
            body.append(f'<tr><td class="l">{esc(comp)}</td><td>{esc(r.get("n"))}</td><td class="{cls}">{_f(r.get("bacc_diff"), signed=True)} '
                        f'<span class="ci">[{_f(lo, signed=True)}, {_f(hi, signed=True)}]</span></td>'
                        f'<td>{_f(r.get("bacc_p_a_better"))}</td><td>{_f(r.get("f1_diff"), signed=True)}</td>'
                        f'<td>{_f(r.get("ce_diff"), signed=True)}</td></tr>')
        parts.append(f'<h3>{esc(bench)}</h3><table><tr><th class="l">A vs B</th><th>n</th><th>ΔBAcc [95% CI]</th>'
                     f'<th>P(A better)</th><th>ΔF1</th><th>ΔCE (− : A better)</th></tr>{"".join(body)}</table>')
    return "".join(parts) + "</section>"


def probes_section(operators: dict) -> str:
    parts = ['<section id="operators"><h2>Operator probes: what each operator learned, against the true mechanism</h2>']
    models = list((operators or {}).get("models") or {})
    if not models:
        why = (operators or {}).get("skipped") or (operators or {}).get("error") or "no probe ran"
        return parts[0] + f'<p class="muted">No probe: {esc(why)}.</p></section>'
    truth = operators.get("truth")
    parts.append(f'<p>Held-out (test-split) states held fixed, ONE factor swept, each step asked as imagining asks it; '
                 f'the operator\'s expected standardised change (bin centres) {"against the true change from truth.json (dashed)" if truth else "(no truth: real data)"}. '
                 f'Sign agreement counts probes whose true change is beyond the "about the same" band '
                 f'(±{_f(operators.get("band_sd"), 2)} SD, ±{_f(operators.get("band_rel"), 2)} relative; shaded); null rate: inside '
                 f'the band, the share read inside it too. {esc(operators.get("questions"))} probe questions per operator.</p>')
    factors = list(dict.fromkeys(f for m in models for f in operators["models"][m]))
    head = "<tr><th class='l'>factor</th><th>states</th><th>probes</th>" + "".join(
        f"<th>{esc(m)} sign</th><th>{esc(m)} ρ</th>" for m in models) + "</tr>"
    rows = []
    for f in factors:
        first = operators["models"][models[0]].get(f) or {}
        cells = ""
        for m in models:
            r = operators["models"][m].get(f) or {}
            sign = r.get("sign_agreement")
            cells += (f'<td title="state-level {_f(r.get("state_sign_agreement"), 2)}; null rate {_f(r.get("null_rate"), 2)}">'
                      f'{_f(sign, 2)}<span class="ci"> /{esc(r.get("beyond_band"))}</span></td>'
                      f'<td title="within-state {_f(r.get("rank_corr_within"), 2, True)}">{_f(r.get("rank_corr"), 2, True)}</td>')
        rows.append(f'<tr data-factor="{esc(f)}"><td class="l">{esc(f)}</td><td>{esc(first.get("states"))}</td><td>{esc(first.get("n"))}</td>{cells}</tr>')
    parts.append(f'<table>{head}{"".join(rows)}</table><p class="muted">sign: share of probes beyond the band with the true '
                 f'sign (/ how many); ρ: Spearman rank correlation of expected vs true change over all probes of the factor '
                 f'(hover: state-level figures). Adapters per factor: '
                 + esc("; ".join(f"{m}: " + ", ".join(f"{f}→{a or 'shared'}" for f, a in (operators.get("adapters") or {}).get(m, {}).items())
                                 for m in models)) + '</p>')
    legend = "".join(f'<span><i style="background:{_colour(n, i)}"></i>{esc(n)}</span>'
                     for i, n in enumerate((["truth"] if truth else []) + models))
    parts.append(f'<div class="legend">{legend}</div>')
    points = operators.get("points") or {}
    rows0 = points.get(models[0]) or []
    band = operators.get("band_sd")
    for f in factors:
        states = sorted({r["state"] for r in rows0 if r["factor"] == f})
        panels = []
        for s in states:
            srows = sorted((r for r in rows0 if r["factor"] == f and r["state"] == s), key=lambda r: r["x"])
            labels = [r["value"] for r in srows]
            series = []
            if truth:
                series.append({"name": "truth", "colour": _colour("truth"), "dashed": True,
                               "points": [(i, r["truth"]) for i, r in enumerate(srows)]})
            for j, m in enumerate(models):
                by_label = {r["value"]: r["expected"] for r in points[m] if r["factor"] == f and r["state"] == s}
                series.append({"name": m, "colour": _colour(m, j), "points": [(i, by_label.get(lab)) for i, lab in enumerate(labels)]})
            label = srows[0]["state_label"] if srows else ""
            start = srows[0]["from"] if srows else ""
            panels.append(f'<div class="panel" data-factor="{esc(f)}"><div class="t" title="{esc(label)}">{esc(label.split(" | ")[1] if " | " in label else label)}'
                          f' · from {esc(start)}</div>{svg_lines(series, labels, band=band, title=label)}</div>')
        parts.append(f'<h3>{esc(f)}</h3><div class="grid">{"".join(panels)}</div>')
    return "".join(parts) + "</section>"


# ---------------------------------------------------------------- trajectories


def _trajectory(pred) -> Optional[dict]:
    text = getattr(pred, "text", None) if not isinstance(pred, dict) else pred.get("text")
    if not text or not str(text).lstrip().startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("chains") else None


def _reason(pred) -> str:
    if pred is None:
        return ""
    text = getattr(pred, "text", "") or ""
    if text.lstrip().startswith("{"):
        return ""
    parsed = parse_decision(text, len(pred.probs or [])) if pred.probs else None
    reason = (parsed.reason if parsed else "") or ""
    return "" if reason.strip() in ("", "-", LIKELIHOOD_REASON) else reason.strip()


def _truth_path(chain: Optional[dict]) -> Optional[list]:
    """The true value after each step (the chain's start value plus the oracle's cumulative true change)."""
    if not chain:
        return None
    v = (chain.get("start") or {}).get("value")
    if v is None:
        return None
    out = [float(v)]
    for s in chain.get("steps") or []:
        tc = s.get("true_change")
        if tc is None:
            return None
        out.append(out[-1] + float(tc))
    return out


def imagine_predictors(preds: dict) -> list[str]:
    names = [n for n in preds if n.endswith("/imagine")]
    order = {"sft/imagine": 0, "rl/imagine": 1, "base/imagine": 2}
    return sorted(names, key=lambda n: (order.get(n, 9), n))


def sample_questions(questions: Sequence[Question], preds: dict[str, list], n: int, seed: int) -> list[int]:
    """Indices of up to ``n`` questions the main imagine predictor answered by imagining, spread over
    kinds (category for CT Open-format questions) and over right / wrong answers, seeded."""
    names = imagine_predictors(preds)
    if not names:
        return []
    main = preds[names[0]]
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, q in enumerate(questions):
        if i < len(main) and _trajectory(main[i]):
            probs = main[i].probs
            ok = bool(probs) and max(range(len(probs)), key=probs.__getitem__) == q.answer_index
            groups[(q.category if q.kind == "ct_open" else q.kind, ok)].append(i)
    rng = random.Random(seed)
    for g in groups.values():
        rng.shuffle(g)
    picked: list[int] = []
    keys = sorted(groups)
    while len(picked) < n and any(groups[k] for k in keys):
        for k in keys:
            if groups[k] and len(picked) < n:
                picked.append(groups[k].pop())
    return sorted(picked)


def question_card(bench: str, pred_name: str, q: Question, pred, oracle_pred, direct_pred) -> str:
    traj = _trajectory(pred) or {}
    chains = traj.get("chains") or []
    o_chains = (_trajectory(oracle_pred) or {}).get("chains") or []
    probs = pred.probs or []
    choice = max(range(len(probs)), key=probs.__getitem__) if probs else None
    ok = choice == q.answer_index
    kind = q.category if q.kind == "ct_open" else q.kind
    factors = sorted({s.get("factor") for c in chains for s in c.get("steps") or [] if s.get("factor")})
    reference = None
    if q.source != "ct_open":
        anchor = (q.context or {}).get("anchor") or {}
        reference = ((anchor.get("result") or {}).get("value"))
    gold_badge = ' <span class="badge ok">gold</span>'
    opts = "".join(
        f'<tr class="{"gold" if i == q.answer_index else ""}"><td>{i + 1}.</td><td>{esc(o)}'
        f'{gold_badge if i == q.answer_index else ""}</td>'
        f'<td style="text-align:right">{_f(probs[i] if i < len(probs) else None)}</td>'
        f'<td><span class="bar" style="width:{int(80 * (probs[i] if i < len(probs) else 0))}px"></span></td></tr>'
        for i, o in enumerate(q.options))
    chain_html = []
    for j, c in enumerate(chains):
        oc = o_chains[j] if j < len(o_chains) and (o_chains[j].get("start") or {}).get("nct_id") == (c.get("start") or {}).get("nct_id") else None
        truth = _truth_path(oc)
        start = c.get("start") or {}
        rows = "".join(
            f'<tr><td>{k + 1}</td><td class="l">{esc(s.get("factor"))}</td><td class="l">{esc(s.get("from"))} → {esc(s.get("to"))}</td>'
            f'<td class="l">{"shared by both arms: not asked" if s.get("shared") else esc(" ".join(_f(p, 2) for p in (s.get("probs") or [])) or "–")}</td>'
            f'<td>{_f(s.get("mean"), 4)} ± {_f(s.get("sd"), 3)}</td>'
            f'<td>{_f(truth[k + 1] if truth and k + 1 < len(truth) else None, 4)}</td>'
            + (f'<td class="l">{esc(s.get("reason") or s.get("text") or "")}</td>' if any(x.get("reason") or x.get("text") for x in c.get("steps") or []) else "")
            + "</tr>" for k, s in enumerate(c.get("steps") or []))
        fin = c.get("final") or {}
        chain_html.append(
            f'<div class="panel" data-chain="{j}"><div class="t">arm {esc(c.get("arm"))} · anchor {esc(start.get("nct_id"))} '
            f'{esc(start.get("arm_label"))} = {_f(start.get("value"), 4)}</div>{svg_chain(c, truth, reference)}'
            f'<details><summary>{len(c.get("steps") or [])} steps · final {_f(fin.get("mean"), 4)} ± {_f(fin.get("sd"), 3)}</summary>'
            f'<table class="steps"><tr><th>#</th><th class="l">factor</th><th class="l">from → to</th><th class="l">bin probs</th>'
            f'<th>imagined ± SD</th><th>truth</th></tr>{rows}</table></details></div>')
    reason = _reason(direct_pred)
    reason_html = f'<div class="reason"><b>REASON</b> ({esc(pred_name.split("/")[0])}/direct): {esc(reason)}</div>' if reason else ""
    effect = f' · true effect {_f(q.expected_effect, 3, True)} SD' if q.expected_effect is not None else ""
    ask = (q.context or {}).get("question") or ""
    return (f'<div class="card {"ok" if ok else "bad"}" data-bench="{esc(bench)}" data-pred="{esc(pred_name)}" data-kind="{esc(kind)}" '
            f'data-outcome="{"correct" if ok else "wrong"}" data-factors="{esc(" ".join(factors))}" data-qid="{esc(q.id)}">'
            f'<h4><span class="badge {"ok" if ok else "bad"}">{"correct" if ok else "wrong"}</span><span class="badge">{esc(bench)}</span>'
            f'<span class="badge">{esc(pred_name)}</span><span class="badge">{esc(kind)}</span> {esc(q.id)}</h4>'
            f'<div class="muted">{esc(", ".join(q.nct_ids))} · factor {esc(q.factor)}: {esc(q.from_value)} → {esc(q.to_value)}{effect}</div>'
            f'<div>{esc(ask)}</div><table class="opts">{opts}</table>{reason_html}'
            f'<div class="chains">{"".join(chain_html)}</div></div>')


def trajectories_section(questions: dict[str, list[Question]], predictions: dict[str, dict[str, list]], seed: int,
                         per_benchmark: int = PER_BENCHMARK) -> tuple[str, int]:
    cards, kinds, factors, preds_seen, benches = [], set(), set(), [], []
    for bench, qs in questions.items():
        if bench.endswith("_full") or bench not in predictions:
            continue
        preds = predictions[bench]
        names = imagine_predictors(preds)
        idx = sample_questions(qs, preds, per_benchmark, seed)
        if not idx:
            continue
        benches.append(bench)
        for name in names:
            preds_seen.append(name)
            direct = preds.get(name.replace("/imagine", "/direct"))
            for i in idx:
                q, p = qs[i], preds[name][i]
                if not _trajectory(p):
                    continue
                cards.append(question_card(bench, name, q, p, (preds.get("oracle") or [None] * len(qs))[i],
                                           direct[i] if direct else None))
                kinds.add(q.category if q.kind == "ct_open" else q.kind)
                factors.update(s.get("factor") for c in _trajectory(p)["chains"] for s in c.get("steps") or [] if s.get("factor"))
    preds_seen = list(dict.fromkeys(preds_seen))
    if not cards:
        return ('<section id="trajectories"><h2>Imagining paths</h2><p class="muted">No imagine-mode predictions to show.</p></section>', 0)

    def select(name, label, values, default="*"):
        opts = "".join(f'<option value="{esc(v)}"{" selected" if v == default else ""}>{esc(t)}</option>' for v, t in values)
        return f'<label>{esc(label)} <select name="{name}">{opts}</select></label>'

    filters = ('<div class="filters">'
               + select("bench", "benchmark", [("*", "all")] + [(b, b) for b in benches])
               + select("pred", "predictor", [("*", "all")] + [(p, p) for p in preds_seen], preds_seen[0])
               + select("kind", "kind", [("*", "all")] + [(k, k) for k in sorted(kinds)])
               + select("factor", "factor", [("*", "all")] + [(f, f) for f in sorted(f for f in factors if f)])
               + select("outcome", "answer", [("*", "all"), ("correct", "correct"), ("wrong", "wrong")])
               + '<span id="shown" class="muted"></span></div>')
    intro = ('<p>A sample of questions (spread over kinds and over right / wrong answers of the first imagine predictor), '
             'each imagining path from its anchor to the target: the factor changed at each step, the imagined value '
             '(blue) with its ±1 SD band, the truth along the path (dashed, from the oracle operator, where it ran), the '
             'reference (dotted orange: a local question\'s posted anchor result), the answer against the gold option, '
             'and the model\'s REASON where it wrote one (likelihood readouts write none).</p>')
    return (f'<section id="trajectories"><h2>Imagining paths</h2>{intro}{filters}{"".join(cards)}</section>', len(cards))


def render_report_html(results: dict, comparisons: dict, notes: dict, operators: dict,
                       questions: dict[str, list[Question]], predictions: dict[str, dict[str, list]],
                       summary: Optional[dict] = None, seed: int = 0, per_benchmark: int = PER_BENCHMARK) -> str:
    traj, n_cards = trajectories_section(questions or {}, predictions or {}, seed, per_benchmark)
    body = (headline_section(summary or {}) + results_section(results, notes or {}) + comparisons_section(comparisons or {})
            + probes_section(operators or {}) + traj)
    data = {"benchmarks": list(results), "predictors": {b: list(p) for b, p in results.items()}, "cards": n_cards,
            "probe_models": list((operators or {}).get("models") or {})}
    data_json = json.dumps(data).replace("</", "<\\/")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>DeepImagine report</title>"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<style>{CSS}</style></head><body><header><h1>DeepImagine: what the model learned</h1>"
            "<p>Static report written by <code>deepimagine evaluate</code>; no server, no network.</p></header>"
            "<nav><a href=\"#headline\">headline</a><a href=\"#results\">predictors</a><a href=\"#comparisons\">comparisons</a>"
            "<a href=\"#operators\">operator probes</a><a href=\"#trajectories\">imagining paths</a></nav>"
            f"<main>{body}</main>"
            f"<script type=\"application/json\" id=\"report-data\">{data_json}</script>"
            f"<script>{JS}</script></body></html>\n")


def write_report_html(path: Path, results: dict, comparisons: dict, notes: dict, operators: dict,
                      questions: dict[str, list[Question]], predictions: dict[str, dict[str, list]],
                      summary: Optional[dict] = None, seed: int = 0, per_benchmark: int = PER_BENCHMARK) -> Path:
    page = render_report_html(results, comparisons, notes, operators, questions, predictions, summary, seed, per_benchmark)
    with io.atomic_path(Path(path)) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(path)
