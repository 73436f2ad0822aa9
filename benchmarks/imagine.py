"""Scaling of imagining's planning: anchor retrieval + paths for a fixed number of questions as the
registry grows. time(2n) / time(n) should stay near 1-2 (target <= 2.2): retrieval works through
the anchor index (outcome blocks, sub-blocks), never a scan of the pool per question.

    python benchmarks/imagine.py [--sizes 20000 40000] [--questions 10000] [--workdir DIR]

For each size: simulate the registry, build the tables, derive the pairs stage's working tables and
the prospective questions (test-split trials in CT Open's format, protocol arm states); then time,
for ``--questions`` of them, building the index over the train cells, retrieving ``pairs.anchor_k``
anchors per arm and planning every chain (``evaluate.imagine.plan_chains``). Prints both times,
their ratio and the peak RSS.
"""
from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare(n: int, workdir: Path, seed: int, threads: int):
    """(train cell rows, prospective questions) for a registry of ``n`` simulated studies."""
    from deepimagine.core.operator import cell_sd  # noqa: F401  (import cost outside the timing)
    from deepimagine.pairs.cells import build_working_tables, open_registry
    from deepimagine.pairs.ct_open import import_ct_open
    from deepimagine.pairs.natural import _fetch
    from deepimagine.pairs.prospective import attach_states, prospective_items, protocol_states
    from deepimagine.pairs.split import add_split_column, parse_cutoff
    from deepimagine.pairs.truth import Truth
    from deepimagine.registry.simulate import simulate_to_files
    from deepimagine.tables.build import build
    from deepimagine.core import io, params as params_mod

    d = workdir / f"n{n}"
    d.mkdir(parents=True, exist_ok=True)
    studies, truth_path, db = d / "studies.jsonl.gz", d / "truth.json", d / "registry.duckdb"
    if not (studies.exists() and truth_path.exists()):
        simulate_to_files(n, seed, studies, truth_path)
    if not db.exists():
        build(studies, db, threads=threads)
    params = params_mod.load(ROOT / "params.yaml")
    truth = Truth.load(truth_path)
    con = open_registry(db, threads)
    build_working_tables(con)
    add_split_column(con, parse_cutoff(params.pairs.test_cutoff))
    items = list(prospective_items(con, truth.better, params.pairs.alpha))
    io.write_jsonl(d / "items.jsonl", items)
    questions, _ = import_ct_open(d / "items.jsonl")
    attach_states(questions, protocol_states(con, {q.nct_ids[0] for q in questions}))
    train = _fetch(con, """SELECT c.*, t.split, t.results_first_posted AS posted_date, t.title, t.conditions, t.phase,
                                  t.regions, t.sex, t.min_age, t.max_age, t.enrollment
                           FROM cells c JOIN trials t USING (nct_id) WHERE t.split = 'train'""", [])
    con.close()
    return params, train, questions


def plan(params, train: list[dict], questions: list) -> dict:
    from deepimagine.evaluate.imagine import plan_chains
    from deepimagine.evaluate.llm import imagine_settings
    from deepimagine.pairs.anchors import AnchorIndex, attach_anchors
    from deepimagine.core.embed import embed_texts
    from deepimagine.pairs.stage import _targets_ct_format

    def embed(texts):
        return embed_texts(list(texts), params.pairs.approx_embedding_model)

    t0 = time.perf_counter()
    index = AnchorIndex.build(train, embed)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    counts = attach_anchors(questions, _targets_ct_format, index, embed, params.pairs.anchor_k,
                            params.pairs.anchor_min_similarity)
    t_retrieve = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = imagine_settings(params)
    chains = steps = 0
    for q in questions:
        if q.context.get("anchors"):
            for c in plan_chains(q, s):
                chains += 1
                steps += len(c.steps)
    t_paths = time.perf_counter() - t0
    return {"index_s": round(t_index, 2), "retrieve_s": round(t_retrieve, 2), "paths_s": round(t_paths, 2),
            "plan_s": round(t_index + t_retrieve + t_paths, 2), "anchors": counts, "chains": chains, "steps": steps}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 40000])
    ap.add_argument("--questions", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None, help="keep the registries here (reused when present)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from deepimagine.core import params as params_mod
    from deepimagine.core.embed import load_model

    load_model(params_mod.load(ROOT / "params.yaml").pairs.approx_embedding_model)   # loaded once, not timed
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_imagine_"))
    results = []
    try:
        for n in args.sizes:
            params, train, questions = prepare(n, workdir, args.seed, args.threads)
            r = {"n_studies": n, "train_cells": len(train), "questions": min(args.questions, len(questions)),
                 **plan(params, train, questions[: args.questions])}
            results.append(r)
            print(json.dumps(r), flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{'studies':>10} {'train cells':>12} {'questions':>10} {'plan s':>8}")
    for r in results:
        print(f"{r['n_studies']:>10} {r['train_cells']:>12} {r['questions']:>10} {r['plan_s']:>8.1f}")
    for a, b in zip(results, results[1:]):
        print(f"time({b['n_studies']}) / time({a['n_studies']}) = {b['plan_s'] / a['plan_s']:.2f} (target <= 2.2)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20:.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
