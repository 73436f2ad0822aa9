"""Natural pairs: two posted results inside ONE trial that differ in one condition.

Kinds (anchor -> target):
- ``arm``: two result groups on the same outcome (measure + time frame); the anchor is the more
  control-like arm (placebo < sham < no intervention < active comparator < other < experimental).
- ``dose``: two arms of the same interventions differing only in dose (same unit and frequency),
  the anchor is the lower dose.
- ``dose_successive``: within one outcome, the dose levels of one intervention ordered
  (placebo as dose 0 may start the chain) when there are >= 3 levels: consecutive steps
  low -> mid -> high carry ``meta.chain_id`` / ``meta.step``. Each group pair gets ONE kind:
  consecutive steps are ``dose_successive``, other dose pairs stay ``dose``, placebo vs a
  non-first level stays ``arm``.
- ``time_point``: the same arm and measure (title without its time words) at two time frames,
  consecutive in time.
- ``outcome_measure``: the same arm, two different measures with the same unit at the same time.

``reversed_pair`` turns a pair around (target -> anchor: a high -> low dose, an active arm -> its
placebo): the same two posted results, so its supervision is as exact (``pairs.reverse_natural``
asks the train split's pairs of those kinds backwards too, as change questions).

``study_pairs`` is pure (one study's cells in, capped pairs out); ``iter_natural_pairs`` streams
studies from DuckDB in chunks so memory stays flat at registry scale.
"""
from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from typing import Iterator, Optional

import duckdb

from .build import dose_text, measure_label, short_hash

log = logging.getLogger(__name__)

KIND_ORDER = ("dose_successive", "dose", "arm", "time_point", "outcome_measure")


def _dose_key(c: dict) -> Optional[tuple]:
    if c.get("is_placebo") or c.get("dose_value") is None or not c.get("interventions_key"):
        return None
    return (c["interventions_key"], (c.get("dose_unit") or "").lower(), c.get("dose_frequency") or "")


def _pair(kind: str, factor: str, a: dict, t: dict, from_value: str, to_value: str, **meta) -> dict:
    pid = f"{a['nct_id']}|{kind}|{a['outcome_id']}:{a['group_id']}>{t['outcome_id']}:{t['group_id']}"
    return {"pair_id": pid, "source": "natural", "kind": kind, "factor": factor, "from_value": from_value,
            "to_value": to_value, "anchor": a, "target": t, "meta": {k: v for k, v in meta.items() if v is not None}}


CHAIN_KEYS = ("chain_id", "step", "chain_steps")   # a reversed step is not a step of its forward chain


def reversed_pair(pair: dict) -> dict:
    """The pair asked the other way round: anchor and target (and from / to) swapped, no analysis
    (a posted test compares the two groups in its own order), out of any dose chain."""
    meta = {k: v for k, v in (pair.get("meta") or {}).items() if k not in CHAIN_KEYS}
    return {**pair, "pair_id": pair["pair_id"] + "|reversed", "anchor": pair["target"], "target": pair["anchor"],
            "anchor_trial": pair.get("target_trial"), "target_trial": pair.get("anchor_trial"),
            "from_value": pair["to_value"], "to_value": pair["from_value"], "analysis": None,
            "meta": {**meta, "reversed": True}}


def _arm_order(a: dict, b: dict) -> tuple[dict, dict]:
    ka = (-1 if a.get("is_placebo") else a.get("arm_rank", 5), a["group_id"])
    kb = (-1 if b.get("is_placebo") else b.get("arm_rank", 5), b["group_id"])
    return (a, b) if ka <= kb else (b, a)


def outcome_pairs(cells: list[dict]) -> list[dict]:
    """Arm, dose and dose_successive pairs among the result groups of one outcome."""
    if len(cells) < 2:
        return []
    by_key: dict[tuple, list[dict]] = defaultdict(list)
    for c in cells:
        k = _dose_key(c)
        if k is not None:
            by_key[k].append(c)
    placebos = [c for c in cells if c.get("is_placebo")]
    steps: dict[tuple[str, str], tuple[str, int, int]] = {}   # (anchor gid, target gid) -> (chain_id, step, n_steps)
    for key, members in sorted(by_key.items()):
        levels: dict[float, list[dict]] = defaultdict(list)
        for c in members:
            levels[float(c["dose_value"])].append(c)
        if any(len(v) > 1 for v in levels.values()):
            continue                                          # two groups at one dose: no unambiguous chain
        chain = [levels[v][0] for v in sorted(levels)]
        if len(placebos) == 1:
            chain = [placebos[0]] + chain
        if len(chain) < 3:
            continue
        chain_id = f"{cells[0]['nct_id']}|{cells[0]['outcome_id']}|{short_hash('|'.join(key), 8)}"
        for i in range(len(chain) - 1):
            steps[(chain[i]["group_id"], chain[i + 1]["group_id"])] = (chain_id, i + 1, len(chain) - 1)

    out = []
    for x, y in itertools.combinations(sorted(cells, key=lambda c: c["group_id"]), 2):
        kx, ky = _dose_key(x), _dose_key(y)
        if kx is not None and kx == ky and x["dose_value"] != y["dose_value"]:
            a, t = (x, y) if x["dose_value"] < y["dose_value"] else (y, x)
        else:
            a, t = _arm_order(x, y)
        step = steps.get((a["group_id"], t["group_id"]))
        if step is not None:
            out.append(_pair("dose_successive", "dose", a, t, dose_text(a), dose_text(t),
                             chain_id=step[0], step=step[1], chain_steps=step[2]))
        elif kx is not None and kx == ky and x["dose_value"] != y["dose_value"]:
            out.append(_pair("dose", "dose", a, t, dose_text(a), dose_text(t)))
        else:
            out.append(_pair("arm", "arm", a, t, a.get("arm_label") or a["group_id"], t.get("arm_label") or t["group_id"]))
    return out


def arm_pairs_across_outcomes(cells: list[dict]) -> list[dict]:
    """Time-point and outcome-measure pairs of one arm (cells of one arm_key across outcomes)."""
    out = []
    # time points: same measure_norm and unit, consecutive distinct time_weeks
    series: dict[tuple, dict[float, dict]] = defaultdict(dict)
    for c in cells:
        if c.get("time_weeks") is None or not c.get("measure_norm"):
            continue
        s = series[(c["measure_norm"], (c.get("unit") or "").lower())]
        w = float(c["time_weeks"])
        if w not in s or c["outcome_id"] < s[w]["outcome_id"]:
            s[w] = c
    for key in sorted(series):
        pts = [series[key][w] for w in sorted(series[key])]
        for a, t in zip(pts, pts[1:]):
            out.append(_pair("time_point", "time_point", a, t, a.get("time_frame") or f"{a['time_weeks']:g} weeks",
                             t.get("time_frame") or f"{t['time_weeks']:g} weeks"))
    # outcome measures: same unit and time, different measure_norm
    same_time: dict[tuple, list[dict]] = defaultdict(list)
    for c in cells:
        tkey = c["time_weeks"] if c.get("time_weeks") is not None else (c.get("time_frame") or "")
        same_time[((c.get("unit") or "").lower(), str(tkey))].append(c)
    for key in sorted(same_time):
        group = sorted(same_time[key], key=lambda c: c["outcome_id"])
        for a, t in itertools.combinations(group, 2):
            if a.get("measure_norm") == t.get("measure_norm"):
                continue
            out.append(_pair("outcome_measure", "outcome_measure", a, t, measure_label(a), measure_label(t)))
    return out


def cap_pairs(pairs: list[dict], max_pairs: int, analysed: set) -> list[dict]:
    """Deterministic choice of at most ``max_pairs``: kinds interleaved; within a kind, pairs with a
    posted analysis and primary outcomes first, then a stable hash; chain steps stay together."""
    if len(pairs) <= max_pairs:
        return pairs
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for p in pairs:
        by_kind[p["kind"]].append(p)
    ranked = []
    for kind, items in by_kind.items():
        def unit_key(p: dict) -> tuple:
            a = p["anchor"]
            has = (a["outcome_id"], frozenset((a["group_id"], p["target"]["group_id"]))) in analysed
            unit = p["meta"].get("chain_id", p["pair_id"])
            return (not has, a.get("outcome_type") != "PRIMARY", short_hash(unit))
        units: dict[str, list[dict]] = defaultdict(list)
        for p in items:
            units[p["meta"].get("chain_id", p["pair_id"])].append(p)
        ordered_units = sorted(units.values(), key=lambda ps: min(unit_key(p) for p in ps))
        rank = 0
        for ps in ordered_units:
            for p in sorted(ps, key=lambda p: p["meta"].get("step", 0)):
                ranked.append((rank, KIND_ORDER.index(kind), p["meta"].get("step", 0), p["pair_id"], p))
                rank += 1
    ranked.sort(key=lambda r: r[:4])
    return [r[-1] for r in ranked[:max_pairs]]


def study_pairs(cells: list[dict], analyses: dict, max_pairs: int) -> list[dict]:
    """All natural pairs of one study (its cells), capped; each pair gets its posted analysis."""
    by_outcome: dict[int, list[dict]] = defaultdict(list)
    by_arm: dict[str, list[dict]] = defaultdict(list)
    for c in cells:
        by_outcome[c["outcome_id"]].append(c)
        by_arm[c["arm_key"]].append(c)
    pairs = []
    for oid in sorted(by_outcome):
        pairs += outcome_pairs(by_outcome[oid])
    for key in sorted(by_arm):
        pairs += arm_pairs_across_outcomes(by_arm[key])
    pairs = cap_pairs(pairs, max_pairs, set(analyses))
    for p in pairs:
        a, t = p["anchor"], p["target"]
        p["analysis"] = (analyses.get((a["outcome_id"], frozenset((a["group_id"], t["group_id"]))))
                         if a["outcome_id"] == t["outcome_id"] else None)
    return pairs


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def load_analyses(con: duckdb.DuckDBPyConnection, lo: str, hi: str) -> dict[str, dict]:
    """nct_id -> {(outcome_id, frozenset(two group ids)): first analysis with a p-value}."""
    rows = _fetch(con, """
        SELECT nct_id, outcome_id, analysis_id, group_ids, p_value_text, p_value, p_value_modifier, method,
               param_type, estimate, ci_pct, ci_lower, ci_upper, non_inferiority_type
        FROM reg.analyses WHERE nct_id BETWEEN ? AND ? AND len(group_ids) = 2
          AND group_ids[1] <> group_ids[2] AND (p_value IS NOT NULL OR p_value_text IS NOT NULL)
        ORDER BY nct_id, outcome_id, p_value IS NULL, analysis_id""", [lo, hi])
    out: dict[str, dict] = defaultdict(dict)
    for r in rows:
        key = (r["outcome_id"], frozenset(r["group_ids"]))
        out[r["nct_id"]].setdefault(key, r)
    return out


def iter_natural_pairs(con: duckdb.DuckDBPyConnection, max_per_study: int,
                       chunk_studies: int = 2000) -> Iterator[tuple[str, list[dict]]]:
    """(nct_id, capped pairs) for every study with cells, in nct_id order, streamed by chunks.
    Each pair carries its study's ``trials`` row as ``anchor_trial`` / ``target_trial``."""
    ncts = [r[0] for r in con.execute("SELECT DISTINCT nct_id FROM cells ORDER BY nct_id").fetchall()]
    for start in range(0, len(ncts), chunk_studies):
        lo, hi = ncts[start], ncts[min(start + chunk_studies, len(ncts)) - 1]
        cells = _fetch(con, "SELECT * FROM cells WHERE nct_id BETWEEN ? AND ? ORDER BY nct_id, outcome_id, group_id",
                       [lo, hi])
        analyses = load_analyses(con, lo, hi)
        trials = {t["nct_id"]: t for t in _fetch(con, "SELECT * FROM trials WHERE nct_id BETWEEN ? AND ?", [lo, hi])}
        for nct, group in itertools.groupby(cells, key=lambda c: c["nct_id"]):
            pairs = study_pairs(list(group), analyses.get(nct, {}), max_per_study)
            for pair in pairs:
                pair["anchor_trial"] = pair["target_trial"] = trials[nct]
            yield nct, pairs
