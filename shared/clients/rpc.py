"""Alibaba Cloud RPC-style OpenAPI calls (ICE, STS) over httpx, signed with ACS3
(docs/protocols.md#signing-alibaba-cloud-requests).

`POST {endpoint}/?<params>` with an empty body: every parameter travels in the query
string. Bounded retries on 5xx, timeouts and throttling only, each attempt freshly
signed (a new nonce and date); errors mapped by `shared.clients.retry.map_error` under
the service's name. httpx is imported inside the call, never at module import.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from shared.clients import acs3 as acs
from shared.clients import retry
from shared.clients.acs3 import Prepared
from shared.errors import UpstreamError
from shared.log import logger
from shared.settings import CloudCredentials

# The longest pause between two attempts, whatever x-acs-retry-after asks for.
MAX_WAIT_SECONDS = 2.0


def param_value(value: Any) -> str:
    """How one RPC parameter travels: JSON for objects/lists, lowercase booleans, str otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def prepare(action: str, params: Mapping[str, Any], *, version: str, endpoint: str, credentials: CloudCredentials,
            date: str | None = None, nonce: str | None = None) -> Prepared:
    """Build and sign one RPC call. Unset (None) parameters are omitted, never sent as "null"."""
    query = {k: param_value(v) for k, v in params.items() if v is not None}
    parts = urlsplit(endpoint)
    host = parts.netloc
    token = credentials.ALIBABA_CLOUD_SECURITY_TOKEN
    headers = acs.sign_request(
        method="POST", host=host, path="/", query=query, body=b"", action=action, version=version,
        access_key_id=credentials.ALIBABA_CLOUD_ACCESS_KEY_ID,
        access_key_secret=credentials.ALIBABA_CLOUD_ACCESS_KEY_SECRET.get_secret_value(),
        security_token=token.get_secret_value() if token else None, date=date, nonce=nonce,
    )
    qs = acs.canonical_query(query)
    url = f"{parts.scheme}://{host}/" + (f"?{qs}" if qs else "")
    return Prepared("POST", url, host, "/", query, headers, b"")


class RpcClient:
    """One RPC service: its name (error codes, log lines), API version, credentials,
    retry bound and connection pool (`http`, an httpx.Client or a stand-in)."""

    def __init__(self, service: str, version: str, credentials: CloudCredentials, http: Any,
                 max_retries: int) -> None:
        self.service = service
        self.version = version
        self.credentials = credentials
        self.http = http
        self.max_retries = max_retries
        self._log_name = service.lower()

    def call(self, action: str, params: Mapping[str, Any], *, endpoint: str,
             deadline: float | None = None) -> dict[str, Any]:
        """One action: its JSON body (a dict), or an AppError after bounded retries.

        Parameters and answers are never logged (they may hold credentials)."""
        import httpx

        service = self.service
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            req = prepare(action, params, version=self.version, endpoint=endpoint, credentials=self.credentials)
            started = time.perf_counter()
            try:
                resp = self.http.post(req.url, headers=req.headers, content=req.body)
            except httpx.TimeoutException:
                error: Exception = retry.timeout_error(service)
                wait = retry.backoff(attempt)
                status = 504
            except httpx.TransportError:
                error = UpstreamError(f"{service} could not be reached", error_code=f"{service}.Unreachable")
                wait = retry.backoff(attempt)
                status = 502
            else:
                status = resp.status_code
                try:
                    payload = resp.json()
                except ValueError:
                    payload = None
                if 200 <= status < 300 and isinstance(payload, dict):
                    logger.debug(f"{self._log_name} call", extra={
                        "action": action, "status": status, "attempt": attempt + 1,
                        "ms": round((time.perf_counter() - started) * 1000, 1)})
                    return payload
                code, message, request_id = retry.error_fields(payload)
                if 200 <= status < 300:
                    code, message = f"{service}.InvalidResponse", "response is not a JSON object"
                    status = 502
                error = retry.map_error(service, status, code, message, request_id, resp.headers)
                retryable = status >= 500 or retry.is_throttling(status, code, resp.headers)
                if not retryable:
                    raise error
                wait = retry.retry_after_seconds(resp.headers) or retry.backoff(attempt)
            logger.warning(f"{self._log_name} call failed", extra={
                "action": action, "status": status, "attempt": attempt + 1,
                "error_code": getattr(error, "error_code", None)})
            if attempt + 1 >= attempts or not retry.sleep_within(min(wait, MAX_WAIT_SECONDS), deadline):
                raise error
        raise AssertionError("unreachable")
