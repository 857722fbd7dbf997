"""CCAI AnalyzeConversation (ROA style, version 2024-06-03) over httpx, signed with ACS3
(docs/protocols.md#ccai-analysis, #signing-alibaba-cloud-requests).

`POST {CCAI_ENDPOINT}/{workspaceId}/ccai/app/{appId}/analyze_conversation` with a
JSON body, answered either with one JSON object or, with `stream: true`, with
Server-Sent Events whose every `data:` line is a whole JSON object of the same shape
(`finishReason` null until the last). Streamed `text` is assembled whether the
service sends increments or the text so far (see `assemble`).

Retries: throttling (`CCAI.Throttling.Qps` / `.Qpm`, HTTP 429, `x-acs-retry-after`
in milliseconds honoured), 5xx, timeouts and broken connections, bounded by
CCAI_MAX_RETRIES and by the caller's deadline. Anything else is permanent.
Failures raise `CcaiFailure`, which says whether trying again later could help.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from shared.clients import acs3 as acs
from shared.clients import retry
from shared.clients.acs3 import Prepared
from shared.log import logger
from shared.settings import CcaiSettings, CloudCredentials, load

VERSION = "2024-06-03"
ACTION = "AnalyzeConversation"
SERVICE = "CCAI"
CONTENT_TYPE = "application/json; charset=utf-8"
SUCCESS_CODES = (None, "", "success", "Success", "0", "200")


class CcaiFailure(Exception):
    """AnalyzeConversation did not succeed. `retryable`: a later attempt may (throttling,
    5xx, timeouts, broken connections); otherwise the request itself is refused."""

    def __init__(self, message: str, *, code: str, status: int | None, retryable: bool,
                 request_id: str | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retryable = retryable
        self.request_id = request_id
        self.attempts = attempts


class Answer:
    """One successful AnalyzeConversation: the final JSON object (streamed text assembled)."""

    __slots__ = ("body", "request_id", "attempts", "upstream_ms", "events")

    def __init__(self, body: dict[str, Any], request_id: str | None, attempts: int, upstream_ms: float,
                 events: int = 0) -> None:
        self.body = body
        self.request_id = request_id
        self.attempts = attempts
        self.upstream_ms = upstream_ms
        self.events = events  # SSE events received (0 when not streamed)

    def __repr__(self) -> str:
        return (f"Answer(body={self.body!r}, request_id={self.request_id!r}, attempts={self.attempts!r}, "
                f"upstream_ms={self.upstream_ms!r}, events={self.events!r})")


def path_for(workspace_id: str, app_id: str) -> str:
    return f"/{acs.percent(workspace_id)}/ccai/app/{acs.percent(app_id)}/analyze_conversation"


def encode_body(body: dict[str, Any]) -> bytes:
    """The JSON bytes the official SDK sends for the same body: UTF-8, compact, keys sorted."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def prepare(body: dict[str, Any], *, endpoint: str, workspace_id: str, app_id: str, credentials: CloudCredentials,
            date: str | None = None, nonce: str | None = None) -> Prepared:
    """Build and sign one AnalyzeConversation request."""
    parts = urlsplit(endpoint)
    host = parts.netloc
    path = path_for(workspace_id, app_id)
    data = encode_body(body)
    token = credentials.ALIBABA_CLOUD_SECURITY_TOKEN
    headers = acs.sign_request(
        method="POST", host=host, path=path, query={}, body=data, action=ACTION, version=VERSION,
        access_key_id=credentials.ALIBABA_CLOUD_ACCESS_KEY_ID,
        access_key_secret=credentials.ALIBABA_CLOUD_ACCESS_KEY_SECRET.get_secret_value(),
        security_token=token.get_secret_value() if token else None, content_type=CONTENT_TYPE,
        date=date, nonce=nonce, extra_headers={"accept": "application/json"},
    )
    return Prepared("POST", f"{parts.scheme}://{host}{path}", host, path, {}, headers, data)


# --- Server-Sent Events -------------------------------------------------------------

def sse_events(lines: Iterable[str]) -> Iterator[str]:
    """The data of each event of an SSE stream (multi-line data joined by newlines;
    comments, `event:`/`id:`/`retry:` fields ignored)."""
    data: list[str] = []
    for line in lines:
        line = line.rstrip("\r")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def assemble(texts: list[str]) -> str:
    """The whole text from the `text` of each streamed event. If every event's text
    starts with everything before it, the service sent the text so far (take the
    last); otherwise it sent increments (join them)."""
    texts = [t for t in texts if t]
    if not texts:
        return ""
    cumulative = all(b.startswith(a) for a, b in zip(texts, texts[1:]))
    return texts[-1] if cumulative and len(texts) > 1 else "".join(texts)


def _check_answer(obj: Any, status: int, request_id: str | None) -> dict[str, Any]:
    """`obj` if it is a successful answer object, else CcaiFailure."""
    if not isinstance(obj, dict):
        raise CcaiFailure("CCAI answered something that is not a JSON object", code="CCAI.InvalidResponse",
                          status=status, retryable=True, request_id=request_id)
    code = obj.get("errorCode")
    if obj.get("success") is False or (code not in SUCCESS_CODES and obj.get("success") is not True):
        code = str(code or obj.get("code") or obj.get("Code") or "CCAI.Failed")
        message = str(obj.get("errorInfo") or obj.get("message") or obj.get("Message") or "")[:300]
        retryable = "Throttling" in code or "InternalError" in code or "ServiceUnavailable" in code
        raise CcaiFailure(f"CCAI refused the analysis: {code}: {message}", code=code, status=status,
                          retryable=retryable, request_id=obj.get("requestId") or request_id)
    return obj


class CcaiClient:
    """Calls AnalyzeConversation; one connection pool per warm instance."""

    def __init__(self, settings: CcaiSettings, credentials: CloudCredentials, http: Any = None) -> None:
        self.settings = settings
        self.credentials = credentials
        self._http = http or retry.http_client(settings.CCAI_CONNECT_TIMEOUT_SECONDS,
                                                  settings.CCAI_READ_TIMEOUT_SECONDS)

    def prepare(self, body: dict[str, Any]) -> Prepared:
        s = self.settings
        return prepare(body, endpoint=s.CCAI_ENDPOINT, workspace_id=s.CCAI_WORKSPACE_ID or "",
                       app_id=s.CCAI_APP_ID or "", credentials=self.credentials)

    def _timeout(self, deadline: float | None) -> Any:
        import httpx

        read = self.settings.CCAI_READ_TIMEOUT_SECONDS
        if deadline is not None:
            read = max(0.1, min(read, deadline - time.monotonic()))
        return httpx.Timeout(read, connect=min(read, self.settings.CCAI_CONNECT_TIMEOUT_SECONDS))

    def _once(self, body: dict[str, Any], deadline: float | None) -> tuple[dict[str, Any], int]:
        """One signed attempt: (answer, SSE events) or CcaiFailure (with headers for retry)."""
        import httpx

        req = self.prepare(body)
        stream = bool(body.get("stream"))
        try:
            with self._http.stream("POST", req.url, headers=req.headers, content=req.body,
                                   timeout=self._timeout(deadline)) as resp, retry.cut_off_at(resp, deadline):
                status = resp.status_code
                rid = resp.headers.get("x-acs-request-id")
                ctype = resp.headers.get("content-type", "")
                if 200 <= status < 300 and stream and "text/event-stream" in ctype:
                    return self._read_stream(resp, status, rid)
                resp.read()
        except httpx.TimeoutException:
            raise CcaiFailure("CCAI did not answer in time", code="CCAI.Timeout", status=None, retryable=True) from None
        except httpx.TransportError as exc:
            raise CcaiFailure(f"CCAI could not be reached ({type(exc).__name__})", code="CCAI.Unreachable",
                              status=None, retryable=True) from None
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        if 200 <= status < 300:
            return _check_answer(payload, status, rid), 0
        code, message, request_id = retry.error_fields(payload)
        code = code or f"HTTP{status}"
        retryable = status >= 500 or retry.is_throttling(status, code, resp.headers)
        failure = CcaiFailure(f"CCAI refused the analysis ({status} {code}): {(message or '')[:300]}", code=code,
                              status=status, retryable=retryable, request_id=request_id or rid)
        failure.retry_after = retry.retry_after_seconds(resp.headers)  # type: ignore[attr-defined]
        raise failure

    def _read_stream(self, resp: Any, status: int, rid: str | None) -> tuple[dict[str, Any], int]:
        texts: list[str] = []
        last: dict[str, Any] | None = None
        count = 0
        for data in sse_events(resp.iter_lines()):
            if data.strip() == "[DONE]":
                break
            try:
                obj = json.loads(data)
            except ValueError:
                raise CcaiFailure("CCAI sent a stream event that is not JSON", code="CCAI.InvalidResponse",
                                  status=status, retryable=True, request_id=rid) from None
            obj = _check_answer(obj, status, rid)
            count += 1
            if isinstance(obj.get("text"), str):
                texts.append(obj["text"])
            last = {**(last or {}), **{k: v for k, v in obj.items() if v is not None}}
        if last is None:
            raise CcaiFailure("CCAI's stream ended without an event", code="CCAI.InvalidResponse", status=status,
                              retryable=True, request_id=rid)
        if last.get("finishReason") in (None, ""):
            raise CcaiFailure("CCAI's stream ended before its last event (no finishReason)",
                              code="CCAI.IncompleteStream", status=status, retryable=True,
                              request_id=last.get("requestId") or rid)
        last["text"] = assemble(texts)
        return last, count

    def analyze(self, body: dict[str, Any], *, deadline: float | None = None) -> Answer:
        """AnalyzeConversation with bounded retries inside `deadline` (time.monotonic)."""
        attempts = self.settings.CCAI_MAX_RETRIES + 1
        started = time.perf_counter()
        for attempt in range(attempts):
            try:
                answer, events = self._once(body, deadline)
            except CcaiFailure as exc:
                exc.attempts = attempt + 1
                logger.warning("ccai call failed", extra={"attempt": attempt + 1, "status": exc.status,
                                                          "error_code": exc.code, "retryable": exc.retryable,
                                                          "ccai_request_id": exc.request_id})
                if not exc.retryable or attempt + 1 >= attempts:
                    raise
                wait = getattr(exc, "retry_after", None) or retry.backoff(attempt, base=0.25, cap=8.0)
                if not retry.sleep_within(wait, deadline):
                    raise
                continue
            ms = (time.perf_counter() - started) * 1000
            rid = answer.get("requestId")
            logger.debug("ccai call", extra={"attempt": attempt + 1, "ms": round(ms, 1), "events": events})
            return Answer(answer, rid, attempt + 1, ms, events)
        raise AssertionError("unreachable")


_client: CcaiClient | None = None


def get_client() -> CcaiClient:
    """The process-wide client (settings and credentials parsed once, one connection pool)."""
    global _client
    if _client is None:
        _client = CcaiClient(load(CcaiSettings), load(CloudCredentials))
    return _client


def reset_client() -> None:
    global _client
    _client = None
