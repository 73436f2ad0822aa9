"""CT Open's official scoring (evaluations/evaluation.py, ClinicalTrial-OpenChallenge/CT_Open), re-implemented.

Not vendored (the repository has no license): an independent re-implementation of the same steps,
for one run (the official script averages these figures over runs). See README.md beside this file.

Per answer: strip '*', '#', '```python', '```'; read the text after the last 'DECISION:' up to the
end of its line and its first ')'; ``ast.literal_eval`` the tuple; normalise, clip at 1e-12,
renormalise; predict the argmax. Gold = the index of the answer text among the options. Category =
(number of options, implicit / explicit arms from meta_label). Per category: weighted accuracy (mean
recall over the gold classes present), sklearn macro-F1 (zero_division=0), mean -log(max(p_true, 1e-12)).
"""
from __future__ import annotations

import ast

import numpy as np
from sklearn.metrics import f1_score

IMPLICIT = {"no_arm", "no_distinguishable_arm"}
EXPLICIT = {"distinguishable_arm", "single_arm"}
NAMES = {"2-way_implicit": "Endpoint", "2-way_explicit": "Superiority", "3-way_explicit": "ComparativeEffect"}


def _clean(text: str) -> str:
    return text.replace("*", "").replace("#", "").replace("```python", "").replace("```", "")


def read_probs(text: str) -> np.ndarray:
    tail = _clean(text).split("DECISION:")[-1].strip().split("\n")[0].strip()
    raw = np.array(ast.literal_eval(tail.split(")")[0] + ")"), dtype=np.float64)
    probs = np.clip(raw / raw.sum(), 1e-12, 1.0)
    return probs / probs.sum()


def _weighted_accuracy(y_true: list[int], y_pred: list[int]) -> float:
    recalls = [np.mean([y_pred[i] == c for i, t in enumerate(y_true) if t == c]) for c in set(y_true)]
    return float(np.mean(recalls)) if recalls else 0.0


def evaluate_run(answers: dict, benchmark: dict, *, collapse_3way: bool = True) -> dict:
    """{category: {Weighted_Accuracy, Macro-F1, Cross_Entropy}, 'overall': {...}} for one run."""
    data: dict[str, dict[str, list]] = {}
    for (nct, endpoint, qi), text in answers.items():
        item = benchmark[(nct, endpoint)]
        options, answer = item["question_list_of_lists"][qi], item["answer_list_of_lists"][qi]
        group = "implicit" if item["meta_label"] in IMPLICIT else "explicit" if item["meta_label"] in EXPLICIT else None
        if group is None:
            raise ValueError(f"meta_label {item['meta_label']!r} is neither implicit nor explicit")
        key = f"{len(options)}-way_{group}"
        if key not in NAMES:
            raise ValueError(f"{key} is not a CT Open category")
        probs = read_probs(text)
        gold = options.index(answer)
        d = data.setdefault(key, {"y": [], "p": [], "pt": []})
        d["y"].append(gold)
        d["p"].append(int(np.argmax(probs)))
        d["pt"].append(float(probs[gold]))
    out = {}
    for key in NAMES:
        if key not in data:
            continue
        y, p, pt = data[key]["y"], data[key]["p"], data[key]["pt"]
        if key == "3-way_explicit" and collapse_3way:
            y, p = [int(t in (0, 1)) for t in y], [int(t in (0, 1)) for t in p]
        out[NAMES[key]] = {"Weighted_Accuracy": _weighted_accuracy(y, p),
                           "Macro-F1": float(f1_score(y, p, average="macro", zero_division=0)),
                           "Cross_Entropy": float(np.mean([-np.log(max(v, 1e-12)) for v in pt]))}
    out["overall"] = {m: float(np.mean([out[c][m] for c in NAMES.values() if c in out]))
                      for m in ("Weighted_Accuracy", "Macro-F1", "Cross_Entropy")}
    return out
