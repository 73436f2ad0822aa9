"""The dataset card (data/pairs/README.md) written by the pairs stage."""
from __future__ import annotations

from typing import Any


def _table(title: str, counts: dict[str, Any]) -> list[str]:
    if not counts:
        return [f"**{title}**: none", ""]
    lines = [f"| {title} | questions |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(counts.items())]
    return lines + [""]


def render_card(report: dict) -> str:
    c = report.get("counts", {})
    split = report.get("split", {})
    files = report.get("files", {})
    lines = [
        "# DeepImagine counterfactual questions",
        "",
        "Questions built by the `pairs` stage (`deepimagine pairs`) from the trial registry "
        f"(`{report.get('registry', 'data/registry.duckdb')}`, source: {report.get('data_source', 'unknown')}). "
        "Each question shows one posted trial result (the anchor) and asks how the result changes "
        "when one condition changes (arm, dose, outcome measure, time point, or, across two trials, "
        "geography, dose, phase, population, time frame, comparator). Answers are verifiable from posted results.",
        "",
        "## Files",
        "",
        f"- `train.jsonl` ({files.get('train.jsonl', 0)} questions), `test.jsonl` ({files.get('test.jsonl', 0)} questions): "
        "natural and approximate questions (column `source`).",
    ]
    if "ct_open.jsonl" in files:
        lines.append(f"- `ct_open.jsonl` ({files['ct_open.jsonl']} questions): the CT Open benchmark imported "
                     "(source/kind `ct_open`, split `test`, options and answers exactly as published).")
    lines += [
        f"- `cells.parquet` ({files.get('cells.parquet', 0)} rows): the retrieval pool for successive imagining: one "
        "row per (trial, result group, outcome measure) with a posted numeric value, with its split.",
        "",
        "## Fields (one row per question)",
        "",
        "| field | meaning |",
        "|---|---|",
        "| `id` | stable id: `N-`/`A-` + kind + hash of the pair + `-dir`/`-cmp`/`-sup` (CT Open: `ctopen-<nct>-L<line>-Q<index>`) |",
        "| `source` | natural (one trial) / approximate (two trials) / ct_open |",
        "| `kind` | arm, dose, dose_successive, outcome_measure, time_point; geography, dose_cross, phase, population, time_frame, comparator; ct_open |",
        "| `category` | direction, comparative_effect, superiority (CT Open also endpoint) |",
        "| `split` | train / test (by results posting date and by trial) |",
        "| `nct_ids` | anchor trial first; the counterfactual trial second for approximate questions |",
        "| `factor`, `from_value`, `to_value` | the changed condition, human readable |",
        "| `options`, `answer_index` | the options (order from `deepimagine.core.questions`) and the correct one |",
        "| `context` | JSON string: trial, counterfactual_trial, outcome, anchor (with its result), target, question |",
        "| `expected_effect` | simulated registry only: true mean(target) - true mean(anchor), per outcome scale |",
        "| `posted_date` | results first posted (anchor trial), ISO date |",
        "| `meta` | JSON string: pair_id, margin, p-value, analysis method, similarity, block, chain_id/step ... |",
        "",
        "## Counts",
        "",
    ]
    lines += _table("split", c.get("by_split", {}))
    lines += _table("source", c.get("by_source", {}))
    lines += _table("kind", c.get("by_kind", {}))
    lines += _table("category", c.get("by_category", {}))
    lines += _table("source / split / category", c.get("by_source_split_category", {}))
    lines += [
        "## How it was built",
        "",
        f"- Split: studies whose results were first posted on/after {split.get('test_cutoff')} are test "
        f"({split.get('results_studies_test', 0)} of {split.get('results_studies_train', 0) + split.get('results_studies_test', 0)} "
        "studies with results); every question inherits its studies' split; approximate pairs spanning the two splits are dropped.",
        "- Natural pairs: result groups of one trial on the same outcome (arm, dose, dose_successive), or one arm on two "
        "measures / time points; capped per study deterministically.",
        "- Approximate pairs: trials blocked on (intervention, condition), then nearest neighbours by sentence embedding "
        "of the trial text within a block; a pair of arm results is kept when the two trials differ in exactly one attribute.",
        "- direction: 'no meaningful difference' band = margin x pooled SD (from posted dispersion) or relative to the anchor.",
        "- comparative_effect / superiority: from a posted two-group analysis (p < alpha); improvement wording only where "
        "the outcome's better direction is known.",
        "- Leakage report and skipped counts: `metrics/pairs.json`. Documentation: `docs/pairs.md`.",
        "",
        "## Loading",
        "",
        "```python",
        "import json",
        "from datasets import load_dataset",
        "ds = load_dataset('json', data_files={'train': 'data/pairs/train.jsonl', 'test': 'data/pairs/test.jsonl'})",
        "row = ds['train'][0]; context = json.loads(row['context'])",
        "from deepimagine.core.questions import Question, render_messages",
        "messages = render_messages(Question.from_row(row))",
        "```",
        "",
    ]
    return "\n".join(lines)
