"""Dead letters and attempt counters of the chain's triggered steps (archive, analyze).

A step that cannot finish a call either asks FC to retry (transient problems,
counted under `failed/<step>/attempts/`) or, when retrying cannot help or the
attempts are used up, writes one record under `failed/<step>/dt=.../` saying why.
The record's `stage` field names the step (kept for the records already written).
"""
from __future__ import annotations

import json
import time

from shared.archive import layout
from shared.log import logger
from shared.ports import Store


class RetryLater(Exception):
    """Not done yet; raise out of the handler so FC retries the invocation."""


def utcnow() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def bump_attempts(store: Store, step: str, instance_id: str) -> int:
    """Count one more failed attempt of `step` for a call; the new count."""
    key = layout.attempts_key(step, instance_id)
    try:
        count = int(json.loads(store.get(key)[0]).get("attempts", 0))
    except Exception:  # absent or unreadable: first attempt
        count = 0
    count += 1
    store.put(key, json.dumps({"attempts": count, "at": utcnow()}).encode())
    return count


def dead_letter(store: Store, step: str, dt: str, instance_id: str, source_key: str, reason: str,
                error_code: str, attempts: int | None = None, extra: dict | None = None) -> str:
    """Write (once) the failed/ record of a call that could not be processed, and why."""
    digest = layout.content_digest({"source": source_key, "stage": step})
    key = layout.failed_key(step, dt, instance_id, digest)
    doc = {"stage": step, "instance_id": instance_id, "source_key": source_key, "reason": reason,
           "error_code": error_code, "attempts": attempts, "failed_at": utcnow(), **(extra or {})}
    store.put(key, json.dumps(doc, ensure_ascii=False).encode(), if_absent=True)
    logger.error("dead letter written", extra={"step": step, "key": key, "reason": reason, "error_code": error_code})
    return key
