"""OSS-triggered functions: event -> records -> one piece of logic per record.

Like `shared.http.endpoint` for HTTP: correlation id, cold-start settings with the
error kept and raised on every invocation (FC retries, the log says why), a JSON
log line per record. Raising out of the handler is how a triggered function asks
FC's async invocation to retry; a malformed event is logged and dropped (retrying
cannot fix it).
"""
from __future__ import annotations

import time
from typing import Any, Callable

from shared import oss_event
from shared.errors import ConfigurationError
from shared.log import logger, start_request


def oss_triggered(*, settings: Callable[[], Any]) -> Callable[[Callable[..., Any]], Callable[[Any, Any], dict]]:
    """Make `fn(record, context) -> Outcome-like` an FC OSS-trigger handler."""

    def wrap(fn: Callable[..., Any]) -> Callable[[Any, Any], dict]:
        config_error: ConfigurationError | None = None
        try:
            settings()
        except ConfigurationError as exc:
            config_error = exc
            logger.error("cold start: configuration invalid", extra={"error": exc.message})

        def handler(event: Any, context: Any) -> dict:
            fn_meta = getattr(context, "function", None)
            start_request(str(getattr(context, "request_id", "") or ""), getattr(fn_meta, "name", None))
            if config_error is not None:
                raise config_error
            try:
                records = oss_event.parse(event)
            except oss_event.InvalidOssEvent as exc:
                logger.error("dropping malformed OSS event", extra={"reason": str(exc)})
                return {"results": [], "error": str(exc)}
            results = []
            for rec in records:
                started = time.perf_counter()
                try:
                    outcome = fn(rec, context)
                except Exception as exc:
                    logger.warning("record not done; FC will retry", extra={
                        "key": rec.key, "error": type(exc).__name__, "reason": str(exc)[:300],
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
                    raise
                fields = {"key": rec.key, "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
                fields.update({k: v for k, v in vars(outcome).items() if v is not None} if outcome else {})
                logger.info("record done", extra=fields)
                results.append(fields)
            return {"results": results}

        handler.config_error = config_error  # type: ignore[attr-defined]
        handler.__wrapped__ = fn  # type: ignore[attr-defined]
        return handler

    return wrap
