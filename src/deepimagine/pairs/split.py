"""Train / test split by time and by trial, and the leakage audit of the written files.

A study is ``test`` when its results were first posted on/after ``params.pairs.test_cutoff``,
else ``train`` (a study without a posting date is ``train`` and counted). Every question of a
study inherits its split, so no NCT id can be in both; an approximate pair whose two trials
fall in different splits is dropped (and counted).
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Optional

import duckdb


def parse_cutoff(cutoff: str) -> date:
    try:
        return date.fromisoformat(str(cutoff))
    except ValueError as e:
        raise ValueError(f"pairs.test_cutoff: {cutoff!r} is not an ISO date (YYYY-MM-DD)") from e


def split_of(posted: Optional[date], cutoff: date) -> str:
    return "test" if posted is not None and posted >= cutoff else "train"


def add_split_column(con: duckdb.DuckDBPyConnection, cutoff: date) -> dict:
    """Add ``split`` to the ``trials`` temp table; return study counts per split."""
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE trials AS
    SELECT *, CASE WHEN results_first_posted >= DATE '{cutoff.isoformat()}' THEN 'test' ELSE 'train' END AS split
    FROM trials
    """)
    row = con.execute("""
    SELECT count(*) FILTER (WHERE split = 'train'), count(*) FILTER (WHERE split = 'test'),
           count(*) FILTER (WHERE results_first_posted IS NULL),
           count(*) FILTER (WHERE split = 'train' AND nct_id IN (SELECT nct_id FROM cells)),
           count(*) FILTER (WHERE split = 'test' AND nct_id IN (SELECT nct_id FROM cells))
    FROM trials""").fetchone()
    with_cells = row[3] + row[4]
    return {"test_cutoff": cutoff.isoformat(), "studies_train": row[0], "studies_test": row[1],
            "studies_without_posting_date": row[2], "results_studies_train": row[3], "results_studies_test": row[4],
            "results_studies_test_fraction": round(row[4] / with_cells, 4) if with_cells else 0.0}


def audit(train_path: Path, test_path: Path) -> dict:
    """Read the written files back and count leaks (all must be zero)."""
    con = duckdb.connect()
    try:
        def src(p: Path, split: str) -> str:
            return (f"SELECT id, source, nct_ids, split AS row_split, '{split}' AS file_split "
                    f"FROM read_json('{p.as_posix()}', format='newline_delimited', "
                    f"columns={{'id': 'VARCHAR', 'source': 'VARCHAR', 'nct_ids': 'VARCHAR[]', 'split': 'VARCHAR'}})")
        parts = [src(p, s) for p, s in ((train_path, "train"), (test_path, "test")) if p.exists() and p.stat().st_size]
        if not parts:
            return {"nct_ids_in_both_splits": 0, "approximate_pairs_spanning_splits": 0, "duplicate_question_ids": 0,
                    "rows_in_wrong_file": 0}
        con.execute("CREATE TEMP TABLE q AS " + " UNION ALL ".join(parts))
        both = con.execute("""
            SELECT count(*) FROM (SELECT nct FROM (SELECT unnest(nct_ids) AS nct, file_split FROM q)
                                  GROUP BY nct HAVING count(DISTINCT file_split) > 1)""").fetchone()[0]
        dup = con.execute("SELECT count(*) - count(DISTINCT id) FROM q").fetchone()[0]
        wrong = con.execute("SELECT count(*) FROM q WHERE row_split <> file_split").fetchone()[0]
        return {"nct_ids_in_both_splits": both, "duplicate_question_ids": dup, "rows_in_wrong_file": wrong}
    finally:
        con.close()
