"""One generation interface over two backends.

``Generator(model_path, adapter_path=None, backend='auto')``: vLLM when CUDA is available and
``backend`` is ``auto`` or ``vllm`` (LoRA adapters through ``LoRARequest``), transformers otherwise
(batched, left padding, greedy or seeded sampling, PEFT adapter merged into the weights).
vLLM is imported lazily, only when that backend is built.

``decision_only=True`` stops each sequence as soon as its ``DECISION: (...)`` tuple is closed:
scoring needs only that line, and the REASON is most of the tokens. Keep it off to record the
model's reasoning.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Optional, Sequence

log = logging.getLogger(__name__)

DECISION_DONE_RE = re.compile(r"DECISION\s*[:=]\s*[\(\[][^\)\]\n]*[\)\]]", re.IGNORECASE)


def cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # pragma: no cover
        return False


def choose_backend(backend: str = "auto") -> str:
    if backend not in ("auto", "vllm", "transformers"):
        raise ValueError(f"unknown generation backend {backend!r} (auto | vllm | transformers)")
    if backend == "transformers":
        return "transformers"
    if backend == "vllm":
        if not cuda_available():
            raise RuntimeError("backend 'vllm' needs CUDA; use backend 'auto' or 'transformers' on CPU")
        return "vllm"
    return "vllm" if cuda_available() and _vllm_installed() else "transformers"


def _vllm_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def truncate_at_stop(text: str, stop: Sequence[str] | None, decision_only: bool) -> str:
    """Cut ``text`` at the first stop string, or just after the DECISION tuple when ``decision_only``."""
    cut = len(text)
    for s in stop or []:
        i = text.find(s)
        if i >= 0:
            cut = min(cut, i)
    if decision_only:
        m = DECISION_DONE_RE.search(text)
        if m:
            cut = min(cut, m.end())
    return text[:cut]


def resolve_dtype(name: str, device: str):
    import torch

    if name in (None, "auto"):
        if device == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, name)


class TransformersBackend:
    """Batched ``model.generate`` with left padding; greedy when temperature == 0."""

    def __init__(self, model_path: str, adapter_path: Optional[str] = None, dtype: str = "auto",
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
        if adapter_path:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter_path).merge_and_unload()
        self.model = model.to(self.device).eval()
        self.batch_size = batch_size
        eos = self.model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        for tok in ("<|im_end|>", self.tokenizer.eos_token):
            tid = self.tokenizer.convert_tokens_to_ids(tok) if tok else None
            if isinstance(tid, int) and tid >= 0 and tid != self.tokenizer.unk_token_id and tid not in eos:
                eos.append(tid)
        self.eos_ids = eos

    def generate(self, prompts: list[str], max_new_tokens: int, temperature: float, top_p: float, n: int,
                 seed: int, decision_only: bool) -> list[list[str]]:
        import torch
        from tqdm import tqdm
        from transformers import StoppingCriteria, StoppingCriteriaList

        tokenizer = self.tokenizer

        class DecisionDone(StoppingCriteria):
            def __init__(self, prompt_len: int):
                self.prompt_len = prompt_len

            def __call__(self, input_ids, scores, **kwargs):
                texts = tokenizer.batch_decode(input_ids[:, self.prompt_len:], skip_special_tokens=True)
                return torch.tensor([bool(DECISION_DONE_RE.search(t)) for t in texts], device=input_ids.device)

        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: list[list[str]] = [[] for _ in prompts]
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
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
            texts = tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
            for j, i in enumerate(idx):
                results[i] = texts[j * n:(j + 1) * n]
        return results


    def score(self, prompts: list[str], continuations: list[list[str]]) -> list[list[float]]:
        """Sum of token log-probabilities of each continuation after its prompt (one forward pass per pair)."""
        import torch
        from tqdm import tqdm

        tok = self.tokenizer
        pairs = [(i, j, tok(p, add_special_tokens=False)["input_ids"], tok(c, add_special_tokens=False)["input_ids"])
                 for i, (p, conts) in enumerate(zip(prompts, continuations)) for j, c in enumerate(conts)]
        pairs.sort(key=lambda t: len(t[2]) + len(t[3]))
        out = [[0.0] * len(c) for c in continuations]
        step = max(1, self.batch_size * 2)
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
    """vLLM offline engine (``LLM.generate`` on chat-template-rendered prompts); LoRA via ``LoRARequest``."""

    def __init__(self, model_path: str, adapter_path: Optional[str] = None, dtype: str = "auto",
                 seed: int = 0, gpu_memory_utilization: float = 0.85, max_model_len: int | None = None):
        from vllm import LLM  # lazy: vLLM is an optional GPU dependency

        kwargs = dict(model=model_path, dtype=dtype, seed=seed, trust_remote_code=False,
                      gpu_memory_utilization=gpu_memory_utilization)
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self.lora_request = None
        if adapter_path:
            from vllm.lora.request import LoRARequest

            rank = json.loads((Path(adapter_path) / "adapter_config.json").read_text()).get("r", 16)
            kwargs.update(enable_lora=True, max_lora_rank=max(8, int(rank)))
            self.lora_request = LoRARequest("adapter", 1, str(adapter_path))
        self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()

    def generate(self, prompts: list[str], max_new_tokens: int, temperature: float, top_p: float, n: int,
                 seed: int, decision_only: bool) -> list[list[str]]:
        from vllm import SamplingParams

        sp = SamplingParams(n=n, temperature=temperature, top_p=top_p if temperature > 0 else 1.0,
                            max_tokens=max_new_tokens, seed=seed if temperature > 0 else None,
                            stop=["\nREASON", "REASON:"] if decision_only else None)
        outs = self.llm.generate(prompts, sp, lora_request=self.lora_request)
        return [[o.text for o in out.outputs] for out in outs]


    def score(self, prompts: list[str], continuations: list[list[str]]) -> list[list[float]]:
        """Continuation log-probabilities from vLLM's prompt log-probs (one request per pair)."""
        from vllm import SamplingParams

        sp = SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        flat = [(i, j, p, c) for i, (p, conts) in enumerate(zip(prompts, continuations)) for j, c in enumerate(conts)]
        outs = self.llm.generate([p + c for _, _, p, c in flat], sp, lora_request=self.lora_request)
        result = [[0.0] * len(c) for c in continuations]
        for (i, j, p, _), out in zip(flat, outs):
            n_prompt = len(self.tokenizer(p, add_special_tokens=False)["input_ids"])
            ids = out.prompt_token_ids
            result[i][j] = float(sum(out.prompt_logprobs[t][ids[t]].logprob for t in range(n_prompt, len(ids))))
        return result


class Generator:
    """``generate(messages_batch, ...) -> list[list[str]]``: ``n`` completions per chat."""

    def __init__(self, model_path: str, adapter_path: Optional[str] = None, backend: str = "auto",
                 dtype: str = "auto", batch_size: int = 16, seed: int = 0):
        self.backend_name = choose_backend(backend)
        self.seed = seed
        if adapter_path and not (Path(adapter_path) / "adapter_config.json").exists():
            raise FileNotFoundError(f"{adapter_path} holds no PEFT adapter (adapter_config.json)")
        if self.backend_name == "vllm":
            self.backend = VllmBackend(model_path, adapter_path, dtype=dtype, seed=seed)
        else:
            self.backend = TransformersBackend(model_path, adapter_path, dtype=dtype, batch_size=batch_size)
        self.tokenizer = self.backend.tokenizer
        log.info("generator: %s backend, model %s%s", self.backend_name, model_path,
                 f" + adapter {adapter_path}" if adapter_path else "")

    def render(self, messages: list[dict]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(self, messages_batch: list[list[dict]], max_new_tokens: int = 48, temperature: float = 0.0,
                 top_p: float = 1.0, n: int = 1, seed: Optional[int] = None, stop: Sequence[str] | None = None,
                 decision_only: bool = False) -> list[list[str]]:
        if not messages_batch:
            return []
        prompts = [self.render(m) for m in messages_batch]
        outs = self.backend.generate(prompts, max_new_tokens, float(temperature), float(top_p), int(n),
                                     self.seed if seed is None else int(seed), decision_only)
        return [[truncate_at_stop(t, stop, decision_only) for t in row] for row in outs]

    def score_options(self, messages_batch: list[list[dict]], continuations: list[list[str]]) -> list[list[float]]:
        """Log-probability of each candidate assistant continuation of each chat (likelihood scoring)."""
        if not messages_batch:
            return []
        return self.backend.score([self.render(m) for m in messages_batch], continuations)
