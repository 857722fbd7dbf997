"""ARTC cloud recording callbacks (docs/protocols.md#artc-cloud-recording): Live POSTs
`{appId, channelId, taskId, eventType, callbackTs, payload}` with `ALI-LIVE-TIMESTAMP` and
`ALI-LIVE-SIGNATURE = md5(timestamp + "|" + NotifyAuthKey)`; we check both, then store the event
durably as one of the call's callbacks (`callbacks/dt=…/<instanceId>/<time>-<digest>-rtc_<event>.json`,
found through the task's record `state/recordings/<taskId>.json`) before answering
`{"Code": 0, "Msg": "Success"}`. The recording's files join the call's record from there,
whenever they arrive (the archive API reads them with the call's callbacks).

Pure standard library and cheap to import."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import datetime, timezone
from typing import Any

from shared import lazyre
from shared.archive import layout
from shared.clients.object_store import ObjectNotFound
from shared.errors import BadRequest, Unauthorized
from shared.ports import Store

EVENT_TYPES = ("TaskCreated", "TaskStarting", "TaskRunning", "TaskRecovering", "TaskStopping", "TaskStopped",
               "RecordFileUploaded")
FILE_EVENT = "rtc_record_file_uploaded"
_ID = lazyre.compile(r"[A-Za-z0-9_.-]{1,128}")
_SNAKE = lazyre.compile(r"(?<!^)(?=[A-Z])")


def check_signature(timestamp: str | None, signature: str | None, key: str, *, max_age: int,
                    now: float | None = None) -> None:
    """Unauthorized (401) unless the headers are Live's for `key` and the timestamp is recent."""
    if not timestamp or not signature:
        raise Unauthorized("ALI-LIVE-TIMESTAMP and ALI-LIVE-SIGNATURE are required", error_code="MissingSignature")
    if not timestamp.isdigit() or len(timestamp) > 13:
        raise Unauthorized("ALI-LIVE-TIMESTAMP: not a Unix time", error_code="InvalidSignature")
    when = float(timestamp)
    when = when / 1000 if when > 1e11 else when  # seconds (documented), milliseconds tolerated
    if abs((now if now is not None else time.time()) - when) > max_age:
        raise Unauthorized(f"ALI-LIVE-TIMESTAMP: more than {max_age} s from now (a replay, or a clock off)",
                           error_code="StaleSignature")
    expected = hashlib.md5(f"{timestamp}|{key}".encode(), usedforsecurity=False).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise Unauthorized("ALI-LIVE-SIGNATURE does not match", error_code="InvalidSignature")


def parse(body: Any) -> dict[str, Any]:
    """The callback's envelope, checked (BadRequest naming the field); `payload` parsed when it is JSON."""
    if not isinstance(body, dict):
        raise BadRequest("body: must be a JSON object", error_code="InvalidBody")
    for name in ("appId", "channelId", "taskId"):
        value = body.get(name)
        if not isinstance(value, str) or not _ID.fullmatch(value):
            raise BadRequest(f"{name}: must be 1-128 letters, digits, '_', '.' or '-'", error_code="InvalidParameter")
    event = body.get("eventType")
    if not isinstance(event, str) or not re.fullmatch(r"[A-Za-z]{1,40}", event):
        raise BadRequest("eventType: must be a Live recording event such as RecordFileUploaded",
                         error_code="InvalidParameter")
    ts = body.get("callbackTs")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not 9.4e11 < ts < 4.2e12:
        raise BadRequest("callbackTs: must be a Unix time in milliseconds", error_code="InvalidParameter")
    payload = body.get("payload")
    if payload is not None and not isinstance(payload, (str, dict)):
        raise BadRequest("payload: must be a JSON string", error_code="InvalidParameter")
    parsed = payload
    if isinstance(payload, str):
        try:
            parsed = json.loads(payload) if payload.strip() else None
        except ValueError:
            parsed = None  # kept raw in the stored event
    return {**body, "payload_parsed": parsed if isinstance(parsed, dict) else None}


def event_name(event_type: str) -> str:
    """`rtc_<snake case>` (the stored callback's event segment): RecordFileUploaded -> rtc_record_file_uploaded."""
    return "rtc_" + _SNAKE.sub("_", event_type).lower()


def task_record(store: Store, task_id: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(store.get(layout.recording_task_key(task_id))[0])
    except (ObjectNotFound, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def store_event(store: Store, event: dict[str, Any]) -> tuple[str | None, bool]:
    """Store one checked event as a callback of its call (or, for a task we did not start, under
    `unmatched-<taskId>`); (key — None for an erased call, whose events are not kept —, whether
    the task was known). Same event twice -> same key."""
    record = task_record(store, event["taskId"])
    instance = record.get("instance_id") if record else None
    if not isinstance(instance, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", instance):
        instance = "unmatched-" + re.sub(r"[^A-Za-z0-9_-]", "-", event["taskId"])[:100]
    elif store.head(layout.erased_key(instance)) is not None:
        return None, True  # the call was erased: acknowledged, nothing stored
    when = datetime.fromtimestamp(event["callbackTs"] / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    name, stamp = event_name(event["eventType"]), when + "Z"
    doc = {"event": name, "instanceId": instance, "timestamp": stamp,
           "source": "live-recording", "task": record, "data": {k: v for k, v in event.items()
                                                                 if k != "payload_parsed"},
           "payload": event.get("payload_parsed")}
    key = layout.callback_key(instance, name, stamp, {k: v for k, v in event.items()
                                                                          if k != "payload_parsed"})
    store.put(key, json.dumps(doc, ensure_ascii=False).encode(), if_absent=True)
    return key, record is not None


def files_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recording files the stored events name: [{key, format, duration, task_id, at}]."""
    out = []
    for doc in events:
        if doc.get("event") != FILE_EVENT:
            continue
        payload: dict[str, Any] = doc["payload"] if isinstance(doc.get("payload"), dict) else {}
        name = payload.get("fileName") or payload.get("FileName") or payload.get("ossObject") or payload.get("url")
        if isinstance(name, str) and name:
            data: dict[str, Any] = doc["data"] if isinstance(doc.get("data"), dict) else {}
            out.append({"key": name.lstrip("/"), "format": payload.get("fileFormat") or payload.get("format"),
                        "duration": payload.get("duration"), "task_id": data.get("taskId"),
                        "at": doc.get("timestamp")})
    return out
