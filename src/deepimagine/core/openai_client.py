"""A small client for OpenAI-compatible ``/chat/completions`` servers (the OpenAI API, ``vllm serve``,
SGLang ...), shared by the openai teacher and the openai predictor backend.

* concurrency: ``map_chat`` keeps ``concurrency`` requests in flight (a thread pool; one
  ``requests.Session`` per thread) and hands each result to a callback in the calling thread, in
  completion order, so a caller can append it to a resume file as it arrives;
* retries: 408 / 409 / 425 / 429 / 5xx, connection errors and timeouts are retried up to
  ``max_retries`` times with exponential backoff and full jitter (``Retry-After`` honoured, capped);
  any other status fails the request at once with the server's message;
* the key comes from ``OPENAI_API_KEY`` only, and is never sent over plain http to a
  non-loopback host.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence
from urllib.parse import urlparse

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class ApiError(RuntimeError):
    """A request that failed for good (a non-retryable status, or retries exhausted)."""


@dataclass
class Choice:
    text: str                        # the answer; a server-parsed reasoning part is put back as <think>...</think>
    finish_reason: Optional[str]     # "stop" | "length" (the token budget was hit) | ...


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_key_transport(base_url: str, has_key: bool) -> None:
    """Refuse to send an API key over plain http to anything but a loopback host."""
    url = urlparse(base_url)
    if url.scheme not in ("http", "https"):
        raise ValueError(f"{base_url!r}: the OpenAI-compatible base URL must start with http:// or https://")
    if has_key and url.scheme == "http" and not is_loopback(url.hostname):
        raise ValueError(f"refusing to send OPENAI_API_KEY over plain http to {url.hostname}: use https, "
                         "or a loopback address for a local server")


def backoff_delay(attempt: int, base_s: float, cap_s: float, retry_after: Optional[str] = None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): full jitter over min(cap, base * 2**attempt),
    or the server's ``Retry-After`` seconds when it sends them (capped at ``cap_s``)."""
    if retry_after:
        try:
            return min(cap_s, max(0.0, float(retry_after)))
        except ValueError:
            pass   # an HTTP date: fall back to our own backoff
    return (rng or random).uniform(0.0, min(cap_s, base_s * 2 ** attempt))


def message_text(message: dict) -> str:
    """The assistant message's content, with a server-separated reasoning part (vLLM's reasoning
    parser: ``reasoning_content`` / ``reasoning``) put back in front as ``<think>...</think>``."""
    content = message.get("content") or ""
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    return f"<think>\n{reasoning}\n</think>\n\n{content}" if isinstance(reasoning, str) and reasoning else content


class ChatClient:
    def __init__(self, base_url: str, model: str, api_key: Optional[str] = None, timeout_s: float = 300.0,
                 max_retries: int = 6, concurrency: int = 8, backoff_base_s: float = 1.0,
                 backoff_cap_s: float = 60.0):
        if not model:
            raise ValueError("an OpenAI-compatible endpoint needs a model name")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        check_key_transport(base_url, bool(self.api_key))
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.timeout_s, self.max_retries = model, timeout_s, max_retries
        self.concurrency = max(1, int(concurrency))
        self.backoff_base_s, self.backoff_cap_s = backoff_base_s, backoff_cap_s
        self._local = threading.local()
        self.retries = 0   # retried attempts, all threads (approximate under contention; for logging)

    def _session(self):
        import requests

        if not hasattr(self._local, "session"):
            s = requests.Session()
            if self.api_key:
                s.headers["Authorization"] = f"Bearer {self.api_key}"
            self._local.session = s
        return self._local.session

    def chat(self, messages: list[dict], **body: Any) -> list[Choice]:
        """One request (``n`` choices when ``body`` asks for them), retried on transient failures."""
        import requests

        payload = {"model": self.model, "messages": messages, **body}
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                r = self._session().post(self.url, json=payload, timeout=self.timeout_s)
                if r.status_code == 200:
                    return [Choice(message_text(c.get("message") or {}), c.get("finish_reason"))
                            for c in r.json()["choices"]]
                last = f"HTTP {r.status_code}: {r.text[:300]}"
                if r.status_code not in RETRY_STATUS:
                    raise ApiError(f"{self.url}: {last}")
                retry_after = r.headers.get("Retry-After")
            except (requests.ConnectionError, requests.Timeout) as e:
                last = f"{type(e).__name__}: {e}"
            except (ValueError, KeyError, TypeError) as e:   # 200 with a body that is not a completion
                raise ApiError(f"{self.url}: unreadable response ({e})") from e
            if attempt < self.max_retries:
                self.retries += 1
                time.sleep(backoff_delay(attempt, self.backoff_base_s, self.backoff_cap_s, retry_after))
        raise ApiError(f"{self.url}: gave up after {self.max_retries + 1} attempts ({last})")

    def map_chat(self, conversations: Sequence[list[dict]], on_result: Callable[[int, list[Choice]], None] | None = None,
                 desc: str = "requests", **body: Any) -> tuple[list[Optional[list[Choice]]], dict[int, Exception]]:
        """``chat`` on every conversation, ``concurrency`` at a time. Returns (results in input order,
        None where it failed; {index: error}). ``on_result(i, choices)`` runs in this thread as each
        request completes. An interrupt cancels what has not started and re-raises."""
        from tqdm import tqdm

        results: list[Optional[list[Choice]]] = [None] * len(conversations)
        failures: dict[int, Exception] = {}
        if not conversations:
            return results, failures
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(conversations)))
        try:
            pending = {pool.submit(self.chat, conv, **body): i for i, conv in enumerate(conversations)}
            with tqdm(total=len(pending), desc=desc, mininterval=5, disable=len(pending) < 50) as bar:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        i = pending.pop(fut)
                        try:
                            results[i] = fut.result()
                        except Exception as e:  # noqa: BLE001 - collected and reported by the caller
                            failures[i] = e
                            continue
                        if on_result is not None:
                            on_result(i, results[i])
                    bar.update(len(done))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if self.retries:
            log.info("%s: %d retried attempts", self.url, self.retries)
        return results, failures
