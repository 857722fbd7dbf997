"""Archiving one finished call (docs/protocols.md#archive-chain): stop event -> DescribeAIAgentInstance ->
CallLogUrl -> validated call log + instance metadata + recordings index -> call-logs/.

Idempotent (the target key is deterministic and written if absent). Transient
problems raise `RetryLater` so FC's async retry runs again; after
ARCHIVE_MAX_ATTEMPTS, or at once for a problem retrying cannot fix, a dead letter
under failed/ records why.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from shared.archive import layout
from shared.archive.dead_letters import RetryLater, bump_attempts, dead_letter, utcnow
from shared.clients import safe_fetch
from shared.errors import AppError, StorageError
from shared.log import logger
from shared.ports import IceApi, Store
from shared.settings import ArchiveSettings

STEP = "archive"
RECORDING_EVENTS = ("audio_record", "full_audio_record")
AUDIO_SUFFIXES = (".wav", ".mp3", ".pcm", ".aac", ".m4a", ".opus")


@dataclass(frozen=True)
class Outcome:
    status: str  # archived | already_archived | dead_letter | skipped
    key: str | None = None
    reason: str | None = None


def _loads_maybe(value: Any) -> Any:
    """`data`/`extendData` arrive as objects or as strings holding JSON: accept both."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def recordings_index(store: Store, dt: str, instance_id: str) -> list[dict[str, Any]]:
    """Recording references from the call's audio_record / full_audio_record callbacks.

    A call may cross midnight, so the stop event's day and the day before are read.
    The payload of these events is not publicly documented: every string that looks
    like a location (URL, oss://, object path with an audio suffix) is kept.
    """
    day = date.fromisoformat(dt)
    out = []
    for d in (day - timedelta(days=1), day):
        prefix = layout.callback_instance_prefix(d.isoformat(), instance_id)
        for info in store.list(prefix):
            try:
                ref = layout.parse_callback_key(info.key)
            except ValueError:
                continue
            if ref.event not in RECORDING_EVENTS:
                continue
            try:
                event = json.loads(store.get(info.key)[0])
            except (ValueError, KeyError):
                continue
            data = _loads_maybe(event.get("data"))
            extend = _loads_maybe(event.get("extendData"))
            entry: dict[str, Any] = {"event": ref.event, "timestamp": event.get("timestamp"), "callback_key": info.key}
            if isinstance(data, dict):
                for k, v in data.items():
                    if isinstance(v, str) and (v.startswith(("http://", "https://", "oss://"))
                                               or v.lower().endswith(AUDIO_SUFFIXES)):
                        entry.setdefault("locations", {})[k] = v
                    elif k.lower() in ("role", "sentenceid", "sentence_id", "duration", "format"):
                        entry[k] = v
            if isinstance(extend, dict) and extend.get("sentenceId") is not None:
                entry.setdefault("sentenceId", extend.get("sentenceId"))
            out.append(entry)
    out.sort(key=lambda e: (str(e.get("timestamp")), e["callback_key"]))
    return out


def archive_call(
    store: Store,
    ice_client: IceApi,
    settings: ArchiveSettings,
    source_key: str,
    *,
    validate: Callable[[Any], Any],
    fetch: Callable[..., Any] = safe_fetch.fetch_json,
    deadline: float | None = None,
) -> Outcome:
    """Archive the call whose agent_stop event was stored at `source_key`."""
    try:
        ref = layout.parse_callback_key(source_key)
    except ValueError:
        return Outcome("skipped", reason="not a callback key")
    if ref.event != "agent_stop":
        return Outcome("skipped", reason=f"event {ref.event} does not finish a call")
    target = layout.call_log_key(ref.dt, ref.instance_id)
    if store.head(target) is not None:
        return Outcome("already_archived", target)

    try:
        stop = json.loads(store.get(source_key)[0])
        answer = ice_client.describe_ai_agent_instance(ref.instance_id, deadline=deadline)
        inst = answer.get("Instance") or {}
        status, url = inst.get("Status"), inst.get("CallLogUrl")
        if status != "Finished" or not url:
            raise RetryLater(f"instance status is {status or 'unknown'} and CallLogUrl is "
                             f"{'set' if url else 'empty'}; the call log is not ready")
        raw = fetch(url, allowed_hosts=settings.CALL_LOG_ALLOWED_HOSTS, max_bytes=settings.CALL_LOG_MAX_BYTES,
                    timeout=settings.CALL_LOG_TIMEOUT_SECONDS, allow_insecure=settings.CALL_LOG_ALLOW_INSECURE)
        call_log = validate(raw)
    except safe_fetch.Refused as exc:
        key = dead_letter(store, STEP, ref.dt, ref.instance_id, source_key, str(exc), "CallLogRefused")
        return Outcome("dead_letter", key, str(exc))
    except StorageError:
        raise  # the store is down: nothing can be recorded; FC retries
    except (RetryLater, safe_fetch.FetchFailed, AppError) as exc:
        reason = exc.message if isinstance(exc, AppError) else str(exc)
        code = exc.error_code if isinstance(exc, AppError) else type(exc).__name__
        attempts = bump_attempts(store, STEP, ref.instance_id)
        if attempts >= settings.ARCHIVE_MAX_ATTEMPTS:
            key = dead_letter(store, STEP, ref.dt, ref.instance_id, source_key, reason, code, attempts)
            return Outcome("dead_letter", key, reason)
        logger.warning("archive not done; retry later", extra={"instance_id": ref.instance_id, "reason": reason,
                                                              "attempt": attempts})
        raise RetryLater(reason) from None

    doc = {
        "schema": "aicall.call-log/1",
        "instance_id": ref.instance_id,
        "ai_agent_id": stop.get("aiAgentId"),
        "user_data": inst.get("UserData", stop.get("userData")),
        "status": status,
        "session_id": inst.get("SessionId"),
        "call_info": inst.get("CallInfo"),
        "gmt_create": inst.get("GmtCreate"),
        "gmt_modified": inst.get("GmtModified"),
        "call_log": call_log,
        "recordings": recordings_index(store, ref.dt, ref.instance_id),
        "source": {"stop_event_key": source_key, "call_log_host": urlsplit(url).hostname},
        "archived_at": utcnow(),
    }
    result = store.put(target, json.dumps(doc, ensure_ascii=False).encode(), if_absent=True)
    return Outcome("archived" if result.created else "already_archived", target)
