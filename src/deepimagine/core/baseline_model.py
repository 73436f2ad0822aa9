"""The fitted baselines (logistic regression, random forest, LightGBM over the question features) as
saved, loaded and predicted with; the baselines stage fits them (``baselines/fit.py``), evaluation loads them.

Modelling choice: questions have 2 or 3 options whose meaning is fixed per category, and the
categories sharing an option count also share option semantics (2 options: "significant improvement /
endpoint met" vs "not"; 3 options: "higher / better", "lower / worse", "no difference"). So each
baseline is one classifier per option-count family (``n_options`` 2 and 3), trained on the answer
index with the category as a feature; its class probabilities are the option probabilities, no
renormalisation needed. A family with a single class in training falls back to the class prior; a
family absent from training to the uniform distribution (logged).

Saved under ``models/baselines/`` without pickle (``dvc pull`` brings these files from a shared remote,
so loading them must never run code): ``encoder.json`` (the fitted ``FeatureEncoder`` as plain
parameters: vocabularies, TF-IDF vocabulary and idf weights), ``lightgbm_<family>.txt`` (LightGBM's own
text model format) and ``<name>.json`` (classes and priors per family; logistic regression as its
scaler, coefficients and intercepts; random forest as its trees' node arrays). Prediction from the
loaded parameters is plain numpy, equal to the fitted scikit-learn models' ``predict_proba``.
``load_baseline(name, dir)`` validates every file against this layout and raises
``BaselineLoadError`` on anything else (a pickle/joblib file included), before using any of it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from .features import FeatureEncoder
from .questions import Question

BASELINES = ("logistic", "random_forest", "lightgbm")
FAMILIES = (2, 3)


def _dense_imputed(X: sp.csr_matrix) -> sp.csr_matrix:
    """NaN -> 0 (each numeric feature has a missing-indicator column) for the scikit-learn models."""
    X = X.copy()
    X.data[np.isnan(X.data)] = 0.0
    X.eliminate_zeros()
    return X


class BaselineLoadError(ValueError):
    """A baseline artifact that is missing, not this project's JSON layout, or inconsistent; nothing was run."""


@dataclass
class LinearProba:
    """MaxAbsScaler + LogisticRegression as plain arrays: the same probabilities as the fitted pipeline."""
    scale: np.ndarray       # (n_features,)  X / scale
    coef: np.ndarray        # (1 | n_classes, n_features)
    intercept: np.ndarray   # (1 | n_classes,)

    @classmethod
    def from_sklearn(cls, pipe) -> "LinearProba":
        scaler, lr = pipe[0], pipe[-1]
        return cls(np.asarray(scaler.scale_, float), np.asarray(lr.coef_, float), np.asarray(lr.intercept_, float))

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        Xs = sp.csr_matrix(X, dtype=np.float64) @ sp.diags(1.0 / self.scale)
        z = np.asarray(Xs @ self.coef.T) + self.intercept
        if self.coef.shape[0] == 1:  # binary: sklearn's expit of the one decision function
            p = expit(z[:, 0])
            return np.stack([1 - p, p], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def to_dict(self) -> dict:
        return {"type": "linear", "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept.tolist()}


@dataclass
class ForestProba:
    """A random forest as its trees' node arrays; probabilities = mean of each tree's normalised leaf values."""
    trees: list[dict]       # per tree: left, right, feature (int arrays), threshold (float), value (nodes x classes)

    @classmethod
    def from_sklearn(cls, forest) -> "ForestProba":
        trees = []
        for est in forest.estimators_:
            t = est.tree_
            trees.append({"left": t.children_left.astype(np.int64), "right": t.children_right.astype(np.int64),
                          "feature": t.feature.astype(np.int64), "threshold": t.threshold.astype(np.float64),
                          "value": t.value[:, 0, :].astype(np.float64)})
        return cls(trees)

    def predict_proba(self, X: sp.csr_matrix, batch: int = 4096) -> np.ndarray:
        n = X.shape[0]
        out = np.zeros((n, self.trees[0]["value"].shape[1]))
        for start in range(0, n, batch):
            # sklearn compares float32 features with float64 thresholds
            Xb = np.asarray(X[start:start + batch].toarray(), dtype=np.float32).astype(np.float64)
            rows = np.arange(Xb.shape[0])
            for t in self.trees:
                node = np.zeros(Xb.shape[0], dtype=np.int64)
                while True:
                    inner = t["left"][node] >= 0
                    if not inner.any():
                        break
                    go_left = Xb[rows, np.where(inner, t["feature"][node], 0)] <= t["threshold"][node]
                    node = np.where(inner, np.where(go_left, t["left"][node], t["right"][node]), node)
                v = t["value"][node]
                norm = v.sum(axis=1, keepdims=True)
                out[start:start + batch] += v / np.where(norm == 0, 1.0, norm)
        return out / len(self.trees)

    def to_dict(self) -> dict:
        return {"type": "forest", "trees": [{k: v.tolist() for k, v in t.items()} for t in self.trees]}


@dataclass
class FamilyModel:
    """One family's classifier (or its fallback distribution)."""
    k: int
    classes: list[int] = field(default_factory=list)   # answer indices the estimator outputs, in column order
    estimator: Any = None                               # LinearProba / ForestProba / lightgbm Booster / None
    prior: Optional[list[float]] = None                 # used when estimator is None

    def predict_proba(self, X: sp.csr_matrix, kind: str) -> np.ndarray:
        n = X.shape[0]
        if self.estimator is None:
            prior = self.prior or [1.0 / self.k] * self.k
            return np.tile(np.asarray(prior, float), (n, 1))
        if kind == "lightgbm":
            raw = np.asarray(self.estimator.predict(X), float)
            raw = np.stack([1 - raw, raw], axis=1) if raw.ndim == 1 else raw
        else:
            raw = self.estimator.predict_proba(_dense_imputed(X))
        out = np.zeros((n, self.k))
        for j, c in enumerate(self.classes):
            out[:, c] = raw[:, j]
        return out / out.sum(axis=1, keepdims=True)


@dataclass
class BaselineModel:
    name: str
    encoder: FeatureEncoder
    families: dict[int, FamilyModel]

    def predict_proba(self, questions: list[Question], X: Optional[sp.csr_matrix] = None) -> list[list[float]]:
        """A probability per option for each question (any option count the families cover);
        ``X``: the questions' features when already encoded by this model's encoder."""
        out: list[Optional[list[float]]] = [None] * len(questions)
        if not questions:
            return []
        X = self.encoder.transform(questions) if X is None else X
        by_k: dict[int, list[int]] = {}
        for i, q in enumerate(questions):
            by_k.setdefault(len(q.options), []).append(i)
        for k, idx in by_k.items():
            fam = self.families.get(k)
            if fam is None:
                probs = np.full((len(idx), k), 1.0 / k)
            else:
                probs = fam.predict_proba(X[idx], self.name)
            for row, i in enumerate(idx):
                out[i] = [float(p) for p in probs[row]]
        return out  # type: ignore[return-value]


# ---------------------------------------------------------------- persistence


BASELINE_FORMAT = "deepimagine-baseline/1"
ENCODER_FORMAT = "deepimagine-encoder/1"
ENCODER_FILE = "encoder.json"
_PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
_TFIDF_KEYS = ("ngram_range", "sublinear_tf", "lowercase", "norm", "use_idf", "smooth_idf", "token_pattern",
               "strip_accents", "binary", "analyzer")


def encoder_to_dict(enc: FeatureEncoder) -> dict:
    """The fitted encoder as plain JSON values (the embedding model is stored by name only)."""
    tfidf = None
    if enc.vectorizer is not None:
        v = enc.vectorizer
        if v.stop_words is not None or v.preprocessor is not None or v.tokenizer is not None:
            raise ValueError("only the project's own TfidfVectorizer settings can be saved")
        tfidf = {key: getattr(v, key) for key in _TFIDF_KEYS}
        tfidf["ngram_range"] = list(v.ngram_range)
        tfidf["vocabulary"] = {t: int(i) for t, i in sorted(v.vocabulary_.items())}
        tfidf["idf"] = np.asarray(v.idf_, float).tolist()
    return {"format": ENCODER_FORMAT, "text_features": enc.text_features, "top_n": enc.top_n,
            "top_conditions": enc.top_conditions, "tfidf_max_features": enc.tfidf_max_features,
            "embedding_model": enc.embedding_model, "vocab": enc.vocab, "conditions": enc.conditions,
            "categories_seen": enc.categories_seen, "embedding_dim": enc.embedding_dim, "tfidf": tfidf}


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise BaselineLoadError(f"{where}: {what}; refusing to load it (rerun `deepimagine baselines`)")


def _str_list(value: Any, where: str) -> list[str]:
    _need(isinstance(value, list) and all(isinstance(x, str) for x in value), where, "expected a list of strings")
    return value


def _int(value: Any, where: str, low: int = 0) -> int:
    _need(isinstance(value, int) and not isinstance(value, bool) and value >= low, where, f"expected an integer >= {low}")
    return value


def _array(value: Any, where: str, ndim: int, dtype=np.float64) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise BaselineLoadError(f"{where}: not a numeric array ({e}); refusing to load it") from None
    _need(arr.ndim == ndim, where, f"expected a {ndim}-d numeric array, got shape {arr.shape}")
    _need(bool(np.all(np.isfinite(arr))) if arr.dtype.kind == "f" else True, where, "non-finite values")
    return arr


def encoder_from_dict(d: Any, where: str) -> FeatureEncoder:
    """Rebuild a FeatureEncoder from ``encoder_to_dict`` output, checking every field's type."""
    _need(isinstance(d, dict) and d.get("format") == ENCODER_FORMAT, where, f"not a {ENCODER_FORMAT} file")
    _need(d.get("text_features") in ("tfidf", "embedding", "none"), where, "bad text_features")
    _need(isinstance(d.get("embedding_model"), str), where, "bad embedding_model")
    enc = FeatureEncoder(text_features=d["text_features"], top_n=_int(d.get("top_n"), f"{where}: top_n"),
                         top_conditions=_int(d.get("top_conditions"), f"{where}: top_conditions"),
                         tfidf_max_features=_int(d.get("tfidf_max_features"), f"{where}: tfidf_max_features", 1),
                         embedding_model=d["embedding_model"])
    vocab = d.get("vocab")
    _need(isinstance(vocab, dict), where, "vocab is not an object")
    enc.vocab = {str(k): _str_list(v, f"{where}: vocab.{k}") for k, v in vocab.items()}
    enc.conditions = _str_list(d.get("conditions"), f"{where}: conditions")
    enc.categories_seen = _str_list(d.get("categories_seen"), f"{where}: categories_seen")
    enc.embedding_dim = _int(d.get("embedding_dim"), f"{where}: embedding_dim")
    t = d.get("tfidf")
    if t is not None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        _need(isinstance(t, dict) and all(k in t for k in _TFIDF_KEYS + ("vocabulary", "idf")), where, "bad tfidf block")
        _need(t["analyzer"] == "word" and t["norm"] in ("l1", "l2", None) and t["strip_accents"] in (None, "ascii", "unicode")
              and isinstance(t["token_pattern"], str) and all(isinstance(t[k], bool) for k in
                                                             ("sublinear_tf", "lowercase", "use_idf", "smooth_idf", "binary")),
              where, "bad tfidf settings")
        ngram = t["ngram_range"]
        _need(isinstance(ngram, list) and len(ngram) == 2 and all(isinstance(n, int) and 1 <= n <= 5 for n in ngram),
              where, "bad tfidf ngram_range")
        voc = t["vocabulary"]
        _need(isinstance(voc, dict) and all(isinstance(i, int) for i in voc.values())
              and sorted(voc.values()) == list(range(len(voc))), where, "tfidf vocabulary is not a term -> 0..n-1 map")
        idf = _array(t["idf"], f"{where}: tfidf idf", 1)
        _need(len(idf) == len(voc) and len(voc) > 0, where, "tfidf idf length differs from the vocabulary")
        v = TfidfVectorizer(ngram_range=tuple(ngram), sublinear_tf=t["sublinear_tf"], lowercase=t["lowercase"],
                            norm=t["norm"], use_idf=t["use_idf"], smooth_idf=t["smooth_idf"],
                            token_pattern=t["token_pattern"], strip_accents=t["strip_accents"], binary=t["binary"],
                            dtype=np.float32)
        v.vocabulary_ = dict(voc)
        if t["use_idf"]:
            v.idf_ = idf
        enc.vectorizer = v
    return enc


def _family_to_dict(name: str, fam: FamilyModel, directory: Path, written: list[Path]) -> dict:
    import hashlib

    entry: dict = {"k": fam.k, "classes": fam.classes, "prior": fam.prior, "fitted": fam.estimator is not None}
    if fam.estimator is None:
        return entry
    if name == "lightgbm":
        path = directory / f"lightgbm_{fam.k}.txt"
        text = fam.estimator.model_to_string()
        path.write_text(text, encoding="utf-8")
        entry.update(file=path.name, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())
        written.append(path)
    else:
        entry["model"] = fam.estimator.to_dict()
    return entry


def _linear_from_dict(d: dict, where: str, n_features: int, n_classes: int) -> LinearProba:
    scale = _array(d.get("scale"), f"{where}: scale", 1)
    coef = _array(d.get("coef"), f"{where}: coef", 2)
    intercept = _array(d.get("intercept"), f"{where}: intercept", 1)
    rows = 1 if n_classes == 2 else n_classes
    _need(scale.shape == (n_features,) and bool(np.all(scale > 0)), where, f"scale must be {n_features} positive numbers")
    _need(coef.shape == (rows, n_features) and intercept.shape == (rows,), where,
          f"coef/intercept shapes {coef.shape}/{intercept.shape} do not fit {n_classes} classes x {n_features} features")
    return LinearProba(scale, coef, intercept)


def _forest_from_dict(d: dict, where: str, n_features: int, n_classes: int) -> ForestProba:
    trees = d.get("trees")
    _need(isinstance(trees, list) and len(trees) > 0, where, "no trees")
    out = []
    for i, t in enumerate(trees):
        w = f"{where}: tree {i}"
        _need(isinstance(t, dict), w, "not an object")
        left, right = _array(t.get("left"), w, 1, np.int64), _array(t.get("right"), w, 1, np.int64)
        feature, threshold = _array(t.get("feature"), w, 1, np.int64), _array(t.get("threshold"), w, 1)
        value = _array(t.get("value"), w, 2)
        n = len(left)
        _need(n > 0 and all(len(a) == n for a in (right, feature, threshold, value)) and value.shape[1] == n_classes,
              w, "node arrays of different lengths or a wrong class count")
        inner = left >= 0
        idx = np.arange(n)
        # children come after their parent (as scikit-learn builds trees): traversal always ends
        _need(bool(np.all((right >= 0) == inner)) and bool(np.all(left[inner] > idx[inner]))
              and bool(np.all(right[inner] > idx[inner])) and bool(np.all(left < n)) and bool(np.all(right < n))
              and bool(np.all((feature[inner] >= 0) & (feature[inner] < n_features))) and bool(np.all(value >= 0)),
              w, "not a valid tree (child or feature index out of range)")
        out.append({"left": left, "right": right, "feature": feature, "threshold": threshold, "value": value})
    return ForestProba(out)


def save_baseline(model: BaselineModel, directory: str | Path) -> list[Path]:
    """Write a fitted baseline and the shared encoder as JSON (+ LightGBM text models). Returns the files written."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    enc = d / ENCODER_FILE
    enc.write_text(json.dumps(encoder_to_dict(model.encoder), sort_keys=True) + "\n", encoding="utf-8")
    written.append(enc)
    meta = {"format": BASELINE_FORMAT, "name": model.name, "n_features": len(model.encoder.feature_names),
            "families": {str(k): _family_to_dict(model.name, fam, d, written) for k, fam in model.families.items()}}
    mpath = d / f"{model.name}.json"
    mpath.write_text(json.dumps(meta, sort_keys=True) + "\n", encoding="utf-8")
    written.append(mpath)
    return written


def _read_json_artifact(path: Path) -> Any:
    """A JSON file, refusing anything else (a pickle is refused by its bytes, never unpickled)."""
    if not path.exists():
        raise BaselineLoadError(f"{path} is missing (rerun `deepimagine baselines`)")
    raw = path.read_bytes()
    if raw[:1] == b"\x80" or path.suffix in _PICKLE_SUFFIXES:
        raise BaselineLoadError(f"{path} looks like a pickle/joblib file; refused (loading it could run code)")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BaselineLoadError(f"{path} is not valid JSON ({type(e).__name__}); refused") from None


def _load_family(name: str, key: str, entry: Any, d: Path, where: str, n_features: int) -> FamilyModel:
    import hashlib

    w = f"{where}: family {key}"
    _need(isinstance(entry, dict) and str(key).isdigit(), w, "not a family object")
    k = int(key)
    _need(k in FAMILIES and entry.get("k") == k, w, f"family must be one of {FAMILIES}")
    classes = entry.get("classes")
    _need(isinstance(classes, list) and all(isinstance(c, int) and 0 <= c < k for c in classes)
          and len(set(classes)) == len(classes), w, "classes must be distinct answer indices")
    prior = entry.get("prior")
    if prior is not None:
        prior = _array(prior, f"{w}: prior", 1).tolist()
        _need(len(prior) == k, w, "prior length differs from the option count")
    if not entry.get("fitted"):
        return FamilyModel(k=k, classes=classes, estimator=None, prior=prior)
    _need(len(classes) >= 2, w, "a fitted family needs two or more classes")
    if name == "lightgbm":
        import lightgbm as lgb

        fname = entry.get("file")
        _need(fname == f"lightgbm_{k}.txt", w, "bad LightGBM model file name")
        path = d / fname
        _need(path.is_file() and not path.is_symlink(), w, f"{path} is missing or a symlink")
        text = path.read_text(encoding="utf-8", errors="strict")
        _need(hashlib.sha256(text.encode("utf-8")).hexdigest() == entry.get("sha256"), w,
              f"{path} does not match the checksum recorded in the baseline file (tampered or stale)")
        try:
            booster = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as e:
            raise BaselineLoadError(f"{path}: not a LightGBM text model ({e})") from None
        _need(booster.num_feature() == n_features, w, "LightGBM model feature count differs from the encoder's")
        return FamilyModel(k=k, classes=classes, estimator=booster, prior=prior)
    model = entry.get("model")
    _need(isinstance(model, dict), w, "no model parameters")
    build = {"logistic": ("linear", _linear_from_dict), "random_forest": ("forest", _forest_from_dict)}[name]
    _need(model.get("type") == build[0], w, f"expected model type {build[0]!r}")
    return FamilyModel(k=k, classes=classes, estimator=build[1](model, w, n_features, len(classes)), prior=prior)


def load_baseline(name: str, directory: str | Path = "models/baselines") -> BaselineModel:
    """Reload a baseline written by ``save_baseline``: JSON and LightGBM text only, every field checked."""
    d = Path(directory)
    if name not in BASELINES:
        raise BaselineLoadError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")
    meta_path = d / f"{name}.json"
    if not meta_path.exists():
        legacy = [p.name for p in (d / f"{name}.joblib", d / "encoder.joblib") if p.exists()]
        if legacy:
            raise BaselineLoadError(f"{d} holds only pickle-based baseline files {legacy}: refused (loading them "
                                    "could run code); rerun `deepimagine baselines` to write the JSON format")
        raise FileNotFoundError(f"no baseline {name!r} in {d} (run `deepimagine baselines`)")
    meta = _read_json_artifact(meta_path)
    _need(isinstance(meta, dict) and meta.get("format") == BASELINE_FORMAT and meta.get("name") == name,
          str(meta_path), f"not a {BASELINE_FORMAT} file for {name!r}")
    enc_path = d / ENCODER_FILE
    encoder = encoder_from_dict(_read_json_artifact(enc_path), str(enc_path))
    n_features = len(encoder.feature_names)
    _need(meta.get("n_features") == n_features, str(meta_path), "feature count differs from the encoder's")
    fams = meta.get("families")
    _need(isinstance(fams, dict), str(meta_path), "families is not an object")
    families = {int(key): _load_family(name, key, entry, d, str(meta_path), n_features) for key, entry in fams.items()}
    return BaselineModel(name=name, encoder=encoder, families=families)
