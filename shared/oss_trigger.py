"""OSS-triggered functions: FC's OSS trigger event -> typed records -> one piece of logic per record.

Like `shared.http.endpoint` for HTTP: correlation id, cold-start settings with the
error kept and raised on every invocation (FC retries, the log says why), a JSON
log line per record. Raising out of the handler is how a triggered function asks
FC's async invocation to retry; a malformed event is logged and dropped (retrying
cannot fix it). Every record of an event gets its attempt in every invocation: a
record that asks for a retry does not keep the records after it from running (FC's
retries would otherwise run out before they were ever tried); the first exception is
raised once all have run.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import unquote

from shared.log import logger, redact_text, start_request
from shared.settings import EnvSettings, load_at_cold_start


class ObjectCreated(NamedTuple):
    """One object-created notification."""

    event_name: str
    bucket: str
    key: str
    size: int
    etag: str
    region: str
    event_time: str


def outcome_fields(outcome: Any) -> dict[str, Any]:
    """The fields of what a handler's `fn` returned that are not None: a NamedTuple's
    (`_asdict`, in field order) or any other object's attributes (`vars`); none for None."""
    if not outcome:
        return {}
    as_dict = getattr(outcome, "_asdict", None)
    return {k: v for k, v in (as_dict() if as_dict is not None else vars(outcome)).items() if v is not None}


class InvalidOssEvent(ValueError):
    """The event is not an OSS trigger event (nothing to retry: it never will be)."""


def parse(event: bytes | str | dict) -> list[ObjectCreated]:
    """Every record of an OSS trigger event (docs/protocols.md#function-compute-runtime); keys URL-decoded."""
    if isinstance(event, (bytes, bytearray, str)):
        try:
            event = json.loads(event)
        except (ValueError, RecursionError):
            raise InvalidOssEvent("event is not JSON") from None
    records = event.get("events") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        raise InvalidOssEvent("event has no `events` list")
    out = []
    for i, rec in enumerate(records):
        try:
            oss: dict[str, Any] = rec["oss"]
            obj = oss["object"]
            out.append(ObjectCreated(
                event_name=str(rec.get("eventName", "")),
                bucket=str(oss["bucket"]["name"]),
                key=unquote(str(obj["key"])),
                size=int(obj.get("size") or 0),
                etag=str(obj.get("eTag") or "").strip('"'),
                region=str(rec.get("region", "")),
                event_time=str(rec.get("eventTime", "")),
            ))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            raise InvalidOssEvent(f"events[{i}] is not an OSS object record") from None
    return out


def oss_triggered(*, settings: tuple[type[EnvSettings], ...], check: Callable[[], None] | None = None,
                  ) -> Callable[[Callable[..., Any]], Callable[[Any, Any], dict]]:
    """Make `fn(record, context) -> Outcome-like` an FC OSS-trigger handler.

    `settings` declares every settings group the function needs, loaded once at cold
    start (kept on the handler as `handler.settings_groups` for tools); `check` is any
    further cold-start validation (it raises ConfigurationError).
    """

    def wrap(fn: Callable[..., Any]) -> Callable[[Any, Any], dict]:
        config_error = load_at_cold_start(settings, check)

        def handler(event: Any, context: Any) -> dict:
            fn_meta = getattr(context, "function", None)
            start_request(str(getattr(context, "request_id", "") or ""), getattr(fn_meta, "name", None))
            if config_error is not None:
                raise config_error
            try:
                records = parse(event)
            except InvalidOssEvent as exc:
                logger.error("dropping malformed OSS event", extra={"reason": str(exc)})
                return {"results": [], "error": str(exc)}
            results = []
            first_error: Exception | None = None
            for rec in records:
                started = time.perf_counter()
                try:
                    outcome = fn(rec, context)
                except Exception as exc:
                    logger.warning("record not done; FC will retry", extra={
                        "key": rec.key, "error": type(exc).__name__, "reason": redact_text(str(exc))[:300],
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
                    first_error = first_error or exc
                    continue
                fields = {"key": rec.key, "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
                fields.update(outcome_fields(outcome))
                logger.info("record done", extra=fields)
                results.append(fields)
            if first_error is not None:
                raise first_error
            return {"results": results}

        handler.config_error = config_error  # type: ignore[attr-defined]
        handler.settings_groups = settings  # type: ignore[attr-defined]
        handler.__wrapped__ = fn  # type: ignore[attr-defined]
        return handler

    return wrap
