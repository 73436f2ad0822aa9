"""Hand-built registries for tests: execute schema.sql, then insert the given rows.

``make_registry(path, {"studies": [{...}], "arms": [...], ...})`` writes a DuckDB file with
exactly the contract's tables; missing columns are NULL. Used by the pairs tests (and free
for any stage that needs a small known registry without running the tables stage).
"""
from __future__ import annotations

from pathlib import Path

import duckdb

SCHEMA_SQL = Path(__file__).resolve().parents[1] / "tables" / "schema.sql"


def make_registry(path: str | Path, rows: dict[str, list[dict]]) -> Path:
    path = Path(path)
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    try:
        con.execute(SCHEMA_SQL.read_text())
        for table, records in rows.items():
            if not records:
                continue
            cols = [r[1] for r in con.execute(f"PRAGMA table_info('{table}')").fetchall()]
            unknown = sorted({k for r in records for k in r} - set(cols))
            if unknown:
                raise ValueError(f"{table}: unknown columns {unknown}")
            placeholders = ", ".join("?" for _ in cols)
            con.executemany(f"INSERT INTO {table} VALUES ({placeholders})",
                            [[r.get(c) for c in cols] for r in records])
    finally:
        con.close()
    return path
