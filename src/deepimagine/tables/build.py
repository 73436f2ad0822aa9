"""Build data/registry.duckdb from data/raw/studies.jsonl.gz with DuckDB SQL.

Three set-based stages:
1. ``lines``: every line of the gzip file read by DuckDB's CSV reader as one VARCHAR, numbered and
   classified (blank | invalid JSON | not a JSON object | ok).
2. ``docs`` / ``s``: each ok line parsed ONCE with ``json_transform`` into a typed STRUCT holding only the
   parts we need (every leaf as VARCHAR, so a wrong scalar type never fails the parse), then validated per
   study (legacy v1 record, missing nctId, duplicate nctId -> study-level rejects).
3. The normalised tables of schema.sql, each one INSERT ... SELECT over ``s`` with ``unnest``; the few
   text normalisers that are easier in Python (doses, time frames, intervention names) run once per
   DISTINCT string and are joined back.

Invariant: non-blank lines (+ 1 for an unreadable gzip tail) = rows in ``studies`` + distinct lines with a
study-level reject. A gzip cut short or corrupt keeps the lines before the damage and rejects the rest as
one 'unreadable gzip' item; a line that is not valid UTF-8 is rejected ('invalid UTF-8'), never repaired.
An nctId must be a string like NCT01234567 ('malformed nctId' otherwise).

Accounting: when the download's ``manifest.json`` sits next to the studies file, its counts and its
``quarantine`` rows (items that never reached the studies file) join the tables' own: the ``accounting``
table holds, per stage, how many input items were read, written, duplicate, unreadable, quarantined or
rejected and why; the download's quarantined items are also ``rejects`` rows of level 'download'.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Optional

import duckdb
import pyarrow as pa

from ..core.normalize import intervention_name_norm, time_frame_weeks
from .accounting import accounting, download_accounting, download_rejects  # noqa: F401 (download_accounting: public)
from .doses import dose_rows
from .lines import count_lines, exact_lines, scan_lines  # noqa: F401 (count_lines: public)

log = logging.getLogger(__name__)

_NAME_LINE = re.compile(r"^--\s*name:\s*(\w+)\s*$")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")   # {8} (a regex count) and {'txt': ...} (a struct) are not placeholders

V = "VARCHAR"
# The parts of an API v2 study the tables need. Leaves are VARCHAR: json_transform then never fails on
# a wrong scalar type (enrollment "abc" stays "abc" and TRY_CAST decides); a container of the wrong type
# becomes NULL (see TYPE_CHECKS for how that is reported).
STRUCTURE = {
    "FullStudiesResponse": "JSON",
    "hasResults": V,
    "protocolSection": {
        "identificationModule": {"nctId": V, "briefTitle": V, "officialTitle": V},
        "statusModule": {
            "overallStatus": V,
            "startDateStruct": {"date": V},
            "completionDateStruct": {"date": V},
            "resultsFirstPostDateStruct": {"date": V},
        },
        "sponsorCollaboratorsModule": {"leadSponsor": {"name": V, "class": V}},
        "descriptionModule": {"briefSummary": V},
        "conditionsModule": {"conditions": [V]},
        "designModule": {
            "studyType": V,
            "phases": [V],
            "designInfo": {"allocation": V, "interventionModel": V, "primaryPurpose": V, "maskingInfo": {"masking": V}},
            "enrollmentInfo": {"count": V, "type": V},
        },
        "armsInterventionsModule": {
            "armGroups": [{"label": V, "type": V, "description": V, "interventionNames": [V]}],
            "interventions": [{"type": V, "name": V, "description": V, "armGroupLabels": [V], "otherNames": [V]}],
        },
        "eligibilityModule": {"sex": V, "minimumAge": V, "maximumAge": V, "healthyVolunteers": V, "stdAges": [V],
                              "eligibilityCriteria": V},
        "contactsLocationsModule": {"locations": [{"country": V}]},
    },
    "derivedSection": {"conditionBrowseModule": {"meshes": [{"term": V}], "browseLeaves": [{"name": V, "asFound": V}]}},
    "resultsSection": {"outcomeMeasuresModule": {"outcomeMeasures": [{
        "type": V, "title": V, "description": V, "timeFrame": V, "unitOfMeasure": V, "paramType": V,
        "dispersionType": V, "reportingStatus": V,
        "groups": [{"id": V, "title": V, "description": V}],
        "denoms": [{"units": V, "counts": [{"groupId": V, "value": V}]}],
        "classes": [{"title": V, "categories": [{"title": V, "measurements": [
            {"groupId": V, "value": V, "spread": V, "lowerLimit": V, "upperLimit": V}]}]}],
        "analyses": [{"groupIds": [V], "pValue": V, "statisticalMethod": V, "paramType": V, "paramValue": V,
                      "ciPctValue": V, "ciLowerLimit": V, "ciUpperLimit": V, "nonInferiorityType": V}],
    }]}},
}

# (JSON path, typed parent expression, typed child expression, table): a present parent with a NULL child
# means the child was absent or of the wrong type; only those studies are re-read to tell which.
TYPE_CHECKS = [
    ("$.protocolSection.armsInterventionsModule.armGroups", "d.protocolSection.armsInterventionsModule",
     "d.protocolSection.armsInterventionsModule.armGroups", "arms"),
    ("$.protocolSection.armsInterventionsModule.interventions", "d.protocolSection.armsInterventionsModule",
     "d.protocolSection.armsInterventionsModule.interventions", "interventions"),
    ("$.protocolSection.conditionsModule.conditions", "d.protocolSection.conditionsModule",
     "d.protocolSection.conditionsModule.conditions", "conditions"),
    ("$.protocolSection.contactsLocationsModule.locations", "d.protocolSection.contactsLocationsModule",
     "d.protocolSection.contactsLocationsModule.locations", "countries"),
    ("$.protocolSection.designModule.phases", "d.protocolSection.designModule",
     "d.protocolSection.designModule.phases", "studies"),
    ("$.resultsSection.outcomeMeasuresModule.outcomeMeasures", "d.resultsSection",
     "d.resultsSection.outcomeMeasuresModule.outcomeMeasures", "outcomes"),
]

TABLES = ["studies", "conditions", "arms", "interventions", "arm_interventions", "doses", "outcomes",
          "result_groups", "measurements", "analyses", "countries", "eligibility", "rejects", "accounting"]



@dataclass
class BuildResult:
    db_path: Path
    studies_in_raw: int
    rows: dict[str, int]
    rejects_by_reason: dict[str, int]
    rejects_by_level: dict[str, int]
    seconds: float
    accounting: dict = None  # type: ignore[assignment]

    def metrics(self) -> dict:
        return {
            "studies_in_raw": self.studies_in_raw,
            "rows": self.rows,
            "rejects_by_reason": self.rejects_by_reason,
            "rejects_by_level": self.rejects_by_level,
            "accounting": self.accounting,
            "seconds": round(self.seconds, 3),
        }


def package_sql(file: str) -> str:
    """The text of ``file``, a .sql file beside this module."""
    return resources.files(__package__).joinpath(file).read_text(encoding="utf-8")


def schema_sql() -> str:
    return package_sql("schema.sql")


def regions_sql() -> str:
    return package_sql("regions.sql")


@functools.cache
def _statements(file: str) -> dict[str, str]:
    """The named statements of ``file``: each starts at a line ``-- name: <name>`` and runs to the next one."""
    out: dict[str, str] = {}
    name = None
    for line in package_sql(file).splitlines(keepends=True):
        m = _NAME_LINE.match(line)
        if m:
            name = m.group(1)
            if name in out:
                raise ValueError(f"{file}: statement {name!r} appears twice")
            out[name] = ""
        elif name is not None:
            out[name] += line
    return {k: v.strip() for k, v in out.items()}


def sql(file: str, name: str, **subs: object) -> str:
    """Statement ``name`` of ``file`` (a .sql file beside this module) with its ``{placeholder}``s filled
    from ``subs`` in one pass; every placeholder must be given, and every value used."""
    statements = _statements(file)
    if name not in statements:
        raise KeyError(f"{file} has no statement {name!r} (has: {', '.join(sorted(statements))})")
    text = statements[name]
    wanted = set(_PLACEHOLDER.findall(text))
    if wanted != set(subs):
        raise ValueError(f"{file}:{name} takes placeholders {sorted(wanted)}, got {sorted(subs)}")
    return _PLACEHOLDER.sub(lambda m: str(subs[m.group(1)]), text)


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def build(studies_path: str | Path, db_path: str | Path, threads: int = 2, memory_limit: str = "4GB",
          manifest_path: str | Path | None = None) -> BuildResult:
    """Build the registry database at ``db_path`` (atomically: a temp file renamed on success).

    ``manifest_path``: the download's manifest (default: ``manifest.json`` next to the studies file, when
    there) whose counts and quarantine join the accounting.
    """
    started = time.perf_counter()
    studies_path, db_path = Path(studies_path), Path(db_path)
    if not studies_path.exists():
        raise FileNotFoundError(f"{studies_path} not found: run the download stage first")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.parent / f".{db_path.name}.{os.getpid()}.tmp"
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute(f"SET threads = {int(threads)}")
            con.execute(f"SET memory_limit = {_sql_str(memory_limit)}")
            con.execute("SET preserve_insertion_order = true")
            con.execute(f"SET temp_directory = {_sql_str(str(db_path.parent / '.duckdb_tmp'))}")
            manifest = _read_manifest(Path(manifest_path) if manifest_path else studies_path.parent / "manifest.json",
                                      studies_path)
            result = _build_into(con, studies_path, manifest)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, db_path)
    finally:
        for p in (tmp, Path(str(tmp) + ".wal")):
            p.unlink(missing_ok=True)
    result.db_path = db_path
    result.seconds = time.perf_counter() - started
    log.info("registry %s: %d studies in raw, rows %s, rejects %s (%.1fs)", db_path, result.studies_in_raw,
             result.rows, result.rejects_by_reason, result.seconds)
    return result


def _read_manifest(path: Path, studies_path: Path) -> Optional[dict]:
    """The download manifest when it exists and describes this studies file (by sha256), else None."""
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        log.warning("%s is unreadable (%s); the accounting covers the tables stage only", path, e)
        return None
    import hashlib

    digest = hashlib.sha256()
    with open(studies_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if not isinstance(manifest, dict) or manifest.get("studies_sha256") != digest.hexdigest():
        log.warning("%s does not describe %s (sha256 differs); the accounting covers the tables stage only",
                    path, studies_path)
        return None
    return manifest


def _build_into(con: duckdb.DuckDBPyConnection, studies_path: Path, manifest: Optional[dict] = None) -> BuildResult:
    con.execute(schema_sql())
    con.execute(package_sql("macros.sql"))
    con.execute(regions_sql())
    _stage1_lines(con, studies_path)
    _stage2_studies(con)
    download_rejects(con, manifest)
    _stage3_tables(con)
    return _summarise(con, manifest)


# ----------------------------------------------------------------- stage 1: lines


# DuckDB's CSV reader is the fast path for reading lines; its buffers suit every real study (the largest
# are a few MiB). A line it cannot read makes it raise or, with some buffer sizes, silently drop the line,
# so its line count is checked against an independent count (zlib, in a worker thread while DuckDB reads)
# and any disagreement or error falls back to an exact, slower reader.
MAX_LINE_BYTES, CSV_BUFFER_BYTES = 16 * 2**20, 32 * 2**20



def _stage1_lines(con, studies_path: Path) -> None:
    # One VARCHAR column per line: no delimiter / quote / escape can split a JSON line (\x01 never
    # occurs unescaped in valid JSON; an invalid line that holds one is still one line thanks to
    # strict_mode=false + null_padding). Blank lines come through as NULL, keeping line numbers.
    # bad_lines: lines the exact reader found not to be UTF-8, and the unreadable tail of a damaged gzip.
    con.execute("CREATE OR REPLACE TEMP TABLE bad_lines (line BIGINT, reason VARCHAR, detail VARCHAR)")
    src = _sql_str(str(studies_path))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="count") as pool:
        expected = pool.submit(scan_lines, studies_path)
        try:
            con.execute(sql("parse.sql", "lines", src=src, delim=_sql_str("\x01"), max_line_size=MAX_LINE_BYTES,
                            buffer_size=CSV_BUFFER_BYTES, compression="gzip" if studies_path.suffix == ".gz" else "none"))
            got, problem = con.execute("SELECT count(*) FROM lines").fetchone()[0], None
        except duckdb.Error as e:
            got, problem = None, str(e)[:200]
        n_lines, damage = expected.result()
    if got == n_lines and damage is None:
        return
    if damage is not None:
        log.warning("%s: %s after %d lines; those lines are kept, the rest is rejected as one unreadable item",
                    studies_path, damage, n_lines)
    else:
        log.warning("%s: DuckDB read %s of %d lines (%s); reading the lines again with the exact reader",
                    studies_path, got, n_lines, problem or "a line too long for its buffers")
    exact_lines(con, studies_path)
    got = con.execute("SELECT count(*) FROM lines").fetchone()[0]
    if got != n_lines:
        raise RuntimeError(f"{studies_path}: read {got} lines, expected {n_lines}")
    if damage is not None:
        con.execute("INSERT INTO bad_lines VALUES (?, 'unreadable gzip', ?)", [n_lines + 1, damage])



# ----------------------------------------------------------------- stage 2: one typed struct per study


def _stage2_studies(con) -> None:
    # The one full parse of every line: try() turns malformed JSON into NULL instead of an error; a valid
    # non-object (array, string ...) transforms to a struct of NULLs and is told apart by its first byte.
    # `s` keeps one typed struct per line; the lines that are not usable studies are deleted from it below.
    structure = _sql_str(json.dumps(STRUCTURE))
    con.execute(sql("parse.sql", "parsed", structure=structure))
    con.execute(sql("parse.sql", "line_status"))
    # study-level rejects
    con.execute(sql("parse.sql", "study_rejects"))
    con.execute("DELETE FROM s WHERE line NOT IN (SELECT line FROM line_status WHERE rk = 1)")
    # containers of the wrong type (value level): re-read only the studies whose typed child came out NULL
    for path, parent, child, tbl in TYPE_CHECKS:
        con.execute(sql("parse.sql", "wrong_type_rejects", tbl=_sql_str(tbl), field=_sql_str(path[2:]),
                        path=_sql_str(path), parent=parent.replace("d.", "s.d.", 1),
                        child=child.replace("d.", "s.d.", 1)))
    con.execute("DROP TABLE lines")


# ----------------------------------------------------------------- stage 3: normalised tables


def _register_distinct(con, name: str, query: str, fn, out_type: pa.DataType) -> None:
    """Run a pure Python function once per distinct value of ``query`` (one VARCHAR column) into table ``name``."""
    values = [r[0] for r in con.execute(query).fetchall()]
    tbl = pa.table({"text": pa.array(values, pa.string()), "out": pa.array([fn(v) for v in values], out_type)})
    con.register(f"{name}_arrow", tbl)
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")


def _stage3_tables(con) -> None:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="doses")
    try:
        _stage3_body(con, pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stage3_body(con, pool: ThreadPoolExecutor) -> None:
    # -- flat per-entity temp tables (one unnest each) -------------------------------------------
    con.execute(sql("tables.sql", "t_arms"))
    con.execute(sql("tables.sql", "t_int"))
    con.execute(sql("tables.sql", "t_om"))

    # Dose parsing is pure Python (it holds the GIL); DuckDB releases the GIL while it runs a query, so
    # the parse runs in a worker thread while the SQL below builds the other tables.
    dose_future = pool.submit(dose_rows, _dose_texts(con))

    # -- countries ---------------------------------------------------------------------------------
    con.execute(sql("tables.sql", "countries"))

    # -- studies -----------------------------------------------------------------------------------
    con.execute(sql("tables.sql", "studies"))
    _value_rejects_studies(con)

    # -- conditions (+ MeSH term) ------------------------------------------------------------------
    con.execute(sql("tables.sql", "t_cond"))
    con.execute(sql("tables.sql", "conditions"))

    # -- arms, interventions, links ----------------------------------------------------------------
    con.execute(sql("tables.sql", "arms"))
    _register_distinct(con, "name_norms",
                       "SELECT DISTINCT i.name FROM t_int WHERE i.name IS NOT NULL ORDER BY 1",
                       intervention_name_norm, pa.string())
    con.execute(sql("tables.sql", "interventions"))
    con.execute(sql("tables.sql", "arm_interventions"))

    # -- eligibility -------------------------------------------------------------------------------
    con.execute(sql("tables.sql", "eligibility"))
    con.execute(sql("tables.sql", "eligibility_rejects"))

    # -- outcomes, result groups, measurements, analyses ------------------------------------------
    _register_distinct(con, "time_weeks",
                       "SELECT DISTINCT o.timeFrame FROM t_om WHERE o.timeFrame IS NOT NULL ORDER BY 1",
                       time_frame_weeks, pa.float64())
    con.execute(sql("tables.sql", "outcomes"))
    _result_groups(con)
    con.execute(sql("tables.sql", "t_meas"))
    con.execute(sql("tables.sql", "measurements"))
    con.execute(sql("tables.sql", "measurement_rejects"))
    con.execute(sql("tables.sql", "t_an"))
    con.execute(sql("tables.sql", "analyses"))
    con.execute(sql("tables.sql", "analysis_rejects"))

    # -- doses (the parse started above) --------------------------------------------------------------
    _doses(con, dose_future.result())

    # -- rejects -----------------------------------------------------------------------------------
    con.execute(sql("tables.sql", "rejects"))


def _value_rejects_studies(con) -> None:
    con.execute(sql("tables.sql", "study_value_rejects"))


def _result_groups(con) -> None:
    """result_groups with their design arm: exact label, exact description, containment, then fuzzy title.

    Labels are compared normalised and with plural 's' dropped ('Asthmatics' = 'Asthmatic'). A treatment
    sequence or a pooled group ('all dose levels', 'total', 'pooled') maps to no arm unless a label
    or description matches exactly. Several candidates in the best tier map to no arm unless one is clearly
    the most similar (Jaro-Winkler ahead of the runner-up by at least 0.1).
    """
    con.execute(sql("result_groups.sql", "t_groups"))
    con.execute(sql("result_groups.sql", "t_group_arm"))
    con.execute(sql("result_groups.sql", "result_groups"))


def _dose_texts(con) -> list[str]:
    """Distinct texts doses are read from: arm descriptions and labels, intervention names and descriptions."""
    return [r[0] for r in con.execute(sql("doses.sql", "dose_texts")).fetchall()]


def _doses(con, cols: dict[str, list]) -> None:
    """doses from arm texts (description, else label) and intervention texts (name, else description)."""
    tbl = pa.table({
        "text": pa.array(cols["text"], pa.string()), "dose_index": pa.array(cols["dose_index"], pa.int32()),
        "value": pa.array(cols["value"], pa.float64()), "unit": pa.array(cols["unit"], pa.string()),
        "value_mg": pa.array(cols["value_mg"], pa.float64()), "frequency": pa.array(cols["frequency"], pa.string()),
        "route": pa.array(cols["route"], pa.string()), "is_placebo": pa.array(cols["is_placebo"], pa.bool_()),
        "value_upper": pa.array(cols["value_upper"], pa.float64()), "qualifier": pa.array(cols["qualifier"], pa.string()),
        "looks_like_dose": pa.array(cols["looks_like_dose"], pa.bool_()),
    })
    con.register("dose_parsed_arrow", tbl)
    con.execute("CREATE TEMP TABLE dose_parsed AS SELECT * FROM dose_parsed_arrow")
    con.unregister("dose_parsed_arrow")
    con.execute(sql("doses.sql", "dose_text"))
    con.execute(sql("doses.sql", "arm_dose_src"))
    con.execute(sql("doses.sql", "int_dose_src"))
    con.execute(sql("doses.sql", "doses"))
    con.execute(sql("doses.sql", "dose_rejects"))


# ----------------------------------------------------------------- summary


def _summarise(con, manifest: Optional[dict] = None) -> BuildResult:
    rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES if t != "accounting"}
    studies_in_raw = con.execute("SELECT count(*) FROM line_status WHERE status <> 'blank'").fetchone()[0]
    studies_in_raw += con.execute("SELECT count(*) FROM bad_lines WHERE reason = 'unreadable gzip'").fetchone()[0]
    by_reason = dict(con.execute(
        "SELECT level || ': ' || reason, count(*) FROM rejects GROUP BY 1 ORDER BY 1").fetchall())
    by_level = dict(con.execute("SELECT level, count(*) FROM rejects GROUP BY 1 ORDER BY 1").fetchall())
    study_rejected = con.execute("SELECT count(DISTINCT line) FROM rejects WHERE level = 'study'").fetchone()[0]
    if rows["studies"] + study_rejected != studies_in_raw:
        raise RuntimeError(f"count mismatch: {studies_in_raw} studies in raw != {rows['studies']} studies "
                           f"+ {study_rejected} study-level rejects")
    accounting_summary = accounting(con, manifest, studies_in_raw, rows["studies"])
    rows["accounting"] = con.execute("SELECT count(*) FROM accounting").fetchone()[0]
    return BuildResult(db_path=Path(), studies_in_raw=studies_in_raw, rows=rows, rejects_by_reason=by_reason,
                       rejects_by_level=by_level, seconds=0.0, accounting=accounting_summary)
