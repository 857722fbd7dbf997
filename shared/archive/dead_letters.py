"""Dead letters and attempt counters of the triggered stages (archive, analyze).

A stage that cannot finish a call either asks FC to retry (transient problems,
counted under `failed/<stage>/attempts/`) or, when retrying cannot help or the
attempts are used up, writes one record under `failed/<stage>/dt=.../` saying why.
"""
from __future__ import annotations

import json
import time
from typing import Any

from shared.archive import layout
from shared.log import logger


class RetryLater(Exception):
    """Not done yet; raise out of the handler so FC retries the invocation."""


def utcnow() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def bump_attempts(store: Any, stage: str, instance_id: str) -> int:
    """Count one more failed attempt of `stage` for a call; the new count."""
    key = layout.attempts_key(stage, instance_id)
    try:
        count = int(json.loads(store.get(key)[0]).get("attempts", 0))
    except Exception:  # absent or unreadable: first attempt
        count = 0
    count += 1
    store.put(key, json.dumps({"attempts": count, "at": utcnow()}).encode())
    return count


def dead_letter(store: Any, stage: str, dt: str, instance_id: str, source_key: str, reason: str,
                error_code: str, attempts: int | None = None, extra: dict | None = None) -> str:
    """Write (once) the failed/ record of a call that could not be processed, and why."""
    digest = layout.content_digest({"source": source_key, "stage": stage})
    key = layout.failed_key(stage, dt, instance_id, digest)
    doc = {"stage": stage, "instance_id": instance_id, "source_key": source_key, "reason": reason,
           "error_code": error_code, "attempts": attempts, "failed_at": utcnow(), **(extra or {})}
    store.put(key, json.dumps(doc, ensure_ascii=False).encode(), if_absent=True)
    logger.error("dead letter written", extra={"stage": stage, "key": key, "reason": reason, "error_code": error_code})
    return key
