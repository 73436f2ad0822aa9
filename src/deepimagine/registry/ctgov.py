"""ClinicalTrials.gov API v2 client: paged, polite, retrying and resumable.

Over 500 lines: query, HTTP retries and resume share one state file and its ordering invariant (a page is
stored before its token is recorded); they are read and changed together.

``download`` pages through ``GET {base_url}`` (``/api/v2/studies``) with ``pageSize`` /
``pageToken`` and writes every study exactly once to a gzipped JSON Lines file.

Resume: every completed page is stored in a work directory as ``page_NNNNN.jsonl`` (written
atomically), *then* ``state.json`` records the page count, the running counts and the
``nextPageToken`` (also atomically). A process killed at any point loses at most the page in
flight; run again with the same query, it continues from the recorded token. If the server
rejects a stored token (HTTP 400, tokens can expire), paging restarts from the first page and
studies already stored are skipped by nctId (studies without one by a hash of their content). The
final merge de-duplicates the same way (first kept) and writes the output atomically; the caller removes
the work directory afterwards.

Hostile or broken servers: a pageToken seen before in the same paging pass (a cycle), more pages than
``totalCount`` allows (``max_pages``, or derived from it) or ``max_empty_pages`` pages in a row with
nothing new stop with ``CtgovError``; when paging ends with fewer studies than ``totalCount`` the run
fails (``on_shortfall: error``) or warns loudly and records the shortfall (``warn``). A study that
cannot be re-encoded (a lone surrogate) or parsed (nesting too deep) is quarantined with its nctId or
page and position, and the run goes on. Each request has a total deadline (``request_deadline_s``), not
only a per-read timeout. Credentials in ``base_url`` never reach logs, errors or the manifest.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import logging
import random
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import urllib3
from tqdm import tqdm

from ..core import io
from ..core.params import CTGOV_MAX_PAGE_SIZE, CTGOV_PHASES, CTGOV_SHORTFALL_MODES, check_ctgov

log = logging.getLogger(__name__)

DEFAULT_WORK_DIR = Path("data/.ctgov_partial")
STATE_FILE = "state.json"
MAX_PAGE_SIZE = CTGOV_MAX_PAGE_SIZE
PHASES = CTGOV_PHASES
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_TOKEN_RESTARTS = 3
MAX_RETRY_AFTER_S = 600.0
STATE_VERSION = 2
SHORTFALL_MODES = CTGOV_SHORTFALL_MODES
_SECRET_PARAM = re.compile(r"key|token|secret|pass|auth|sig", re.IGNORECASE)


class CtgovError(RuntimeError):
    """The API could not be read (gave up after retries, or a non-retryable answer)."""


class DeadlineExceeded(Exception):
    """One request ran past ``request_deadline_s`` (retried like a timeout)."""


class PageTokenRejected(CtgovError):
    """The server answered 400 to a request carrying a pageToken (expired or unknown token)."""


def redact_url(url: str) -> str:
    """``url`` without userinfo and with secret-looking query values masked (for logs and manifests)."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = urlencode([(k, "***" if _SECRET_PARAM.search(k) and k != "pageToken" else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="[]()*,:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _user_agent() -> str:
    try:
        from importlib.metadata import version

        v = version("deepimagine")
    except Exception:  # not installed: still identify ourselves
        v = "dev"
    return f"deepimagine/{v} (clinical-trial research pipeline; python-requests/{requests.__version__})"


# ---------------------------------------------------------------- query


def validate(cfg) -> None:
    """Raise ValueError (a ParamsError) naming the bad ``data.ctgov`` key: the checks of params.py, run again
    here for a config built or changed in code."""
    check_ctgov(cfg)


def build_query(cfg) -> dict[str, str]:
    """The query parameters sent with every page (``pageToken``/``countTotal`` are added per page).

    - ``query.cond`` / ``query.term``: condition and free-text search (when set);
    - ``filter.advanced``: an Essie expression ANDing ``AREA[Phase](PHASE2 OR PHASE3)``,
      ``AREA[StudyType]INTERVENTIONAL`` and ``AREA[StartDate]RANGE[from,to]`` (MIN/MAX when open);
    - ``aggFilters=results:with``: only studies with posted results;
    - ``pageSize``: ``min(page_size, max_studies)``; ``format=json``.
    """
    validate(cfg)
    query: dict[str, str] = {"format": "json"}
    if cfg.condition:
        query["query.cond"] = str(cfg.condition)
    if cfg.term:
        query["query.term"] = str(cfg.term)
    clauses = []
    if cfg.phases:
        clauses.append(f"AREA[Phase]({' OR '.join(cfg.phases)})")
    if cfg.interventional_only:
        clauses.append("AREA[StudyType]INTERVENTIONAL")
    if cfg.start_date_from or cfg.start_date_to:
        clauses.append(f"AREA[StartDate]RANGE[{cfg.start_date_from or 'MIN'},{cfg.start_date_to or 'MAX'}]")
    if clauses:
        query["filter.advanced"] = " AND ".join(clauses)
    if cfg.results_only:
        query["aggFilters"] = "results:with"
    page_size = cfg.page_size if cfg.max_studies is None else min(cfg.page_size, cfg.max_studies)
    query["pageSize"] = str(page_size)
    return query


def version_url(base_url: str) -> str:
    """``.../api/v2/studies`` -> ``.../api/v2/version``."""
    return re.sub(r"/studies/?$", "/version", base_url.rstrip("/"))


def content_key(study: Any) -> str:
    """A stable key for a study without an nctId: the hash of its canonical JSON."""
    text = json.dumps(study, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def study_key(study: Any) -> str:
    """nctId when there is one, else the content hash (how stored studies are recognised)."""
    return nct_id(study) or content_key(study)


def encode_problem(study: Any) -> Optional[str]:
    """Why ``study`` cannot be written as UTF-8 JSON (a lone surrogate, nesting too deep), or None."""
    try:
        json.dumps(study, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
    except UnicodeEncodeError as e:
        return f"cannot be encoded as UTF-8 ({e.reason} at position {e.start}: a lone surrogate)"
    except RecursionError:
        return "nesting too deep to encode"
    return None


_NCT_IN_TEXT = re.compile(r'"nctId"\s*:\s*"(NCT\d{8})"')
# strings (with escapes) and the structural characters of JSON: enough to find containers' children
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]')


@dataclass
class Unparsed:
    """A study in a page that could not be parsed (kept in place of it, for quarantine)."""
    position: int
    reason: str
    nct_id: Optional[str] = None


def _children(text: str, open_pos: int) -> tuple[list[tuple[Optional[str], int, int]], int]:
    """Direct children of the JSON container opening at ``open_pos``: [(key or None, start, end)], close pos.

    A linear scan (no recursion), so it works on nesting too deep for ``json.loads``.
    """
    depth, key, start, out = 0, None, None, []
    is_obj = text[open_pos] == "{"
    expect_key = is_obj
    for m in _JSON_TOKEN.finditer(text, open_pos):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth == 1:
                start = m.end()
                continue
        elif tok in "]}":
            depth -= 1
            if depth == 0:
                if start is not None and text[start:m.start()].strip():
                    out.append((key, start, m.start()))
                return out, m.start()
        if depth != 1:
            continue
        if tok == ",":
            if start is not None and text[start:m.start()].strip():
                out.append((key, start, m.start()))
            start, key, expect_key = m.end(), None, is_obj
        elif tok == ":" and is_obj:
            start = m.end()
        elif tok.startswith('"') and is_obj and expect_key:
            key, expect_key = json.loads(tok), False
    raise ValueError("unterminated JSON container")


def parse_page_leniently(body: str) -> dict:
    """A page whose JSON is too deeply nested for ``json.loads``: every study parsed on its own.

    Studies that still cannot be parsed become ``Unparsed`` (with their position and, when the text
    shows one, their nctId); the other top-level keys are parsed as usual.
    """
    first = len(body) - len(body.lstrip())
    if body[first:first + 1] != "{":
        raise ValueError("not a JSON object")
    children, _ = _children(body, first)
    payload: dict = {}
    for key, a, b in children:
        if key != "studies":
            payload[key] = json.loads(body[a:b])
            continue
        vstart = a + len(body[a:b]) - len(body[a:b].lstrip())
        if body[vstart] != "[":
            payload[key] = json.loads(body[a:b])
            continue
        studies: list = []
        for pos, (_, sa, sb) in enumerate(_children(body, vstart)[0]):
            try:
                studies.append(json.loads(body[sa:sb]))
            except RecursionError:
                m = _NCT_IN_TEXT.search(body, sa, sb)
                studies.append(Unparsed(pos, "JSON nesting too deep to parse", m.group(1) if m else None))
            except ValueError as e:
                m = _NCT_IN_TEXT.search(body, sa, sb)
                studies.append(Unparsed(pos, f"invalid JSON: {e}", m.group(1) if m else None))
        payload[key] = studies
    return payload


NCT_ID = re.compile(r"NCT\d{8}")


def nct_id(study: Any) -> Optional[str]:
    """``protocolSection.identificationModule.nctId`` when it is a string like NCT01234567, else None."""
    if not isinstance(study, dict):
        return None
    ident = (study.get("protocolSection") or {})
    ident = ident.get("identificationModule") if isinstance(ident, dict) else None
    value = ident.get("nctId") if isinstance(ident, dict) else None
    return value if isinstance(value, str) and NCT_ID.fullmatch(value) else None


# ---------------------------------------------------------------- HTTP with retries


class RateLimiter:
    """At most ``rate`` request starts per second (a minimum interval between starts)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / rate
        self.clock, self.sleep = clock, sleep
        self._next = 0.0

    def wait(self) -> None:
        now = self.clock()
        if now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, min(float(value), MAX_RETRY_AFTER_S))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = time.time() if now is None else now
    return max(0.0, min(when.timestamp() - now, MAX_RETRY_AFTER_S))


@dataclass
class Client:
    """GET JSON from the API with a rate limit and retries (exponential backoff, full jitter)."""

    session: requests.Session
    timeout_s: float
    max_retries: int
    limiter: RateLimiter
    backoff_base_s: float = 1.0
    backoff_max_s: float = 120.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    sleep: Callable[[float], None] = time.sleep
    deadline_s: float = 300.0
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_params(cls, cfg, backoff_base_s: float = 1.0, backoff_max_s: float = 120.0,
                    seed: int = 0) -> "Client":
        session = requests.Session()
        session.headers.update({"User-Agent": _user_agent(), "Accept": "application/json"})
        return cls(session=session, timeout_s=cfg.timeout_s, max_retries=cfg.max_retries,
                   limiter=RateLimiter(cfg.requests_per_second), backoff_base_s=backoff_base_s,
                   backoff_max_s=backoff_max_s, rng=random.Random(seed), deadline_s=cfg.request_deadline_s)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**attempt))."""
        return self.rng.uniform(0.0, min(self.backoff_max_s, self.backoff_base_s * (2 ** attempt)))

    def _body(self, resp: requests.Response, started: float) -> bytes:
        """The whole body, or ``DeadlineExceeded`` once the request has run ``deadline_s`` in all."""
        chunks = []
        while True:  # read1: whatever has arrived (up to 64 KiB), so the deadline is checked between bytes
            chunk = resp.raw.read1(1 << 16, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            if self.clock() - started > self.deadline_s:
                resp.close()
                raise DeadlineExceeded(f"request ran past its {self.deadline_s:g} s deadline "
                                       f"({sum(map(len, chunks))} bytes read)")
        return b"".join(chunks)

    @staticmethod
    def _parse(content: bytes) -> Any:
        text = content.decode("utf-8")  # UnicodeDecodeError is a ValueError: retried as an invalid body
        try:
            return json.loads(text)
        except RecursionError:  # one study nested too deeply: parse the page study by study
            return parse_page_leniently(text)

    def get_json(self, url: str, params: dict[str, str], expect_key: Optional[str] = None) -> dict:
        """GET ``url`` and return its JSON object, retrying transient failures.

        Retried: 429 (waiting at least Retry-After), 500/502/503/504, timeouts, connection
        errors and resets, and bodies that are not a complete JSON object (with ``expect_key``
        when given). Anything else (e.g. 400, 404) raises at once.
        """
        attempts = self.max_retries + 1
        last = "no attempt made"
        full_url = redact_url(requests.Request("GET", url, params=params).prepare().url)
        for attempt in range(attempts):
            self.limiter.wait()
            retry_after = None
            started = self.clock()
            try:
                resp = self.session.get(url, params=params, timeout=(self.timeout_s, self.timeout_s), stream=True)
                content = self._body(resp, started)
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError, urllib3.exceptions.HTTPError, DeadlineExceeded) as e:
                last = redact_url(f"{type(e).__name__}: {e}") if not isinstance(e, DeadlineExceeded) else str(e)
            else:
                if resp.status_code == 200:
                    try:
                        payload = self._parse(content)
                    except (ValueError, RecursionError) as e:  # truncated or invalid JSON
                        last = f"HTTP 200 with an invalid JSON body ({len(content)} bytes): {type(e).__name__}: {str(e)[:200]}"
                    else:
                        if isinstance(payload, dict) and (expect_key is None or isinstance(payload.get(expect_key), list)):
                            return payload
                        last = f"HTTP 200 with a JSON body that is not an object with a {expect_key!r} list"
                elif resp.status_code in RETRY_STATUSES:
                    last = f"HTTP {resp.status_code}: {content[:200]!r}"
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                else:
                    msg = f"{full_url} answered HTTP {resp.status_code}: {content[:300]!r}"
                    if resp.status_code == 400 and "pageToken" in params:
                        raise PageTokenRejected(msg)
                    raise CtgovError(msg)
            if attempt + 1 >= attempts:
                break
            wait = self.backoff(attempt)
            if retry_after is not None:
                wait = max(wait, retry_after)
            log.warning("attempt %d/%d for %s failed (%s); retrying in %.2fs", attempt + 1, attempts, full_url, last, wait)
            self.sleep(wait)
        raise CtgovError(f"giving up on {full_url} after {attempts} attempts (max_retries={self.max_retries}); last error: {last}")


# ---------------------------------------------------------------- resumable download


def _page_path(work_dir: Path, index: int) -> Path:
    return work_dir / f"page_{index:05d}.jsonl"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _url_fingerprint(base_url: str) -> str:
    """What the state file records of ``base_url``: redacted, plus a hash telling credentials apart."""
    return f"{redact_url(base_url)} sha256:{hashlib.sha256(base_url.encode('utf-8')).hexdigest()[:16]}"


def _new_state(base_url: str, query: dict, max_studies: Optional[int]) -> dict:
    return {
        "version": STATE_VERSION, "base_url": _url_fingerprint(base_url), "query": query, "max_studies": max_studies,
        "pages_done": 0, "next_page_token": None, "finished": False, "total_count": None,
        "token_restarts": 0, "api_version": None, "started": _now(),
        "counts": {"fetched": 0, "stored": 0, "duplicates_skipped": 0, "non_object_dropped": 0, "quarantined": 0},
        "pages": [],  # per stored page: {"file", "studies", "token", "quarantined": [...]} (token = the pageToken sent)
        # the current paging pass (from the first page): tokens sent, items fetched, pages, pages with nothing new
        "pass": {"tokens": [], "fetched": 0, "pages": 0, "empty_streak": 0, "grace": 0},
        "shortfall": None,
    }


def _clean_tmp(directory: Path) -> None:
    """Remove temp files left by an atomic write that was killed."""
    if directory.is_dir():
        for tmp in directory.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def _load_state(work_dir: Path, base_url: str, query: dict, max_studies: Optional[int]) -> dict:
    state_path = work_dir / STATE_FILE
    if state_path.exists():
        try:
            state = io.read_json(state_path)
        except ValueError:
            state = None
            log.warning("%s is unreadable; starting the download afresh", state_path)
        if state and (state.get("version"), state.get("base_url"), state.get("query"), state.get("max_studies")) == (
                STATE_VERSION, _url_fingerprint(base_url), query, max_studies):
            log.info("resuming the ClinicalTrials.gov download: %d pages (%d studies) already stored in %s",
                     state["pages_done"], state["counts"]["stored"], work_dir)
            return state
        if state:
            log.warning("%s holds a download for a different query; discarding it", work_dir)
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    return _new_state(base_url, query, max_studies)


def _stored_keys(work_dir: Path, state: dict) -> set[str]:
    keys: set[str] = set()
    for page in state["pages"]:
        for study in io.read_jsonl(work_dir / page["file"]):
            keys.add(study_key(study))
    return keys


def _fetch_api_version(client: Client, base_url: str) -> Optional[dict]:
    url = version_url(base_url)
    saved = client.max_retries
    client.max_retries = min(saved, 2)
    try:
        payload = client.get_json(url, {})
        return {k: payload[k] for k in ("apiVersion", "dataTimestamp") if k in payload} or None
    except CtgovError as e:
        log.warning("could not read the API version from %s: %s", url, e)
        return None
    finally:
        client.max_retries = saved


def _page_budget(cfg, state: dict, page_size: int) -> Optional[int]:
    """Pages one paging pass may take: ``max_pages``, else what ``totalCount`` implies plus slack."""
    if cfg.max_pages is not None:
        return cfg.max_pages
    if state["total_count"] is None:
        return None
    return -(-state["total_count"] // page_size) + cfg.max_empty_pages + state["pass"]["grace"]


def _sort_page(payload: dict, known: set[str], counts: dict, page_index: int) -> tuple[list[dict], list[dict]]:
    """(new studies to store, quarantined items) of one page; ``known`` and ``counts`` are updated."""
    new_rows, quarantined = [], []
    for pos, study in enumerate(payload["studies"]):
        counts["fetched"] += 1
        where = f"page {page_index} position {pos}"
        if isinstance(study, Unparsed):
            quarantined.append({"where": where, "nct_id": study.nct_id, "reason": study.reason})
            continue
        if not isinstance(study, dict):
            counts["non_object_dropped"] += 1
            quarantined.append({"where": where, "nct_id": None, "reason": f"JSON {type(study).__name__}, not an object",
                                "non_object": True})
            continue
        problem = encode_problem(study)
        if problem:
            quarantined.append({"where": where, "nct_id": nct_id(study), "reason": problem})
            continue
        key = study_key(study)
        if key in known:
            counts["duplicates_skipped"] += 1
            continue
        known.add(key)
        new_rows.append(study)
    counts["quarantined"] += sum(1 for q in quarantined if not q.get("non_object"))
    return new_rows, quarantined


def _check_shortfall(cfg, state: dict) -> None:
    """Paging ended: did this pass fetch as many items as ``totalCount`` said? Error or loud warning."""
    total, got = state["total_count"], state["pass"]["fetched"]
    if total is None or got >= total:
        return
    if cfg.max_studies is not None and state["counts"]["stored"] >= cfg.max_studies:
        return
    msg = (f"{redact_url(cfg.base_url)} reported totalCount {total} but paging ended (no nextPageToken) after "
           f"{got} studies: {total - got} missing")
    if cfg.on_shortfall == "error":
        raise CtgovError(msg + " (set data.ctgov.on_shortfall: warn to keep what was fetched)")
    log.warning("!!! %s; keeping the %d studies fetched (data.ctgov.on_shortfall: warn)", msg, got)
    state["shortfall"] = {"total_count": total, "fetched": got, "missing": total - got}


def fetch_pages(cfg, work_dir: Path = DEFAULT_WORK_DIR, *, client: Optional[Client] = None,
                backoff_base_s: float = 1.0, progress: bool = True) -> dict:
    """Fetch (or resume fetching) every page of the query into ``work_dir``; return the state."""
    query = build_query(cfg)
    page_size = int(query["pageSize"])
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    _clean_tmp(work_dir)
    state = _load_state(work_dir, cfg.base_url, query, cfg.max_studies)
    client = client or Client.from_params(cfg, backoff_base_s=backoff_base_s)
    if state["pages_done"] == 0 and not state["finished"] and state["api_version"] is None:
        state["api_version"] = _fetch_api_version(client, cfg.base_url)
    known = set() if state["finished"] else _stored_keys(work_dir, state)
    counts, pas = state["counts"], state["pass"]
    seen_tokens = set(pas["tokens"])
    bar_total = state["total_count"]
    if bar_total is not None and cfg.max_studies is not None:
        bar_total = min(bar_total, cfg.max_studies)
    bar = tqdm(total=bar_total, initial=counts["stored"], unit="study", desc="ctgov", disable=not progress)
    try:
        while not state["finished"]:
            if cfg.max_studies is not None and counts["stored"] >= cfg.max_studies:
                state["finished"] = True
                break
            budget = _page_budget(cfg, state, page_size)
            if budget is not None and pas["pages"] >= budget:
                raise CtgovError(f"{redact_url(cfg.base_url)}: {pas['pages']} pages in this paging pass, the budget "
                                 f"(data.ctgov.max_pages, or totalCount {state['total_count']} / {page_size} per page "
                                 f"+ slack) is spent; the server keeps handing out tokens; stopping")
            token = state["next_page_token"]
            params = dict(query)
            if token:
                params["pageToken"] = token
            else:
                params["countTotal"] = "true"
            try:
                payload = client.get_json(cfg.base_url, params, expect_key="studies")
            except PageTokenRejected as e:
                if state["token_restarts"] >= MAX_TOKEN_RESTARTS:
                    raise CtgovError(f"page tokens rejected {state['token_restarts'] + 1} times; last: {e}") from e
                state["token_restarts"] += 1
                state["next_page_token"] = None
                # a new pass: the pages stored so far may all come back as duplicates
                state["pass"] = pas = {"tokens": [], "fetched": 0, "pages": 0, "empty_streak": 0,
                                       "grace": state["pages_done"]}
                seen_tokens = set()
                log.warning("stored page token rejected (%s); paging again from the first page, "
                            "skipping the %d studies already stored", e, len(known))
                io.write_json(work_dir / STATE_FILE, state)
                continue
            if not token and isinstance(payload.get("totalCount"), int):
                state["total_count"] = payload["totalCount"]
                bar.total = payload["totalCount"] if cfg.max_studies is None else min(payload["totalCount"], cfg.max_studies)
                bar.refresh()
            index = state["pages_done"]
            new_rows, quarantined = _sort_page(payload, known, counts, index)
            for q in quarantined:
                log.warning("quarantined %s (%s): %s", q["where"], q["nct_id"] or "no nctId", q["reason"])
            next_token = payload.get("nextPageToken") or None
            if next_token is not None and not isinstance(next_token, str):
                raise CtgovError(f"{redact_url(cfg.base_url)} returned a nextPageToken that is not a string: {next_token!r}")
            if next_token is not None and (next_token == token or next_token in seen_tokens):
                raise CtgovError(f"{redact_url(cfg.base_url)} returned a nextPageToken already followed in this paging "
                                 f"pass ({next_token[:60]!r}): the tokens form a cycle; stopping")
            pas["empty_streak"] = 0 if (new_rows or quarantined) else pas["empty_streak"] + 1
            if next_token is not None and pas["empty_streak"] >= cfg.max_empty_pages + pas["grace"]:
                raise CtgovError(f"{redact_url(cfg.base_url)}: {pas['empty_streak']} pages in a row with nothing new "
                                 f"(data.ctgov.max_empty_pages={cfg.max_empty_pages}) and still a nextPageToken; stopping")
            pas["fetched"] += len(payload["studies"])
            pas["pages"] += 1
            if token:
                pas["tokens"].append(token)
                seen_tokens.add(token)
            if next_token is None:
                _check_shortfall(cfg, state)
            name = _page_path(work_dir, index).name
            io.write_jsonl(work_dir / name, new_rows)  # the page first ...
            counts["stored"] += len(new_rows)
            state["pages"].append({"file": name, "studies": len(new_rows), "token": token, "quarantined": quarantined})
            state["pages_done"] = index + 1
            state["next_page_token"] = next_token
            state["finished"] = next_token is None
            io.write_json(work_dir / STATE_FILE, state)  # ... then the state that points past it
            bar.update(len(new_rows))
        state["finished_at"] = state.get("finished_at") or _now()
        io.write_json(work_dir / STATE_FILE, state)
    finally:
        bar.close()
    return state


def _iter_merged(work_dir: Path, state: dict, max_studies: Optional[int], tally: dict) -> Iterator[dict]:
    seen: set[str] = set()
    for page in state["pages"]:
        for study in io.read_jsonl(work_dir / page["file"]):
            if max_studies is not None and tally["written"] >= max_studies:
                tally["over_max_studies"] += 1
                continue
            key = study_key(study)
            if key in seen:
                tally["duplicates_skipped"] += 1
                continue
            seen.add(key)
            if nct_id(study) is None:
                tally["invalid"] += 1
            tally["written"] += 1
            yield study


def merge_pages(work_dir: Path, state: dict, out_path: Path) -> dict:
    """Write the stored pages to ``out_path`` (gzipped JSON Lines, atomically); return counts."""
    tally = {"written": 0, "duplicates_skipped": 0, "invalid": 0, "over_max_studies": 0}
    io.write_jsonl(out_path, _iter_merged(Path(work_dir), state, state.get("max_studies"), tally))
    counts = dict(state["counts"])
    counts.setdefault("quarantined", 0)
    counts["duplicates_skipped"] += tally["duplicates_skipped"]
    counts.update(written=tally["written"], invalid=tally["invalid"], over_max_studies=tally["over_max_studies"])
    return counts


def quarantine_rows(state: dict) -> list[dict]:
    """Every fetched item that was not stored, except duplicates: one row each, for the accounting."""
    rows = []
    for page in state["pages"]:
        for q in page.get("quarantined", []):
            rows.append({"stage": "download", "outcome": "unreadable" if q.get("non_object") else "quarantined",
                         "where": q["where"], "nct_id": q["nct_id"], "reason": q["reason"]})
    return rows


def download(cfg, out_path: Path, work_dir: Path = DEFAULT_WORK_DIR, *, backoff_base_s: float = 1.0,
             client: Optional[Client] = None, progress: bool = True, remove_work_dir: bool = False) -> dict:
    """Fetch (resuming if possible) and write every study of the query to ``out_path``.

    Returns a summary for the manifest: query (``base_url`` redacted), counts, api_version, times, and
    ``quarantine`` (one row per item not written, duplicates aside). Counts reconcile:
    ``fetched = written + duplicates_skipped + non_object_dropped + quarantined + over_max_studies``
    (``invalid`` studies, with no nctId, are written for the tables stage to quarantine).
    """
    state = fetch_pages(cfg, work_dir, client=client, backoff_base_s=backoff_base_s, progress=progress)
    counts = merge_pages(Path(work_dir), state, Path(out_path))
    if counts["written"] == 0:
        log.warning("the query matched no studies: %s", state["query"])
    summary = {
        "query": {"base_url": redact_url(cfg.base_url), "params": state["query"], "max_studies": cfg.max_studies},
        "counts": counts,
        "total_count": state["total_count"],
        "shortfall": state.get("shortfall"),
        "pages": state["pages_done"],
        "token_restarts": state["token_restarts"],
        "api_version": state["api_version"],
        "fetch_started": state["started"],
        "fetch_finished": state["finished_at"],
        "quarantine": quarantine_rows(state),
    }
    if remove_work_dir:
        remove_work(work_dir)
    return summary


def remove_work(work_dir: Path = DEFAULT_WORK_DIR) -> None:
    shutil.rmtree(Path(work_dir), ignore_errors=True)
