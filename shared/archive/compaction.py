"""The compaction step: merge the call index's row updates into its day files.

One run: take the lease (`warehouse/compaction.lease`, written only if absent; an expired
one is taken over), list the pending updates (`warehouse/updates/`, oldest days first, at
most `max_updates`), then per day: read the rows the updates touch from the day's Parquet
file, apply the updates (shared/archive/index_rows.py: order-independent, idempotent),
write the day's file again (untouched rows copied as they were), and only then delete the
updates it applied. An update written meanwhile has its own key and waits for the next run;
a run that dies half-way leaves its updates in place, and applying them again is harmless.
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.archive import index_files, index_rows, layout
from shared.clients.object_store import ObjectNotFound
from shared.log import logger
from shared.ports import Store


class Report:
    __slots__ = ("updates", "invalid", "days", "rows_written", "rows_changed", "bytes_written", "seconds", "skipped",
                 "remaining")

    def __init__(self, updates: int = 0, invalid: int = 0, days: list[str] | None = None, rows_written: int = 0,
                 rows_changed: int = 0, bytes_written: int = 0, seconds: float = 0.0, skipped: str | None = None,
                 remaining: bool = False) -> None:
        self.updates = updates
        self.invalid = invalid
        self.days: list[str] = [] if days is None else days
        self.rows_written = rows_written
        self.rows_changed = rows_changed
        self.bytes_written = bytes_written
        self.seconds = seconds
        self.skipped = skipped
        self.remaining = remaining

    def __repr__(self) -> str:
        return (f"Report(updates={self.updates!r}, invalid={self.invalid!r}, days={self.days!r}, "
                f"rows_written={self.rows_written!r}, rows_changed={self.rows_changed!r}, "
                f"bytes_written={self.bytes_written!r}, seconds={self.seconds!r}, skipped={self.skipped!r}, "
                f"remaining={self.remaining!r})")

    def as_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "invalid": self.invalid, "days": self.days,
                "rows_written": self.rows_written, "rows_changed": self.rows_changed,
                "bytes_written": self.bytes_written, "seconds": round(self.seconds, 3), "skipped": self.skipped,
                "remaining": self.remaining}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def take_lease(store: Store, seconds: float, holder: str) -> bool:
    """Whether this run may compact: the lease written if absent, or taken over when expired."""
    doc = {"holder": holder, "expires_at": (_now() + timedelta(seconds=seconds)).isoformat()}
    body = json.dumps(doc).encode()
    if store.put(layout.INDEX_LEASE, body, if_absent=True).created:
        return True
    current: Any = None
    try:
        current = json.loads(store.get(layout.INDEX_LEASE)[0])
        expires = datetime.fromisoformat(str(current.get("expires_at")))
    except ObjectNotFound:
        return store.put(layout.INDEX_LEASE, body, if_absent=True).created
    except (ValueError, TypeError, AttributeError):
        expires = _now() - timedelta(seconds=1)  # unreadable: treat as expired
    if expires > _now():
        return False
    logger.warning("compaction lease expired; taking it over", extra={"holder": current.get("holder")
                                                                      if isinstance(current, dict) else None})
    store.delete(layout.INDEX_LEASE)
    return store.put(layout.INDEX_LEASE, body, if_absent=True).created


def release_lease(store: Store) -> None:
    try:
        store.delete(layout.INDEX_LEASE)
    except Exception as exc:  # noqa: BLE001 - it expires anyway
        logger.warning("compaction lease not released", extra={"error": type(exc).__name__})


def pending(store: Store, limit: int) -> tuple[dict[str, dict[str, list[str]]], bool]:
    """{dt: {instance id: [update keys]}} of at most `limit` pending updates (oldest days first,
    as the listing is in key order), and whether more are pending."""
    out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    n = 0
    for info in store.list(layout.INDEX_UPDATES):
        if n >= limit:
            return out, True
        try:
            dt, instance_id, _ = layout.parse_index_update_key(info.key)
        except ValueError:
            dt, instance_id = "", info.key  # not ours: deleted unread
        out[dt][instance_id].append(info.key)
        n += 1
    return out, False


def compact(store: Store, *, max_updates: int = 20_000, lease_seconds: float = 300, workers: int = 8,
            holder: str | None = None) -> Report:
    """One compaction run (see the module's docstring)."""
    t0 = time.monotonic()
    report = Report()
    holder = holder or f"{socket.gethostname()}:{os.getpid()}"
    if not take_lease(store, lease_seconds, holder):
        report.skipped = "another compaction holds the lease"
        return report
    try:
        todo, report.remaining = pending(store, max_updates)
        junk = [k for keys in todo.pop("", {}).values() for k in keys]
        report.invalid += len(junk)
        con = index_files.connect()
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for dt in sorted(todo):
                if time.monotonic() - t0 > lease_seconds * 0.8:
                    report.remaining = True  # the rest waits for the next run, within the lease
                    break
                applied = _compact_day(store, con, pool, dt, todo[dt], report)
                _delete(pool, store, applied)
        _delete(None, store, junk)
        con.close()
    finally:
        release_lease(store)
    report.seconds = time.monotonic() - t0
    return report


def _get(store: Store, key: str) -> tuple[str, dict[str, Any] | None, bool]:
    try:
        return key, index_files.load_update(store.get(key)[0]), True
    except ObjectNotFound:
        return key, None, False


def _compact_day(store: Store, con: Any, pool: ThreadPoolExecutor, dt: str, by_call: dict[str, list[str]],
                 report: Report) -> list[str]:
    keys = [k for ks in by_call.values() for k in ks]
    updates: dict[str, list[dict[str, Any]]] = defaultdict(list)
    applied: list[str] = []
    for key, doc, found in pool.map(lambda k: _get(store, k), keys):
        if not found:
            continue
        applied.append(key)
        if doc is None or doc.get("instance_id") not in by_call:
            report.invalid += 1
            continue
        updates[doc["instance_id"]].append({**doc, "_key": key})
    report.updates += len(applied)
    if not updates:
        return applied
    with tempfile.TemporaryDirectory() as tmp:
        old_path: str | None = os.path.join(tmp, "old.parquet")
        try:
            data, _ = store.get(layout.index_day_key(dt))
        except ObjectNotFound:
            old_path = None
        else:
            with open(old_path, "wb") as f:  # type: ignore[arg-type]
                f.write(data)
        current = index_files.read_rows(con, old_path, set(updates)) if old_path else {}
        rows = []
        for instance_id, docs in updates.items():
            row: dict[str, Any] | None = current.get(instance_id)
            for doc in sorted(docs, key=lambda d: (str(d.get("at")), d["_key"])):
                row = index_rows.apply(row, doc)
                if row is None:
                    break  # erased: nothing after it brings the row back
            if row is not None:
                row["started_at"] = index_rows.started_or_day(row, dt)
                rows.append(row)
        _, count, size = index_files.put_day(store, con, dt, rows, keep_from=old_path, drop=set(updates))
    report.days.append(dt)
    report.rows_changed += len(updates)
    report.rows_written += count
    report.bytes_written += size
    return applied


def _delete(pool: ThreadPoolExecutor | None, store: Store, keys: list[str]) -> None:
    """Delete the applied updates: 1,000 per request where the store can (DeleteObjects), else one
    by one. A failure is logged: an update applied again next run changes nothing."""
    many = getattr(store, "delete_many", None)
    if many is not None and keys:
        try:
            left = many(keys)
        except Exception as exc:  # noqa: BLE001
            logger.warning("index updates not deleted in bulk; one by one", extra={"error": type(exc).__name__})
        else:
            if left:
                logger.warning("index updates not deleted", extra={"count": len(left)})
            return

    def one(key: str) -> None:
        try:
            store.delete(key)
        except Exception as exc:  # noqa: BLE001 - applied again next run: harmless
            logger.warning("index update not deleted", extra={"key": key, "error": type(exc).__name__})

    if pool is None:
        for k in keys:
            one(k)
    else:
        list(pool.map(one, keys))
