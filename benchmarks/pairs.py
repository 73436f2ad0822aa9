"""Scaling of the pairs stage: time(2n) / time(n) should stay near 2 (target <= 2.2).

    python benchmarks/pairs.py [--sizes 20000 40000] [--workdir DIR] [--keep]

For each size: simulate the registry (deepimagine.registry.simulate.simulate_to_files), build the
DuckDB tables (deepimagine.tables.build.build), then time the pairs stage alone (default params,
no CT Open) and print its phase timings, the question counts, and the ratio of consecutive sizes.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path


def run_size(n: int, workdir: Path, seed: int, threads: int) -> dict:
    from deepimagine.core import io
    from deepimagine.core import params as params_mod
    from deepimagine.pairs import stage
    from deepimagine.registry.simulate import simulate_to_files
    from deepimagine.tables.build import build

    d = workdir / f"n{n}"
    d.mkdir(parents=True, exist_ok=True)
    studies, truth, db = d / "studies.jsonl.gz", d / "truth.json", d / "registry.duckdb"
    t0 = time.perf_counter()
    if not (studies.exists() and truth.exists()):
        simulate_to_files(n, seed, studies, truth)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    if not db.exists():
        build(studies, db, threads=threads)
    t_tables = time.perf_counter() - t0
    params = params_mod.load(Path(__file__).resolve().parents[1] / "params.yaml")
    params.pairs.ct_open_path = None
    t0 = time.perf_counter()
    report = stage.run(params, registry=db, truth_path=truth, out_dir=d / "pairs", metrics_path=d / "pairs.json")
    t_pairs = time.perf_counter() - t0
    return {"n_studies": n, "simulate_s": round(t_sim, 1), "tables_s": round(t_tables, 1), "pairs_s": round(t_pairs, 1),
            "questions": report["counts"]["total"], "by_source": report["counts"]["by_source"],
            "phases_s": io.read_json(d / "timings" / "pairs.json")["timings_s"], "trials_embedded": report["retrieval"].get("trials_embedded")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 40000])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None, help="keep inputs here (reused when present)")
    ap.add_argument("--keep", action="store_true", help="do not delete the temporary work directory")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_pairs_"))
    results = []
    # load the embedding model once before any timing: it is cached for the process, so otherwise its
    # load would fall in the first size only and flatter the ratio
    from deepimagine.core import params as params_mod
    from deepimagine.core.embed import load_model

    t0 = time.perf_counter()
    load_model(params_mod.load(Path(__file__).resolve().parents[1] / "params.yaml").pairs.approx_embedding_model)
    print(f"embedding model loaded in {time.perf_counter() - t0:.1f}s (not counted)", flush=True)
    try:
        for n in args.sizes:
            r = run_size(n, workdir, args.seed, args.threads)
            results.append(r)
            print(json.dumps(r), flush=True)
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{'studies':>10} {'pairs stage s':>14} {'questions':>10}")
    for r in results:
        print(f"{r['n_studies']:>10} {r['pairs_s']:>14.1f} {r['questions']:>10}")
    for a, b in zip(results, results[1:]):
        ratio = b["pairs_s"] / a["pairs_s"] if a["pairs_s"] else float("nan")
        size_ratio = b["n_studies"] / a["n_studies"]
        print(f"time({b['n_studies']}) / time({a['n_studies']}) = {ratio:.2f} for {size_ratio:.1f}x studies "
              f"(target <= {1.1 * size_ratio:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
