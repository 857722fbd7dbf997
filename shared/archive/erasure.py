"""Erasure on request (PIPL/GDPR; README "Privacy"): every object the archive holds for given
calls, or for every call a user started, is deleted, and a receipt says what went.

Per call: its callbacks, call log, raw call log, analyses, dead letters (open and resolved), attempt
counters, owner record (and its channel record), and the recordings its call log points at inside
the bucket. Per user, also: their quota slots, channel and voiceprint records, and client uploads.
A marker `erasures/instances/<id>.json` is written for each call *before* anything is deleted: the
chain checks it before it writes (a callback for an erased call is not stored, the archive and
analysis steps skip it), so a call still in flight when its erasure runs does not come back.
Idempotent and resumable: running it again finds nothing more and says so. The receipt
(`erasures/receipts/dt=.../`) holds counts per kind of object, the call ids and a SHA-256 of the
user id, never personal data. The archive bucket is not versioned (docs/decisions.md), so a
deleted object is gone; with versioning on, older versions would need deleting too (not done).
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable
from datetime import date, datetime, timezone
from typing import Any

from shared import lazyre
from shared.archive import index_rows, layout
from shared.clients.object_store import ObjectNotFound
from shared.ports import Store

STEPS = ("archive", "analyze")
_ERASED_SUFFIX = lazyre.compile(r"-erased-[0-9a-f]+\.json$")


class Found:
    """What an erasure would delete, by kind of object (keys in deletion order)."""

    __slots__ = ("instances", "user", "keys", "index_rows")

    def __init__(self, instances: list[str], user: str | None = None, keys: dict[str, list[str]] | None = None,
                 index_rows: set[tuple[str, str]] | None = None) -> None:
        self.instances = instances
        self.user = user
        self.keys: dict[str, list[str]] = {} if keys is None else keys
        # (day, instance id) of every call's index row to remove (the compaction rewrites the day's file)
        self.index_rows: set[tuple[str, str]] = set() if index_rows is None else index_rows

    def __repr__(self) -> str:
        return f"Found(instances={self.instances!r}, user={self.user!r}, counts={self.counts!r})"

    def add(self, kind: str, keys: Iterable[str]) -> None:
        bucket = self.keys.setdefault(kind, [])
        bucket.extend(k for k in keys if k not in bucket)

    @property
    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in sorted(self.keys.items()) if v}

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.keys.values())


def _list(store: Store, prefix: str) -> list[str]:
    return [info.key for info in store.list(prefix)]


def _read_json(store: Store, key: str) -> Any:
    try:
        return json.loads(store.get(key)[0])
    except (ObjectNotFound, ValueError, RecursionError):
        return None


def _dead_letter_keys(store: Store, prefix: str, instance_id: str) -> list[str]:
    """Keys `<prefix...>/<instanceId>-<hex digest>.json` of exactly this call (a listing by the
    prefix `<instanceId>-` also finds ids that merely start with it)."""
    name = re.compile(re.escape(instance_id) + r"-[0-9a-f]{8,64}\.json")
    return [key for key in _list(store, prefix) if name.fullmatch(key.rsplit("/", 1)[-1])]


def find_call(store: Store, found: Found, instance_id: str, days: list[str]) -> None:
    """Add every object of call `instance_id` on `days` (and its day-independent records)."""
    bucket = str(getattr(store, "bucket", "") or "")
    for day in days:
        before = found.total
        found.add("callbacks", _list(store, layout.callback_instance_prefix(day, instance_id)))
        log_key = layout.call_log_key(day, instance_id)
        if store.head(log_key) is not None:
            doc = _read_json(store, log_key)
            found.add("recordings", _recording_keys(doc, bucket))
            found.add("call_logs", [log_key])
        raw_key = layout.raw_call_log_key(day, instance_id)
        if store.head(raw_key) is not None:
            found.add("raw_call_logs", [raw_key])
        found.add("analyses", _list(store, f"{layout.date_prefix(layout.ANALYSES, day)}{instance_id}/"))
        for step in STEPS:
            found.add("dead_letters", _dead_letter_keys(store, layout.dead_letter_prefix(step, day, instance_id),
                                                        instance_id))
            resolved = f"{layout.RESOLVED}{step}/dt={day}/{instance_id}-"
            found.add("dead_letters", _dead_letter_keys(store, resolved, instance_id))
        # the index's pending updates of the call (not an earlier erasure's own `erased` update)
        # ARTC cloud recordings (Live writes them under the call's day) and audio copied in
        found.add("recordings", _list(store, layout.recording_prefix(day, instance_id)))
        found.add("index_updates", [k for k in _list(store, f"{layout.date_prefix(layout.INDEX_UPDATES, day)}"
                                                           f"{instance_id}/") if not _ERASED_SUFFIX.search(k)])
        if found.total > before:  # the call left something on this day: it may have an index row there
            found.index_rows.add((day, instance_id))
    for step in STEPS:
        found.add("attempt_counters", _dead_letter_keys(store, f"{layout.FAILED}{step}/attempts/{instance_id}-",
                                                        instance_id))
    recording = _read_json(store, layout.recording_call_key(instance_id))
    if isinstance(recording, dict):  # the call's recording records (which task, its status)
        task = recording.get("task_id")
        if isinstance(task, str):
            try:
                task_key = layout.recording_task_key(task)
            except ValueError:
                task_key = None
            if task_key and store.head(task_key) is not None:
                found.add("recording_records", [task_key])
        found.add("recording_records", [layout.recording_call_key(instance_id)])
    owner_key = layout.owner_key(instance_id)
    owner = _read_json(store, owner_key)
    if owner is not None:
        channel = owner.get("channel_id") if isinstance(owner, dict) else None
        if isinstance(channel, str) and channel:
            try:
                channel_key = layout.channel_key(channel)
            except ValueError:
                channel_key = None
            if channel_key and store.head(channel_key) is not None:
                found.add("owner_records", [channel_key])
        found.add("owner_records", [owner_key])


def _recording_keys(doc: Any, bucket: str) -> list[str]:
    """Keys in our bucket that the archived call log's recordings point at."""
    out = []
    for entry in (doc.get("recordings") if isinstance(doc, dict) else None) or []:
        for location in ((entry.get("locations") if isinstance(entry, dict) else None) or {}).values():
            if not isinstance(location, str):
                continue
            if location.startswith(f"oss://{bucket}/"):
                out.append(location[len(f"oss://{bucket}/"):])
            elif location.startswith(layout.RECORDINGS):
                out.append(location)
    full = doc.get("record") if isinstance(doc, dict) else None
    for entry in (full.get("audio") if isinstance(full, dict) else None) or []:  # linked and copied audio
        key = entry.get("key") if isinstance(entry, dict) else None
        if isinstance(key, str) and key.startswith(layout.RECORDINGS) and key not in out:
            out.append(key)
    return out


def instances_of_user(store: Store, user_id: str) -> list[str]:
    """The calls `user_id` started through the client API (their owner records)."""
    out = []
    for key in _list(store, layout.OWNERS):
        doc = _read_json(store, key)
        if isinstance(doc, dict) and doc.get("user_id") == user_id:
            out.append(key[len(layout.OWNERS):-len(layout.JSON_SUFFIX)])
    return sorted(out)


def find_user_records(store: Store, found: Found, user_id: str, days: list[str], upload_prefix: str | None) -> None:
    """Add the user's own records: quota slots, channel and voiceprint records, and their uploads
    (under `upload_prefix`; None: not searched)."""
    for day in days:
        found.add("quota_slots", _list(store, layout.quota_prefix(day, user_id)))
    for prefix, kind in ((layout.CHANNELS, "owner_records"), (layout.VOICEPRINTS, "voiceprint_records")):
        found.add(kind, [k for k in _list(store, prefix)
                         if (doc := _read_json(store, k)) is not None and isinstance(doc, dict)
                         and doc.get("user_id") == user_id])
    if upload_prefix is not None:
        found.add("client_uploads", _list(store, f"{upload_prefix}{user_id}/"))


def plan(store: Store, *, instance_ids: Iterable[str] = (), user_id: str | None = None, days: list[str],
         upload_prefix: str | None = "client-uploads/") -> Found:
    """Everything an erasure of these calls (or of this user and their calls) would delete."""
    instances = sorted({layout.validate_instance_id(i) for i in instance_ids})
    if user_id is not None:
        instances = sorted({*instances, *instances_of_user(store, user_id)})
    found = Found(instances, user_id)
    for instance_id in instances:
        find_call(store, found, instance_id, days)
    if user_id is not None:
        find_user_records(store, found, user_id, days, upload_prefix)
    return found


def is_erased(store: Store, instance_id: str) -> bool:
    """Whether call `instance_id` was erased (the chain writes nothing more for it)."""
    try:
        return store.head(layout.erased_key(instance_id)) is not None
    except ValueError:
        return False


def erase(store: Store, found: Found, *, by: str, now: datetime | None = None) -> str:
    """Mark every call erased, delete what `found` lists, write the receipt; its key."""
    now = now or datetime.now(timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    receipt = {
        "schema": "aicall.erasure/1", "erased_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "by": by,
        "instances": found.instances,
        "user_sha256": hashlib.sha256(found.user.encode()).hexdigest() if found.user is not None else None,
        "deleted": found.counts, "total": found.total, "index_rows": len(found.index_rows),
    }
    key = layout.erasure_receipt_key(now.date(), stamp, layout.content_digest(receipt))
    for instance_id in found.instances:  # first: nothing is written for these calls any more
        store.put(layout.erased_key(instance_id), json.dumps({"erased_at": receipt["erased_at"], "receipt": key})
                  .encode())
    for keys in found.keys.values():
        for k in keys:
            store.delete(k)
    # The call index: an `erased` row update per day the call has a row on; the compaction drops
    # the rows and rewrites those days' Parquet files.
    for day, instance_id in sorted(found.index_rows):
        index_rows.write_update(store, "erased", day, instance_id, {})
    store.put(key, json.dumps(receipt).encode())
    return key


def day_range(since: date, until: date) -> list[str]:
    """Every day from `since` to `until`, as `YYYY-MM-DD`."""
    out, day = [], since
    while day <= until:
        out.append(day.isoformat())
        day = date.fromordinal(day.toordinal() + 1)
    return out


def utc_today() -> date:
    return datetime.fromtimestamp(time.time(), timezone.utc).date()
