"""What every upstream call (ICE, CCAI, a call-log download) shares: bounded retries
with jittered backoff, honouring `x-acs-retry-after`, and one error mapping.

Status rules (whose fault is it?): the caller's bad input or a missing thing stays
400/404; throttling 429; an upstream auth or signature failure is *our*
misconfiguration, so 502 (never 403: the client kits read 403 as "log in again");
upstream 5xx 502; timeout 504.
"""
from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

from shared.errors import AppError, BadRequest, NotFound, Throttled, UpstreamError, UpstreamTimeout

# Codes that mean "the server's credentials or permissions are wrong", whatever the status.
_AUTH_CODES = ("SignatureDoesNotMatch", "IncompleteSignature", "InvalidAccessKeyId", "InvalidSecurityToken",
               "InvalidTimeStamp", "SignatureNonceUsed", "Forbidden.RAM", "Forbidden.AccessDenied", "NoPermission",
               "MissingAuthorization", "InvalidAuthorization", "Forbidden.NoPermission", "IllegalPermission",
               "TenantPermission", "Unauthorized", "NotAuthorized", "AccessDenied")


def http_client(connect_timeout: float, read_timeout: float) -> Any:
    """The httpx client (one connection pool per warm instance) of an upstream service, on our
    lean transport (shared/clients/transport.py). httpx is imported here, so functions that call
    no upstream never pay for it."""
    import httpx

    from shared.clients.transport import Transport

    return httpx.Client(timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
                        transport=Transport(max_idle_per_origin=4, keepalive_expiry=60), trust_env=False)


class cut_off_at:
    """`with cut_off_at(response, deadline):` reading a streamed httpx response inside
    the block is interrupted at `deadline` (monotonic), whatever the server's pace.

    httpx's read timeout bounds each socket read, not a whole answer: a body that
    trickles in (an SSE stream, a slow link) could run past the caller's time budget.
    A timer shuts the socket down at the deadline; the interrupted read raises an httpx
    transport error, which the callers' retry loops already handle. Without a deadline,
    or a socket (test transports), it does nothing.
    """

    def __init__(self, response: Any, deadline: float | None) -> None:
        self.timer = None
        if deadline is None:
            return
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        import socket
        import threading

        def cut() -> None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        self.timer = threading.Timer(max(0.0, deadline - time.monotonic()), cut)
        self.timer.daemon = True

    def __enter__(self) -> cut_off_at:
        if self.timer is not None:
            self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.timer is not None:
            self.timer.cancel()


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`x-acs-retry-after` (integer milliseconds, as the official SDKs read it) in seconds."""
    raw = headers.get("x-acs-retry-after")
    try:
        ms = int(raw) if raw not in (None, "") else 0
    except (TypeError, ValueError):
        return None
    return ms / 1000.0 if ms > 0 else None


def is_throttling(status: int, code: str | None, headers: Mapping[str, str]) -> bool:
    """Throttled: HTTP 429, a Throttling* code (ICE, CCAI.Throttling.*), or a retry-after hint."""
    return status == 429 or "Throttling" in (code or "") or retry_after_seconds(headers) is not None


def is_auth_failure(status: int, code: str | None) -> bool:
    return status in (401, 403) or any(c in (code or "") for c in _AUTH_CODES)


def backoff(attempt: int, base: float = 0.1, cap: float = 2.0) -> float:
    """Full-jitter exponential backoff for retry number `attempt` (0-based)."""
    return random.uniform(0, min(cap, base * (2 ** attempt)))


def error_fields(payload: Any) -> tuple[str | None, str | None, str | None]:
    """(code, message, request id) from an Alibaba Cloud error body (Code/code, ...)."""
    if not isinstance(payload, Mapping):
        return None, None, None

    def pick(*names: str) -> str | None:
        for n in names:
            v = payload.get(n)
            if v not in (None, ""):
                return str(v)
        return None

    return pick("Code", "code", "errorCode"), pick("Message", "message", "errorInfo"), pick("RequestId", "requestId")


def map_error(service: str, status: int, code: str | None, message: str | None, request_id: str | None,
              headers: Mapping[str, str]) -> AppError:
    """The AppServer error for an upstream failure (see the module docstring)."""
    from shared.log import redact_text

    code = code or f"HTTP{status}"
    text = redact_text((message or "").strip())[:300]
    if is_throttling(status, code, headers):
        wait = retry_after_seconds(headers)
        hdrs = {"Retry-After": str(max(1, round(wait)))} if wait else {}
        return Throttled(f"{service} is throttling requests; retry later", error_code=code,
                         request_id=request_id, headers=hdrs)
    if is_auth_failure(status, code):
        # Our credentials/permissions: the client can do nothing about it; don't echo details.
        return UpstreamError(f"{service} refused the server's credentials or permissions (server misconfiguration)",
                             error_code=code, request_id=request_id, status=502)
    if status == 404 or code.endswith("NotFound") or ".NotFound" in code or "NotExist" in code:
        return NotFound(text or f"{service}: not found", error_code=code, request_id=request_id)
    if 400 <= status < 500:
        return BadRequest(text or f"{service} rejected the request", error_code=code, request_id=request_id)
    return UpstreamError(f"{service} failed ({status}){': ' + text if text else ''}", error_code=code,
                         request_id=request_id, status=502)


def timeout_error(service: str) -> UpstreamTimeout:
    return UpstreamTimeout(f"{service} did not answer in time", error_code=f"{service}.Timeout")


def sleep_within(seconds: float, deadline: float | None) -> bool:
    """Sleep unless that would pass `deadline` (monotonic); False when it would."""
    if deadline is not None and time.monotonic() + seconds >= deadline:
        return False
    time.sleep(seconds)
    return True
