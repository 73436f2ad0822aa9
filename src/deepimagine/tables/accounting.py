"""The accounting of the tables build: the download's counts and quarantined items (from its manifest)
joined with the tables stage's own, into the ``accounting`` table and its reconciliation checks."""
from __future__ import annotations

import logging
from typing import Optional

log = logging.getLogger(__name__)

# manifest count key -> accounting outcome, per download source
_DOWNLOAD_OUTCOMES = {
    "dump": {"items_seen": "read", "written": "written", "duplicates_skipped": "duplicate", "unreadable": "unreadable"},
    "ctgov": {"fetched": "read", "written": "written", "duplicates_skipped": "duplicate",
              "non_object_dropped": "unreadable", "quarantined": "quarantined", "over_max_studies": "over_max_studies"},
    "simulated": {"written": "read"},
}


def download_rejects(con, manifest: Optional[dict]) -> None:
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


def accounting(con, manifest: Optional[dict], studies_in_raw: int, n_studies: int) -> dict:
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
