"""One generation interface over three backends, one engine per base model.

Over 500 lines: the three backends and the ``Generator`` that picks one implement one interface, kept in
one file so an interface change is made to all three at once.

``Generator(model_path, adapters={name: path, ...}, backend='auto')`` loads the base model once and
every LoRA adapter beside it; ``generate(..., adapter=name)`` and ``score_options(..., adapter=name)``
choose the adapter per call (``adapter=None``: the ``default`` adapter when there is one, else the
base; ``adapter='base'``: always the base). A single path (``Generator(path, adapter_path)``, the old
form) becomes ``adapters={'default': path}``.

* ``vllm`` (CUDA; chosen by ``auto`` when vLLM is installed): one ``LLM(enable_lora=True,
  max_loras=..., max_lora_rank=...)`` and a ``LoRARequest`` per adapter name;
* ``transformers``: batched, left padding, greedy or seeded sampling. A base under
  ``MERGE_ADAPTERS_BELOW_PARAMS`` (the tiny model) holds one merged copy per adapter; a larger one
  holds one PEFT model with every adapter by name (``set_adapter``; the base through
  ``disable_adapter()``), never merged;
* ``openai``: any OpenAI-compatible server (``openai_client.py``: concurrent requests, retries);
  the model is the served model name, and an adapter is the served name of a LoRA module
  (``vllm serve BASE --enable-lora --lora-modules sft=models/sft``). Generation only.

``enable_thinking`` reaches the chat template of every generation prompt (Qwen3/3.5 reasoning).
Likelihood scoring has no thinking phase: its prompts are rendered with ``enable_thinking=False``,
so each candidate sits where a non-thinking answer starts. Token budgets include the thinking: a
completion that hits ``max_new_tokens`` without a DECISION is counted in ``Generator.counts``
(``truncated``) and logged.

``decision_only=True`` stops each sequence as soon as its ``DECISION: (...)`` tuple is closed
(outside any ``<think>`` block): scoring needs only that line. Keep it off to record the reasoning.
vLLM is imported lazily, only when that backend is built.
"""
from __future__ import annotations

import json
import logging
import re
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Optional, Sequence

log = logging.getLogger(__name__)

DECISION_DONE_RE = re.compile(r"DECISION\s*[:=]\s*[\(\[][^\)\]\n]*[\)\]]", re.IGNORECASE)
BACKENDS = ("auto", "vllm", "transformers", "openai")
BASE = "base"          # adapter="base": the base model, even when a default adapter is loaded
DEFAULT = "default"    # the adapter used when a call names none (the old single adapter_path)
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)   # vLLM's allowed max_lora_rank values


def cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # pragma: no cover
        return False


def choose_backend(backend: str = "auto") -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown generation backend {backend!r} ({' | '.join(BACKENDS)})")
    if backend in ("transformers", "openai"):
        return backend
    if backend == "vllm":
        if not cuda_available():
            raise RuntimeError("backend 'vllm' needs CUDA; use backend 'auto' or 'transformers' on CPU")
        return "vllm"
    return "vllm" if cuda_available() and _vllm_installed() else "transformers"


def _vllm_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


_THINK_OPEN_RE = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE_RE = re.compile(r"</think>", re.IGNORECASE)


def answer_decision(text: str):
    """The first closed DECISION tuple of the answer part (after the last ``</think>``, before an
    unclosed ``<think>``) as a regex match on ``text``, or None."""
    closes = list(_THINK_CLOSE_RE.finditer(text))
    start = closes[-1].end() if closes else 0
    opened = _THINK_OPEN_RE.search(text, start)
    return DECISION_DONE_RE.search(text, start, opened.start() if opened else len(text))


def decision_done(text: str) -> bool:
    return answer_decision(text) is not None


def truncate_at_stop(text: str, stop: Sequence[str] | None, decision_only: bool) -> str:
    """Cut ``text`` at the first stop string, or just after the answer's DECISION tuple when ``decision_only``."""
    cut = len(text)
    for s in stop or []:
        i = text.find(s)
        if i >= 0:
            cut = min(cut, i)
    if decision_only:
        m = answer_decision(text)
        if m:
            cut = min(cut, m.end())
    return text[:cut]


def shared_prefix(token_lists: Sequence[Sequence[int]], min_length: int = 8) -> int:
    """How many first tokens every list shares, leaving each at least one token of its own (the
    last prompt token's logits score a continuation's first token); 0 when fewer than
    ``min_length`` are shared (too short to be worth a separate forward pass)."""
    if not token_lists:
        return 0
    first, n = token_lists[0], min(len(t) for t in token_lists) - 1
    for t in token_lists[1:]:
        n = next((i for i in range(n) if t[i] != first[i]), n)
    return n if n >= min_length else 0


def normalize_adapters(adapters, adapter_path: Optional[str] = None) -> dict[str, str]:
    """{name: path}: a single path (the old argument) becomes {'default': path}; 'base' is reserved."""
    if adapters is not None and adapter_path is not None:
        raise ValueError("give adapters or adapter_path, not both")
    if adapters is None:
        adapters = adapter_path
    if adapters is None:
        return {}
    if isinstance(adapters, (str, Path)):
        return {DEFAULT: str(adapters)}
    if not isinstance(adapters, dict):
        raise TypeError(f"adapters must be a dict of name -> path, got {type(adapters).__name__}")
    if BASE in adapters:
        raise ValueError(f"adapter name {BASE!r} is reserved for the base model")
    return {str(k): str(v) for k, v in adapters.items()}


def adapter_rank(path: str) -> int:
    return int(json.loads((Path(path) / "adapter_config.json").read_text()).get("r", 16))


def adapter_modules_to_save(path: str) -> list[str]:
    """The modules an adapter saves whole (PEFT ``modules_to_save``, e.g. sft.train_embeddings)."""
    return list(json.loads((Path(path) / "adapter_config.json").read_text()).get("modules_to_save") or [])


def lora_rank_bucket(rank: int) -> int:
    """The smallest vLLM max_lora_rank that holds ``rank``."""
    for r in VLLM_LORA_RANKS:
        if r >= rank:
            return r
    raise ValueError(f"LoRA rank {rank} exceeds vLLM's largest max_lora_rank {VLLM_LORA_RANKS[-1]}")


def resolve_dtype(name: str, device: str):
    import torch

    if name in (None, "auto"):
        if device == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, name)


# Below this many base parameters, each LoRA adapter is merged into its own copy of the base:
# copies are cheap (the tiny model is ~1M parameters) and a plain forward skips PEFT's per-layer
# adapter dispatch (~1.3-1.5x faster scoring on CPU, benchmarks/bench_adapters.py). Larger models
# keep one PEFT model and switch the active adapter, so memory holds one base.
MERGE_ADAPTERS_BELOW_PARAMS = 100_000_000


class TransformersBackend:
    """Batched ``model.generate`` with left padding; greedy when temperature == 0. Each call runs one
    adapter (or none: the base): small models hold a merged copy per adapter; larger ones load every
    adapter, unmerged, into one PEFT model and activate one per call."""

    def __init__(self, model_path: str, adapters: dict[str, str] | None = None, dtype: str = "auto",
                 batch_size: int = 16):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=False)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=resolve_dtype(dtype, self.device),
                                                     trust_remote_code=False)
        self.adapter_names = list(adapters or {})
        self.merged: dict[Optional[str], object] = {}
        if adapters and sum(p.numel() for p in model.parameters()) < MERGE_ADAPTERS_BELOW_PARAMS:
            import copy

            from peft import PeftModel

            self.merged[None] = model.to(self.device).eval()
            for name, path in adapters.items():
                peft_model = PeftModel.from_pretrained(copy.deepcopy(model), path, adapter_name=name)
                self.merged[name] = peft_model.merge_and_unload().to(self.device).eval()
        elif adapters:
            from peft import PeftModel

            first, *rest = self.adapter_names
            model = PeftModel.from_pretrained(model, adapters[first], adapter_name=first)
            for name in rest:
                model.load_adapter(adapters[name], adapter_name=name)
        self.model = model.to(self.device).eval()
        self.batch_size = batch_size
        eos = self.model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        for tok in ("<|im_end|>", self.tokenizer.eos_token):
            tid = self.tokenizer.convert_tokens_to_ids(tok) if tok else None
            if isinstance(tid, int) and tid >= 0 and tid != self.tokenizer.unk_token_id and tid not in eos:
                eos.append(tid)
        self.eos_ids = eos

    @contextmanager
    def using(self, adapter: Optional[str]):
        """Run the block with ``adapter`` active (None: the base model, adapters disabled)."""
        if self.merged:
            if adapter not in self.merged:
                raise KeyError(f"unknown adapter {adapter!r}; loaded: {self.adapter_names}")
            base, self.model = self.model, self.merged[adapter]
            try:
                yield
            finally:
                self.model = base
        elif not self.adapter_names:
            yield
        elif adapter is None:
            with self.model.disable_adapter():
                yield
        else:
            self.model.set_adapter(adapter)
            yield

    def generate(self, prompts: list[str], max_new_tokens: int, temperature: float, top_p: float, n: int,
                 seed: int, decision_only: bool, adapter: Optional[str] = None) -> list[list[tuple[str, bool]]]:
        """(text, hit_limit) per completion: hit_limit when it used all ``max_new_tokens`` without stopping."""
        import torch
        from tqdm import tqdm
        from transformers import StoppingCriteria, StoppingCriteriaList

        tokenizer = self.tokenizer
        stop_ids = set(self.eos_ids) | {tokenizer.pad_token_id}

        class DecisionDone(StoppingCriteria):
            def __init__(self, prompt_len: int):
                self.prompt_len = prompt_len

            def __call__(self, input_ids, scores, **kwargs):
                texts = tokenizer.batch_decode(input_ids[:, self.prompt_len:], skip_special_tokens=True)
                return torch.tensor([decision_done(t) for t in texts], device=input_ids.device)

        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: list[list[tuple[str, bool]]] = [[] for _ in prompts]
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        with self.using(adapter):
            for b, idx in enumerate(tqdm(batches, desc="generate", disable=len(batches) < 4, mininterval=5)):
                enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True,
                                add_special_tokens=False).to(self.device)
                width = enc["input_ids"].shape[1]
                kwargs = dict(max_new_tokens=max_new_tokens, num_return_sequences=n, eos_token_id=self.eos_ids,
                              pad_token_id=tokenizer.pad_token_id)
                if temperature > 0:
                    kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
                    torch.manual_seed(seed + b)
                else:
                    kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
                if decision_only:
                    kwargs["stopping_criteria"] = StoppingCriteriaList([DecisionDone(width)])
                with torch.no_grad():
                    out = self.model.generate(**enc, **kwargs)
                new = out[:, width:]
                texts = tokenizer.batch_decode(new, skip_special_tokens=True)
                full = new.shape[1] >= max_new_tokens
                hit = [full and int(row[-1]) not in stop_ids for row in new]
                for j, i in enumerate(idx):
                    results[i] = list(zip(texts[j * n:(j + 1) * n], hit[j * n:(j + 1) * n]))
        return results

    def _cache_kwarg(self) -> str:
        """'cache' (transformers >= 5.2x) or the older 'past_key_values'."""
        import inspect

        return "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"

    def _full_attention_only(self) -> bool:
        cfg = getattr(self.model, "config", None)
        cfg = getattr(cfg, "text_config", None) or cfg
        types = getattr(cfg, "layer_types", None)
        return bool(types) and all(t == "full_attention" for t in types)

    def score(self, prompts: list[str], continuations: list[list[str]],
              adapter: Optional[str] = None) -> list[list[float]]:
        """Sum of token log-probabilities of each continuation after its prompt. Models with only
        full-attention layers run each prompt once and its continuations on the cached prefix
        (``score_cached``); others one forward pass per (prompt, continuation)."""
        if self._full_attention_only():
            return self.score_cached(prompts, continuations, adapter)
        return self.score_pairs(prompts, continuations, adapter)

    def score_cached(self, prompts: list[str], continuations: list[list[str]],
                     adapter: Optional[str] = None) -> list[list[float]]:
        """Prefix-cached scoring: the prompts' common first tokens (the chat template's system
        prompt: a fifth of a step prompt) run once (``shared_prefix``); then a batch of left-padded
        prompt remainders on that cache in one forward pass, and every (prompt, continuation) pair
        on the prompt's KV cache, with explicit positions, so padding never shifts a token: the same
        log-probabilities as ``score_pairs`` at a fraction of the cost."""
        import copy

        import torch
        from tqdm import tqdm

        tok = self.tokenizer
        P = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
        C = [[tok(c, add_special_tokens=False)["input_ids"] for c in conts] for conts in continuations]
        out = [[0.0] * len(c) for c in continuations]
        order = sorted(range(len(prompts)), key=lambda i: len(P[i]))
        step = max(1, self.batch_size)
        pad = tok.pad_token_id
        shared = shared_prefix(P)
        with self.using(adapter), torch.no_grad():
            prefix_cache = None
            if shared:
                prefix_cache = self.model(input_ids=torch.tensor([P[0][:shared]], device=self.device),
                                          use_cache=True).past_key_values
            for k in tqdm(range(0, len(order), step), desc="score", disable=len(order) < 8 * step, mininterval=5):
                idx = order[k:k + step]
                lens = torch.tensor([len(P[i]) - shared for i in idx])        # each prompt's remainder
                width = int(lens.max())
                ids = torch.full((len(idx), width), pad, dtype=torch.long)    # left padding: every prompt ends
                mask = torch.zeros_like(ids)                                  # at the last column
                for r, i in enumerate(idx):
                    ids[r, width - int(lens[r]):] = torch.tensor(P[i][shared:])
                    mask[r, width - int(lens[r]):] = 1
                pos = shared + (mask.cumsum(dim=1) - 1).clamp(min=0)          # positions as if unpadded
                kwargs = {}
                if prefix_cache is not None:
                    cache = copy.deepcopy(prefix_cache)
                    cache.reorder_cache(torch.zeros(len(idx), dtype=torch.long, device=self.device))
                    kwargs = {self._cache_kwarg(): cache}
                    mask = torch.cat([torch.ones(len(idx), shared, dtype=mask.dtype), mask], dim=1)
                res = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                 position_ids=pos.to(self.device), use_cache=True, logits_to_keep=1, **kwargs)
                last = torch.log_softmax(res.logits.float()[:, -1], dim=-1).cpu()
                pairs = [(r, j) for r, i in enumerate(idx) for j in range(len(C[i]))]
                if not pairs:
                    continue
                cache = res.past_key_values
                cache.reorder_cache(torch.tensor([r for r, _ in pairs], device=self.device))
                cw = max(len(C[idx[r]][j]) for r, j in pairs)
                cids = torch.full((len(pairs), cw), pad, dtype=torch.long)
                cmask = torch.zeros_like(cids)
                for q, (r, j) in enumerate(pairs):
                    c = C[idx[r]][j]
                    cids[q, :len(c)] = torch.tensor(c)
                    cmask[q, :len(c)] = 1
                rows = torch.tensor([r for r, _ in pairs])
                full_mask = torch.cat([mask[rows], cmask], dim=1)
                cpos = shared + lens[rows].unsqueeze(1) + torch.arange(cw).unsqueeze(0)
                cres = self.model(input_ids=cids.to(self.device), attention_mask=full_mask.to(self.device),
                                  position_ids=cpos.to(self.device), use_cache=True, **{self._cache_kwarg(): cache})
                logp = torch.log_softmax(cres.logits.float(), dim=-1).cpu()
                for q, (r, j) in enumerate(pairs):
                    c = C[idx[r]][j]
                    total = float(last[r, c[0]])
                    if len(c) > 1:
                        total += float(logp[q, torch.arange(len(c) - 1), torch.tensor(c[1:])].sum())
                    out[idx[r]][j] = total
        return out

    def score_pairs(self, prompts: list[str], continuations: list[list[str]],
                    adapter: Optional[str] = None) -> list[list[float]]:
        """Sum of token log-probabilities of each continuation after its prompt (one forward pass per pair)."""
        import torch
        from tqdm import tqdm

        tok = self.tokenizer
        pairs = [(i, j, tok(p, add_special_tokens=False)["input_ids"], tok(c, add_special_tokens=False)["input_ids"])
                 for i, (p, conts) in enumerate(zip(prompts, continuations)) for j, c in enumerate(conts)]
        pairs.sort(key=lambda t: len(t[2]) + len(t[3]))
        out = [[0.0] * len(c) for c in continuations]
        step = max(1, self.batch_size * 2)
        with self.using(adapter):
            for k in tqdm(range(0, len(pairs), step), desc="score", disable=len(pairs) < 4 * step, mininterval=5):
                chunk = pairs[k:k + step]
                width = max(len(p) + len(c) for _, _, p, c in chunk)
                ids = torch.full((len(chunk), width), tok.pad_token_id, dtype=torch.long)
                mask = torch.zeros_like(ids)
                for r, (_, _, p, c) in enumerate(chunk):
                    ids[r, :len(p) + len(c)] = torch.tensor(p + c)
                    mask[r, :len(p) + len(c)] = 1
                with torch.no_grad():
                    logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
                logp = torch.log_softmax(logits.float(), dim=-1).cpu()
                for r, (i, j, p, c) in enumerate(chunk):
                    positions = torch.arange(len(p) - 1, len(p) + len(c) - 1)
                    out[i][j] = float(logp[r, positions, torch.tensor(c)].sum())
        return out


class VllmBackend:
    """One vLLM offline engine for the base and every adapter (``LoRARequest`` per adapter name)."""

    def __init__(self, model_path: str, adapters: dict[str, str] | None = None, dtype: str = "auto",
                 seed: int = 0, gpu_memory_utilization: float = 0.85, max_model_len: int | None = None,
                 max_loras: int | None = None):
        from vllm import LLM  # lazy: vLLM is an optional GPU dependency

        kwargs = dict(model=model_path, dtype=dtype, seed=seed, trust_remote_code=False,
                      gpu_memory_utilization=gpu_memory_utilization)
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self.lora_requests: dict[str, object] = {}
        if adapters:
            from vllm.lora.request import LoRARequest

            rank = max(adapter_rank(path) for path in adapters.values())
            kwargs.update(enable_lora=True, max_loras=max_loras or len(adapters), max_lora_rank=lora_rank_bucket(rank))
            self.lora_requests = {name: LoRARequest(name, i + 1, str(path))
                                  for i, (name, path) in enumerate(adapters.items())}
        self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()

    def generate(self, prompts: list[str], max_new_tokens: int, temperature: float, top_p: float, n: int,
                 seed: int, decision_only: bool, adapter: Optional[str] = None,
                 thinking: bool = False) -> list[list[tuple[str, bool]]]:
        from vllm import SamplingParams

        # server-side stop strings would also fire inside the thinking: with thinking, cut afterwards only
        stop = ["\nREASON", "REASON:"] if decision_only and not thinking else None
        sp = SamplingParams(n=n, temperature=temperature, top_p=top_p if temperature > 0 else 1.0,
                            max_tokens=max_new_tokens, seed=seed if temperature > 0 else None, stop=stop)
        outs = self.llm.generate(prompts, sp, lora_request=self.lora_requests.get(adapter) if adapter else None)
        return [[(o.text, o.finish_reason == "length") for o in out.outputs] for out in outs]

    def score(self, prompts: list[str], continuations: list[list[str]],
              adapter: Optional[str] = None) -> list[list[float]]:
        """Continuation log-probabilities from vLLM's prompt log-probs (one request per pair)."""
        from vllm import SamplingParams

        sp = SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        flat = [(i, j, p, c) for i, (p, conts) in enumerate(zip(prompts, continuations)) for j, c in enumerate(conts)]
        outs = self.llm.generate([p + c for _, _, p, c in flat], sp,
                                 lora_request=self.lora_requests.get(adapter) if adapter else None)
        result = [[0.0] * len(c) for c in continuations]
        for (i, j, p, _), out in zip(flat, outs):
            n_prompt = len(self.tokenizer(p, add_special_tokens=False)["input_ids"])
            ids = out.prompt_token_ids
            result[i][j] = float(sum(out.prompt_logprobs[t][ids[t]].logprob for t in range(n_prompt, len(ids))))
        return result


class OpenAIBackend:
    """An OpenAI-compatible server: chats are sent as messages (the server applies its chat template),
    concurrently, with retries. An adapter is a served model name (vLLM ``--lora-modules name=path``)."""

    def __init__(self, model: str, base_url: str, concurrency: int = 8, enable_thinking: bool = False,
                 chat_template_kwargs: bool = True, api_key: Optional[str] = None, timeout_s: float = 600.0,
                 max_retries: int = 6, backoff_base_s: float = 1.0):
        from .openai_client import ChatClient

        self.client = ChatClient(base_url, model, api_key=api_key, timeout_s=timeout_s, max_retries=max_retries,
                                 concurrency=concurrency, backoff_base_s=backoff_base_s)
        self.extra = {"chat_template_kwargs": {"enable_thinking": enable_thinking}} if chat_template_kwargs else {}
        self.tokenizer = None

    def generate(self, chats: list[list[dict]], max_new_tokens: int, temperature: float, top_p: float, n: int,
                 seed: int, decision_only: bool, adapter: Optional[str] = None) -> list[list[tuple[str, bool]]]:
        body = dict(max_tokens=max_new_tokens, temperature=temperature, n=n, **self.extra)
        if temperature > 0:
            body.update(top_p=top_p, seed=seed)
        client = self.client
        if adapter:
            from copy import copy

            client = copy(self.client)
            client.model = adapter
        results, failures = client.map_chat(chats, desc="openai generate", **body)
        if failures:
            i, err = next(iter(failures.items()))
            raise RuntimeError(f"{len(failures)} of {len(chats)} requests to {client.url} failed "
                               f"(first, chat {i}: {err})") from err
        return [[(c.text, c.finish_reason == "length") for c in row] for row in results]

    def score(self, *args, **kwargs):
        raise NotImplementedError(
            "the openai backend cannot score options (a chat API returns no prompt log-probabilities): "
            "set model.decision: generate")


class Generator:
    """``generate(messages_batch, ..., adapter=None) -> list[list[str]]``: ``n`` completions per chat;
    ``score_options(messages_batch, candidates, adapter=None)``: each candidate's log-likelihood."""

    def __init__(self, model_path: str, adapters: dict[str, str] | str | None = None, backend: str = "auto",
                 dtype: str = "auto", batch_size: int = 16, seed: int = 0, *, adapter_path: Optional[str] = None,
                 enable_thinking: bool = False, max_loras: Optional[int] = None,
                 gpu_memory_utilization: float = 0.85, max_model_len: Optional[int] = None,
                 openai_base_url: Optional[str] = None, openai_concurrency: int = 8,
                 openai_chat_template_kwargs: bool = True, api_key: Optional[str] = None):
        self.backend_name = choose_backend(backend)
        self.seed, self.enable_thinking = seed, bool(enable_thinking)
        self.adapters = normalize_adapters(adapters, adapter_path)
        self.counts: Counter = Counter()   # generated | hit_limit | truncated (hit the budget with no DECISION)
        self.last_hit_limit: list[list[bool]] = []   # per completion of the last generate call
        if self.backend_name == "openai":
            if not openai_base_url:
                raise ValueError("backend 'openai' needs a base URL (model.openai_base_url)")
            self.backend = OpenAIBackend(model_path, openai_base_url, concurrency=openai_concurrency,
                                         enable_thinking=self.enable_thinking,
                                         chat_template_kwargs=openai_chat_template_kwargs, api_key=api_key)
        else:
            for name, path in self.adapters.items():
                if not (Path(path) / "adapter_config.json").exists():
                    raise FileNotFoundError(f"adapter {name!r}: {path} holds no PEFT adapter (adapter_config.json)")
            if self.backend_name == "vllm":
                trained_whole = [n for n, p in self.adapters.items() if adapter_modules_to_save(p)]
                if trained_whole:
                    raise ValueError(f"adapters {trained_whole} carry fully trained modules (sft.train_embeddings), which "
                                     "vLLM's LoRA does not serve: use the transformers backend, or train with "
                                     "sft.train_embeddings: false")
                self.backend = VllmBackend(model_path, self.adapters, dtype=dtype, seed=seed, max_loras=max_loras,
                                           gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len)
            else:
                self.backend = TransformersBackend(model_path, self.adapters, dtype=dtype, batch_size=batch_size)
        self.tokenizer = self.backend.tokenizer
        log.info("generator: %s backend, model %s%s%s", self.backend_name, model_path,
                 f", adapters {self.adapters}" if self.adapters else "",
                 ", thinking on" if self.enable_thinking else "")

    @classmethod
    def from_params(cls, params, model_path: Optional[str] = None, adapters: dict[str, str] | str | None = None):
        """A Generator configured by ``params.model`` (backend, dtype, batch size, thinking, openai_*);
        with backend openai the model is ``model.openai_model`` unless ``model_path`` is given."""
        m = params.model
        if m.backend == "openai":
            model_path = m.openai_model if m.openai_model else None
            if not model_path:
                raise ValueError("model.backend 'openai' needs model.openai_model (the served model name)")
        return cls(model_path, adapters, backend=m.backend, dtype=m.dtype, batch_size=m.generate_batch_size,
                   seed=params.seed, enable_thinking=m.enable_thinking, openai_base_url=m.openai_base_url,
                   openai_concurrency=m.openai_concurrency, openai_chat_template_kwargs=m.openai_chat_template_kwargs)

    def resolve_adapter(self, adapter: Optional[str]) -> Optional[str]:
        """The adapter a call uses: None -> 'default' if loaded, else the base; 'base' -> the base."""
        if adapter is None:
            return DEFAULT if DEFAULT in self.adapters else None
        if adapter == BASE:
            return None
        if self.backend_name == "openai":
            return adapter            # a served model name; the server knows which exist
        if adapter not in self.adapters:
            raise KeyError(f"unknown adapter {adapter!r}; this generator holds {sorted(self.adapters) or 'none'}")
        return adapter

    def render(self, messages: list[dict], thinking: Optional[bool] = None) -> str:
        if self.tokenizer is None:
            raise RuntimeError(f"the {self.backend_name} backend renders prompts on the server")
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True,
            enable_thinking=self.enable_thinking if thinking is None else thinking)

    def generate(self, messages_batch: list[list[dict]], max_new_tokens: int = 48, temperature: float = 0.0,
                 top_p: float = 1.0, n: int = 1, seed: Optional[int] = None, stop: Sequence[str] | None = None,
                 decision_only: bool = False, adapter: Optional[str] = None) -> list[list[str]]:
        if not messages_batch:
            return []
        inputs = messages_batch if self.backend_name == "openai" else [self.render(m) for m in messages_batch]
        kwargs = dict(adapter=self.resolve_adapter(adapter))
        if self.backend_name == "vllm":
            kwargs["thinking"] = self.enable_thinking
        outs = self.backend.generate(inputs, max_new_tokens, float(temperature), float(top_p), int(n),
                                     self.seed if seed is None else int(seed), decision_only, **kwargs)
        self.count(outs, max_new_tokens)
        self.last_hit_limit = [[hit for _, hit in row] for row in outs]
        return [[truncate_at_stop(t, stop, decision_only) for t, _ in row] for row in outs]

    def count(self, outs: list[list[tuple[str, bool]]], max_new_tokens: int) -> None:
        """Tally completions that hit the budget, and those of them with no DECISION (truncated)."""
        flat = [(t, hit) for row in outs for t, hit in row]
        hit = sum(h for _, h in flat)
        truncated = sum(h and not decision_done(t) for t, h in flat)
        self.counts.update(generated=len(flat), hit_limit=hit, truncated=truncated)
        if truncated:
            log.warning("%d of %d completions hit max_new_tokens=%d without a DECISION (truncated%s)",
                        truncated, len(flat), max_new_tokens,
                        ", thinking on: raise model.max_new_tokens" if self.enable_thinking else "")

    def score_options(self, messages_batch: list[list[dict]], continuations: list[list[str]],
                      adapter: Optional[str] = None) -> list[list[float]]:
        """Log-probability of each candidate assistant continuation of each chat (likelihood scoring),
        after a prompt rendered without thinking (the candidate is the answer itself)."""
        if not messages_batch:
            return []
        if self.backend_name == "openai":
            self.backend.score()   # raises the explanation
        return self.backend.score([self.render(m, thinking=False) for m in messages_batch], continuations,
                                  adapter=self.resolve_adapter(adapter))
