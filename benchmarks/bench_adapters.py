"""Likelihood scoring with adapters on the transformers backend: a merged copy of the base per adapter
(what the tiny model uses, below ``MERGE_ADAPTERS_BELOW_PARAMS``) against one PEFT model that
switches its active adapter (what larger models use). Prints seconds per pass for both, their ratio
and the largest score difference (should be ~1e-5: the same model).

    python benchmarks/bench_adapters.py [--questions 320] [--models models] [--repeats 2] [--steps FILE]

Needs the default pipeline's ``models/base``, ``models/sft`` (and its per-factor operators) and
``data/traces/calibration.jsonl`` (imagining-step questions): run ``dvc repro sft`` first.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=320)
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--steps", type=Path, default=ROOT / "data/traces/calibration.jsonl")
    args = ap.parse_args()

    from deepimagine.core.questions import read_questions
    from deepimagine.evaluate.llm import decision_candidates
    from deepimagine.core import generate
    from deepimagine.core.questions import render_messages

    qs = read_questions(args.steps)[:args.questions]
    msgs, cands = [render_messages(q) for q in qs], [decision_candidates(len(q.options)) for q in qs]
    adapters = {"default": str(args.models / "sft")}
    adapters.update({p.name: str(p) for p in sorted((args.models / "sft/operators").glob("*")) if p.is_dir()})
    names = list(adapters)

    def timed(gen) -> tuple[float, list]:
        best, scores = float("inf"), []
        for _ in range(args.repeats):
            t = time.perf_counter()
            scores = [gen.score_options(msgs, cands, adapter=name) for name in names]
            best = min(best, time.perf_counter() - t)
        return best, scores

    merged = generate.Generator(str(args.models / "base"), adapters=adapters, backend="transformers")
    t_merged, s_merged = timed(merged)
    threshold = generate.MERGE_ADAPTERS_BELOW_PARAMS
    generate.MERGE_ADAPTERS_BELOW_PARAMS = 0
    peft = generate.Generator(str(args.models / "base"), adapters=adapters, backend="transformers")
    generate.MERGE_ADAPTERS_BELOW_PARAMS = threshold
    t_peft, s_peft = timed(peft)
    diff = max(abs(a - b) for x, y in zip(s_merged, s_peft) for r, s in zip(x, y) for a, b in zip(r, s))
    print(f"{len(qs)} step questions x {len(names)} adapters ({', '.join(names)}), best of {args.repeats}")
    print(f"merged copies: {t_merged:.2f} s   PEFT switching: {t_peft:.2f} s   speed-up x{t_peft / t_merged:.2f}")
    print(f"largest score difference: {diff:.2e}")


if __name__ == "__main__":
    main()
