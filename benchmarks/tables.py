"""Benchmark the tables build against a bare Python parse of the same file.

    python benchmarks/tables.py [--n 20000] [--workdir DIR] [--threads 2] [--memory-limit 2GB]

Generates a simulated registry of N studies (deepimagine.registry.simulate.simulate_to_files), then
times in the same run
  * the bare parse: gzip + json.loads of every line (this process), and
  * the tables build (a child process, so that its peak RSS is its own: ru_maxrss of RUSAGE_CHILDREN),
and prints studies/s, the ratio build/parse and the build's peak RSS. Targets: ratio <= 3, RSS < 3 GiB.
"""
from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(n: int, seed: int, studies: Path, truth: Path) -> str:
    from deepimagine.registry.simulate import simulate_to_files

    simulate_to_files(n, seed, studies, truth)
    return "simulated"


def bare_parse(studies: Path) -> tuple[float, int]:
    started = time.perf_counter()
    n = 0
    with gzip.open(studies, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                json.loads(line)
                n += 1
    return time.perf_counter() - started, n


CHILD = """
import json, sys, time
from deepimagine.tables.build import build
t = time.perf_counter()
r = build(sys.argv[1], sys.argv[2], threads=int(sys.argv[3]), memory_limit=sys.argv[4])
print(json.dumps({"seconds": time.perf_counter() - t, "rows": r.rows, "studies_in_raw": r.studies_in_raw}))
"""


def timed_build(studies: Path, db: Path, threads: int, memory_limit: str) -> tuple[dict, float, float]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(studies), str(db), str(threads), memory_limit],
                         check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak_rss_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 ** 2  # KiB on Linux
    return json.loads(out.stdout.strip().splitlines()[-1]), wall, peak_rss_gib


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="2GB")
    ap.add_argument("--reuse", action="store_true", help="reuse an existing studies file in --workdir")
    args = ap.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_tables_"))
    work.mkdir(parents=True, exist_ok=True)
    studies = work / "studies.jsonl.gz"
    if not (args.reuse and studies.exists()):
        t = time.perf_counter()
        source = generate(args.n, args.seed, studies, work / "truth.json")
        print(f"generated {args.n} studies ({source}) in {time.perf_counter() - t:.1f}s: "
              f"{studies.stat().st_size / 2 ** 20:.1f} MiB gzip")
    parse_s, n = bare_parse(studies)
    result, wall, rss = timed_build(studies, work / "registry.duckdb", args.threads, args.memory_limit)
    build_s = result["seconds"]
    print(f"studies in raw:   {result['studies_in_raw']} (bare parse saw {n})")
    print(f"bare parse:       {parse_s:.2f}s  ({n / parse_s:,.0f} studies/s)")
    print(f"tables build:     {build_s:.2f}s  ({n / build_s:,.0f} studies/s; child wall incl. start-up {wall:.2f}s)")
    print(f"ratio build/parse: {build_s / parse_s:.2f}  (target <= 3)")
    print(f"build peak RSS:   {rss:.2f} GiB  (target < 3)")
    print("rows: " + ", ".join(f"{k}={v}" for k, v in result["rows"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
