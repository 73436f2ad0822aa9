"""Per-stage times of a pipeline run, against the default run's 15-minute budget (2 CPU cores).

    dvc repro -f 2>&1 | tee /tmp/repro.log     # a whole run (-f: every stage, none from the cache)
    python benchmarks/stage_times.py /tmp/repro.log [--budget-min 15]

Reads the ``stage <name> done in <s>s`` lines that ``deepimagine <stage>`` logs, and the first and
last timestamps of the log (the wall clock, DVC's own hashing and lock writes included), and prints
them with the machine's CPU model: the default run took 13.8-14.3 min on a 2-core Intel Xeon and
20.5 min on a 2-core AMD EPYC (README, Results, sessions 22-23).
"""
from __future__ import annotations

import argparse
import datetime as dt
import platform
import re
from pathlib import Path

DONE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \S+ INFO stage (\S+) done in ([\d.]+)s")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ ")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def stage_times(lines: list[str]) -> tuple[dict[str, float], float | None]:
    """({stage: seconds}, wall seconds from the first to the last timestamped line)."""
    times, stamps = {}, []
    for line in lines:
        if m := DONE.match(line):
            times[m.group(2)] = float(m.group(3))
        if m := STAMP.match(line):
            stamps.append(dt.datetime.fromisoformat(m.group(1)))
    wall = (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else None
    return times, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", type=Path, help="the output of `dvc repro` (stdout and stderr)")
    ap.add_argument("--budget-min", type=float, default=15.0)
    args = ap.parse_args()
    times, wall = stage_times(args.log.read_text(encoding="utf-8", errors="replace").splitlines())
    if not times:
        raise SystemExit(f"{args.log}: no 'stage <name> done in <s>s' lines (was it a `dvc repro` log?)")
    print(f"CPU: {cpu_model()}")
    print(f"{'stage':<12}{'seconds':>9}")
    for name, s in times.items():
        print(f"{name:<12}{s:>9.1f}")
    total = sum(times.values())
    print(f"{'stages':<12}{total:>9.1f}  ({total / 60:.1f} min)")
    if wall is not None:
        verdict = "within" if wall <= args.budget_min * 60 else "OVER"
        print(f"{'wall':<12}{wall:>9.1f}  ({wall / 60:.1f} min: {verdict} the {args.budget_min:g}-min budget)")


if __name__ == "__main__":
    main()
