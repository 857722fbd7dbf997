"""The archive step's complete record of a call (SPEC 12; docs/protocols.md#a-complete-record):
the reconciled transcript (call log + chat_record callbacks, each turn once with its source, and a
completeness verdict), every sentence's and the whole call's audio linked, checked to exist and
kept inside the archive bucket, and the call's timings. Also: stopping the call's ARTC cloud
recording when the call ends.

Only the archive step imports this (lazily: `shared/archive/record.py`'s matching is not on any
client's path)."""
from __future__ import annotations

import json
import posixpath
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from shared.archive import layout
from shared.clients.object_store import ObjectNotFound
from shared.log import logger
from shared.ports import Store

MAX_EVENTS = 20_000
MAX_AUDIO_BYTES = 100 * 1024 * 1024
READERS = 8


def call_events(store: Store, dt: str, instance_id: str) -> list[dict[str, Any]]:
    """Every stored callback of the call (its stop day and the day before), each with its
    `callback_key`; unreadable ones skipped."""
    day = date.fromisoformat(dt)
    keys = []
    for d in (day - timedelta(days=1), day):
        for info in store.list(layout.callback_instance_prefix(d.isoformat(), instance_id)):
            keys.append(info.key)
            if len(keys) >= MAX_EVENTS:
                break

    def read(key: str) -> dict[str, Any] | None:
        try:
            doc = json.loads(store.get(key)[0])
        except (ObjectNotFound, ValueError, RecursionError):
            return None
        return {**doc, "callback_key": key} if isinstance(doc, dict) else None

    with ThreadPoolExecutor(max_workers=READERS) as pool:
        return [e for e in pool.map(read, keys) if e is not None]


def _audio_name(entry: dict[str, Any], index: int) -> str:
    base = posixpath.basename(urlsplit(str(entry.get("location") or "")).path) or f"audio-{index}"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[:100]
    return f"{index:04d}-{safe}"


def keep_audio(store: Store, audio: list[dict[str, Any]], *, dt: str, instance_id: str, bucket: str,
               allowed_hosts: tuple[str, ...], fetch: Any, allow_insecure: bool = False) -> list[dict[str, Any]]:
    """Each linked audio checked: an object of the archive bucket must exist (HEAD); audio
    elsewhere is copied into `recordings/dt=<dt>/<instanceId>/audio/` (same rules as the call log:
    allowed https hosts only, size-limited), so the archive never points at something that can
    expire. Each entry gets `key` (in our bucket, or None), `present`, and `copied_from` / `problem`."""
    from shared.archive.workflow import recording_location_allowed
    from shared.clients import safe_fetch

    def one(i: int, entry: dict[str, Any]) -> dict[str, Any]:
        item = {**entry, "present": False, "copied_from": None, "problem": None}
        location = str(entry.get("location") or "")
        if not recording_location_allowed(location, bucket=bucket, allowed_hosts=allowed_hosts) \
                and not (allow_insecure and location.startswith("http://")):
            item.update(key=None, problem="location not allowed (not this bucket, nor an allowed https host)")
        elif entry.get("key"):
            item["present"] = store.head(entry["key"]) is not None
            if not item["present"]:
                item["problem"] = "the audio object does not exist"
        else:
            target = f"{layout.recording_prefix(dt, instance_id)}audio/{_audio_name(entry, i)}"
            try:
                if store.head(target) is None:
                    data = fetch(location, allowed_hosts=allowed_hosts, max_bytes=MAX_AUDIO_BYTES, timeout=20.0,
                                 allow_insecure=allow_insecure)
                    store.put(target, data, content_type="audio/" + str(entry.get("format") or "wav"))
                item.update(key=target, present=True, copied_from=urlsplit(location).hostname)
            except safe_fetch.Refused as exc:
                item.update(key=None, problem=f"not copied: {str(exc)[:200]}")
            except safe_fetch.FetchFailed as exc:
                item.update(key=None, problem=f"not copied (will not be retried): {str(exc)[:200]}")
        return item

    if len(audio) <= 1:
        return [one(i, entry) for i, entry in enumerate(audio)]
    # Independent objects: checked (and copied) in parallel, answers in the entries' order.
    with ThreadPoolExecutor(max_workers=min(READERS, len(audio))) as pool:
        return list(pool.map(one, range(len(audio)), audio))


def build(store: Store, *, dt: str, instance_id: str, call_log: Any, call_info: Any, bucket: str,
          allowed_hosts: tuple[str, ...], fetch: Any, allow_insecure: bool = False) -> dict[str, Any]:
    """The call's complete record: `{turns, completeness, audio, timings, events}`."""
    from shared.archive import record

    events = call_events(store, dt, instance_id)
    reconciled = record.reconcile(call_log if isinstance(call_log, dict) else None, events, None)
    audio = record.link_audio(reconciled["turns"], events, bucket=bucket)
    audio = keep_audio(store, audio, dt=dt, instance_id=instance_id, bucket=bucket, allowed_hosts=allowed_hosts,
                       fetch=fetch, allow_insecure=allow_insecure)
    info = json.loads(call_info) if isinstance(call_info, str) and call_info.startswith("{") else call_info
    timing = record.timings(events, info if isinstance(info, dict) else None, reconciled["turns"])
    return {"turns": reconciled["turns"], "completeness": reconciled["completeness"], "audio": audio,
            "timings": timing, "events": len(events)}


def fetch_bytes(url: str, *, allowed_hosts: tuple[str, ...], max_bytes: int, timeout: float,
                allow_insecure: bool = False) -> bytes:
    """One audio file through the call log's safe fetcher (allowed hosts, redirects re-checked)."""
    from shared.clients import safe_fetch

    return safe_fetch.fetch_bytes(url, allowed_hosts=allowed_hosts, max_bytes=max_bytes, timeout=timeout,
                                  allow_insecure=allow_insecure, what="the recording's URL", noun="recording")


def stop_recording(store: Store, instance_id: str, *, deadline: float | None = None) -> str | None:
    """Stop the call's ARTC cloud recording, if one was started and not yet stopped; what happened.
    Never raises: the task's MaxIdleTime stops it anyway once the channel is empty."""
    key = layout.recording_call_key(instance_id)
    try:
        doc = json.loads(store.get(key)[0])
    except ObjectNotFound:
        return None
    except Exception as exc:  # noqa: BLE001
        logger.warning("recording record unreadable", extra={"instance_id": instance_id, "error": type(exc).__name__})
        return None
    if not isinstance(doc, dict) or doc.get("status") != "started" or not doc.get("task_id"):
        return None
    from shared.clients import live

    try:
        live.get_client().stop_rtc_cloud_recording(str(doc["task_id"]), deadline=deadline)
        outcome = "stopped"
    except Exception as exc:  # noqa: BLE001 - Live's idle timeout is the safety net
        outcome = f"stop failed: {getattr(exc, 'error_code', None) or type(exc).__name__}"
        logger.warning("recording not stopped; its idle timeout will", extra={"instance_id": instance_id,
                                                                             "reason": outcome})
    doc.update(status="stopped" if outcome == "stopped" else "stop_failed", stop=outcome,
               stopped_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    try:
        store.put(key, json.dumps(doc).encode())
    except Exception as exc:  # noqa: BLE001
        logger.warning("recording record not updated", extra={"instance_id": instance_id,
                                                             "error": type(exc).__name__})
    return outcome
