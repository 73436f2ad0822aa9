"""Approximate pairs: the same intervention on the same condition in TWO trials that differ in
exactly one attribute: geography (region set), dose, phase, population (sex / age range), outcome
time frame, or comparator (the control arm's type).

Retrieval never compares all pairs of trials:
1. blocking in DuckDB on (intervention name_norm, condition_norm); a block larger than
   ``approx_block_size`` is cut into consecutive chunks of at most that many trials (ordered by
   results posting date, so chunks are also time-coherent);
2. each distinct trial text (title + arms + primary outcomes) is embedded once, batched, normalised;
3. within each chunk, every trial keeps its ``approx_top_k`` most similar trials above
   ``approx_min_similarity``.
Cost is O(n_trials x block_size). The candidate trial pairs then meet the ``cells`` table in one SQL
join that matches arms of the blocked intervention on the same measure (title without time words)
and unit, and keeps the cell pairs whose attributes differ in exactly one of the six.
The anchor is the earlier-posted trial (its result is the known one).
"""
from __future__ import annotations

import logging
import time
from typing import Iterator

import duckdb
import numpy as np
import pyarrow as pa

from ..core.embed import embed_texts
from .build import dose_text, population_text

log = logging.getLogger(__name__)

# kind -> (factor, SQL for the anchor / target value shown to the model)
APPROX_KINDS = {
    "geography": "region",
    "dose_cross": "dose",
    "phase": "phase",
    "population": "population",
    "time_frame": "time_frame",
    "comparator": "comparator",
}


def build_blocks(con: duckdb.DuckDBPyConnection, block_size: int) -> dict:
    """Temp table ``approx_members`` (name_norm, condition_norm, sub_block, nct_id); returns counts."""
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE approx_members AS
    WITH tk AS (
        SELECT DISTINCT c.nct_id, c.intervention AS name_norm, cn.condition_norm
        FROM cells c JOIN reg.conditions cn ON cn.nct_id = c.nct_id
        WHERE NOT c.is_placebo AND c.intervention IS NOT NULL AND cn.condition_norm IS NOT NULL
    ),
    sized AS (
        SELECT tk.*, t.results_first_posted, count(*) OVER (PARTITION BY name_norm, condition_norm) AS block_n
        FROM tk JOIN trials t ON t.nct_id = tk.nct_id
    )
    SELECT name_norm, condition_norm, nct_id, block_n,
           (row_number() OVER (PARTITION BY name_norm, condition_norm
                               ORDER BY results_first_posted NULLS LAST, nct_id) - 1) // {int(block_size)} AS sub_block
    FROM sized WHERE block_n >= 2
    """)
    row = con.execute("""SELECT count(DISTINCT (name_norm, condition_norm)), count(DISTINCT (name_norm, condition_norm, sub_block)),
                                count(DISTINCT nct_id), coalesce(max(block_n), 0),
                                count(DISTINCT (name_norm, condition_norm)) FILTER (WHERE block_n > ?)
                         FROM approx_members""", [block_size]).fetchone()
    return dict(zip(("blocks", "chunks", "trials_in_blocks", "largest_block", "blocks_chunked"), row))


def _iter_chunks(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[tuple, list[str]]]:
    """((name_norm, condition_norm, sub_block), member nct_ids) in a stable order, streamed."""
    cur = con.execute("""SELECT name_norm, condition_norm, sub_block, nct_id FROM approx_members
                         ORDER BY name_norm, condition_norm, sub_block, nct_id""")
    key, members = None, []
    while True:
        rows = cur.fetchmany(50_000)
        if not rows:
            break
        for r in rows:
            if r[:3] != key:
                if members:
                    yield key, members
                key, members = r[:3], []
            members.append(r[3])
    if members:
        yield key, members


def neighbour_pairs(emb: np.ndarray, top_k: int, min_sim: float) -> list[tuple[int, int, float]]:
    """Unordered (i, j, similarity) pairs, i < j: each row's top-k neighbours above min_sim."""
    n = emb.shape[0]
    if n < 2:
        return []
    sims = emb @ emb.T
    np.fill_diagonal(sims, -np.inf)
    k = min(top_k, n - 1)
    out: dict[tuple[int, int], float] = {}
    for i in range(n):
        # stable order: highest similarity first, ties by index
        idx = np.lexsort((np.arange(n), -sims[i]))[:k]
        for j in idx:
            s = float(sims[i, j])
            if s >= min_sim:
                key = (min(i, int(j)), max(i, int(j)))
                out[key] = max(out.get(key, -1.0), s)
    return [(i, j, s) for (i, j), s in sorted(out.items())]


def build_candidates(con: duckdb.DuckDBPyConnection, model_name: str, top_k: int, min_sim: float) -> dict:
    """Embed trial texts and create temp table ``approx_cand`` (anchor_nct, target_nct, name_norm,
    condition_norm, block, similarity); one row per trial pair (best-similarity block kept)."""
    texts = con.execute("""SELECT t.nct_id, t.trial_text FROM trials t
                           WHERE t.nct_id IN (SELECT nct_id FROM approx_members) ORDER BY t.nct_id""").fetchall()
    index = {nct: i for i, (nct, _) in enumerate(texts)}
    distinct = sorted({t or "" for _, t in texts})
    t0 = time.perf_counter()
    emb_distinct = embed_texts(distinct, model_name) if distinct else np.zeros((0, 1), np.float32)
    embed_s = time.perf_counter() - t0
    row_of = {t: i for i, t in enumerate(distinct)}
    emb = emb_distinct[[row_of[t or ""] for _, t in texts]] if texts else emb_distinct
    ncts = [n for n, _ in texts]

    rows = {"a": [], "b": [], "name_norm": [], "condition_norm": [], "sim": []}
    n_chunks = 0
    for (name_norm, cond, _sub), members in _iter_chunks(con):
        n_chunks += 1
        idx = [index[m] for m in members]
        for i, j, s in neighbour_pairs(emb[idx], top_k, min_sim):
            rows["a"].append(members[i])
            rows["b"].append(members[j])
            rows["name_norm"].append(name_norm)
            rows["condition_norm"].append(cond)
            rows["sim"].append(round(s, 6))
    table = pa.table({"a": pa.array(rows["a"], pa.string()), "b": pa.array(rows["b"], pa.string()),
                      "name_norm": pa.array(rows["name_norm"], pa.string()),
                      "condition_norm": pa.array(rows["condition_norm"], pa.string()),
                      "sim": pa.array(rows["sim"], pa.float64())})
    con.register("approx_cand_raw", table)
    con.execute("""
    CREATE OR REPLACE TEMP TABLE approx_cand AS
    WITH oriented AS (
        SELECT CASE WHEN a_first THEN a ELSE b END AS anchor_nct, CASE WHEN a_first THEN b ELSE a END AS target_nct,
               name_norm, condition_norm, sim
        FROM (
            SELECT r.*, (coalesce(ta.results_first_posted, DATE '9999-12-31') < coalesce(tb.results_first_posted, DATE '9999-12-31')
                         OR (coalesce(ta.results_first_posted, DATE '9999-12-31') = coalesce(tb.results_first_posted, DATE '9999-12-31')
                             AND r.a <= r.b)) AS a_first
            FROM approx_cand_raw r JOIN trials ta ON ta.nct_id = r.a JOIN trials tb ON tb.nct_id = r.b)
    )
    SELECT anchor_nct, target_nct,
           first(name_norm ORDER BY sim DESC, name_norm, condition_norm) AS name_norm,
           first(condition_norm ORDER BY sim DESC, name_norm, condition_norm) AS condition_norm,
           max(sim) AS similarity
    FROM oriented GROUP BY anchor_nct, target_nct
    """)
    con.unregister("approx_cand_raw")
    n_pairs = con.execute("SELECT count(*) FROM approx_cand").fetchone()[0]
    return {"trials_embedded": len(ncts), "distinct_texts_embedded": len(distinct), "chunks_compared": n_chunks,
            "candidate_trial_pairs": n_pairs, "embed_s": round(embed_s, 2)}


_DOSE_SIG = "CASE WHEN {c}.dose_value IS NULL THEN NULL ELSE coalesce({c}.dose_value_mg::VARCHAR || ' mg', {c}.dose_value::VARCHAR || ' ' || coalesce(lower({c}.dose_unit), '')) || ' ' || coalesce({c}.dose_frequency, '') END"


def build_cell_pairs(con: duckdb.DuckDBPyConnection, max_per_trial_pair: int) -> dict:
    """Temp table ``approx_pairs``: cell pairs of candidate trials differing in exactly one attribute."""
    da, db = _DOSE_SIG.format(c="ca"), _DOSE_SIG.format(c="cb")
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE approx_all AS
    SELECT p.anchor_nct, p.target_nct, p.name_norm, p.condition_norm, p.similarity,
           ca.outcome_id AS a_outcome, ca.group_id AS a_group, cb.outcome_id AS t_outcome, cb.group_id AS t_group,
           ca.outcome_type AS a_outcome_type,
           (ta.main_region IS DISTINCT FROM tb.main_region) AS d_geography,
           ({da} IS NOT NULL AND {db} IS NOT NULL AND {da} <> {db}) AS d_dose_cross,
           (({da} IS NULL) <> ({db} IS NULL)) AS dose_unknown,
           (ta.phase IS DISTINCT FROM tb.phase) AS d_phase,
           (ta.population_group IS DISTINCT FROM tb.population_group) AS d_population,
           (coalesce(ca.time_weeks::VARCHAR, lower(ca.time_frame)) IS DISTINCT FROM
            coalesce(cb.time_weeks::VARCHAR, lower(cb.time_frame))) AS d_time_frame,
           (ta.comparator IS DISTINCT FROM tb.comparator) AS d_comparator
    FROM approx_cand p
    JOIN trials ta ON ta.nct_id = p.anchor_nct
    JOIN trials tb ON tb.nct_id = p.target_nct
    JOIN cells ca ON ca.nct_id = p.anchor_nct AND ca.intervention = p.name_norm AND NOT ca.is_placebo
    JOIN cells cb ON cb.nct_id = p.target_nct AND cb.intervention = p.name_norm AND NOT cb.is_placebo
         AND cb.measure_norm = ca.measure_norm AND lower(coalesce(cb.unit, '')) = lower(coalesce(ca.unit, ''))
         AND cb.interventions_key IS NOT DISTINCT FROM ca.interventions_key
    """)
    flags = [f"d_{k}" for k in APPROX_KINDS]
    n_diff = " + ".join(f"{f}::INT" for f in flags)
    kind_case = "CASE " + " ".join(f"WHEN d_{k} THEN '{k}'" for k in APPROX_KINDS) + " END"
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE approx_pairs AS
    SELECT * EXCLUDE (rn) FROM (
        SELECT anchor_nct, target_nct, name_norm, condition_norm, similarity,
               a_outcome, a_group, t_outcome, t_group, {kind_case} AS kind,
               row_number() OVER (PARTITION BY anchor_nct, target_nct
                                  ORDER BY a_outcome_type = 'PRIMARY' DESC,
                                           md5(concat_ws('|', anchor_nct, a_outcome, a_group, target_nct, t_outcome, t_group))) AS rn
        FROM approx_all WHERE NOT dose_unknown AND ({n_diff}) = 1
    ) WHERE rn <= {int(max_per_trial_pair)}
    """)
    row = con.execute(f"""SELECT count(*), count(*) FILTER (WHERE dose_unknown),
                                 count(*) FILTER (WHERE NOT dose_unknown AND ({n_diff}) = 0),
                                 count(*) FILTER (WHERE NOT dose_unknown AND ({n_diff}) > 1),
                                 count(*) FILTER (WHERE NOT dose_unknown AND ({n_diff}) = 1)
                          FROM approx_all""").fetchone()
    kept = con.execute("SELECT count(*) FROM approx_pairs").fetchone()[0]
    return {"cell_pairs_matched": row[0], "cell_pairs_dose_unknown": row[1], "cell_pairs_no_difference": row[2],
            "cell_pairs_several_differences": row[3], "cell_pairs_one_difference": row[4],
            "cell_pairs_over_trial_pair_cap": row[4] - kept, "cell_pairs_kept": kept}


def _value(kind: str, trial: dict, cell: dict) -> str:
    if kind == "geography":
        regions = list(trial.get("regions") or [])
        main = trial.get("main_region") or "Unknown"
        return main if regions == [main] else f"{main} (regions: {', '.join(regions) or 'unknown'})"
    if kind == "dose_cross":
        return dose_text(cell)
    if kind == "phase":
        return trial.get("phase") or "unknown"
    if kind == "population":
        return f"{trial.get('population_group')} ({population_text(trial)})"
    if kind == "time_frame":
        return cell.get("time_frame") or (f"{cell['time_weeks']:g} weeks" if cell.get("time_weeks") is not None else "unknown")
    if kind == "comparator":
        return trial.get("comparator") or "NONE"
    raise ValueError(kind)


def iter_approx_pairs(con: duckdb.DuckDBPyConnection, where: str = "TRUE", batch: int = 5000) -> Iterator[dict]:
    """Pair dicts (build.py format) for rows of ``approx_pairs`` passing ``where``, in a stable order."""
    cur = con.execute(f"""
        SELECT p.kind, p.similarity, p.name_norm, p.condition_norm, ca AS anchor, cb AS target,
               ta AS anchor_trial, tb AS target_trial
        FROM approx_pairs p
        JOIN cells ca ON ca.nct_id = p.anchor_nct AND ca.outcome_id = p.a_outcome AND ca.group_id = p.a_group
        JOIN cells cb ON cb.nct_id = p.target_nct AND cb.outcome_id = p.t_outcome AND cb.group_id = p.t_group
        JOIN trials ta ON ta.nct_id = p.anchor_nct
        JOIN trials tb ON tb.nct_id = p.target_nct
        WHERE {where}
        ORDER BY p.anchor_nct, p.target_nct, p.a_outcome, p.a_group, p.t_outcome, p.t_group""")
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            break
        for kind, sim, name_norm, cond, a, t, ta, tb in rows:
            pid = f"{a['nct_id']}:{a['outcome_id']}:{a['group_id']}>{t['nct_id']}:{t['outcome_id']}:{t['group_id']}|{kind}"
            yield {"pair_id": pid, "source": "approximate", "kind": kind, "factor": APPROX_KINDS[kind],
                   "from_value": _value(kind, ta, a), "to_value": _value(kind, tb, t),
                   "anchor": a, "target": t, "anchor_trial": ta, "target_trial": tb, "analysis": None,
                   "meta": {"similarity": sim, "block": f"{name_norm} | {cond}", "differs": kind}}
