"""Per-user cost limits: at most CALL_QUOTA_PER_USER_PER_DAY billed agent starts per user and
UTC day (docs/protocols.md#client-api).

A start claims a *slot*: the object `state/quota/dt=<day>/<user>/<slot>.json`, written only if
absent. OSS's write-if-absent makes each claim atomic, so N concurrent requests at a quota of Q
start exactly min(N, Q), with no new infrastructure (no database, no lock service). A claim
costs one LIST (how many slots are taken) and usually one PUT; under contention a request moves
on to the next free slot. A start that ICE refuses gives its slot back (`release`). Slots expire
with the bucket's lifecycle rule for `state/quota/`.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import NamedTuple, TypeVar

import shared.archive.layout as layout
from shared.errors import Throttled
from shared.log import logger
from shared.ports import Store
from shared.settings import QuotaSettings, load

T = TypeVar("T")


class Slot(NamedTuple):
    """A claimed quota slot (its key), or none when the quota is unlimited."""

    key: str | None


def seconds_to_midnight(now: datetime) -> int:
    """Seconds until the next UTC day, when the quota starts again (Retry-After)."""
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds() + 0.999))


def claim(store: Store, user_id: str, limit: int, *, what: str, now: datetime | None = None) -> Slot:
    """Claim one of today's `limit` slots for `user_id` (0 = unlimited: nothing is written).

    Raises `Throttled` (429, `QuotaExceeded`, `Retry-After` to the next UTC day) when all are
    taken; StorageError propagates (nothing is started).
    """
    if limit == 0:
        return Slot(None)
    now = now or datetime.now(timezone.utc)
    day = now.date()
    taken = {info.key for info in store.list(layout.quota_prefix(day, user_id))}
    record = json.dumps({"user_id": user_id, "what": what, "at": now.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
    # From the count upward first (the usual case: the next slot is free), then any slot
    # given back below it.
    start = min(len(taken), limit)
    for slot in [*range(start, limit), *range(0, start)]:
        key = layout.quota_slot_key(day, user_id, slot)
        if key in taken:
            continue
        if store.put(key, record, if_absent=True).created:
            return Slot(key)
    retry_after = seconds_to_midnight(now)
    raise Throttled(f"user_id: the daily quota of {limit} agent calls is used up; it renews at 00:00 UTC",
                    error_code="QuotaExceeded", headers={"Retry-After": str(retry_after)})


def release(store: Store, slot: Slot) -> None:
    """Give a slot back (the start it was claimed for did not happen). Best effort: a slot that
    stays claimed only costs the user one call of the day."""
    if slot.key is None:
        return
    try:
        store.delete(slot.key)
    except Exception as exc:  # noqa: BLE001 - the request already failed for its own reason
        logger.warning("quota slot not released", extra={"key": slot.key, "error": type(exc).__name__})


def within_quota(store: Store, user_id: str, what: str, start: Callable[[], T]) -> T:
    """Claim a slot of CALL_QUOTA_PER_USER_PER_DAY for `user_id`, then `start()` the billed call;
    if it raises (ICE refused, nothing started), the slot is given back and the error goes on."""
    slot = claim(store, user_id, load(QuotaSettings).CALL_QUOTA_PER_USER_PER_DAY, what=what)
    try:
        return start()
    except BaseException:
        release(store, slot)
        raise
