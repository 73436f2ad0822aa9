"""How much of the prospective benchmark can imagining win at all? (simulated registry only)

Scores, on the evaluate stage's stratified prospective sample (the same questions every predictor
answers), four no-model answers through imagine mode's own final comparison
(``imagine.answer_probs``: the same anchors, trial pairing, precision weights and two-group test):

* ``retrieval``: each anchor trial's posted contrast, carried unchanged (the control);
* ``oracle``: imagining with a perfect operator at the bins' resolution (each step one-hot on the
  bin of its true change: the evaluate stage's ``oracle``);
* ``exact oracle``: each chain's anchor value plus the TRUE change to its target, unquantised:
  what is left is the anchors' own sampling error;
* ``truth``: each compared arm's TRUE mean (truth.json), no anchor at all: the benchmark's ceiling
  given the target trials' own sampling error.

and prints the paired differences (trials resampled). Run after ``dvc repro``:

    python benchmarks/prospective_ceiling.py [-S evaluate.imagine_k=7 ...]
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from deepimagine.core import io
from deepimagine.core import params as P
from deepimagine.core.oracle import Oracle
from deepimagine.core.questions import Question
from deepimagine.evaluate.imagine import answer_probs, plan_chains
from deepimagine.evaluate.llm import imagine_settings
from deepimagine.evaluate.oracle import _target_cell
from deepimagine.evaluate.predictors import make_predictor
from deepimagine.evaluate.replicate import pooled_difference, run_inputs
from deepimagine.evaluate.sampling import stratified_sample
from deepimagine.evaluate.stage import align, bootstrap_clusters


def truth_answers(sample, oracle: Oracle, s, exact_steps: bool) -> list[dict]:
    """``exact_steps``: each chain's start + its true change (the exact oracle); else each arm's true mean."""
    out = []
    for q in sample:
        chains, ok = plan_chains(q, s), True
        for c in chains:
            ps, pt = oracle.params(c.start), oracle.params(_target_cell(q, c.arm))
            if ps is None or pt is None:
                ok = False
                break
            c.mean = c.mean + oracle.mean(pt) - oracle.mean(ps) if exact_steps else oracle.mean(pt)
            c.var = 0.0
        probs = answer_probs(q, chains, s) if ok and chains else None
        out.append({"id": q.id, "probs": probs, "valid": probs is not None})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-S", "--set", action="append", default=[], help="a params override, e.g. evaluate.imagine_k=7")
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    p = P.load("params.yaml", overrides=args.set)
    qs = [Question.from_row(json.loads(line)) for line in open(io.PAIRS_DIR / "prospective.jsonl", encoding="utf-8")]
    sample = stratified_sample(qs, p.evaluate.sample_size("prospective"), p.seed,
                               bootstrap_clusters(qs, p.evaluate.bootstrap_unit))
    answers = {}
    for name in ("retrieval", "oracle"):
        pred = make_predictor(name, p, [])
        answers[name] = [{"id": x.id, "probs": x.probs, "valid": x.valid} for x in align(sample, pred.predict(sample), name)]
    oracle, s = Oracle(json.loads(Path(io.TRUTH_FILE).read_text(encoding="utf-8"))), imagine_settings(p)
    answers["exact oracle"] = truth_answers(sample, oracle, s, exact_steps=True)
    answers["truth"] = truth_answers(sample, oracle, s, exact_steps=False)
    print(f"prospective sample: {len(sample)} questions; invalid: "
          + ", ".join(f"{k} {sum(not a['valid'] for a in v)}" for k, v in answers.items()))
    for a, b in (("oracle", "retrieval"), ("exact oracle", "retrieval"), ("truth", "retrieval"),
                 ("exact oracle", "oracle"), ("truth", "exact oracle")):
        r = pooled_difference([run_inputs(sample, answers[a], answers[b])], bootstrap=args.bootstrap)["pooled"]
        print(f"{a:>12s} - {b:<12s} BAcc {r['bacc']['diff']:+.3f} [{r['bacc']['ci'][0]:+.3f}, {r['bacc']['ci'][1]:+.3f}]"
              f"  CE {r['ce']['diff']:+.3f}")


if __name__ == "__main__":
    main()
