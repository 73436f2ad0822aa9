"""CT Open -> Questions (source 'ct_open', kind 'ct_open', split 'test').

Two formats, chosen by the file suffix of ``pairs.ct_open_path``:
- ``.pickle`` / ``.pkl``: CT Open's own files (``Winter_2025.pickle``, ``Summer_2025.pickle``): a dict
  keyed ``(nct_id, endpoint string)``, each item with ``brief_title``, ``endpoint`` (the key's string),
  ``arms``, ``meta_label``, ``list_of_tuples``, ``listed_arms``, ``question_list_of_lists`` (options per
  question) and ``answer_list_of_lists`` (the true option's text). Read with ``RestrictedUnpickler``,
  which builds only what pickle's opcodes build themselves (dict, list, tuple, str, bytes, numbers,
  bool, None) and refuses every global, so nothing in the file can run. Only the fields above are
  read: ``reported_results`` (the published evidence) and its index are never touched.
- ``.jsonl``: one item a line: ``nct_id``, ``endpoint_key``, ``endpoint`` {measure, description,
  timeFrame, outcome_type}, ``brief_title``, ``arms``, ``meta_label``, ``list_of_tuples``,
  ``listed_arms`` and ``questions`` [{index, category, options, answer, answer_index}].

The category is CT Open's official rule where ``meta_label`` is known: (number of options, implicit
or explicit arms) -> 2-way implicit = endpoint, 2-way explicit = superiority, 3-way explicit =
comparative_effect. Every question keeps the official key parts in its meta (``nct_id``,
``endpoint_key`` exactly as in CT Open's dict key, ``question_index``) so its answer can be exported
for CT Open's ``evaluation.py``. Options and answers are kept exactly; a malformed item or question is
counted with its reason, never fatal.
"""
from __future__ import annotations

import ast
import json
import logging
import pickle
from collections import Counter
from pathlib import Path
from typing import Iterator, Optional

from ..core.questions import CATEGORIES, Question

log = logging.getLogger(__name__)

IMPLICIT_ARMS = frozenset({"no_arm", "no_distinguishable_arm"})
EXPLICIT_ARMS = frozenset({"distinguishable_arm", "single_arm"})
OFFICIAL_CATEGORIES = {(2, "implicit"): "endpoint", (2, "explicit"): "superiority", (3, "explicit"): "comparative_effect"}
PICKLE_SUFFIXES = (".pickle", ".pkl")
JSONL_SUFFIXES = (".jsonl",)
# the only item fields read from CT Open's pickle (never reported_results nor its index)
PICKLE_FIELDS = ("brief_title", "arms", "meta_label", "list_of_tuples", "listed_arms")


def official_category(n_options: int, meta_label) -> Optional[str]:
    """CT Open's category of a question from its option count and the item's meta_label (None: none)."""
    group = "implicit" if meta_label in IMPLICIT_ARMS else "explicit" if meta_label in EXPLICIT_ARMS else None
    return OFFICIAL_CATEGORIES.get((n_options, group))


class CTOpenPickleError(pickle.UnpicklingError):
    """A CT Open pickle that needs more than builtin containers and scalars."""


class RestrictedUnpickler(pickle.Unpickler):
    """Builds only what pickle's own opcodes build (dict, list, tuple, set, str, bytes, int, float,
    bool, None); every global (a class, a function such as os.system) is refused before it is looked up."""

    def find_class(self, module: str, name: str):
        raise CTOpenPickleError(f"refused global {module}.{name}: a CT Open pickle may hold only builtin "
                                "containers and scalars (nothing in it is ever run)")

    def persistent_load(self, pid):
        raise CTOpenPickleError(f"refused persistent id {pid!r}: a CT Open pickle may hold only builtin "
                                "containers and scalars")


def load_restricted_pickle(path: str | Path):
    """The object in a pickle of plain builtins; CTOpenPickleError (naming the file) otherwise."""
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f).load()
        except CTOpenPickleError as e:
            raise CTOpenPickleError(f"{path}: {e}") from None


def _jsonable(x):
    """Tuples -> lists, recursively, so a pickle item equals its JSON conversion."""
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    return x


def _endpoint_dict(endpoint_key: str) -> Optional[dict]:
    """CT Open's endpoint string is a Python dict literal: parsed with ast.literal_eval (literals only)."""
    try:
        value = ast.literal_eval(endpoint_key)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def pickle_item(key, value, counts: Counter) -> Optional[dict]:
    """One CT Open pickle entry -> the JSON Lines item form (only PICKLE_FIELDS and the questions)."""
    if not (isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key)):
        counts["item_bad_key"] += 1
        return None
    if not isinstance(value, dict):
        counts["item_not_a_dict"] += 1
        return None
    nct, endpoint_key = key
    endpoint = _endpoint_dict(endpoint_key)
    if endpoint is None:
        counts["item_endpoint_not_a_dict"] += 1
        endpoint = {"measure": endpoint_key}
    options_lists, answers = value.get("question_list_of_lists"), value.get("answer_list_of_lists")
    questions = []
    if isinstance(options_lists, list) and isinstance(answers, list) and len(options_lists) == len(answers):
        for i, (options, answer) in enumerate(zip(options_lists, answers)):
            options = _jsonable(options)
            n = len(options) if isinstance(options, list) else 0
            questions.append({"index": i, "category": official_category(n, value.get("meta_label")),
                              "options": options, "answer": answer,
                              # CT Open's gold label: curr_question.index(curr_answer)
                              "answer_index": options.index(answer) if n and answer in options else None})
    return {"nct_id": nct, "endpoint_key": endpoint_key, "endpoint": endpoint,
            **{f: _jsonable(value.get(f)) for f in PICKLE_FIELDS}, "questions": questions}


def _arm(arm: dict) -> dict:
    interventions = []
    for iv in arm.get("interventions") or []:
        if isinstance(iv, dict):
            interventions.append({k: iv.get(k) for k in ("type", "name", "description", "otherNames") if k in iv})
    if not interventions:
        interventions = [{"name": n} for n in arm.get("interventionNames") or [] if isinstance(n, str)]
    return {"label": arm.get("label"), "type": arm.get("type"), "description": arm.get("description"),
            "interventions": interventions}


def _question_text(category: str, item: dict) -> str:
    measure = (item.get("endpoint") or {}).get("measure") or "this endpoint"
    listed = [a.get("label") for a in item.get("listed_arms") or [] if isinstance(a, dict)]
    if category == "endpoint" and listed:
        return f"Considering the arms {', '.join(map(str, listed))}: did any of them meet the endpoint '{measure}'?"
    if category == "superiority":
        return f"Did the study arm achieve a statistically significant improvement on '{measure}' over the reference arm?"
    if category == "comparative_effect":
        return f"How do the study arms compare on '{measure}'?"
    return f"What did the trial show for the endpoint '{measure}'?"


def item_questions(item: dict, line_no: int, counts: Counter) -> Iterator[Question]:
    """The questions of one CT Open item (malformed questions counted in ``counts``)."""
    nct = item.get("nct_id")
    if not isinstance(nct, str) or not nct:
        counts["item_missing_nct_id"] += 1
        return
    questions = item.get("questions")
    if not isinstance(questions, list) or not questions:
        counts["item_without_questions"] += 1
        return
    endpoint = item.get("endpoint") if isinstance(item.get("endpoint"), dict) else {}
    arms = [_arm(a) for a in item.get("arms") or [] if isinstance(a, dict)]
    trial = {"nct_id": nct, "title": item.get("brief_title") or "", "arms": arms}
    outcome = {"measure": endpoint.get("measure"), "description": endpoint.get("description"),
               "time_frame": endpoint.get("timeFrame"), "outcome_type": endpoint.get("outcome_type")}
    tuples = item.get("list_of_tuples") or []
    one = tuples[0] if len(tuples) == 1 and isinstance(tuples[0], (list, tuple)) and len(tuples[0]) == 3 else None
    endpoint_key = item.get("endpoint_key") if isinstance(item.get("endpoint_key"), str) else None
    for pos, q in enumerate(questions):
        if not isinstance(q, dict):
            counts["question_not_an_object"] += 1
            continue
        category, options, answer_index = q.get("category"), q.get("options"), q.get("answer_index")
        official = official_category(len(options), item.get("meta_label")) if isinstance(options, list) else None
        if official and category != official:
            counts["question_category_set_to_official"] += 1
            category = official
        if category not in CATEGORIES:
            counts["question_unknown_category"] += 1
            continue
        if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
            counts["question_bad_options"] += 1
            continue
        if isinstance(answer_index, bool) or not isinstance(answer_index, int) or not 0 <= answer_index < len(options):
            counts["question_bad_answer_index"] += 1
            continue
        if q.get("answer") is not None and q.get("answer") != options[answer_index]:
            counts["question_answer_text_mismatch"] += 1   # kept: answer_index is authoritative
        index = q.get("index", pos)
        yield Question(
            id=f"ctopen-{nct}-L{line_no}-Q{index}",
            source="ct_open", kind="ct_open", category=category, split="test", nct_ids=[nct],
            factor="arm" if one else "", from_value=str(one[2]) if one else "", to_value=str(one[0]) if one else "",
            options=list(options), answer_index=answer_index,
            context={"trial": trial, "outcome": outcome, "question": _question_text(category, item),
                     "listed_arms": [_arm(a) for a in item.get("listed_arms") or [] if isinstance(a, dict)] or None},
            meta={"meta_label": item.get("meta_label"), "list_of_tuples": tuples, "line": line_no,
                  "nct_id": nct, "endpoint_key": endpoint_key, "question_index": index, "answer": q.get("answer")},
        )
        counts["questions"] += 1
        if endpoint_key is None:
            counts["question_without_official_key"] += 1


def _jsonl_items(path: Path, counts: Counter) -> Iterator[tuple[int, dict]]:
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                counts["line_not_json"] += 1
                continue
            if not isinstance(item, dict):
                counts["line_not_an_object"] += 1
                continue
            yield line_no, item


def _pickle_items(path: Path, counts: Counter) -> Iterator[tuple[int, dict]]:
    data = load_restricted_pickle(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a CT Open pickle holds a dict keyed (nct_id, endpoint), not {type(data).__name__}")
    for pos, (key, value) in enumerate(data.items(), start=1):  # pos plays the JSON Lines line number
        item = pickle_item(key, value, counts)
        if item is not None:
            yield pos, item


def import_ct_open(path: str | Path) -> tuple[list[Question], dict]:
    """All questions of a CT Open file (.pickle/.pkl as CT Open ships it, or .jsonl), in file order,
    and counts (items, questions, malformed by reason)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: CT Open file not found (params.pairs.ct_open_path)")
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        reader = _pickle_items
    elif suffix in JSONL_SUFFIXES:
        reader = _jsonl_items
    else:
        raise ValueError(f"{path}: unknown CT Open file type {suffix!r} (params.pairs.ct_open_path): "
                         f"expected one of {PICKLE_SUFFIXES + JSONL_SUFFIXES}")
    counts: Counter = Counter()
    out: list[Question] = []
    for ordinal, item in reader(path, counts):
        counts["items"] += 1
        out.extend(item_questions(item, ordinal, counts))
    log.info("CT Open %s: %s", path, dict(counts))
    return out, dict(sorted(counts.items()))
