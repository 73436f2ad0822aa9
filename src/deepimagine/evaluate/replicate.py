"""Does a comparison replicate? One paired difference (A minus B, e.g. ``sft/imagine vs retrieval``)
read in several runs of the pipeline, each a registry of another seed, and pooled.

    python -m deepimagine.evaluate.replicate HEAD refs/exps/<..>/seed7 [--a sft/imagine] [--b retrieval]
        [--benchmark prospective] [--bootstrap 2000] [--unit trial] [--out FILE]

A run is any git revision of this repository: a commit, a branch, or the ref of a ``dvc exp run``
(``git for-each-ref refs/exps`` lists them; ``--temp`` experiments keep theirs too). At each revision
the predictions (``metrics/predictions/<benchmark>/<name>.jsonl``, in git) and the questions with
their gold answers (``data/pairs/<benchmark>.jsonl``, from the DVC cache) are read with
``dvc.api``. Each run's difference is the official overall of ``metrics.paired_difference``; the
pooled difference is their mean, each registry one replicate of equal weight, with a bootstrap that
resamples trials within each run (``--unit question``: questions within each run and category). A
result selected on one registry (a default chosen after looking at its benchmark) is confirmed only
by registries it was not chosen on.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

import numpy as np

from ..core import io
from ..core.questions import Question
from .metrics import paired_draws, summarise_draws
from .plots import safe_name
from .stage import PREDICTIONS_DIR, bootstrap_clusters


def prediction_path(benchmark: str, name: str) -> str:
    """Where the evaluate stage writes a predictor's predictions (relative to the repository)."""
    return (PREDICTIONS_DIR / benchmark / f"{safe_name(name)}.jsonl").as_posix()


def question_path(benchmark: str) -> str:
    return (io.PAIRS_DIR / f"{benchmark}.jsonl").as_posix()


def read_jsonl_at(path: str, rev: str, repo: Optional[str] = None) -> list[dict]:
    """The rows of a JSON Lines file as it was at ``rev`` (git-tracked or DVC-tracked)."""
    import dvc.api

    try:
        with dvc.api.open(path, repo=repo, rev=rev, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except Exception as e:   # dvc raises its own errors for a missing path, rev or cache entry
        raise FileNotFoundError(f"{path} at {rev}: {type(e).__name__}: {e}") from e


def registry_at(rev: str, repo: Optional[str] = None) -> tuple[Optional[int], Optional[str]]:
    """(seed, the ``data`` section as JSON) a run's registry was made with (``params.yaml``): two runs
    whose both agree drew the same registry; (None, None) when unreadable."""
    import dvc.api
    import yaml

    try:
        raw = yaml.safe_load(dvc.api.read("params.yaml", repo=repo, rev=rev, encoding="utf-8")) or {}
    except Exception:
        return None, None
    return raw.get("seed"), json.dumps(raw.get("data"), sort_keys=True, default=str)


def run_inputs(questions: Sequence[Question], pred_a: Sequence[dict], pred_b: Sequence[dict],
               a: str = "A", b: str = "B", unit: str = "trial") -> dict:
    """The inputs of ``paired_draws`` for one run (pure): the questions both predictors answered, in
    the order of A's predictions; ``unit`` 'trial' resamples their trials, 'question' the questions.
    Raises when the two answered different questions."""
    by_id = {q.id: q for q in questions}
    ids_a, ids_b = [p["id"] for p in pred_a], {p["id"] for p in pred_b}
    if set(ids_a) != ids_b:
        raise ValueError(f"{a} and {b} answered different questions ({len(set(ids_a) ^ ids_b)} differ)")
    missing = [i for i in ids_a if i not in by_id]
    if missing:
        raise ValueError(f"{len(missing)} predicted questions are not in the question file, e.g. {missing[0]}")
    pb = {p["id"]: p for p in pred_b}
    qs = [by_id[i] for i in ids_a]
    return {"probs_a": [p.get("probs") for p in pred_a], "valid_a": [bool(p.get("valid", True)) for p in pred_a],
            "probs_b": [pb[i].get("probs") for i in ids_a], "valid_b": [bool(pb[i].get("valid", True)) for i in ids_a],
            "gold": [q.answer_index for q in qs], "categories": [q.category for q in qs],
            "n_options": [len(q.options) for q in qs],
            "clusters": bootstrap_clusters(qs, unit)}


def pooled_difference(runs: Sequence[dict], bootstrap: int = 2000, seed: int = 0) -> dict:
    """A minus B in each run (``run_inputs`` dicts) and pooled over the runs (pure).

    Returns {"runs": [{"n", "<m>": {"diff", "ci", "p_a_better"}}, ...], "pooled": {"n_runs", "n",
    "<m>": {...}}} for m in bacc, f1, ce. The pooled difference is the mean of the runs'
    differences; its interval comes from the same per-run resamples, averaged draw by draw."""
    if not runs:
        raise ValueError("no runs to pool")
    rng = np.random.default_rng(seed)
    draws = [paired_draws(**r, bootstrap=bootstrap, rng=rng) for r in runs]
    pooled = {m: np.mean([d[m] for d in draws], axis=0) for m in draws[0]}
    return {"runs": [{"n": len(r["gold"]), **summarise_draws(d, bootstrap)} for r, d in zip(runs, draws)],
            "pooled": {"n_runs": len(runs), "n": sum(len(r["gold"]) for r in runs), **summarise_draws(pooled, bootstrap)}}


def replicate(revs: Sequence[str], a: str, b: str, benchmark: str = "prospective", bootstrap: int = 2000,
              repo: Optional[str] = None, unit: str = "trial") -> dict:
    """``pooled_difference`` of ``a`` vs ``b`` on ``benchmark`` over the runs at ``revs`` (I/O)."""
    runs = []
    for rev in revs:
        questions = [Question.from_row(r) for r in read_jsonl_at(question_path(benchmark), rev, repo)]
        runs.append(run_inputs(questions, read_jsonl_at(prediction_path(benchmark, a), rev, repo),
                               read_jsonl_at(prediction_path(benchmark, b), rev, repo), a, b, unit))
    out = pooled_difference(runs, bootstrap)
    registries = [registry_at(rev, repo) for rev in revs]
    for rev, r, (seed, _) in zip(revs, out["runs"], registries):
        r["rev"], r["seed"] = rev, seed
    out["pooled"]["distinct_registries"] = len(set(registries)) == len(registries)
    return {"comparison": f"{a} vs {b}", "benchmark": benchmark, "bootstrap": bootstrap, "unit": unit, **out}


def _fmt(x: dict) -> str:
    return f"{x['diff']:+.3f} [{x['ci'][0]:+.3f}, {x['ci'][1]:+.3f}]"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepimagine.evaluate.replicate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revs", nargs="+", help="git revisions or dvc exp refs, one run each")
    parser.add_argument("--a", default="sft/imagine")
    parser.add_argument("--b", default="retrieval")
    parser.add_argument("--benchmark", default="prospective", help="prospective | test")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--unit", default="trial", choices=["trial", "question"],
                        help="what the bootstrap resamples within each run (default: trial)")
    parser.add_argument("--repo", default=None, help="the repository (default: this one)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    try:
        result = replicate(args.revs, args.a, args.b, args.benchmark, args.bootstrap, args.repo, args.unit)
    except (FileNotFoundError, ValueError) as e:
        print(f"replicate: {e}", file=sys.stderr)
        return 2
    print(f"{result['comparison']} on {args.benchmark}: dBAcc [95% CI], paired within each run "
          f"({args.unit}s resampled)")
    for r in result["runs"]:
        print(f"  {r['rev']:<60} seed={r['seed']!s:<5} n={r['n']:<5} {_fmt(r['bacc'])}  dCE {_fmt(r['ce'])}")
    p = result["pooled"]
    if not p["distinct_registries"]:
        print("  warning: runs share a registry (same seed and data params): not independent replicates", file=sys.stderr)
    print(f"  {'pooled (mean of ' + str(p['n_runs']) + ' runs)':<60} {'':<10} n={p['n']:<5} {_fmt(p['bacc'])}  dCE {_fmt(p['ce'])}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
