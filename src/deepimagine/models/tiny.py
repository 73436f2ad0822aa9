"""The tiny local base model: a small Qwen3.5-family causal LM and a byte-level BPE tokenizer,
both built offline from the registry text, then briefly pre-trained so it can write the
answer format (but, by construction, nothing about which answer is right).

Architecture: ``Qwen3_5ForCausalLM`` with a ``Qwen3_5TextConfig`` (text-only; ``model_type``
``qwen3_5_text``, loadable with ``AutoModelForCausalLM``). Qwen3.5 interleaves gated-delta-net
linear-attention layers with full attention (3:1). Without the ``fla`` / ``causal_conv1d``
kernels those layers run a reference PyTorch implementation that is ~3x slower to train and
~5x slower to generate on CPU at these sizes, so ``model.tiny_layer_types: full`` (default)
makes every layer full attention; ``hybrid`` keeps the family's 3:1 pattern.
"""
from __future__ import annotations

import logging
import math
import random
import time
from typing import Iterable, Sequence

from ..core.params import ModelParams
from ..core.questions import Question, format_answer, render_messages

log = logging.getLogger(__name__)

PAD_TOKEN = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = [PAD_TOKEN, IM_START, IM_END]

# Qwen-style ChatML. The assistant content (+ <|im_end|>) is wrapped in {% generation %} so that
# TRL's assistant_only_loss (return_assistant_tokens_mask) works with this template as is:
# TRL 1.16 only swaps in a training template when the markers are missing.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- generation %}{{- message['content'] + '<|im_end|>' }}{%- endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Qwen2/3's pre-tokenisation split: digits one by one (helps the model write probabilities).
_QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def train_tokenizer(texts: Iterable[str], vocab_size: int, model_max_length: int = 4096):
    """A byte-level BPE tokenizer (Qwen-style split) trained on ``texts``, wrapped for transformers."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_QWEN_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=IM_END, pad_token=PAD_TOKEN,
                                      model_max_length=model_max_length, clean_up_tokenization_spaces=False)
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def tiny_config(model_params: ModelParams, tokenizer):
    """A ``Qwen3_5TextConfig`` with the sizes in ``params.model.tiny_*``."""
    from transformers import Qwen3_5TextConfig

    hidden, layers, heads = model_params.tiny_hidden_size, model_params.tiny_layers, model_params.tiny_heads
    if hidden % heads:
        raise ValueError(f"model.tiny_hidden_size {hidden} is not divisible by model.tiny_heads {heads}")
    head_dim = hidden // heads
    kv_heads = max(1, heads // 2) if heads % 2 == 0 else heads
    if model_params.tiny_layer_types == "full":
        layer_types = ["full_attention"] * layers
    else:
        layer_types = ["full_attention" if (i + 1) % 4 == 0 else "linear_attention" for i in range(layers)]
    return Qwen3_5TextConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=3 * hidden, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=head_dim, layer_types=layer_types,
        linear_key_head_dim=head_dim, linear_value_head_dim=head_dim, linear_num_key_heads=kv_heads,
        linear_num_value_heads=heads, max_position_embeddings=max(2048, model_params.tiny_max_length * 2),
        tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END), bos_token_id=None,
    )


def build_tiny_model(config, seed: int):
    import torch
    from transformers import Qwen3_5ForCausalLM

    torch.manual_seed(seed)
    model = Qwen3_5ForCausalLM(config)
    model.generation_config.eos_token_id = [config.eos_token_id, config.pad_token_id]
    model.generation_config.pad_token_id = config.pad_token_id
    model.generation_config.do_sample = False
    return model


def uninformative_answer(q: Question, rng: random.Random) -> str:
    """A DECISION/REASON answer whose scores are random (Dirichlet(1)), independent of the gold answer,
    and whose reason names the change but no direction: teaches the format, not the task."""
    draws = [rng.expovariate(1.0) for _ in q.options]
    total = sum(draws)
    probs = [d / total for d in draws]
    reason = f"The result depends on how the change in {q.factor or 'the condition'} acts on the outcome."
    return format_answer(probs, reason)


def render_text(q: Question) -> str:
    """The plain text of a question's messages (tokenizer-training corpus)."""
    return "\n".join(m["content"] for m in render_messages(q))


def pretraining_texts(questions: Sequence[Question], tokenizer, seed: int, system: bool = True) -> list[str]:
    """Chat-rendered prompt (with the system prompt when ``system``: ``model.system_prompt``) +
    uninformative answer for each question (the pre-training corpus)."""
    rng = random.Random(seed)
    texts = []
    for q in questions:
        msgs = render_messages(q, system) + [{"role": "assistant", "content": uninformative_answer(q, rng)}]
        texts.append(tokenizer.apply_chat_template(msgs, tokenize=False))
    return texts


def pretrain(model, tokenizer, texts: Sequence[str], steps: int, lr: float, batch_size: int,
             max_length: int, seed: int) -> dict:
    """Plain causal-LM training (all tokens) with AdamW, linear warm-up then cosine decay.

    Returns loss summary: first / last 10-step mean and the per-step curve (every 10 steps)."""
    import torch
    from tqdm import tqdm

    if not texts:
        raise ValueError("no pre-training text: is data/pairs/train.jsonl empty?")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    enc = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    pad = tokenizer.pad_token_id
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.95))
    warmup = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps)))))
    model.train()
    losses: list[float] = []
    order: list[int] = []
    started = time.perf_counter()
    for step in tqdm(range(steps), desc="pretrain tiny", mininterval=5):
        batch = []
        for _ in range(batch_size):
            if not order:
                order = list(range(len(enc)))
                rng.shuffle(order)
            batch.append(enc[order.pop()])
        width = max(map(len, batch))
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, seq in enumerate(batch):
            ids[i, :len(seq)] = torch.tensor(seq)
            mask[i, :len(seq)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    model.eval()
    head, tail = losses[:10], losses[-10:]
    return {"steps": steps, "loss_first10": sum(head) / len(head), "loss_last10": sum(tail) / len(tail),
            "loss_curve": [round(x, 4) for x in losses[::10]], "seconds": round(time.perf_counter() - started, 2),
            "sequences_seen": steps * batch_size}


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
