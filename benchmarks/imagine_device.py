"""Imagining on the current device: sft/imagine (with its per-factor operators when present) on a
stratified sample of prospective questions; prints the device, the time, the steps per second and
writes the probabilities, so that a CUDA run can be compared with a CPU run of the same script.

    python benchmarks/imagine_device.py [--n 100] [--out probs.json]
    CUDA_VISIBLE_DEVICES= python benchmarks/imagine_device.py --out cpu.json   # the CPU reference
    python benchmarks/imagine_device.py --compare cpu.json                     # max |p_cuda - p_cpu|
"""
from __future__ import annotations

import argparse
import json
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--model", default="sft")
    ap.add_argument("--out", default=None)
    ap.add_argument("--compare", default=None, help="probabilities written by another run of this script")
    args = ap.parse_args(argv)
    import torch

    from deepimagine.core import params as params_mod
    from deepimagine.core.questions import read_questions
    from deepimagine.evaluate.llm import LLMPredictor
    from deepimagine.evaluate.sampling import stratified_sample

    params = params_mod.load(overrides=["model.backend=transformers"])
    train = read_questions("data/pairs/train.jsonl")
    qs = stratified_sample(read_questions("data/pairs/prospective.jsonl"), args.n, params.seed)
    pred = LLMPredictor(params, args.model, "imagine", train=train)
    pred.temperature_scaling()                         # fitted before timing
    start = time.perf_counter()
    out = pred.predict(qs)
    wall = time.perf_counter() - start
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    steps = pred.counts.get("steps", 0)
    print(f"device {device}: {len(qs)} questions, {steps} steps ({pred.counts.get('model_calls', 0)} model calls), "
          f"{wall:.1f}s, {steps / wall:.0f} steps/s; operators: {sorted(pred.operators) or 'shared'}")
    probs = {p.id: p.probs for p in out}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(probs, f)
    if args.compare:
        ref = json.load(open(args.compare))
        diff = max(abs(a - b) for k in ref for a, b in zip(ref[k], probs[k]))
        print(f"max |p - p_ref| = {diff:.2e} over {len(ref)} questions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
