"""A local OpenAI-compatible ``/v1/chat/completions`` server for tests (127.0.0.1, a thread per request).

It answers with ``answer(body) -> text`` (or ``(text, finish_reason)``) and injects faults: ``faults`` is a list of statuses served to
the first requests of each chat (by its last message), e.g. ``[429, 500]`` makes every chat fail
twice before it succeeds; ``down = True`` answers 503 to everything. It records every request and the
largest number of requests in flight at once; ``delay_s`` holds each answer that long.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional


def default_answer(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    return "DECISION: (0.1, 0.8, 0.1)\nREASON: A higher dose lowers it." if "options" in prompt.lower() else "?"


class OpenAIServer:
    def __init__(self, answer: Callable[[dict], str] = default_answer, faults: Optional[list[int]] = None,
                 delay_s: float = 0.0, reasoning: Optional[str] = None):
        self.answer, self.faults, self.delay_s, self.reasoning = answer, list(faults or []), delay_s, reasoning
        self.down = False
        self.requests: list[dict] = []
        self.statuses: Counter = Counter()
        self.attempts: Counter = Counter()
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = body["messages"][-1]["content"]
                with server.lock:
                    server.requests.append({"path": self.path, "body": body,
                                            "auth": self.headers.get("Authorization")})
                    attempt = server.attempts[key]
                    server.attempts[key] += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.delay_s)
                    if server.down:
                        status = 503
                    elif attempt < len(server.faults):
                        status = server.faults[attempt]
                    else:
                        status = 200
                    self.reply(status, body)
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def reply(self, status: int, body: dict) -> None:
                with server.lock:
                    server.statuses[status] += 1
                if status != 200:
                    data = json.dumps({"error": {"message": f"injected {status}"}}).encode()
                else:
                    out = server.answer(body)
                    text, finish = out if isinstance(out, tuple) else (out, "stop")
                    message = {"role": "assistant", "content": text}
                    if server.reasoning:
                        message["reasoning_content"] = server.reasoning
                    choices = [{"index": i, "message": message, "finish_reason": finish}
                               for i in range(int(body.get("n") or 1))]
                    data = json.dumps({"id": "x", "object": "chat.completion", "choices": choices}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "OpenAIServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
