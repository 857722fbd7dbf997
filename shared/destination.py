"""FC's failure destination: the record Function Compute sends to an event function when an
asynchronous invocation is given up on (after `maxAsyncRetryAttempts` or past
`maxAsyncEventAgeInSeconds`), parsed defensively, and the decorator that makes such a
function (docs/protocols.md#function-compute-runtime).

The record's documented shape (Function Compute "result callback" / destinations page)::

    {"timestamp": 1660120276975,
     "requestContext": {"requestId", "functionArn": "acs:fc:<region>:<account>:functions/<name>",
                        "condition", "approximateInvokeCount"},
     "requestPayload": "<the original event>",
     "responseContext": {"statusCode", "functionError"},
     "responsePayload": "<what the function answered or raised>"}

It is taken as inferred, not guaranteed: every field may be missing or of another type,
`requestPayload` may be a JSON string or an object, and a record that is not JSON at all
is still one to keep. `parse` never raises; the raw bytes always travel with the result.

Like `shared.oss_trigger` for OSS events: correlation id, cold-start settings with the
error kept and raised on every invocation (FC retries the destination), a JSON log line.
Raising out of the handler (a `StorageError`) asks FC to retry the delivery.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from shared import oss_trigger
from shared.log import start_request
from shared.settings import EnvSettings, load_at_cold_start

MAX_TEXT = 2000  # characters of an error text kept in the summary (the record keeps all)


class FailedInvocation(NamedTuple):
    """What is known about one failed invocation. Only `raw` is certain."""

    raw: bytes  # the record exactly as delivered
    record: dict[str, Any] | None  # the record as a JSON object; None when it is not one
    parse_error: str | None = None  # why `record` is None
    timestamp_ms: int | None = None
    request_id: str | None = None
    function_arn: str | None = None
    function_name: str | None = None
    condition: str | None = None
    invoke_count: int | None = None
    status_code: int | None = None
    function_error: str | None = None
    error: str | None = None  # from responsePayload: errorType / errorMessage, shortened
    source_keys: tuple[str, ...] = ()  # OSS keys of the original event, when it was one
    source_bucket: str | None = None


def _as_bytes(event: Any) -> bytes:
    if isinstance(event, (bytes, bytearray, memoryview)):
        return bytes(event)
    if isinstance(event, str):
        return event.encode("utf-8", "surrogatepass")
    try:
        return json.dumps(event, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        return repr(event).encode("utf-8", "backslashreplace")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:MAX_TEXT] if text else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e18:
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) < 19:
        return int(value.strip())
    return None


def function_name_of(arn: str | None) -> str | None:
    """The function's name in an FC ARN: `acs:fc:<region>:<account>:functions/<name>` (FC 3.0)
    or `.../services/<service>/functions/<name>` (FC 2.0); a qualifier after `:` or `/` dropped."""
    if not isinstance(arn, str) or "functions/" not in arn:
        return None
    name = arn.rsplit("functions/", 1)[1].split("/", 1)[0].split(":", 1)[0].strip()
    return name or None


def _decoded(value: Any) -> Any:
    """A payload that may be a JSON document inside a string."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _error_of(payload: Any) -> str | None:
    payload = _decoded(payload)
    if isinstance(payload, dict):
        kind = _text(payload.get("errorType") or payload.get("ErrorType") or payload.get("errorCode"))
        message = _text(payload.get("errorMessage") or payload.get("ErrorMessage") or payload.get("message"))
        joined = ": ".join(p for p in (kind, message) if p)
        return joined[:MAX_TEXT] or None
    return _text(payload)


def parse(event: Any) -> FailedInvocation:
    """Whatever can be read from a failure record; never raises."""
    raw = _as_bytes(event)
    try:
        record = event if isinstance(event, dict) else json.loads(raw)
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError too)
        return FailedInvocation(raw, None, "the record is not JSON")
    if not isinstance(record, dict):
        return FailedInvocation(raw, None, f"the record is JSON but not an object ({type(record).__name__})")
    try:
        return _fields(raw, record)
    except Exception as exc:  # a shape nobody foresaw: keep the record, say why nothing was read
        return FailedInvocation(raw, record, f"fields unreadable: {type(exc).__name__}")


def _fields(raw: bytes, record: dict[str, Any]) -> FailedInvocation:
    req = record.get("requestContext")
    req = req if isinstance(req, dict) else {}
    resp = record.get("responseContext")
    resp = resp if isinstance(resp, dict) else {}
    arn = _text(req.get("functionArn"))
    keys: tuple[str, ...] = ()
    bucket = None
    payload = _decoded(record.get("requestPayload"))
    if isinstance(payload, dict) and "events" in payload:
        try:
            created = oss_trigger.parse(payload)
        except oss_trigger.InvalidOssEvent:
            created = []
        keys = tuple(dict.fromkeys(c.key for c in created))
        bucket = next((c.bucket for c in created if c.bucket), None)
    return FailedInvocation(
        raw, record,
        timestamp_ms=_int(record.get("timestamp")),
        request_id=_text(req.get("requestId")),
        function_arn=arn,
        function_name=function_name_of(arn),
        condition=_text(req.get("condition")),
        invoke_count=_int(req.get("approximateInvokeCount")),
        status_code=_int(resp.get("statusCode")),
        function_error=_text(resp.get("functionError")),
        error=_error_of(record.get("responsePayload")),
        source_keys=keys,
        source_bucket=bucket,
    )


def destination(*, settings: tuple[type[EnvSettings], ...],
                ) -> Callable[[Callable[..., Any]], Callable[[Any, Any], dict]]:
    """Make `fn(failure: FailedInvocation, context) -> Outcome-like` the handler of a failure
    destination. `settings` are loaded once at cold start (kept as `handler.settings_groups`)."""

    def wrap(fn: Callable[..., Any]) -> Callable[[Any, Any], dict]:
        config_error = load_at_cold_start(settings)

        def handler(event: Any, context: Any) -> dict:
            fn_meta = getattr(context, "function", None)
            start_request(str(getattr(context, "request_id", "") or ""), getattr(fn_meta, "name", None))
            if config_error is not None:
                raise config_error
            started = time.perf_counter()
            failure = parse(event)
            outcome = fn(failure, context)  # a StorageError propagates: FC retries the delivery
            fields = oss_trigger.outcome_fields(outcome)
            fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
            return fields

        handler.config_error = config_error  # type: ignore[attr-defined]
        handler.settings_groups = settings  # type: ignore[attr-defined]
        handler.__wrapped__ = fn  # type: ignore[attr-defined]
        return handler

    return wrap
