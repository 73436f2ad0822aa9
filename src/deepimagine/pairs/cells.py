"""The pairs stage's working tables, built once in DuckDB from the registry (read-only).

``open_registry`` attaches ``data/registry.duckdb`` read-only to an in-memory DuckDB, and
``build_working_tables`` derives three temp tables that every later step reads:

- ``arm_info``: one row per design arm: its primary (non-placebo) intervention, the set of its
  interventions, whether it is a placebo arm, and its chosen dose.
- ``trials``: one row per study: title, phase, enrollment, dates, conditions, countries,
  regions, eligibility, the control arm type (the trial's comparator), and the trial text
  embedded for approximate-pair retrieval (title | arm labels | primary outcome titles, <= 400 chars).
- ``cells``: one row per (study, outcome, result group) with exactly one posted numeric value:
  the unit every pair is made of (and, written out, the retrieval pool ``cells.parquet``).
"""
from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from ..core.normalize import intervention_name_norm

log = logging.getLogger(__name__)

_PLACEBO_WORDS = ("placebo", "sham", "vehicle", "dummy")

# arm types ordered from "most control-like" to "most experimental": the anchor of an arm pair
# is the more control-like arm, so the question reads "what if this arm got the treatment?"
ARM_TYPE_RANK = {
    "PLACEBO_COMPARATOR": 0, "SHAM_COMPARATOR": 1, "NO_INTERVENTION": 2,
    "ACTIVE_COMPARATOR": 3, "OTHER": 4, "EXPERIMENTAL": 6,
}
UNKNOWN_ARM_RANK = 5

# time phrases stripped from outcome titles so that 'X at Week 12' and 'X at Week 24' share a measure_norm
_TIME_PHRASE = (
    r"(\b(at|to|through|by|until|over|up to|after)\s+)?\b(weeks?|wks?|days?|months?|years?|hours?)\s*\d+(\.\d+)?\b"
    r"|\b\d+(\.\d+)?\s*-?\s*(weeks?|wks?|days?|months?|years?|hours?)\b"
)

_RANK_SQL = "CASE " + " ".join(f"WHEN {{col}} = '{k}' THEN {v}" for k, v in ARM_TYPE_RANK.items()) + \
    f" ELSE {UNKNOWN_ARM_RANK} END"


def arm_rank_sql(col: str) -> str:
    return _RANK_SQL.format(col=col)


def open_registry(path: str | Path, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the registry attached read-only as ``reg``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: registry not found (run the tables stage first)")
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute(f"ATTACH '{path.as_posix()}' AS reg (READ_ONLY)")
    return con


def canonical_names(names: list[tuple[str, list[str]]]) -> dict[str, str]:
    """{normalised name: canonical name} joining the names that registries list as one compound.

    ``names`` holds (normalised intervention name, its ``otherNames`` as posted) per intervention; a
    trial that lists 'BLS-3589' with the other name 'Sotaratamine' says both name one drug. The
    names linked this way, over the whole registry, form one group (union-find); its canonical name
    is its most frequent member (ties: alphabetical). Placebo-like names never link."""
    parent: dict[str, str] = {}
    counts: dict[str, int] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def usable(x) -> bool:
        return bool(x) and len(x) >= 3 and not any(w in x for w in _PLACEBO_WORDS)

    for name, others in names:
        if not usable(name):
            continue
        counts[name] = counts.get(name, 0) + 1
        for other in others or ():
            o = intervention_name_norm(other)
            if usable(o) and o != name:
                a, b = find(name), find(o)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = {}
    for x in parent:
        groups.setdefault(find(x), []).append(x)
    out = {}
    for members in groups.values():
        if len(members) > 1:
            canon = min(members, key=lambda m: (-counts.get(m, 0), m))
            out.update({m: canon for m in members if m != canon})
    return out


def build_working_tables(con: duckdb.DuckDBPyConnection, text_chars: int = 400) -> dict:
    """Create ``arm_info``, ``trials`` and ``cells``; return counts of what was kept and skipped.

    An intervention's blocking key is its normalised name mapped to its compound's canonical name
    (``canonical_names``: a code and a generic name listed together as other names are one key)."""
    synonyms = canonical_names([(n, list(o) if o is not None else []) for n, o in con.execute(
        "SELECT name_norm, other_names FROM reg.interventions WHERE name_norm IS NOT NULL ORDER BY nct_id, intervention_id"
    ).fetchall()])
    con.execute("CREATE OR REPLACE TEMP TABLE name_canon (name_norm VARCHAR, canon VARCHAR)")
    if synonyms:
        con.executemany("INSERT INTO name_canon VALUES (?, ?)", sorted(synonyms.items()))
    con.execute("""
    CREATE OR REPLACE TEMP TABLE arm_int AS
    SELECT ai.nct_id, ai.arm_id, i.intervention_id, i.name, coalesce(nc.canon, i.name_norm) AS name_norm, i.intervention_type,
           (coalesce(i.name_norm, lower(i.name), '') SIMILAR TO '.*\\b(placebo|placebos|sham|vehicle|dummy)\\b.*') AS is_placebo_int
    FROM reg.arm_interventions ai
    JOIN reg.interventions i ON i.nct_id = ai.nct_id AND i.intervention_id = ai.intervention_id
    LEFT JOIN name_canon nc ON nc.name_norm = i.name_norm;

    CREATE OR REPLACE TEMP TABLE arm_info AS
    WITH prim AS (
        SELECT * FROM (
            SELECT *, row_number() OVER (PARTITION BY nct_id, arm_id ORDER BY is_placebo_int, intervention_id) AS rn
            FROM arm_int) WHERE rn = 1
    ),
    sets AS (
        SELECT nct_id, arm_id,
               string_agg(DISTINCT coalesce(name_norm, lower(name)), ' + ' ORDER BY coalesce(name_norm, lower(name))) AS interventions_key,
               list(DISTINCT coalesce(name_norm, lower(name)) ORDER BY coalesce(name_norm, lower(name))) AS intervention_names,
               bool_and(is_placebo_int) AS all_placebo
        FROM arm_int GROUP BY nct_id, arm_id
    ),
    dose AS (
        SELECT * FROM (
            SELECT d.*, row_number() OVER (
                PARTITION BY d.nct_id, d.arm_id
                ORDER BY (d.source = 'arm') DESC,
                         (d.intervention_id IS NOT DISTINCT FROM p.intervention_id OR d.intervention_id IS NULL) DESC,
                         (d.frequency IS NOT NULL AND d.frequency <> 'ONCE') DESC,
                         coalesce(d.value_mg, d.value), d.unit, d.text) AS rn
            FROM reg.doses d
            LEFT JOIN prim p ON p.nct_id = d.nct_id AND p.arm_id = d.arm_id
            WHERE NOT coalesce(d.is_placebo, false) AND d.value IS NOT NULL AND d.value > 0
        ) WHERE rn = 1
    )
    SELECT a.nct_id, a.arm_id, a.label, a.arm_type, a.description,
           p.name AS intervention_name, p.name_norm AS intervention, p.intervention_type,
           s.interventions_key, s.intervention_names,
           (a.arm_type IN ('PLACEBO_COMPARATOR', 'SHAM_COMPARATOR') OR coalesce(s.all_placebo, false)) AS is_placebo,
           d.value AS dose_value, d.unit AS dose_unit, d.value_mg AS dose_value_mg,
           d.frequency AS dose_frequency, d.route AS dose_route, d.text AS dose_text
    FROM reg.arms a
    LEFT JOIN prim p ON p.nct_id = a.nct_id AND p.arm_id = a.arm_id
    LEFT JOIN sets s ON s.nct_id = a.nct_id AND s.arm_id = a.arm_id
    LEFT JOIN dose d ON d.nct_id = a.nct_id AND d.arm_id = a.arm_id;
    """)

    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE trials AS
    WITH cond AS (
        SELECT nct_id, list(DISTINCT condition ORDER BY condition) AS conditions,
               list(DISTINCT condition_norm ORDER BY condition_norm) AS conditions_norm
        FROM reg.conditions WHERE condition IS NOT NULL GROUP BY nct_id
    ),
    ctry AS (
        SELECT nct_id, list(DISTINCT country ORDER BY country) AS countries,
               list(DISTINCT coalesce(region, 'Other') ORDER BY coalesce(region, 'Other')) AS regions
        FROM reg.countries WHERE country IS NOT NULL GROUP BY nct_id
    ),
    region_n AS (
        SELECT nct_id, coalesce(region, 'Other') AS region, count(DISTINCT country) AS n
        FROM reg.countries WHERE country IS NOT NULL GROUP BY ALL
    ),
    main_region AS (   -- the region of most of the trial's countries; 'Multiregional' on a tie
        SELECT nct_id, CASE WHEN count(*) FILTER (WHERE n = max_n) = 1 THEN arg_max(region, n) ELSE 'Multiregional' END AS main_region
        FROM (SELECT *, max(n) OVER (PARTITION BY nct_id) AS max_n FROM region_n) GROUP BY nct_id
    ),
    ctrl AS (
        SELECT nct_id, arg_min(arm_type, {arm_rank_sql('arm_type')}) AS control_type
        FROM reg.arms WHERE arm_type IS NOT NULL AND arm_type <> 'EXPERIMENTAL' GROUP BY nct_id
    ),
    armtext AS (
        SELECT nct_id, string_agg(label, '; ' ORDER BY arm_id) AS arms_text
        FROM reg.arms GROUP BY nct_id
    ),
    outtext AS (
        SELECT nct_id, string_agg(measure, '; ' ORDER BY outcome_id) AS outcomes_text
        FROM (SELECT * FROM reg.outcomes WHERE outcome_type = 'PRIMARY' OR outcome_id = 0) GROUP BY nct_id
    )
    SELECT s.nct_id,
           coalesce(s.brief_title, s.official_title, '') AS title,
           s.phase, s.enrollment, s.start_date, s.results_first_posted,
           coalesce(c.conditions, []) AS conditions, coalesce(c.conditions_norm, []) AS conditions_norm,
           coalesce(k.countries, []) AS countries, coalesce(k.regions, []) AS regions,
           array_to_string(coalesce(k.regions, []), ', ') AS regions_key,
           coalesce(mr.main_region, 'Unknown') AS main_region,
           e.sex, e.min_age_years AS min_age, e.max_age_years AS max_age,
           -- coarse population group compared across trials (18-65 and 18-80 are both 'adults')
           coalesce(e.sex, 'ALL') || ' ' || CASE
               WHEN e.max_age_years < 18 THEN 'children'
               WHEN e.min_age_years >= 60 THEN 'older adults'
               WHEN e.min_age_years < 18 THEN 'children and adults'
               WHEN e.min_age_years IS NULL AND e.max_age_years IS NULL THEN 'any age'
               ELSE 'adults' END AS population_group,
           coalesce(ctrl.control_type, 'NONE') AS comparator,
           left(coalesce(s.brief_title, s.official_title, '') || ' | ' || coalesce(a.arms_text, '') || ' | ' ||
                coalesce(o.outcomes_text, ''), {int(text_chars)}) AS trial_text
    FROM reg.studies s
    LEFT JOIN cond c USING (nct_id)
    LEFT JOIN ctry k USING (nct_id)
    LEFT JOIN reg.eligibility e USING (nct_id)
    LEFT JOIN main_region mr USING (nct_id)
    LEFT JOIN ctrl USING (nct_id)
    LEFT JOIN armtext a USING (nct_id)
    LEFT JOIN outtext o USING (nct_id);
    """)

    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE meas_agg AS
    SELECT nct_id, outcome_id, group_id, count(*) AS n_rows,
           any_value(value) AS value, any_value(spread) AS spread,
           any_value(lower_limit) AS lower_limit, any_value(upper_limit) AS upper_limit
    FROM reg.measurements GROUP BY nct_id, outcome_id, group_id;

    CREATE OR REPLACE TEMP TABLE cells AS
    SELECT g.nct_id, g.outcome_id, g.group_id,
           coalesce('arm' || g.arm_id::VARCHAR, 'group:' || lower(trim(coalesce(g.title, g.group_id)))) AS arm_key,
           g.arm_id, coalesce(nullif(trim(g.title), ''), a.label) AS arm_label, a.label AS design_label,
           a.arm_type, coalesce(nullif(trim(g.description), ''), a.description) AS arm_description,
           g.title AS group_title,
           {arm_rank_sql('a.arm_type')} AS arm_rank,
           a.intervention, a.intervention_name, a.intervention_type, a.interventions_key,
           coalesce(a.is_placebo, regexp_matches(lower(coalesce(g.title, '')), '\\bplacebo\\b')) AS is_placebo,
           a.dose_value, a.dose_unit, a.dose_value_mg, a.dose_frequency, a.dose_route,
           o.outcome_type, o.measure, o.description AS outcome_description, o.time_frame, o.time_weeks,
           o.unit, o.param_type, o.dispersion_type,
           trim(regexp_replace(regexp_replace(regexp_replace(lower(coalesce(o.measure, '')), '{_TIME_PHRASE}', ' ', 'g'),
                                              '[^a-z0-9%]+', ' ', 'g'), '\\s+', ' ', 'g')) AS measure_norm,
           m.value, m.spread, m.lower_limit, m.upper_limit, g.n
    FROM reg.result_groups g
    JOIN reg.outcomes o ON o.nct_id = g.nct_id AND o.outcome_id = g.outcome_id
    JOIN meas_agg m ON m.nct_id = g.nct_id AND m.outcome_id = g.outcome_id AND m.group_id = g.group_id
    LEFT JOIN arm_info a ON a.nct_id = g.nct_id AND a.arm_id = g.arm_id
    WHERE m.n_rows = 1 AND m.value IS NOT NULL AND isfinite(m.value);
    """)

    counts = dict(zip(
        ("result_groups", "groups_multi_row", "groups_no_value", "cells", "studies_with_cells", "studies"),
        con.execute("""
        SELECT (SELECT count(*) FROM reg.result_groups),
               (SELECT count(*) FROM meas_agg WHERE n_rows > 1),
               (SELECT count(*) FROM meas_agg WHERE n_rows = 1 AND (value IS NULL OR NOT isfinite(value))),
               (SELECT count(*) FROM cells),
               (SELECT count(DISTINCT nct_id) FROM cells),
               (SELECT count(*) FROM trials)
        """).fetchone(),
    ))
    counts["intervention_synonyms"] = len(synonyms)   # names mapped to another name of their compound
    log.info("cells: %s", counts)
    return counts
