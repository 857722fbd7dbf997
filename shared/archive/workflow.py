"""Archiving one finished call (docs/protocols.md#archive-chain): stop event -> DescribeAIAgentInstance ->
CallLogUrl -> validated call log + instance metadata + recordings index -> call-logs/.

Idempotent (the target key is deterministic and written if absent). Transient
problems raise `RetryLater` so FC's async retry runs again; after
ARCHIVE_MAX_ATTEMPTS, or at once for a problem retrying cannot fix (a refused call
log, ICE answering NotFound/BadRequest, a missing or unreadable stop event), a dead
letter under failed/ records why. Every other exception is counted the same way
(`dead_letters.unexpected`); only StorageError propagates. Attempts are counted per
stop event (its key), and the counter is removed once the call is archived. Once the
call is archived (by any trigger), every open archive dead letter of the call is
resolved (`dead_letters.finish`): one terminal state per call.

The stop event is data, not authority: the instance's status, user data and call info
are ICE's (DescribeAIAgentInstance); what the event says is kept apart
(`stop_event_claims`), and recording locations from the call's callbacks are kept only
when they point at an allowed https host or into our own bucket.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from shared.archive import erasure, index_rows, layout
from shared.archive.dead_letters import (
    Failure,
    GiveUp,
    RetryLater,
    Unit,
    finish,
    safe_message,
    settle,
    unexpected,
    utcnow,
)
from shared.clients import safe_fetch
from shared.clients.object_store import ObjectNotFound, check_key
from shared.errors import AppError, BadRequest, NotFound, StorageError
from shared.ports import IceApi, Store
from shared.settings import ArchiveSettings

STEP = "archive"
RECORDING_EVENTS = ("audio_record", "full_audio_record")
AUDIO_SUFFIXES = (".wav", ".mp3", ".pcm", ".aac", ".m4a", ".opus")
# Where in our bucket a bare recording key may point (ICE writes there: AudioOssPath).
RECORDING_PREFIXES = (layout.RECORDINGS,)
RECORDING_FIELDS = ("role", "sentenceid", "sentence_id", "duration", "format")


class Outcome(NamedTuple):
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


def _looks_like_location(value: str) -> bool:
    low = value.lower()
    return low.startswith(("http://", "https://", "oss://")) or low.endswith(AUDIO_SUFFIXES)


def _usable_key(key: str) -> bool:
    try:
        check_key(key)
    except ValueError:
        return False
    return True


def recording_location_allowed(value: str, *, bucket: str, allowed_hosts: tuple[str, ...]) -> bool:
    """Whether a recording location from a callback may be kept: an https URL that
    `safe_fetch.check_url` accepts (allowed host, port 443, no userinfo or IP literal),
    `oss://<our bucket>/<key>`, or a bare key under RECORDING_PREFIXES."""
    low = value.lower()
    if low.startswith(("http://", "https://")):
        try:
            safe_fetch.check_url(value, allowed_hosts)
        except safe_fetch.Refused:
            return False
        return True
    if low.startswith("oss://"):
        name, sep, key = value[len("oss://"):].partition("/")
        return bool(sep) and name == bucket and _usable_key(key)
    if ":" in value.split("/", 1)[0]:  # another scheme (file:, s3:, ...)
        return False
    return value.startswith(RECORDING_PREFIXES) and _usable_key(value)


def recordings_index(store: Store, dt: str, instance_id: str, *, allowed_hosts: tuple[str, ...] = (),
                     ) -> tuple[list[dict[str, Any]], int]:
    """Recording references from the call's audio_record / full_audio_record callbacks,
    and how many locations were rejected.

    A call may cross midnight, so the stop event's day and the day before are read.
    The payload of these events is not publicly documented: every string that looks
    like a location (URL, oss://, object path with an audio suffix) is a candidate,
    kept only when `recording_location_allowed` (an event is data, not authority).
    """
    day = date.fromisoformat(dt)
    bucket = str(getattr(store, "bucket", "") or "")
    out, rejected = [], 0
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
            except (ValueError, KeyError, RecursionError):
                continue
            if not isinstance(event, dict):
                continue
            data = _loads_maybe(event.get("data"))
            extend = _loads_maybe(event.get("extendData"))
            entry: dict[str, Any] = {"event": ref.event, "timestamp": event.get("timestamp"), "callback_key": info.key}
            if isinstance(data, dict):
                for k, v in data.items():
                    if isinstance(v, str) and _looks_like_location(v):
                        if recording_location_allowed(v, bucket=bucket, allowed_hosts=allowed_hosts):
                            entry.setdefault("locations", {})[k] = v
                        else:
                            rejected += 1
                    elif k.lower() in RECORDING_FIELDS and (v is None or isinstance(v, (str, int, float, bool))):
                        entry[k] = v
            if isinstance(extend, dict) and isinstance(extend.get("sentenceId"), (str, int)):
                entry.setdefault("sentenceId", extend.get("sentenceId"))
            out.append(entry)
    out.sort(key=lambda e: (str(e.get("timestamp")), e["callback_key"]))
    return out, rejected


def _complete_record(store: Store, settings: ArchiveSettings, ref: layout.CallbackKey, call_log: Any,
                     inst: dict[str, Any]) -> dict[str, Any]:
    """The call's complete record (shared/archive/complete_record.py). A failure to build it is
    recorded in it, never a reason to lose the call log (a StorageError still propagates)."""
    from shared.archive import complete_record

    try:
        return complete_record.build(store, dt=ref.dt, instance_id=ref.instance_id, call_log=call_log,
                                     call_info=inst.get("CallInfo"), bucket=str(getattr(store, "bucket", "") or ""),
                                     allowed_hosts=settings.CALL_LOG_ALLOWED_HOSTS, fetch=complete_record.fetch_bytes,
                                     allow_insecure=settings.CALL_LOG_ALLOW_INSECURE)
    except StorageError:
        raise
    except Exception as exc:  # noqa: BLE001
        from shared.log import logger

        logger.exception("complete record not built", extra={"instance_id": ref.instance_id})
        return {"error": f"{type(exc).__name__}: {safe_message(exc, 200)}"}


def _owner(store: Store, instance_id: str) -> str | None:
    """The user who started the call (state/owners, written by the client API), or None."""
    try:
        doc = json.loads(store.get(layout.owner_key(instance_id))[0])
    except Exception:  # noqa: BLE001 - absent or unreadable: the index falls back to the call log's user
        return None
    user = doc.get("user_id") if isinstance(doc, dict) else None
    return user if isinstance(user, str) and user else None


def _redact_call_log(store: Store, call_log: Any, raw_key: str, keep_raw: bool) -> dict[str, Any]:
    """The call log with its dialog's texts redacted (key `call_log`), with what was found (counts
    per kind) and where the raw copy went. The raw copy is written first, if absent, so a redacted
    archive never exists without it when it is to be kept."""
    if keep_raw:
        store.put(raw_key, json.dumps(call_log, ensure_ascii=False).encode(), if_absent=True)
    from shared.privacy.transcripts import redact_turns

    dialog, findings = redact_turns(call_log.get("dialog") if isinstance(call_log, dict) else None)
    redacted = {**call_log, "dialog": dialog} if isinstance(call_log, dict) else call_log
    return {"call_log": redacted, "mode": "archive", "findings": findings, "raw_key": raw_key if keep_raw else None}


def archive_call(
    store: Store,
    ice_client: IceApi,
    settings: ArchiveSettings,
    source_key: str,
    *,
    validate: Callable[[Any], Any],
    fetch: Callable[..., Any] = safe_fetch.fetch_json,
    deadline: float | None = None,
    redaction: str = "off",
    keep_raw: bool = False,
) -> Outcome:
    """Archive the call whose agent_stop event was stored at `source_key`. With
    `redaction="archive"` the stored dialog's texts are redacted (the raw call log is kept under
    raw/ when `keep_raw`, written before the redacted one)."""
    try:
        ref = layout.parse_callback_key(source_key)
    except ValueError:
        return Outcome("skipped", reason="not a callback key")
    if ref.event != "agent_stop":
        return Outcome("skipped", reason=f"event {ref.event} does not finish a call")
    target = layout.call_log_key(ref.dt, ref.instance_id)
    unit = Unit(STEP, ref.dt, ref.instance_id, source_key)
    if erasure.is_erased(store, ref.instance_id):
        # Erased while in flight: what landed after the erasure's listing goes too.
        for info in store.list(layout.callback_instance_prefix(ref.dt, ref.instance_id)):
            store.delete(info.key)
        return Outcome("skipped", reason="the call was erased")
    if store.head(target) is not None:
        finish(store, unit, target)  # a duplicate or late trigger: settle what it left behind
        return Outcome("already_archived", target)
    from shared.archive.complete_record import stop_recording

    stop_recording(store, ref.instance_id, deadline=deadline)  # the call ended: its ARTC recording too

    try:
        return _archive(store, ice_client, settings, ref, target, unit, validate=validate, fetch=fetch,
                        deadline=deadline, redaction=redaction, keep_raw=keep_raw)
    except StorageError:
        raise  # the store is down: nothing can be recorded; FC retries
    except GiveUp as exc:
        failure = Failure(exc.code, safe_message(exc.message), retryable=False)
    except safe_fetch.Refused as exc:
        failure = Failure("CallLogRefused", safe_message(exc), retryable=False)
    except safe_fetch.FetchFailed as exc:
        failure = Failure("CallLogFetchFailed", safe_message(exc), retryable=True)
    except RetryLater as exc:
        failure = Failure(exc.code, safe_message(exc), retryable=True)
    except (NotFound, BadRequest) as exc:  # ICE: no such instance, or a request it will always refuse
        failure = Failure(exc.error_code, f"ICE refused DescribeAIAgentInstance: {safe_message(exc.message)}",
                          retryable=False)
    except AppError as exc:  # ICE throttling, 5xx, timeouts, our credentials
        failure = Failure(exc.error_code, safe_message(exc.message), retryable=True)
    except Exception as exc:  # noqa: BLE001 - anything else: counted, then a dead letter
        failure = unexpected(exc)
    key = settle(store, unit, failure, settings.ARCHIVE_MAX_ATTEMPTS,
                 done=lambda: target if store.head(target) is not None else None)
    if key is None:  # archived meanwhile by a duplicate trigger
        return Outcome("already_archived", target)
    return Outcome("dead_letter", key, failure.reason)


def _archive(store: Store, ice_client: IceApi, settings: ArchiveSettings, ref: layout.CallbackKey, target: str,
             unit: Unit, *, validate: Callable[[Any], Any], fetch: Callable[..., Any],
             deadline: float | None, redaction: str, keep_raw: bool) -> Outcome:
    try:
        raw = store.get(ref.key)[0]
    except ObjectNotFound:
        raise GiveUp("StopEventMissing", "the agent_stop object no longer exists") from None
    try:
        stop = json.loads(raw)
    except (ValueError, RecursionError):
        raise GiveUp("StopEventInvalid", "the agent_stop object is not JSON") from None
    if not isinstance(stop, dict):
        raise GiveUp("StopEventInvalid", "the agent_stop object is not a JSON object")
    answer = ice_client.describe_ai_agent_instance(ref.instance_id, deadline=deadline)
    inst = answer.get("Instance") if isinstance(answer, dict) else None
    inst = inst if isinstance(inst, dict) else {}
    status, url = inst.get("Status"), inst.get("CallLogUrl")
    if status != "Finished" or not url:
        raise RetryLater(f"instance status is {safe_message(status or 'unknown', 40)} and CallLogUrl is "
                         f"{'set' if url else 'empty'}; the call log is not ready", code="CallLogNotReady")
    raw_log = fetch(url, allowed_hosts=settings.CALL_LOG_ALLOWED_HOSTS, max_bytes=settings.CALL_LOG_MAX_BYTES,
                    timeout=settings.CALL_LOG_TIMEOUT_SECONDS, allow_insecure=settings.CALL_LOG_ALLOW_INSECURE)
    call_log = validate(raw_log)
    full = _complete_record(store, settings, ref, call_log, inst)
    redacted: dict[str, Any] | None = None
    if redaction == "archive":
        redacted = _redact_call_log(store, call_log, layout.raw_call_log_key(ref.dt, ref.instance_id), keep_raw)
        call_log = redacted.pop("call_log")
        if isinstance(full.get("turns"), list):
            from shared.privacy.transcripts import redact_turns

            full["turns"], _ = redact_turns(full["turns"])
    recordings, rejected = recordings_index(store, ref.dt, ref.instance_id,
                                            allowed_hosts=settings.CALL_LOG_ALLOWED_HOSTS)
    doc = {
        "schema": "aicall.call-log/1",
        "instance_id": ref.instance_id,
        "ai_agent_id": stop.get("aiAgentId"),  # ICE's answer does not carry it
        # ICE's answer, never the event's: an event is data, not authority.
        "user_data": inst.get("UserData"),
        "status": status,
        "session_id": inst.get("SessionId"),
        "call_info": inst.get("CallInfo"),
        "gmt_create": inst.get("GmtCreate"),
        "gmt_modified": inst.get("GmtModified"),
        "call_log": call_log,
        "recordings": recordings,
        "recordings_rejected": rejected,
        # SPEC 12: the reconciled transcript, its completeness, the linked audio, the call's timings
        "record": full,
        "stop_event_claims": {"ai_agent_id": stop.get("aiAgentId"), "user_data": stop.get("userData")},
        "source": {"stop_event_key": ref.key, "call_log_host": urlsplit(str(url)).hostname},
        "redaction": redacted or {"mode": redaction},
        "archived_at": utcnow(),
    }
    # The index's row update first: a crash after it re-runs the step, which writes both again.
    index_rows.emit(store, "archive", ref.dt, ref.instance_id,
                    index_rows.archive_fragment(doc, key=target, user_id=_owner(store, ref.instance_id)))
    result = store.put(target, json.dumps(doc, ensure_ascii=False).encode(), if_absent=True)
    finish(store, unit, target)
    return Outcome("archived" if result.created else "already_archived", target)
