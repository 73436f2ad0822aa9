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

import json
import logging
import os
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator, Optional

import duckdb
import pyarrow as pa

from .doses import dose_rows
from .normalize import intervention_name_norm, time_frame_weeks

log = logging.getLogger(__name__)

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

MACROS = r"""
CREATE OR REPLACE TEMP MACRO parse_date(x) AS coalesce(
    try_strptime(trim(x), '%Y-%m-%d')::DATE, try_strptime(trim(x), '%Y-%m')::DATE, try_strptime(trim(x), '%Y')::DATE,
    try_strptime(trim(x), '%B %d, %Y')::DATE, try_strptime(trim(x), '%B %Y')::DATE);
CREATE OR REPLACE TEMP MACRO num(x) AS CASE
    WHEN regexp_matches(trim(x), '^[-+]?([0-9][0-9,]*\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$')
    THEN TRY_CAST(replace(trim(x), ',', '') AS DOUBLE) END;
CREATE OR REPLACE TEMP MACRO age_years(x) AS
    TRY_CAST(regexp_extract(lower(trim(x)), '^([0-9]+(?:\.[0-9]+)?)\s*(year|month|week|day|hour|minute)s?$', 1) AS DOUBLE)
    / CASE regexp_extract(lower(trim(x)), '^([0-9]+(?:\.[0-9]+)?)\s*(year|month|week|day|hour|minute)s?$', 2)
        WHEN 'year' THEN 1.0 WHEN 'month' THEN 12.0 WHEN 'week' THEN 52.1775 WHEN 'day' THEN 365.25
        WHEN 'hour' THEN 8766.0 WHEN 'minute' THEN 525960.0 END;
CREATE OR REPLACE TEMP MACRO age_absent(x) AS x IS NULL OR upper(trim(x)) IN ('', 'N/A', 'NA', 'NONE');
CREATE OR REPLACE TEMP MACRO pv_parts(x) AS regexp_extract(
    replace(replace(replace(trim(x), '≤', '<='), '≥', '>='), ' ', ''),
    '^(?:[pP]\s*)?(<=|>=|<|>|=)?([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)$', ['modifier', 'number']);
CREATE OR REPLACE TEMP MACRO label_norm(x) AS nullif(trim(regexp_replace(regexp_replace(lower(coalesce(x, '')),
    '\([^)]*\)', ' ', 'g'), '[^a-z0-9]+', ' ', 'g')), '');
CREATE OR REPLACE TEMP MACRO label_stem(x) AS regexp_replace(label_norm(x), '([a-z]{3,}[^s])s\b', '\1', 'g');
CREATE OR REPLACE TEMP MACRO text_norm(x) AS nullif(trim(regexp_replace(lower(coalesce(x, '')), '[^a-z0-9]+', ' ', 'g')), '');
CREATE OR REPLACE TEMP MACRO cut(x) AS left(CAST(x AS VARCHAR), 200);
"""


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


def schema_sql() -> str:
    return resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")


def regions_sql() -> str:
    return resources.files(__package__).joinpath("regions.sql").read_text(encoding="utf-8")


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
    con.execute(MACROS)
    con.execute(regions_sql())
    _stage1_lines(con, studies_path)
    _stage2_studies(con)
    _download_rejects(con, manifest)
    _stage3_tables(con)
    return _summarise(con, manifest)


# ----------------------------------------------------------------- stage 1: lines


# DuckDB's CSV reader is the fast path for reading lines; its buffers suit every real study (the largest
# are a few MiB). A line it cannot read makes it raise or, with some buffer sizes, silently drop the line,
# so its line count is checked against an independent count (zlib, in a worker thread while DuckDB reads)
# and any disagreement or error falls back to an exact, slower reader.
MAX_LINE_BYTES, CSV_BUFFER_BYTES = 16 * 2**20, 32 * 2**20


def _raw_chunks(path: Path, problem: list) -> Iterator[bytes]:
    """Decompressed bytes of a (possibly gzipped, possibly multi-member) file; stops at damage.

    A corrupt stream or one cut short ends the iteration and appends the reason to ``problem``.
    """
    with open(path, "rb") as f:
        if path.suffix != ".gz":
            yield from iter(lambda: f.read(1 << 22), b"")
            return
        d, started = zlib.decompressobj(31), False
        for chunk in iter(lambda: f.read(1 << 16), b""):  # small pieces: damage loses little before it
            while chunk:
                try:
                    out = d.decompress(chunk)
                except zlib.error as e:
                    problem.append(f"corrupt gzip data ({e})")
                    return
                started = True
                yield out
                chunk = b""
                if d.eof:  # next gzip member
                    chunk, d, started = d.unused_data, zlib.decompressobj(31), False
        if started and not d.eof:
            problem.append("the gzip stream is cut short (no end-of-stream marker)")
        yield d.flush()


def scan_lines(path: Path) -> tuple[int, Optional[str]]:
    """(lines a line reader sees, why the file could not be read to its end or None)."""
    n, last, problem = 0, b"", []
    for out in _raw_chunks(path, problem):
        n += out.count(b"\n")
        last = out[-1:] or last
    return n + (1 if last and last != b"\n" else 0), (problem[0] if problem else None)


def count_lines(path: Path) -> int:
    """Number of lines in a (possibly gzipped, possibly multi-member) text file, as a line reader sees them."""
    return scan_lines(path)[0]


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
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE lines AS
                SELECT txt   -- in file order (preserve_insertion_order): line = rowid + 1
                FROM read_csv({src}, columns={{'txt': 'VARCHAR'}}, delim='\x01', quote='', escape='', header=false,
                              auto_detect=false, max_line_size={MAX_LINE_BYTES}, buffer_size={CSV_BUFFER_BYTES},
                              strict_mode=false, null_padding=true,
                              compression='{'gzip' if studies_path.suffix == '.gz' else 'none'}')
            """)
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
    _exact_lines(con, studies_path)
    got = con.execute("SELECT count(*) FROM lines").fetchone()[0]
    if got != n_lines:
        raise RuntimeError(f"{studies_path}: read {got} lines, expected {n_lines}")
    if damage is not None:
        con.execute("INSERT INTO bad_lines VALUES (?, 'unreadable gzip', ?)", [n_lines + 1, damage])


def _exact_lines(con, studies_path: Path, batch: int = 2000) -> None:
    """The slow, exact path: lines split by Python (stopping at gzip damage), loaded in Arrow batches.

    A line that is not valid UTF-8 is kept as its repaired text for the reject's detail and listed in
    ``bad_lines``, so it is rejected, never parsed as repaired text.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE lines (txt VARCHAR)")  # appended in file order: line = rowid + 1
    lines, txts, bad, tail, i = [], [], [], b"", 0

    def flush():
        nonlocal lines, txts
        if lines:
            _append_lines(con, lines, txts)
        lines, txts = [], []

    def add(raw: bytes):
        nonlocal i
        i += 1
        raw = raw.rstrip(b"\r\n")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            text = raw.decode("utf-8", errors="replace")
            bad.append((i, "invalid UTF-8", f"byte {e.start}: " + text[:200]))
        lines.append(i)
        txts.append(text or None)
        if len(lines) == batch:
            flush()

    for out in _raw_chunks(studies_path, []):
        parts = (tail + out).split(b"\n")
        tail = parts.pop()
        for raw in parts:
            add(raw)
    if tail:
        add(tail)
    flush()
    if bad:
        con.executemany("INSERT INTO bad_lines VALUES (?, ?, ?)", bad)


def _append_lines(con, lines: list[int], txts: list[Optional[str]]) -> None:
    con.register("lines_batch", pa.table({"line": pa.array(lines, pa.int64()), "txt": pa.array(txts, pa.string())}))
    con.execute("INSERT INTO lines SELECT txt FROM lines_batch ORDER BY line")
    con.unregister("lines_batch")


# ----------------------------------------------------------------- stage 2: one typed struct per study


def _stage2_studies(con) -> None:
    # The one full parse of every line: try() turns malformed JSON into NULL instead of an error; a valid
    # non-object (array, string ...) transforms to a struct of NULLs and is told apart by its first byte.
    # `s` keeps one typed struct per line; the lines that are not usable studies are deleted from it below.
    structure = _sql_str(json.dumps(STRUCTURE))
    con.execute(f"""
        CREATE TEMP TABLE s AS
        SELECT line, status, CASE WHEN status = 'invalid JSON' THEN cut(txt) WHEN status = 'invalid UTF-8' THEN bad_detail
                                  WHEN status = 'ok' AND nct_raw IS NOT NULL AND NOT nct_ok THEN cut(nct_raw) END AS detail,
               CASE WHEN status = 'ok' AND nct_ok THEN nct_raw END AS nct_id,
               status = 'ok' AND nct_raw IS NOT NULL AND NOT nct_ok AS malformed_id,
               status = 'ok' AND d.FullStudiesResponse IS NOT NULL AS legacy, d
        FROM (
            SELECT line, txt, d, bad_detail, d.protocolSection.identificationModule.nctId AS nct_raw,
                   -- an nctId is a JSON string like NCT01234567: a number or an object never matches
                   coalesce(regexp_full_match(d.protocolSection.identificationModule.nctId, 'NCT[0-9]{{8}}'), false) AS nct_ok,
                   CASE
                WHEN bad_detail IS NOT NULL THEN 'invalid UTF-8'
                WHEN blank THEN 'blank'
                WHEN d IS NULL THEN 'invalid JSON'
                WHEN NOT is_object THEN 'not a JSON object'
                ELSE 'ok' END AS status
            FROM (SELECT line, txt, try(json_transform(txt, {structure})) AS d,
                         (SELECT any_value(b.detail) FROM bad_lines b WHERE b.line = l.line) AS bad_detail,
                         CASE WHEN txt IS NULL THEN true WHEN strlen(txt) > 256 THEN false ELSE trim(txt) = '' END AS blank,
                         starts_with(ltrim(left(txt, 256)), '{{') AS is_object
                  FROM (SELECT rowid + 1 AS line, txt FROM lines) l))
    """)
    con.execute("""
        CREATE TEMP TABLE line_status AS
        SELECT line, status, nct_id, legacy, malformed_id,
               CASE WHEN status = 'ok' AND NOT legacy AND nct_id IS NOT NULL
                    THEN row_number() OVER (PARTITION BY nct_id, (status = 'ok' AND NOT legacy AND nct_id IS NOT NULL) ORDER BY line) END AS rk,
               CASE WHEN status = 'ok' AND NOT legacy AND nct_id IS NOT NULL
                    THEN min(line) OVER (PARTITION BY nct_id, (status = 'ok' AND NOT legacy AND nct_id IS NOT NULL)) END AS first_line
        FROM s
    """)
    # study-level rejects
    con.execute("""
        CREATE TEMP TABLE rej AS
        SELECT NULL::VARCHAR AS nct_id, line, 'study' AS level, NULL::VARCHAR AS tbl, status AS reason, detail
        FROM s WHERE status IN ('invalid JSON', 'not a JSON object', 'invalid UTF-8')
        UNION ALL
        SELECT NULL, line, 'study', NULL, 'unreadable gzip', detail FROM bad_lines WHERE reason = 'unreadable gzip'
        UNION ALL
        SELECT NULL, line, 'study', NULL, 'legacy v1 format (FullStudiesResponse)', NULL FROM line_status WHERE legacy
        UNION ALL
        SELECT NULL, s.line, 'study', NULL, 'malformed nctId', s.detail
        FROM s JOIN line_status l USING (line) WHERE l.malformed_id AND NOT l.legacy
        UNION ALL
        SELECT NULL, line, 'study', NULL, 'missing nctId', NULL
        FROM line_status WHERE status = 'ok' AND NOT legacy AND nct_id IS NULL AND NOT malformed_id
        UNION ALL
        SELECT nct_id, line, 'study', NULL, 'duplicate nctId', 'first seen at line ' || first_line
        FROM line_status WHERE rk > 1
    """)
    con.execute("DELETE FROM s WHERE line NOT IN (SELECT line FROM line_status WHERE rk = 1)")
    # containers of the wrong type (value level): re-read only the studies whose typed child came out NULL
    for path, parent, child, tbl in TYPE_CHECKS:
        con.execute(f"""
            INSERT INTO rej
            SELECT s.nct_id, s.line, 'value', {_sql_str(tbl)}, 'wrong type: ' || {_sql_str(path[2:])} || ' is ' || t.jt
                   || ', expected ARRAY', cut(json_extract(l.txt, {_sql_str(path)}))
            FROM s JOIN (SELECT rowid + 1 AS line, txt FROM lines) l USING (line)
            CROSS JOIN LATERAL (SELECT json_type(l.txt, {_sql_str(path)}) AS jt) t
            WHERE {parent.replace('d.', 's.d.', 1)} IS NOT NULL AND {child.replace('d.', 's.d.', 1)} IS NULL
              AND t.jt IS NOT NULL AND t.jt NOT IN ('ARRAY', 'NULL')
        """)
    con.execute("DROP TABLE lines")


# ----------------------------------------------------------------- stage 3: normalised tables


def _register_distinct(con, name: str, sql: str, fn, out_type: pa.DataType) -> None:
    """Run a pure Python function once per distinct value of ``sql`` (one VARCHAR column) into table ``name``."""
    values = [r[0] for r in con.execute(sql).fetchall()]
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
    con.execute("""
        CREATE TEMP TABLE t_arms AS
        SELECT nct_id, line, unnest(range(len(ag))) AS arm_id, unnest(ag) AS a
        FROM (SELECT nct_id, line, d.protocolSection.armsInterventionsModule.armGroups AS ag FROM s)
    """)
    con.execute("""
        CREATE TEMP TABLE t_int AS
        SELECT nct_id, line, unnest(range(len(iv))) AS intervention_id, unnest(iv) AS i
        FROM (SELECT nct_id, line, d.protocolSection.armsInterventionsModule.interventions AS iv FROM s)
    """)
    con.execute("""
        CREATE TEMP TABLE t_om AS
        SELECT nct_id, line, unnest(range(len(om))) AS outcome_id, unnest(om) AS o
        FROM (SELECT nct_id, line, d.resultsSection.outcomeMeasuresModule.outcomeMeasures AS om FROM s)
    """)

    # Dose parsing is pure Python (it holds the GIL); DuckDB releases the GIL while it runs a query, so
    # the parse runs in a worker thread while the SQL below builds the other tables.
    dose_future = pool.submit(dose_rows, _dose_texts(con))

    # -- countries ---------------------------------------------------------------------------------
    con.execute("""
        INSERT INTO countries BY NAME
        SELECT c.nct_id, c.country, coalesce(r.region, 'Other') AS region
        FROM (SELECT DISTINCT nct_id, trim(loc.country) AS country
              FROM (SELECT nct_id, unnest(d.protocolSection.contactsLocationsModule.locations) AS loc FROM s)
              WHERE nullif(trim(loc.country), '') IS NOT NULL) c
        LEFT JOIN (SELECT lower(country) AS k, any_value(region) AS region FROM country_region GROUP BY 1) r
               ON r.k = lower(c.country)
        ORDER BY c.nct_id, c.country
    """)

    # -- studies -----------------------------------------------------------------------------------
    con.execute("""
        INSERT INTO studies BY NAME
        SELECT s.nct_id,
            d.protocolSection.identificationModule.briefTitle AS brief_title,
            d.protocolSection.identificationModule.officialTitle AS official_title,
            d.protocolSection.descriptionModule.briefSummary AS brief_summary,
            d.protocolSection.statusModule.overallStatus AS overall_status,
            d.protocolSection.designModule.studyType AS study_type,
            nullif(array_to_string(list_filter(d.protocolSection.designModule.phases,
                                               lambda x: x IS NOT NULL AND upper(x) NOT IN ('NA', 'N/A', '')), '/'), '') AS phase,
            d.protocolSection.designModule.designInfo.allocation AS allocation,
            d.protocolSection.designModule.designInfo.interventionModel AS intervention_model,
            d.protocolSection.designModule.designInfo.primaryPurpose AS primary_purpose,
            d.protocolSection.designModule.designInfo.maskingInfo.masking AS masking,
            TRY_CAST(num(d.protocolSection.designModule.enrollmentInfo.count) AS INTEGER) AS enrollment,
            d.protocolSection.designModule.enrollmentInfo.type AS enrollment_type,
            parse_date(d.protocolSection.statusModule.startDateStruct.date) AS start_date,
            parse_date(d.protocolSection.statusModule.completionDateStruct.date) AS completion_date,
            parse_date(d.protocolSection.statusModule.resultsFirstPostDateStruct.date) AS results_first_posted,
            coalesce(TRY_CAST(d.hasResults AS BOOLEAN), d.resultsSection IS NOT NULL) AS has_results,
            d.protocolSection.sponsorCollaboratorsModule.leadSponsor.name AS sponsor,
            d.protocolSection.sponsorCollaboratorsModule.leadSponsor.class AS sponsor_class,
            coalesce(len(d.protocolSection.armsInterventionsModule.armGroups), 0) AS n_arms,
            coalesce(c.n, 0) AS n_countries
        FROM s LEFT JOIN (SELECT nct_id, count(*) AS n FROM countries GROUP BY 1) c USING (nct_id)
        ORDER BY s.nct_id
    """)
    _value_rejects_studies(con)

    # -- conditions (+ MeSH term) ------------------------------------------------------------------
    con.execute("""
        CREATE TEMP TABLE t_cond AS
        SELECT nct_id, unnest(range(len(cs))) AS cond_idx, unnest(cs) AS condition, n_mesh
        FROM (SELECT nct_id, d.protocolSection.conditionsModule.conditions AS cs,
                     len(d.derivedSection.conditionBrowseModule.meshes) AS n_mesh FROM s)
    """)
    con.execute("""
        INSERT INTO conditions BY NAME
        WITH cond AS (
            SELECT nct_id, cond_idx, condition, n_mesh,
                   nullif(trim(regexp_replace(lower(condition), '\\s+', ' ', 'g')), '') AS condition_norm,
                   count(*) OVER (PARTITION BY nct_id) AS n_cond
            FROM t_cond WHERE condition IS NOT NULL),
        mesh AS (SELECT nct_id, unnest(range(len(ms))) AS pos, unnest(ms).term AS term
                 FROM (SELECT nct_id, d.derivedSection.conditionBrowseModule.meshes AS ms FROM s)),
        leaf AS (SELECT nct_id, l.name AS term, lower(trim(l.asFound)) AS found
                 FROM (SELECT nct_id, unnest(d.derivedSection.conditionBrowseModule.browseLeaves) AS l FROM s)
                 WHERE l.asFound IS NOT NULL AND l.name IS NOT NULL),
        raw_cands AS (
            SELECT c.nct_id, c.cond_idx, m.term, 4 AS score, length(m.term) AS len
            FROM cond c JOIN mesh m ON m.nct_id = c.nct_id AND lower(m.term) = c.condition_norm
            UNION ALL
            SELECT c.nct_id, c.cond_idx, l.term, 3, length(l.found)
            FROM cond c JOIN leaf l ON l.nct_id = c.nct_id AND l.found = c.condition_norm
            UNION ALL
            SELECT c.nct_id, c.cond_idx, l.term, 2, length(l.found)
            FROM cond c JOIN leaf l ON l.nct_id = c.nct_id AND length(l.found) >= 4
                 AND contains(' ' || text_norm(c.condition_norm) || ' ', ' ' || text_norm(l.found) || ' ')
            UNION ALL
            SELECT c.nct_id, c.cond_idx, m.term, 1, 0
            FROM cond c JOIN mesh m ON m.nct_id = c.nct_id WHERE c.n_cond = 1 AND c.n_mesh = 1),
        cands AS (  -- prefer terms listed in the study's own meshes, earliest first
            SELECT rc.*, coalesce(-min(m.pos), -1000000) AS mesh_rank
            FROM raw_cands rc LEFT JOIN mesh m ON m.nct_id = rc.nct_id AND m.term = rc.term GROUP BY ALL),
        best AS (SELECT nct_id, cond_idx, arg_max(term, (score, len, mesh_rank, term)) AS mesh_term FROM cands GROUP BY 1, 2)
        SELECT c.nct_id, c.condition, c.condition_norm, b.mesh_term
        FROM cond c LEFT JOIN best b USING (nct_id, cond_idx)
        ORDER BY c.nct_id, c.cond_idx
    """)

    # -- arms, interventions, links ----------------------------------------------------------------
    con.execute("""
        INSERT INTO arms BY NAME
        SELECT nct_id, arm_id, a.label AS label, a.type AS arm_type, a.description AS description
        FROM t_arms ORDER BY nct_id, arm_id
    """)
    _register_distinct(con, "name_norms",
                       "SELECT DISTINCT i.name FROM t_int WHERE i.name IS NOT NULL ORDER BY 1",
                       intervention_name_norm, pa.string())
    con.execute("""
        INSERT INTO interventions BY NAME
        SELECT t.nct_id, t.intervention_id, i.type AS intervention_type, i.name AS name, n.out AS name_norm,
               i.description AS description, i.otherNames AS other_names
        FROM t_int t LEFT JOIN name_norms n ON n.text = t.i.name
        ORDER BY t.nct_id, t.intervention_id
    """)
    con.execute("""
        INSERT INTO arm_interventions BY NAME
        WITH by_label AS (   -- interventions[].armGroupLabels -> arm label
            SELECT t.nct_id, a.arm_id, t.intervention_id
            FROM (SELECT nct_id, intervention_id, unnest(i.armGroupLabels) AS lbl FROM t_int) t
            JOIN t_arms a ON a.nct_id = t.nct_id AND lower(trim(a.a.label)) = lower(trim(t.lbl))),
        by_name AS (         -- armGroups[].interventionNames ('Drug: X') -> intervention name
            SELECT a.nct_id, a.arm_id, t.intervention_id
            FROM (SELECT nct_id, arm_id, unnest(a.interventionNames) AS nm FROM t_arms) a
            JOIN t_int t ON t.nct_id = a.nct_id
                 AND lower(trim(t.i.name)) = lower(trim(CASE WHEN position(': ' IN a.nm) > 0
                                                             THEN a.nm[position(': ' IN a.nm) + 2:] ELSE a.nm END)))
        SELECT DISTINCT nct_id, arm_id, intervention_id FROM (SELECT * FROM by_label UNION ALL SELECT * FROM by_name)
        ORDER BY nct_id, arm_id, intervention_id
    """)

    # -- eligibility -------------------------------------------------------------------------------
    con.execute("""
        INSERT INTO eligibility BY NAME
        SELECT nct_id, e.sex AS sex, age_years(e.minimumAge) AS min_age_years, age_years(e.maximumAge) AS max_age_years,
               TRY_CAST(e.healthyVolunteers AS BOOLEAN) AS healthy_volunteers, e.stdAges AS std_ages,
               e.eligibilityCriteria AS criteria
        FROM (SELECT nct_id, d.protocolSection.eligibilityModule AS e FROM s) WHERE e IS NOT NULL
        ORDER BY nct_id
    """)
    con.execute("""
        INSERT INTO rej
        SELECT nct_id, line, 'value', 'eligibility', 'unparseable age', k || ': ' || cut(v)
        FROM (SELECT s.nct_id, s.line, unnest(['minimumAge', 'maximumAge']) AS k,
                     unnest([d.protocolSection.eligibilityModule.minimumAge, d.protocolSection.eligibilityModule.maximumAge]) AS v
              FROM s)
        WHERE NOT age_absent(v) AND age_years(v) IS NULL
    """)

    # -- outcomes, result groups, measurements, analyses ------------------------------------------
    _register_distinct(con, "time_weeks",
                       "SELECT DISTINCT o.timeFrame FROM t_om WHERE o.timeFrame IS NOT NULL ORDER BY 1",
                       time_frame_weeks, pa.float64())
    con.execute("""
        INSERT INTO outcomes BY NAME
        SELECT t.nct_id, t.outcome_id, o.type AS outcome_type, o.title AS measure, o.description AS description,
               o.timeFrame AS time_frame, w.out AS time_weeks, o.unitOfMeasure AS unit, o.paramType AS param_type,
               o.dispersionType AS dispersion_type, o.reportingStatus AS reporting_status
        FROM t_om t LEFT JOIN time_weeks w ON w.text = t.o.timeFrame
        ORDER BY t.nct_id, t.outcome_id
    """)
    _result_groups(con)
    con.execute("""
        CREATE TEMP TABLE t_meas AS
        WITH c AS (SELECT nct_id, line, outcome_id, unnest(o.classes) AS cl FROM t_om),
        cat AS (SELECT nct_id, line, outcome_id, cl.title AS class_title, unnest(cl.categories) AS ca FROM c)
        SELECT nct_id, line, outcome_id, class_title, ca.title AS category, unnest(ca.measurements) AS m FROM cat
    """)
    con.execute("""
        INSERT INTO measurements BY NAME
        SELECT nct_id, outcome_id, m.groupId AS group_id, class_title, category, m.value AS value_text,
               num(m.value) AS value, num(m.spread) AS spread, num(m.lowerLimit) AS lower_limit, num(m.upperLimit) AS upper_limit
        FROM t_meas
    """)
    con.execute("""
        INSERT INTO rej
        SELECT nct_id, line, 'value', 'measurements', 'unparseable measurement value',
               'outcome ' || outcome_id || ' ' || coalesce(m.groupId, '?') || ': ' || cut(m.value)
        FROM t_meas WHERE m.value IS NOT NULL AND num(m.value) IS NULL
    """)
    con.execute("""
        CREATE TEMP TABLE t_an AS
        SELECT nct_id, line, outcome_id, unnest(range(len(o.analyses))) AS analysis_id, unnest(o.analyses) AS a FROM t_om
    """)
    con.execute("""
        INSERT INTO analyses BY NAME
        SELECT nct_id, outcome_id, analysis_id, a.groupIds AS group_ids, a.pValue AS p_value_text,
               CASE WHEN num(pv.number) BETWEEN 0 AND 1 THEN num(pv.number) END AS p_value,
               CASE WHEN num(pv.number) BETWEEN 0 AND 1 THEN coalesce(nullif(pv.modifier, ''), '=') END AS p_value_modifier,
               a.statisticalMethod AS method, a.paramType AS param_type, num(a.paramValue) AS estimate,
               num(a.ciPctValue) AS ci_pct, num(a.ciLowerLimit) AS ci_lower, num(a.ciUpperLimit) AS ci_upper,
               a.nonInferiorityType AS non_inferiority_type
        FROM (SELECT *, pv_parts(a.pValue) AS pv FROM t_an)
        ORDER BY nct_id, outcome_id, analysis_id
    """)
    con.execute("""
        INSERT INTO rej
        SELECT nct_id, line, 'value', 'analyses', 'unparseable p-value',
               'outcome ' || outcome_id || ' analysis ' || analysis_id || ': ' || cut(a.pValue)
        FROM (SELECT *, pv_parts(a.pValue) AS pv FROM t_an)
        WHERE a.pValue IS NOT NULL AND NOT coalesce(num(pv.number) BETWEEN 0 AND 1, false)
        UNION ALL
        SELECT nct_id, line, 'value', 'analyses', 'unparseable estimate',
               'outcome ' || outcome_id || ' analysis ' || analysis_id || ': ' || cut(a.paramValue)
        FROM t_an WHERE a.paramValue IS NOT NULL AND num(a.paramValue) IS NULL
    """)

    # -- doses (the parse started above) --------------------------------------------------------------
    _doses(con, dose_future.result())

    # -- rejects -----------------------------------------------------------------------------------
    con.execute("""
        INSERT INTO rejects BY NAME
        SELECT nct_id, line, level, tbl, reason, detail FROM rej
        ORDER BY line, level, tbl NULLS FIRST, reason, detail
    """)


def _value_rejects_studies(con) -> None:
    con.execute("""
        INSERT INTO rej
        SELECT nct_id, line, 'value', 'studies', 'unparseable enrollment', cut(v)
        FROM (SELECT nct_id, line, d.protocolSection.designModule.enrollmentInfo.count AS v FROM s)
        WHERE v IS NOT NULL AND TRY_CAST(num(v) AS INTEGER) IS NULL
        UNION ALL
        SELECT nct_id, line, 'value', 'studies', 'unparseable date', k || ': ' || cut(v)
        FROM (SELECT nct_id, line, unnest(['start_date', 'completion_date', 'results_first_posted']) AS k,
                     unnest([d.protocolSection.statusModule.startDateStruct.date,
                             d.protocolSection.statusModule.completionDateStruct.date,
                             d.protocolSection.statusModule.resultsFirstPostDateStruct.date]) AS v FROM s)
        WHERE v IS NOT NULL AND parse_date(v) IS NULL
    """)


def _result_groups(con) -> None:
    """result_groups with their design arm: exact label, exact description, containment, then fuzzy title.

    Labels are compared normalised and with plural 's' dropped ('Asthmatics' = 'Asthmatic'). A treatment
    sequence or a pooled group ('all dose levels', 'total', 'pooled') maps to no arm unless a label
    or description matches exactly. Several candidates in the best tier map to no arm unless one is clearly
    the most similar (Jaro-Winkler ahead of the runner-up by at least 0.1).
    """
    con.execute("""
        CREATE TEMP TABLE t_groups AS
        WITH g AS (SELECT nct_id, outcome_id, unnest(o.groups) AS g FROM t_om),
        dn AS (SELECT nct_id, outcome_id, unnest(coalesce(list_filter(o.denoms, lambda x: lower(x.units) = 'participants'),
                                                         o.denoms)[1].counts) AS c FROM t_om)
        SELECT g.nct_id, g.outcome_id, g.g.id AS group_id, g.g.title AS title, g.g.description AS description,
               (SELECT TRY_CAST(num(any_value(dn.c.value)) AS INTEGER) FROM dn
                WHERE dn.nct_id = g.nct_id AND dn.outcome_id = g.outcome_id AND dn.c.groupId = g.g.id) AS n
        FROM g
    """)
    con.execute("""
        CREATE TEMP TABLE t_group_arm AS
        WITH gk AS (SELECT DISTINCT nct_id, title, description FROM t_groups),
        ak AS (SELECT nct_id, arm_id, label_norm(a.label) AS ln, label_stem(a.label) AS ls, a.description AS adesc FROM t_arms),
        gt AS (SELECT nct_id, title, label_norm(title) AS tn FROM (SELECT DISTINCT nct_id, title FROM gk)),
        exact AS (  -- the common case, cheap: one arm with the same normalised label
            SELECT gt.nct_id, gt.title, min(ak.arm_id) AS arm_id
            FROM gt JOIN ak ON ak.nct_id = gt.nct_id AND ak.ln = gt.tn
            GROUP BY ALL HAVING count(*) = 1),
        rest AS (SELECT gk.*, label_norm(gk.title) AS tn, label_stem(gk.title) AS ts, text_norm(gk.description) AS dn,
                        -- 'Placebo->OL CZP', 'X then Y', 'switched to Y': a treatment sequence is not one design arm;
                        -- 'Part 1: X + Y, all dose levels', 'Total', 'Pooled': neither is a pooled group
                        regexp_matches(lower(coalesce(gk.title, '')), '(->|=>|\u2192|\\bthen\\b|\\bfollowed by\\b|\\bswitch)')
                        OR regexp_matches(lower(coalesce(gk.title, '')),
                                          '(\\ball\\b|\\bpooled\\b|\\btotal\\b|\\bcombined\\b|\\boverall\\b|\\bentire\\b)') AS is_sequence
                 FROM gk ANTI JOIN exact USING (nct_id, title)),
        cands AS (
            SELECT r.nct_id, r.title, r.description, ak.arm_id,
                   CASE WHEN r.tn = ak.ln THEN 5
                        WHEN r.dn = text_norm(ak.adesc) THEN 4
                        WHEN r.is_sequence THEN NULL
                        WHEN r.ts = ak.ls THEN 3.5
                        WHEN contains(' ' || r.ts || ' ', ' ' || ak.ls || ' ') THEN 3
                        WHEN contains(' ' || ak.ls || ' ', ' ' || r.ts || ' ') THEN 2.5
                        WHEN length(text_norm(ak.adesc)) >= 20
                             AND (contains(r.dn, text_norm(ak.adesc)) OR contains(text_norm(ak.adesc), r.dn)) THEN 2
                        WHEN jaro_winkler_similarity(r.ts, ak.ls) >= 0.85 THEN 1
                   END AS score,
                   jaro_winkler_similarity(coalesce(r.ts, ''), coalesce(ak.ls, '')) AS sim
            FROM rest r JOIN ak USING (nct_id)),
        best AS (SELECT *, max(score) OVER w AS top FROM cands WHERE score IS NOT NULL
                 WINDOW w AS (PARTITION BY nct_id, title, description)),
        tier AS (SELECT *, row_number() OVER w AS rn, count(*) OVER (PARTITION BY nct_id, title, description) AS n_tied,
                        lead(sim) OVER w AS runner_up
                 FROM best WHERE score = top
                 WINDOW w AS (PARTITION BY nct_id, title, description ORDER BY sim DESC, arm_id)),
        fuzzy AS (SELECT nct_id, title, description, arm_id FROM tier   -- a tie -> no arm, unless clearly best
                  WHERE rn = 1 AND (n_tied = 1 OR sim >= runner_up + 0.1))
        SELECT gk.nct_id, gk.title, gk.description, e.arm_id FROM gk JOIN exact e USING (nct_id, title)
        UNION ALL
        SELECT nct_id, title, description, arm_id FROM fuzzy
    """)
    con.execute("""
        INSERT INTO result_groups BY NAME
        SELECT g.nct_id, g.outcome_id, g.group_id, g.title, g.description, m.arm_id, g.n
        FROM t_groups g LEFT JOIN t_group_arm m
             ON m.nct_id = g.nct_id AND m.title IS NOT DISTINCT FROM g.title AND m.description IS NOT DISTINCT FROM g.description
        ORDER BY g.nct_id, g.outcome_id, g.group_id
    """)


def _dose_texts(con) -> list[str]:
    """Distinct texts doses are read from: arm descriptions and labels, intervention names and descriptions."""
    return [r[0] for r in con.execute("""
        SELECT DISTINCT t FROM (
            SELECT a.description AS t FROM t_arms UNION ALL SELECT a.label FROM t_arms
            UNION ALL SELECT i.name FROM t_int UNION ALL SELECT i.description FROM t_int)
        WHERE t IS NOT NULL ORDER BY 1
    """).fetchall()]


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
    con.execute("""
        CREATE TEMP TABLE dose_text AS
        SELECT text, count(dose_index) AS n_doses, bool_or(looks_like_dose) AS looks_like_dose FROM dose_parsed GROUP BY 1
    """)
    con.execute("""
        CREATE TEMP TABLE arm_dose_src AS
        WITH links AS (SELECT nct_id, arm_id, count(*) AS n_links, min(intervention_id) AS only_id
                       FROM arm_interventions GROUP BY 1, 2),
        drug_arm AS (SELECT DISTINCT ai.nct_id, ai.arm_id FROM arm_interventions ai
                     JOIN interventions i USING (nct_id, intervention_id)
                     WHERE i.intervention_type IN ('DRUG', 'BIOLOGICAL', 'COMBINATION_PRODUCT'))
        SELECT a.nct_id, a.line, a.arm_id,
               CASE WHEN coalesce(dd.n_doses, 0) > 0 THEN a.a.description
                    WHEN coalesce(dl.n_doses, 0) > 0 THEN a.a.label END AS dose_text,
               coalesce(a.a.description, a.a.label) AS main_text,
               coalesce(dd.looks_like_dose, dl.looks_like_dose, false) AS looks_like_dose,
               CASE WHEN l.n_links = 1 THEN l.only_id END AS intervention_id,
               (da.arm_id IS NOT NULL OR (l.n_links IS NULL AND a.a.type IN ('EXPERIMENTAL', 'ACTIVE_COMPARATOR'))) AS is_drug_arm
        FROM t_arms a
        LEFT JOIN dose_text dd ON dd.text = a.a.description
        LEFT JOIN dose_text dl ON dl.text = a.a.label
        LEFT JOIN links l ON l.nct_id = a.nct_id AND l.arm_id = a.arm_id
        LEFT JOIN drug_arm da ON da.nct_id = a.nct_id AND da.arm_id = a.arm_id
    """)
    con.execute("""
        CREATE TEMP TABLE int_dose_src AS
        SELECT t.nct_id, ai.arm_id, t.intervention_id,
               CASE WHEN coalesce(dn.n_doses, 0) > 0 THEN t.i.name
                    WHEN coalesce(dd.n_doses, 0) > 0 THEN t.i.description END AS dose_text
        FROM t_int t
        LEFT JOIN arm_interventions ai ON ai.nct_id = t.nct_id AND ai.intervention_id = t.intervention_id
        LEFT JOIN dose_text dn ON dn.text = t.i.name
        LEFT JOIN dose_text dd ON dd.text = t.i.description
    """)
    con.execute("""
        INSERT INTO doses BY NAME
        SELECT * EXCLUDE (src_order) FROM (
            SELECT s.nct_id, s.arm_id, s.intervention_id, 'arm' AS source, s.dose_text AS text, p.dose_index,
                   p.value, p.unit, p.value_mg, p.frequency, p.route, p.is_placebo, p.value_upper, p.qualifier, 0 AS src_order
            FROM arm_dose_src s JOIN dose_parsed p ON p.text = s.dose_text AND p.dose_index IS NOT NULL
            UNION ALL
            SELECT s.nct_id, s.arm_id, s.intervention_id, 'intervention', s.dose_text, p.dose_index,
                   p.value, p.unit, p.value_mg, p.frequency, p.route, p.is_placebo, p.value_upper, p.qualifier, 1
            FROM int_dose_src s JOIN dose_parsed p ON p.text = s.dose_text AND p.dose_index IS NOT NULL)
        ORDER BY nct_id, arm_id NULLS LAST, src_order, intervention_id NULLS FIRST, dose_index
    """)
    con.execute("""
        INSERT INTO rej
        SELECT nct_id, line, 'value', 'doses', 'unparseable dose', 'arm ' || arm_id || ': ' || cut(main_text)
        FROM arm_dose_src WHERE dose_text IS NULL AND is_drug_arm AND looks_like_dose
    """)


# ----------------------------------------------------------------- accounting

# manifest count key -> accounting outcome, per download source
_DOWNLOAD_OUTCOMES = {
    "dump": {"items_seen": "read", "written": "written", "duplicates_skipped": "duplicate", "unreadable": "unreadable"},
    "ctgov": {"fetched": "read", "written": "written", "duplicates_skipped": "duplicate",
              "non_object_dropped": "unreadable", "quarantined": "quarantined", "over_max_studies": "over_max_studies"},
    "simulated": {"written": "read"},
}


def _download_rejects(con, manifest: Optional[dict]) -> None:
    """The download's quarantined items (never in the studies file) as rejects of level 'download'."""
    rows = [r for r in (manifest or {}).get("quarantine", []) if isinstance(r, dict)]
    if not rows:
        return
    con.executemany("INSERT INTO rej VALUES (?, NULL, 'download', NULL, ?, ?)", [
        (r.get("nct_id") if isinstance(r.get("nct_id"), str) else None,
         f"{r.get('outcome', 'unreadable')}: {str(r.get('reason', ''))}"[:200], str(r.get("where", ""))[:200])
        for r in rows])


def download_accounting(manifest: Optional[dict]) -> list[tuple[str, str, Optional[str], int]]:
    """(stage, outcome, reason, items) rows of the download stage, from its manifest."""
    if not manifest:
        return []
    counts = manifest.get("counts") or {}
    keys = _DOWNLOAD_OUTCOMES.get(manifest.get("source"), {})
    out = [("download", outcome, None, int(counts.get(k) or 0)) for k, outcome in keys.items()]
    if manifest.get("source") == "simulated":
        out.append(("download", "written", None, int(counts.get("written") or 0)))
    by_reason: dict[tuple[str, str], int] = {}
    for r in manifest.get("quarantine", []):
        if isinstance(r, dict):
            key = (str(r.get("outcome", "unreadable")), str(r.get("reason", "")).split(":")[0][:80])
            by_reason[key] = by_reason.get(key, 0) + 1
    out += [("download", o, reason, n) for (o, reason), n in sorted(by_reason.items())]
    return out


def _accounting(con, manifest: Optional[dict], studies_in_raw: int, n_studies: int) -> dict:
    """Fill the accounting table; return its summary with the reconciliation checks."""
    rows = download_accounting(manifest)
    rows.append(("tables", "read", None, studies_in_raw))
    rows.append(("tables", "studies", None, n_studies))
    rows += [("tables", "rejected", reason, n) for reason, n in con.execute(
        "SELECT reason, count(DISTINCT line) FROM rejects WHERE level = 'study' GROUP BY 1 ORDER BY 1").fetchall()]
    con.executemany("INSERT INTO accounting VALUES (?, ?, ?, ?)", rows)
    totals: dict[str, dict[str, int]] = {}
    for stage, outcome, reason, n in rows:
        if reason is None or outcome == "rejected":
            totals.setdefault(stage, {})
            totals[stage][outcome] = totals[stage].get(outcome, 0) + n
    checks = {"tables: read = studies + rejected":
              totals["tables"]["read"] == totals["tables"]["studies"] + totals["tables"].get("rejected", 0)}
    if "download" in totals:
        d = totals["download"]
        checks["download: read = written + duplicate + unreadable + quarantined + over_max_studies"] = (
            d.get("read", 0) == sum(d.get(k, 0) for k in ("written", "duplicate", "unreadable", "quarantined",
                                                        "over_max_studies")))
        checks["tables read = download written"] = totals["tables"]["read"] == d.get("written", 0)
    for name, ok in checks.items():
        if not ok:
            log.warning("accounting does not reconcile: %s is false (%s)", name, totals)
    return {"totals": totals, "checks": checks, "reconciled": all(checks.values())}


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
    accounting = _accounting(con, manifest, studies_in_raw, rows["studies"])
    rows["accounting"] = con.execute("SELECT count(*) FROM accounting").fetchone()[0]
    return BuildResult(db_path=Path(), studies_in_raw=studies_in_raw, rows=rows, rejects_by_reason=by_reason,
                       rejects_by_level=by_level, seconds=0.0, accounting=accounting)
