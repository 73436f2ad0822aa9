"""Load and validate params.yaml once, into typed dataclasses.

Over 500 lines: the schema is one table, every key's type next to its checks, and tests/test_dvc_deps.py
reads this one file as the schema.

``params.yaml`` is the one home of every value: the dataclasses below hold only types and checks (no
defaults). A misspelled, missing or mistyped key, or a value a stage would reject (a bad date, a reward
weight per reward, an unknown predictor ...), fails fast with a message naming it, before any stage does
work (``deepimagine check-params`` runs exactly these checks). Overrides use DVC's dotted syntax
(``pairs.alpha=0.01``).

Code and tests that want the pipeline's configuration with a few changes use ``default_params()`` (the
repository's params.yaml) or ``from_dict(partial)`` (a partial mapping overlaid on it).
"""
from __future__ import annotations

import dataclasses
import datetime
import difflib
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml

# The repository's params.yaml: the defaults (``default_params``, ``from_dict`` of a partial mapping).
DEFAULTS_FILE = Path(__file__).resolve().parents[3] / "params.yaml"

# Names the checks accept. Each mirrors the registry that implements it (tests/test_params.py checks they agree).
PREDICTORS = ("majority", "logistic", "random_forest", "lightgbm", "retrieval", "prior", "oracle", "base", "sft", "rl")
LLM_PREDICTORS = ("base", "sft", "rl")                                  # evaluate.predictors.LLM_MODELS
MODES = ("direct", "rag", "imagine")                                    # evaluate/llm.py
FACTORS = ("intervention", "dose", "region", "population", "phase", "time_frame")   # states.py
REWARDS = ("correctness", "log_score", "format")                        # train.rewards.REWARDS
CT_OPEN_SUFFIXES = (".pickle", ".pkl", ".jsonl")                        # pairs.ct_open
CTGOV_PHASES = ("EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA")   # the API's phase values
CTGOV_MAX_PAGE_SIZE = 1000                                              # the API's limit
CTGOV_SHORTFALL_MODES = ("error", "warn")


class ParamsError(ValueError):
    """A bad key or value in params.yaml (or an override)."""


class _Loader(yaml.SafeLoader):
    """YAML with dates kept as the text they are written as (``2024-13-01`` then fails the schema's date
    check, naming its key, instead of the YAML parser's 'month must be in 1..12')."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _yaml(text: str, where: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        raise ParamsError(f"{where}: not valid YAML ({e})") from None


# ---------------------------------------------------------------- checks


def _positive(section: str, **values: float) -> None:
    for key, value in values.items():
        if value <= 0:
            raise ParamsError(f"{section}.{key}: must be > 0, got {value}")


def _at_least(section: str, low: float, **values: Optional[float]) -> None:
    """Each value >= ``low`` (None passes: the keys checked this way are nullable where they are Optional)."""
    for key, value in values.items():
        if value is not None and value < low:
            raise ParamsError(f"{section}.{key}: must be >= {low}, got {value}")


def _within(section: str, key: str, value: float, low: float, high: float, *, low_open: bool = False,
            high_open: bool = False) -> None:
    ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ParamsError(f"{section}.{key}: must be in {interval}, got {value}")


def _iso_date(key: str, value: Optional[str]) -> None:
    if value is None:
        return
    try:
        datetime.date.fromisoformat(str(value))
    except ValueError:
        raise ParamsError(f"{key}: {value!r} is not an ISO date (YYYY-MM-DD)") from None


def _unique(key: str, values: list) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ParamsError(f"{key}: {repeated} listed more than once")


def check_ctgov(cfg: "CtgovParams") -> None:
    """Raise ParamsError naming the bad ``data.ctgov`` key (also run by ``registry.ctgov`` before it queries)."""
    if cfg.max_studies is not None and cfg.max_studies < 1:
        raise ParamsError(f"data.ctgov.max_studies must be >= 1 or null (no cap), got {cfg.max_studies}")
    if not 1 <= cfg.page_size <= CTGOV_MAX_PAGE_SIZE:
        raise ParamsError(f"data.ctgov.page_size must be in 1..{CTGOV_MAX_PAGE_SIZE} (the API's limit), "
                          f"got {cfg.page_size}")
    if cfg.requests_per_second <= 0:
        raise ParamsError(f"data.ctgov.requests_per_second must be > 0, got {cfg.requests_per_second}")
    if cfg.max_retries < 0:
        raise ParamsError(f"data.ctgov.max_retries must be >= 0, got {cfg.max_retries}")
    if cfg.timeout_s <= 0:
        raise ParamsError(f"data.ctgov.timeout_s must be > 0, got {cfg.timeout_s}")
    bad = [p for p in cfg.phases if p not in CTGOV_PHASES]
    if bad:
        raise ParamsError(f"data.ctgov.phases: unknown phase(s) {bad}; the API's values are {list(CTGOV_PHASES)}")
    if not re.match(r"^https?://", cfg.base_url or ""):
        scheme = (cfg.base_url or "").split("://", 1)[0] if "://" in (cfg.base_url or "") else "no scheme"
        raise ParamsError(f"data.ctgov.base_url must be an http(s) URL, got one with {scheme!r}")
    if cfg.on_shortfall not in CTGOV_SHORTFALL_MODES:
        raise ParamsError(f"data.ctgov.on_shortfall must be one of {list(CTGOV_SHORTFALL_MODES)}, "
                          f"got {cfg.on_shortfall!r}")
    if cfg.max_pages is not None and cfg.max_pages < 1:
        raise ParamsError(f"data.ctgov.max_pages must be >= 1 or null (derived from totalCount), got {cfg.max_pages}")
    if cfg.max_empty_pages < 1:
        raise ParamsError(f"data.ctgov.max_empty_pages must be >= 1, got {cfg.max_empty_pages}")
    if cfg.request_deadline_s <= 0:
        raise ParamsError(f"data.ctgov.request_deadline_s must be > 0, got {cfg.request_deadline_s}")
    for key in ("start_date_from", "start_date_to"):
        value = getattr(cfg, key)
        if value is not None and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", str(value)):
            raise ParamsError(f"data.ctgov.{key}: {value!r} is not a date like 2008-01-01 (or 2008-01, 2008)")


# ---------------------------------------------------------------- the schema (types and checks; values: params.yaml)


@dataclass
class CtgovParams:
    base_url: str
    condition: Optional[str]
    term: Optional[str]
    phases: list[str]
    results_only: bool
    interventional_only: bool
    start_date_from: Optional[str]
    start_date_to: Optional[str]
    max_studies: Optional[int]
    page_size: int
    requests_per_second: float
    max_retries: int
    timeout_s: float
    request_deadline_s: float
    on_shortfall: Literal["error", "warn"]
    max_pages: Optional[int]
    max_empty_pages: int

    def __post_init__(self) -> None:
        check_ctgov(self)


@dataclass
class DataParams:
    source: Literal["simulated", "ctgov", "dump"]
    n_studies: int
    dump_path: Optional[str]
    ctgov: CtgovParams

    def __post_init__(self) -> None:
        _at_least("data", 0, n_studies=self.n_studies)
        if self.source == "dump" and not self.dump_path:
            raise ParamsError("data.source is 'dump' but data.dump_path is not set (a directory or .zip of API v2 JSON)")


@dataclass
class TablesParams:
    threads: int
    memory_limit: str

    def __post_init__(self) -> None:
        _at_least("tables", 1, threads=self.threads)
        if not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", self.memory_limit.strip(), flags=re.IGNORECASE):
            raise ParamsError(f"tables.memory_limit: {self.memory_limit!r} is not a size like 4GB or 512MiB")


REVERSIBLE_KINDS = ("dose_successive", "dose", "arm", "time_point", "outcome_measure")   # pairs.natural.KIND_ORDER


@dataclass
class PairsParams:
    test_cutoff: str
    alpha: float
    direction_margin_sd: float
    direction_margin_rel: float
    max_natural_per_study: int
    approx_embedding_model: str
    approx_top_k: int
    approx_min_similarity: float
    approx_block_size: int
    ct_open_path: Optional[str]
    approx_max_per_trial_pair: int
    comparative_wording: Literal["polarity_free", "improvement"]
    change_edges_sd: list[float]
    change_edges_rel: list[float]
    prospective: bool
    anchor_k: int
    anchor_min_similarity: float
    anchor_pool: Literal["endpoint", "block"]
    anchor_outcome_weight: float
    ct_open_cutoff: str
    reverse_natural: list[str]

    def __post_init__(self) -> None:
        unknown = sorted(set(self.reverse_natural) - set(REVERSIBLE_KINDS))
        if unknown:
            raise ParamsError(f"pairs.reverse_natural: {unknown} are not natural pair kinds ({', '.join(REVERSIBLE_KINDS)})")
        for key in ("change_edges_sd", "change_edges_rel"):
            edges = getattr(self, key)
            if len(edges) != 4 or any(b <= a for a, b in zip(edges, edges[1:])):
                raise ParamsError(f"pairs.{key}: four strictly ascending edges (five bins), got {edges}")
        _iso_date("pairs.test_cutoff", self.test_cutoff)
        _iso_date("pairs.ct_open_cutoff", self.ct_open_cutoff)
        _within("pairs", "alpha", self.alpha, 0, 1, low_open=True, high_open=True)
        _at_least("pairs", 0, direction_margin_sd=self.direction_margin_sd, direction_margin_rel=self.direction_margin_rel,
                  anchor_outcome_weight=self.anchor_outcome_weight)
        _positive("pairs", anchor_k=self.anchor_k, max_natural_per_study=self.max_natural_per_study,
                  approx_top_k=self.approx_top_k, approx_block_size=self.approx_block_size,
                  approx_max_per_trial_pair=self.approx_max_per_trial_pair)
        for key in ("approx_min_similarity", "anchor_min_similarity"):
            _within("pairs", key, getattr(self, key), -1, 1)
        if self.ct_open_path and Path(self.ct_open_path).suffix.lower() not in CT_OPEN_SUFFIXES:
            raise ParamsError(f"pairs.ct_open_path: {self.ct_open_path!r} is not a CT Open file "
                              f"(expected one of {list(CT_OPEN_SUFFIXES)})")


@dataclass
class TracesParams:
    teacher: Literal["template", "openai", "vllm"]
    openai_base_url: str
    openai_model: str
    vllm_model: Optional[str]
    max_traces: int
    template_margin_direction: float
    template_margin_significance: float
    imagined_paths: int                   # train paths whose steps the teacher imagines (synthetic operator data)
    calibration_paths: int                # more train paths, never trained on: the operator's calibration steps
    max_tokens: int                       # openai / vllm teachers: completion budget (thinking included)
    concurrency: int                      # openai teacher: requests in flight
    max_retries: int                      # openai teacher: retries on 429 / 5xx / timeouts (backoff + jitter)
    timeout_s: float                      # openai teacher: per request
    openai_chat_template_kwargs: bool     # send chat_template_kwargs (vLLM/SGLang servers)

    def __post_init__(self) -> None:
        _positive("traces", max_tokens=self.max_tokens, concurrency=self.concurrency, timeout_s=self.timeout_s)
        if self.max_retries < 0:
            raise ParamsError(f"traces.max_retries: must be >= 0, got {self.max_retries}")
        _at_least("traces", 0, max_traces=self.max_traces, imagined_paths=self.imagined_paths,
                  calibration_paths=self.calibration_paths,
                  template_margin_direction=self.template_margin_direction,
                  template_margin_significance=self.template_margin_significance)
        if self.teacher == "vllm" and not self.vllm_model:
            raise ParamsError("traces.teacher 'vllm' needs traces.vllm_model (a Hub id or local path)")


@dataclass
class ModelParams:
    base: str
    backend: Literal["auto", "vllm", "transformers", "openai"]
    dtype: str
    tiny_hidden_size: int
    tiny_layers: int
    tiny_heads: int
    tiny_vocab_size: int
    tiny_pretrain_steps: int
    tiny_pretrain_lr: float
    tiny_pretrain_batch_size: int
    tiny_max_length: int
    tiny_layer_types: Literal["full", "hybrid"]
    generate_batch_size: int
    decision: Literal["generate", "likelihood"]
    max_new_tokens: int
    temperature: float
    enable_thinking: bool                 # chat templates' enable_thinking (Qwen3/3.5): evaluation, teachers, GRPO
    system_prompt: bool                   # the trained / evaluated model's prompts open with questions.SYSTEM_PROMPT (teachers always)
    openai_base_url: str                  # backend openai: any OpenAI-compatible server (key: $OPENAI_API_KEY)
    openai_model: Optional[str]           # backend openai: the served model name
    openai_concurrency: int               # backend openai: requests in flight
    openai_chat_template_kwargs: bool     # backend openai: send chat_template_kwargs

    def __post_init__(self) -> None:
        _positive("model", max_new_tokens=self.max_new_tokens, openai_concurrency=self.openai_concurrency,
                  tiny_hidden_size=self.tiny_hidden_size, tiny_layers=self.tiny_layers, tiny_heads=self.tiny_heads,
                  tiny_vocab_size=self.tiny_vocab_size, tiny_pretrain_lr=self.tiny_pretrain_lr,
                  tiny_pretrain_batch_size=self.tiny_pretrain_batch_size, tiny_max_length=self.tiny_max_length,
                  generate_batch_size=self.generate_batch_size)
        _at_least("model", 0, tiny_pretrain_steps=self.tiny_pretrain_steps, temperature=self.temperature)
        if self.tiny_hidden_size % self.tiny_heads:
            raise ParamsError(f"model.tiny_hidden_size ({self.tiny_hidden_size}) must be a multiple of "
                              f"model.tiny_heads ({self.tiny_heads})")


# the factors of operator ('change') training questions (core.states.FACTOR_GROUP's keys)
OPERATOR_FACTORS = ("arm", "comparator", "intervention", "dose", "outcome_measure", "time_point", "time_frame",
                    "region", "population", "phase")


@dataclass
class SftParams:
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    target_modules: Union[str, list[str]]   # "all-linear" or module names
    learning_rate: float
    epochs: float
    max_length: int
    batch_size: int
    grad_accum: int
    max_examples: Optional[int]
    save_steps: int
    max_steps: Optional[int]
    warmup_ratio: float
    max_reason_chars: int
    gradient_checkpointing: bool
    logging_steps: int
    accelerate_config: str
    imagined_steps: bool                  # train on the teacher-imagined steps (data/traces/imagined.jsonl)
    balance_bins: bool                    # sample operator questions inversely to their answer bin's frequency
    group_by_length: bool                 # batches of similar-length examples (less padding)
    operators: Literal["shared", "per_factor"]   # per_factor: + one LoRA operator per factor group
    operator_steps: int                   # per_factor: steps that specialise the shared adapter on each group
    canonical_changes: bool               # operator questions down a dose trained as their climb (bins mirrored); SFT and GRPO
    factor_weights: dict[str, float]      # operator questions' sampling weight per factor under max_examples (absent: 1)
    train_embeddings: bool                # the input embeddings trained in full beside the LoRA (PEFT modules_to_save): the tiny model's drug names

    def __post_init__(self) -> None:
        _positive("sft", lora_r=self.lora_r, lora_alpha=self.lora_alpha, learning_rate=self.learning_rate,
                  epochs=self.epochs, max_length=self.max_length, batch_size=self.batch_size,
                  grad_accum=self.grad_accum, save_steps=self.save_steps, logging_steps=self.logging_steps)
        _at_least("sft", 1, max_examples=self.max_examples, max_steps=self.max_steps)
        _at_least("sft", 0, max_reason_chars=self.max_reason_chars, operator_steps=self.operator_steps)
        unknown = sorted(set(self.factor_weights) - set(OPERATOR_FACTORS))
        if unknown:
            raise ParamsError(f"sft.factor_weights: unknown factor {unknown[0]!r} (operator question factors: "
                              f"{', '.join(OPERATOR_FACTORS)})")
        bad = sorted(k for k, w in self.factor_weights.items() if not w > 0)
        if bad:
            raise ParamsError(f"sft.factor_weights.{bad[0]} must be > 0 (leave a factor out for weight 1)")
        _within("sft", "lora_dropout", self.lora_dropout, 0, 1, high_open=True)
        _within("sft", "warmup_ratio", self.warmup_ratio, 0, 1, high_open=True)


@dataclass
class RlParams:
    learning_rate: float
    max_steps: int
    batch_size: int
    num_generations: int
    beta: float
    temperature: float
    max_completion_length: int
    max_prompts: Optional[int]
    rewards: list[Literal[REWARDS]]
    reward_weights: list[float]
    use_vllm: Union[bool, Literal["auto"]]   # auto: colocated vLLM when CUDA and vLLM are present
    vllm_gpu_memory_utilization: float
    grad_accum: int
    gradient_checkpointing: bool
    logging_steps: int
    save_steps: int
    accelerate_config: str

    def __post_init__(self) -> None:
        _positive("rl", learning_rate=self.learning_rate, max_steps=self.max_steps, batch_size=self.batch_size,
                  temperature=self.temperature, max_completion_length=self.max_completion_length,
                  grad_accum=self.grad_accum, logging_steps=self.logging_steps, save_steps=self.save_steps)
        _at_least("rl", 0, beta=self.beta)
        _at_least("rl", 1, max_prompts=self.max_prompts)
        if self.num_generations < 2:
            raise ParamsError(f"rl.num_generations: GRPO needs >= 2 completions per prompt, got {self.num_generations}")
        if not self.rewards:
            raise ParamsError(f"rl.rewards: at least one reward (known: {list(REWARDS)})")
        _unique("rl.rewards", self.rewards)
        if len(self.reward_weights) != len(self.rewards):
            raise ParamsError(f"rl.reward_weights has {len(self.reward_weights)} values for {len(self.rewards)} "
                              f"rewards {self.rewards}: one weight per reward")
        _within("rl", "vllm_gpu_memory_utilization", self.vllm_gpu_memory_utilization, 0, 1, low_open=True)


@dataclass
class BaselinesParams:
    text_features: Literal["tfidf", "embedding", "none"]
    logistic_C: float
    logistic_max_iter: int
    rf_n_estimators: int
    rf_max_depth: Optional[int]
    rf_min_samples_leaf: int
    lgbm_n_estimators: int
    lgbm_learning_rate: float
    lgbm_num_leaves: int
    lgbm_min_child_samples: int
    top_n_categories: int
    top_conditions: int
    tfidf_max_features: int
    embedding_model: str
    n_jobs: int

    def __post_init__(self) -> None:
        _positive("baselines", logistic_C=self.logistic_C, logistic_max_iter=self.logistic_max_iter,
                  rf_n_estimators=self.rf_n_estimators, rf_min_samples_leaf=self.rf_min_samples_leaf,
                  lgbm_n_estimators=self.lgbm_n_estimators, lgbm_learning_rate=self.lgbm_learning_rate,
                  top_n_categories=self.top_n_categories, tfidf_max_features=self.tfidf_max_features)
        _at_least("baselines", 1, rf_max_depth=self.rf_max_depth)
        _at_least("baselines", 2, lgbm_num_leaves=self.lgbm_num_leaves)
        _at_least("baselines", 0, lgbm_min_child_samples=self.lgbm_min_child_samples, top_conditions=self.top_conditions)
        if self.n_jobs == 0 or self.n_jobs < -1:
            raise ParamsError(f"baselines.n_jobs: must be >= 1 (or -1: every core), got {self.n_jobs}")


def _predictor_name(name: str) -> bool:
    """A name as metrics and comparisons spell it: a predictor other than an LLM, or an LLM with its mode
    ('sft/imagine')."""
    llm, _, mode = name.partition("/")
    return (name in PREDICTORS and name not in LLM_PREDICTORS) or (llm in LLM_PREDICTORS and mode in MODES)


@dataclass
class EvaluateParams:
    predictors: list[str]                  # PREDICTORS; an LLM alone runs every mode, 'sft/imagine' one
    modes: list[Literal[MODES]]
    imagine_k: int
    imagine_weights: Literal["uniform", "similarity", "precision"]   # weights of the k paths (precision: 1 / their variance)
    imagine_order: list[Literal[FACTORS]]
    imagine_pairing: Literal["trial", "none"]   # trial: two compared arms start from one anchor trial's two arms
    imagine_aggregate: Literal["pooled", "mixture"]   # the k paths: k estimates of one target | a mixture
    imagine_shared_steps: Literal["skip", "ask"]   # trial-paired chains: a change both arms make is not asked (it cancels)
    imagine_variance_scale: float          # each imagined step's variance times this (1: as the operator's bins say; 0: point estimates)
    imagine_placebo_paths: bool            # trial-paired drug-vs-placebo pairs: + a path per anchor trial from its placebo arm (placebo -> drug)
    step_centres: Literal["midpoint", "calibration"]   # the bins' values a step is read with: the edges' midpoints | each bin's mean change over the calibration steps, per operator group
    max_llm_questions: Optional[int]
    max_llm_questions_local: Optional[int]   # the local (test) benchmark's sample; null: max_llm_questions
    dose_chains: bool                      # also imagine EVERY successive dose step of the local benchmark (mechanism.json)
    bootstrap: int
    bootstrap_unit: Literal["trial", "question"]   # what the CIs resample: whole trials (a trial's questions share its anchors and chains) | questions within category
    ece_bins: int
    calibration_questions: Optional[int]   # likelihood decisions: temperature fitted on this many train questions (0/null: off)
    comparisons: list[str]                 # paired bootstrap differences "A vs B"; absent predictors are skipped
    operator_readout: Literal["forward", "antisymmetric", "canonical"]   # antisymmetric: each operator question also asked backwards, bins mirrored and averaged; canonical: a dose descent asked as its climb

    def sample_size(self, benchmark: str) -> Optional[int]:
        """LLM-scored questions of ``benchmark`` (the local benchmark is 'test')."""
        if benchmark == "test" and self.max_llm_questions_local is not None:
            return self.max_llm_questions_local
        return self.max_llm_questions

    def __post_init__(self) -> None:
        if len(set(self.imagine_order)) != len(self.imagine_order):
            raise ParamsError(f"evaluate.imagine_order: a permutation of a subset of {sorted(FACTORS)}, "
                              f"got {self.imagine_order}")
        _unique("evaluate.predictors", self.predictors)
        for name in self.predictors:
            if name not in LLM_PREDICTORS and not _predictor_name(name):
                raise ParamsError(f"evaluate.predictors: {name!r} is no predictor (known: {list(PREDICTORS)}, "
                                  f"or <llm>/<mode> with mode in {list(MODES)})")
        _unique("evaluate.modes", self.modes)
        _positive("evaluate", imagine_k=self.imagine_k, ece_bins=self.ece_bins)
        _at_least("evaluate", 1, max_llm_questions=self.max_llm_questions,
                  max_llm_questions_local=self.max_llm_questions_local)
        _at_least("evaluate", 0, bootstrap=self.bootstrap, calibration_questions=self.calibration_questions,
                  imagine_variance_scale=self.imagine_variance_scale)
        for c in self.comparisons:
            sides = [s.strip() for s in c.split(" vs ")]
            if len(sides) != 2 or not all(sides):
                raise ParamsError(f"evaluate.comparisons: {c!r} must look like 'sft/direct vs base/direct'")
            bad = [s for s in sides if not _predictor_name(s)]
            if bad:
                raise ParamsError(f"evaluate.comparisons: {c!r} names {bad[0]!r}, which is no predictor (one of "
                                  f"{[p for p in PREDICTORS if p not in LLM_PREDICTORS]}, or <llm>/<mode> with llm in "
                                  f"{list(LLM_PREDICTORS)} and mode in {list(MODES)})")
            if sides[0] == sides[1]:
                raise ParamsError(f"evaluate.comparisons: {c!r} compares a predictor with itself")


@dataclass
class Params:
    seed: int
    data: DataParams
    tables: TablesParams
    pairs: PairsParams
    traces: TracesParams
    model: ModelParams
    sft: SftParams
    rl: RlParams
    baselines: BaselinesParams
    evaluate: EvaluateParams

    def __post_init__(self) -> None:
        if self.evaluate.imagine_k > self.pairs.anchor_k:
            raise ParamsError(f"evaluate.imagine_k ({self.evaluate.imagine_k}) cannot exceed pairs.anchor_k "
                              f"({self.pairs.anchor_k}), the anchors retrieved per arm")
        doubled = sorted(set(self.pairs.reverse_natural) & {"dose", "dose_successive"})
        if self.sft.canonical_changes and doubled:
            raise ParamsError(f"pairs.reverse_natural {doubled} asks dose pairs down the dose, and sft.canonical_changes "
                              "turns every descent back into its climb: each pair would be trained twice. Set "
                              "pairs.reverse_natural to [] or sft.canonical_changes to false")


# ---------------------------------------------------------------- validation


def _check(value: Any, tp: Any, key: str) -> Any:
    """Return ``value`` converted to ``tp`` or raise ParamsError naming ``key``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        arms = [a for a in args if a is not type(None)]
        for arg in arms:
            try:
                return _check(value, arg, key)
            except ParamsError as e:
                errors.append(str(e))
        if len(arms) > 1:   # e.g. rl.use_vllm: true | false | auto
            raise ParamsError(f"{key}: {value!r} is none of: {' | '.join(_describe(a) for a in arms)}")
        raise ParamsError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin is Literal:
        if value not in args:
            raise ParamsError(f"{key}: {value!r} is not one of {list(args)}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{key}: expected a mapping, got {type(value).__name__} {value!r}")
        return {_check(k, args[0], f"{key} key"): _check(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        return [_check(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ParamsError(f"{key}: expected a mapping, got {type(value).__name__}")
        return _build(tp, value, key)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if isinstance(value, (datetime.date, datetime.datetime)):  # unquoted YAML dates (e.g. from dvc -S)
            return value.isoformat()
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ParamsError(f"{key}: expected a string, got {value!r}")
        return str(value)
    raise ParamsError(f"{key}: unsupported type {tp}")


def _describe(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return " | ".join(str(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is list:
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    return {bool: "true | false", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def _build(cls: type, raw: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        close = difflib.get_close_matches(unknown[0], sorted(names), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(sorted(names))})"
        raise ParamsError(f"unknown parameter {key!r}{hint}")
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in raw]
    if missing:
        key = f"{prefix}.{missing[0]}" if prefix else missing[0]
        raise ParamsError(f"missing parameter {key!r}: params.yaml sets every key (it is the only home of defaults)")
    kwargs = {name: _check(raw[name], hints[name], f"{prefix}.{name}" if prefix else name) for name in names}
    return cls(**kwargs)


def _apply_override(raw: dict, override: str) -> None:
    if "=" not in override:
        raise ParamsError(f"override {override!r} must look like key.sub=value")
    key, value = override.split("=", 1)
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ParamsError(f"override {key!r}: {part!r} is not a section")
    node[parts[-1]] = _yaml(value, f"override {override!r}")


def merge(base: dict, extra: dict) -> dict:
    """Recursively merge ``extra`` into a copy of ``base``."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _complete(cls: type, raw: Any) -> bool:
    """Does ``raw`` set every field of ``cls`` (recursively)?"""
    if not isinstance(raw, dict):
        return True   # a wrong type: validation names it
    hints = typing.get_type_hints(cls)
    return all(f.name in raw and (not dataclasses.is_dataclass(hints[f.name]) or _complete(hints[f.name], raw[f.name]))
               for f in dataclasses.fields(cls))


def validate(raw: dict) -> Params:
    """Validate a complete mapping (every key of params.yaml) into ``Params``."""
    if not isinstance(raw, dict):
        raise ParamsError("params must be a mapping at the top level")
    return _build(Params, raw)


def default_raw() -> dict:
    """The repository's params.yaml as a mapping (the defaults)."""
    if not DEFAULTS_FILE.exists():
        raise ParamsError(f"{DEFAULTS_FILE} not found: the defaults are the repository's params.yaml "
                          "(use a checkout, e.g. pip install -e .)")
    return _yaml(DEFAULTS_FILE.read_text(), str(DEFAULTS_FILE)) or {}


def default_params(overrides: list[str] | None = None) -> Params:
    """The pipeline's configuration: the repository's params.yaml (+ dotted overrides), validated."""
    return load(DEFAULTS_FILE, overrides)


def from_dict(raw: dict) -> Params:
    """Validate a mapping. A partial one (tests, tools) is overlaid on the repository's params.yaml, so
    what it leaves out is the pipeline's own value; a complete one is taken as it is."""
    if not isinstance(raw, dict):
        raise ParamsError("params must be a mapping at the top level")
    return validate(raw if _complete(Params, raw) else merge(default_raw(), raw))


def load(path: str | Path = "params.yaml", overrides: list[str] | None = None,
         profile: str | Path | None = None) -> Params:
    """Load params.yaml (+ an optional profile file, + dotted overrides) and validate; the file must set
    every key (nothing falls back to another file)."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path} not found: run stages from the repository root")
    raw = _yaml(path.read_text(), str(path)) or {}
    if profile:
        raw = merge(raw, _yaml(Path(profile).read_text(), str(profile)) or {})
    for o in overrides or []:
        _apply_override(raw, o)
    return validate(raw)


def profile_overrides(profile: str | Path) -> list[str]:
    """Flatten a profile file into DVC ``-S key=value`` overrides (validated first)."""
    raw = _yaml(Path(profile).read_text(), str(profile)) or {}
    here = Path("params.yaml")
    validate(merge((_yaml(here.read_text(), str(here)) or {}) if here.exists() else default_raw(), raw))

    def flat(node: dict, prefix: str = "") -> list[str]:
        out = []
        for k, v in node.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                out += flat(v, key + ".")
            else:
                value = yaml.safe_dump(v, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()
                out.append(f"{key}={value}")
        return out

    return flat(raw)


def to_dict(params: Any) -> dict:
    return dataclasses.asdict(params)
