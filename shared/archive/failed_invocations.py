"""The last resort of the chain: what FC's async invocation gave up on, kept once under
`failed/invocations/` (docs/architecture.md#where-each-guarantee-lives).

The triggered steps write their own dead letters on their last attempt; this catches what
they could not: an invocation that raised every time (the store down when the dead letter
was due, a crash, a timeout, an event too old). FC sends the failure record to the
`record_failed_invocation` function, which calls `record` here.

- One object per failed invocation: the key is derived from the failed function and its
  request id (or the record's digest), written if absent, so a re-delivered record is
  the same object.
- A record that cannot be read is still kept, byte for byte (`raw_text`, or `raw_base64`
  when it is not UTF-8), under a digest of its bytes.
- Nothing about a record makes this raise; a `StorageError` does (FC retries the delivery).
"""
from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from shared.archive import layout
from shared.log import logger
from shared.ports import Store

if TYPE_CHECKING:  # the record's parsed form; parsing FC's event is the plumbing's job
    from shared.destination import FailedInvocation

KIND = "failed_invocation"
# Timestamps outside this window are not trusted for the partition (the record's own day).
_EARLIEST_MS = 946684800000  # 2000-01-01
_LATEST_MS = 32503680000000  # 3000-01-01


class Outcome(NamedTuple):
    status: str  # recorded | already_recorded
    key: str | None = None
    function: str | None = None
    request_id: str | None = None
    source_keys: list[str] | None = None
    reason: str | None = None


def _day(failure: FailedInvocation, now: float) -> str:
    ms = failure.timestamp_ms
    if ms is not None and _EARLIEST_MS <= ms < _LATEST_MS:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).date().isoformat()
    return datetime.fromtimestamp(now, tz=timezone.utc).date().isoformat()


def _raw(raw: bytes) -> dict[str, Any]:
    try:
        return {"raw_text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"raw_base64": base64.b64encode(raw).decode("ascii")}


def document(failure: FailedInvocation, now: float) -> tuple[str, dict[str, Any]]:
    """(key, JSON document) of one failure record. Raises nothing for any record."""
    recorded_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    day = _day(failure, now)
    if failure.record is None:
        digest = hashlib.sha256(failure.raw).hexdigest()[:16]
        key = layout.failed_invocation_key(day, None, None, digest)
        return key, {"kind": KIND, "parsed": False, "reason": failure.parse_error, "recorded_at": recorded_at,
                     "size": len(failure.raw), **_raw(failure.raw)}
    try:
        digest = layout.content_digest(failure.record)
    except (TypeError, ValueError):  # e.g. lone surrogates: fall back to the bytes
        digest = hashlib.sha256(failure.raw).hexdigest()[:16]
    key = layout.failed_invocation_key(day, failure.function_name, failure.request_id, digest)
    doc = {
        "kind": KIND, "parsed": True, "recorded_at": recorded_at,
        "function": failure.function_name, "function_arn": failure.function_arn,
        "request_id": failure.request_id, "condition": failure.condition,
        "approximate_invoke_count": failure.invoke_count, "status_code": failure.status_code,
        "function_error": failure.function_error, "error": failure.error,
        # The call it was about: the OSS object whose event failed (callbacks/.../agent_stop,
        # call-logs/...), so `aiagent reanalyze` or a re-upload can pick it up.
        "source_keys": list(failure.source_keys), "source_bucket": failure.source_bucket,
        "reason": failure.parse_error,
        "record": failure.record,  # the whole record as FC sent it
    }
    return key, doc


def _encode(doc: dict[str, Any], failure: FailedInvocation) -> bytes:
    try:
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError):  # unencodable content: keep the bytes instead
        fallback = {k: v for k, v in doc.items() if k != "record"}
        fallback.update(_raw(failure.raw))
        return json.dumps(fallback, ensure_ascii=True, default=str).encode("utf-8")


def record(store: Store, failure: FailedInvocation, *, now: float | None = None) -> Outcome:
    """Write (once) the record of a failed invocation and log it. Only a StorageError escapes."""
    now = time.time() if now is None else now
    try:
        key, doc = document(failure, now)
        data = _encode(doc, failure)
    except Exception as exc:  # a record nobody foresaw must still be kept, as bytes
        digest = hashlib.sha256(failure.raw).hexdigest()[:16]
        key = layout.failed_invocation_key(_day(failure, now), None, None, digest)
        doc = {"kind": KIND, "parsed": False, "reason": f"unreadable: {type(exc).__name__}",
               "size": len(failure.raw), **_raw(failure.raw)}
        data = json.dumps(doc).encode("utf-8")
    result = store.put(key, data, if_absent=True)  # StorageError propagates: FC retries the delivery
    fields = {"key": key, "function": failure.function_name, "failed_request_id": failure.request_id,
              "condition": failure.condition, "attempts": failure.invoke_count,
              "source_keys": list(failure.source_keys), "error": failure.error, "parsed": failure.record is not None}
    if result.created:
        logger.error("failed invocation recorded", extra=fields)
    else:
        logger.info("failed invocation already recorded", extra=fields)
    return Outcome("recorded" if result.created else "already_recorded", key, failure.function_name,
                   failure.request_id, list(failure.source_keys), failure.parse_error)
