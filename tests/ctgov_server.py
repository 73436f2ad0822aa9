"""A local stand-in for the ClinicalTrials.gov API v2, with scheduled faults (for tests).

Serves ``GET /api/v2/studies`` (``pageSize``, ``pageToken``, ``countTotal``, ``format=json``)
and ``GET /api/v2/version`` on 127.0.0.1 from real v2 records in ../shared/data/ctgov_v2,
replicated under new nctIds (NCT90000001, ...) to make several pages at a small page size.

Faults (queued with ``server.faults.extend([...])``, one per /studies request, in order):
``"429"`` (with Retry-After: ``server.retry_after``), ``"500"``, ``"503"``, ``"reset"``
(headers and half the body, then a TCP reset), ``"disconnect"`` (close without answering),
``"truncated"`` (a 200 whose JSON body is cut short, with a matching Content-Length),
``"slow"`` (sleep ``server.slow_s`` before answering), ``"400"``.
``"drip"`` (a 200 whose body is sent one byte every ``server.drip_s``).
Hostile paging (issue 12): ``server.stop_paging_after = n`` stops handing out nextPageToken once ``n``
studies were served (totalCount still says all); ``server.cycle = (at, to)`` makes the token that would
point at offset ``at`` point back to offset ``to`` (A -> B -> A ...); ``server.endless_empty = True``
keeps answering empty pages with fresh tokens past the end; ``server.raw_studies = {i: text}`` serves
study ``i`` as that raw JSON text (e.g. nested too deeply to build as a Python object). Every loop is
bounded: past ``server.max_requests`` /studies requests the server answers 410 (not retried).
``server.delay_s`` slows every /studies answer. ``server.fail_forever = "500"`` answers every /studies request with that fault.
``server.block_at = k`` holds the k-th /studies request (0-based) until ``server.release`` is
set; ``server.blocked`` is set when it arrives. ``server.expire_tokens()`` makes every token
issued so far answer 400. ``server.requests`` records each request (path, params, outcome).

Run standalone: ``python tests/ctgov_server.py`` prints its base URL and serves until Ctrl-C.
"""
from __future__ import annotations

import base64
import collections
import copy
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

SHARED_V2 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ctgov_v2"


def load_real_studies(directory: Path = SHARED_V2) -> list[dict]:
    """The v2-format records (those with protocolSection.identificationModule.nctId), sorted by file."""
    out = []
    for path in sorted(Path(directory).glob("*.json")):
        obj = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(obj, dict) and "protocolSection" in obj:
            out.append(obj)
    return out


def replicate(studies: list[dict], n: int, first_id: int = 90000001) -> list[dict]:
    """The originals followed by copies under new nctIds, ``n`` studies in all."""
    out = [copy.deepcopy(s) for s in studies[:n]]
    i = 0
    while len(out) < n:
        clone = copy.deepcopy(studies[i % len(studies)])
        clone["protocolSection"]["identificationModule"]["nctId"] = f"NCT{first_id + i:08d}"
        out.append(clone)
        i += 1
    return out


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict | None = None, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _reset(self) -> None:
        """Abort the connection with a TCP RST."""
        try:
            self.wfile.flush()
        except OSError:
            pass
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def do_GET(self):  # noqa: N802 (http.server's naming)
        owner: CtgovTestServer = self.server.owner
        url = urlparse(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        record = {"path": url.path, "params": params, "time": time.monotonic(),
                  "user_agent": self.headers.get("User-Agent")}
        with owner.lock:
            owner.requests.append(record)
        if url.path.rstrip("/") == "/api/v2/version":
            record["outcome"] = 200
            return self._send(200, json.dumps({"apiVersion": "2.0.5-test", "dataTimestamp": "2025-01-01T00:00:00"}).encode())
        if url.path.rstrip("/") != "/api/v2/studies":
            record["outcome"] = 404
            return self._send(404, b'{"error": "not found"}')
        with owner.lock:
            index = owner.studies_requests
            owner.studies_requests += 1
            fault = owner.fail_forever or (owner.faults.popleft() if owner.faults else None)
        record["index"] = index
        if index >= owner.max_requests:
            record["outcome"] = 410
            return self._send(410, b'{"error": "test server request budget spent"}')
        if owner.block_at is not None and index == owner.block_at:
            owner.blocked.set()
            owner.release.wait(timeout=60)
        record["outcome"] = fault or 200
        if owner.delay_s:
            time.sleep(owner.delay_s)
        if fault in ("429", "500", "503", "400"):
            headers = {"Retry-After": str(owner.retry_after)} if fault == "429" else {}
            return self._send(int(fault), json.dumps({"error": f"injected {fault}"}).encode(), headers)
        if fault == "disconnect":
            return self._reset()
        if fault == "slow":
            time.sleep(owner.slow_s)
        status, body = owner.page(params)
        if fault is None:
            record["outcome"] = status
        if fault == "reset":
            self._send(status, body[: len(body) // 2], length=len(body))
            return self._reset()
        if fault == "truncated":
            body = body[: len(body) // 2]
        if fault == "drip":
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(min(len(body), int(60 / owner.drip_s))):  # bounded: at most a minute
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(owner.drip_s)
            except OSError:
                pass
            return self._reset()
        try:
            self._send(status, body)
        except OSError:  # the client went away (e.g. it timed out or was killed)
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "CtgovTestServer"


class CtgovTestServer:
    """Threaded fake API on 127.0.0.1 (port 0). Use as a context manager."""

    def __init__(self, studies: list[dict]):
        self.studies = studies
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.studies_requests = 0
        self.faults: collections.deque = collections.deque()
        self.fail_forever: str | None = None
        self.retry_after = "1"
        self.slow_s = 1.0
        self.delay_s = 0.0  # added to every /studies answer (to make kill timing land mid-run)
        self.block_at: int | None = None
        self.blocked = threading.Event()
        self.release = threading.Event()
        self.token_generation = 0
        self.drip_s = 0.5
        self.stop_paging_after: int | None = None
        self.cycle: tuple[int, int] | None = None
        self.endless_empty = False
        self.raw_studies: dict[int, str] = {}
        self.max_requests = 300
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- lifecycle
    def __enter__(self) -> "CtgovTestServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/api/v2/studies"

    # -- paging
    def make_token(self, offset: int) -> str:
        raw = json.dumps({"o": offset, "g": self.token_generation}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def read_token(self, token: str) -> int | None:
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            return raw["o"] if raw["g"] == self.token_generation else None
        except (ValueError, KeyError, TypeError):
            return None

    def expire_tokens(self) -> None:
        self.token_generation += 1

    def page(self, params: dict) -> tuple[int, bytes]:
        try:
            size = int(params.get("pageSize", "10"))
        except ValueError:
            size = -1
        if not 1 <= size <= 1000:
            return 400, json.dumps({"error": f"pageSize must be 1..1000, got {params.get('pageSize')!r}"}).encode()
        offset = 0
        if params.get("pageToken"):
            offset = self.read_token(params["pageToken"])
            if offset is None:
                return 400, json.dumps({"error": "invalid or expired pageToken"}).encode()
        chunk = self.studies[offset: offset + size]
        payload: dict = {"studies": chunk}
        if params.get("countTotal") == "true":
            payload["totalCount"] = len(self.studies)
        nxt = offset + size
        if nxt < len(self.studies) or self.endless_empty:
            if self.stop_paging_after is None or nxt < self.stop_paging_after:
                if self.cycle is not None and nxt >= self.cycle[0]:
                    nxt = self.cycle[1]
                payload["nextPageToken"] = self.make_token(nxt)
        if not any(offset + i in self.raw_studies for i in range(len(chunk))):
            return 200, json.dumps(payload).encode()
        texts = [self.raw_studies.get(offset + i) or json.dumps(st) for i, st in enumerate(chunk)]
        rest = json.dumps({k: v for k, v in payload.items() if k != "studies"})
        return 200, ('{"studies": [' + ", ".join(texts) + "]" + (", " + rest[1:] if len(rest) > 2 else "}")).encode()

    def studies_calls(self) -> list[dict]:
        return [r for r in self.requests if r["path"].rstrip("/") == "/api/v2/studies"]


if __name__ == "__main__":
    with CtgovTestServer(replicate(load_real_studies(), 60)) as srv:
        print(srv.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
