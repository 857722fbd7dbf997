"""POST /api/v2/aiagent/recordingCallback through the real handler on moto's OSS: Live's signed
callbacks are stored as the call's callbacks before the answer; forged, stale or unsigned ones are
401s and nothing is stored; a task we did not start is kept apart; bad bodies are 400s."""
import copy
import hashlib
import json
import time

import pytest

from shared.archive import layout, recording_callbacks
from shared.clients import object_store
from tests.support import call, http_event, sample

KEY = "testRecordingKey0123456789abcdef"
PATH = "/api/v2/aiagent/recordingCallback"


@pytest.fixture
def fn(monkeypatch, oss_env):
    from tests.support import load_function

    return load_function("ingest_recording_callback", monkeypatch, {"RECORDING_NOTIFY_KEY": KEY})


def signed(ts=None, key=KEY):
    ts = str(int(time.time()) if ts is None else ts)
    return {"ALI-LIVE-TIMESTAMP": ts, "ALI-LIVE-SIGNATURE": hashlib.md5(f"{ts}|{key}".encode()).hexdigest()}


def body(task="rtc-rec-1", event="RecordFileUploaded"):
    doc = copy.deepcopy(sample("live_recording_callback.json"))
    doc.update(taskId=task, eventType=event, callbackTs=int(time.time() * 1000))
    return doc


def post(fn, doc, headers):
    raw = json.dumps(doc) if not isinstance(doc, str) else doc
    out = fn(http_event(raw_body=raw, path=PATH, headers=headers), None)
    return out["statusCode"], json.loads(out["body"]) if out["body"] else None


def stored(instance):
    return [i.key for i in object_store.get_store().list(layout.CALLBACKS) if f"/{instance}/" in i.key]


def test_a_signed_callback_of_our_task_is_stored_as_the_call_s_callback(fn):
    store = object_store.get_store()
    store.put(layout.recording_task_key("rtc-rec-1"), json.dumps(
        {"instance_id": "inst-rec-1", "channel_id": "ch", "dt": "2026-12-01"}).encode())
    doc = body()
    status, answer = post(fn, doc, signed())
    assert (status, answer) == (200, {"Code": 0, "Msg": "Success"})
    keys = stored("inst-rec-1")
    assert len(keys) == 1 and keys[0].endswith("-rtc_record_file_uploaded.json")
    event = json.loads(store.get(keys[0])[0])
    assert event["payload"]["fileName"].endswith(".mp4") and event["task"]["instance_id"] == "inst-rec-1"
    assert recording_callbacks.files_of([event])[0]["format"] == "MP4"
    # Live re-sends after a timeout: the same event is the same object.
    assert post(fn, doc, signed())[0] == 200 and stored("inst-rec-1") == keys


@pytest.mark.parametrize("headers, code", [
    ({}, "MissingSignature"),
    (signed(key="another0123456789abcdef"), "InvalidSignature"),
    (signed(ts=int(time.time()) - 3600), "StaleSignature"),  # a replay of an old callback
    (signed(ts=int(time.time()) + 3600), "StaleSignature"),
    ({"ALI-LIVE-TIMESTAMP": "soon", "ALI-LIVE-SIGNATURE": "x"}, "InvalidSignature"),
])
def test_forged_stale_or_unsigned_callbacks_are_401_and_nothing_is_stored(fn, headers, code):
    status, answer = post(fn, body(task="rtc-forged"), headers)
    assert (status, answer["error_code"]) == (401, code)
    assert stored("unmatched-rtc-forged") == []


def test_a_task_we_did_not_start_is_kept_apart(fn):
    status, _ = post(fn, body(task="rtc-unknown-9", event="TaskStopped"), signed())
    keys = stored("unmatched-rtc-unknown-9")
    assert status == 200 and len(keys) == 1 and keys[0].endswith("-rtc_task_stopped.json")


@pytest.mark.parametrize("doc, field", [
    ("not json", "body"), ([1], "body"), ({**body(), "taskId": "../x"}, "taskId"),
    ({**body(), "eventType": 7}, "eventType"), ({**body(), "callbackTs": "yesterday"}, "callbackTs"),
    ({**body(), "payload": 3}, "payload"),
])
def test_bad_bodies_are_400s_naming_the_field(fn, doc, field):
    status, answer = post(fn, doc, signed())
    assert status == 400 and answer["message"].startswith(field), answer


def test_without_a_key_the_function_says_so(monkeypatch, oss_env):
    from tests.support import load_function

    monkeypatch.delenv("RECORDING_NOTIFY_KEY", raising=False)
    handler = load_function("ingest_recording_callback", monkeypatch, {})
    status, _, out = call(handler, http_event(raw_body=json.dumps(body()), path=PATH, headers=signed()))
    assert status == 500 and out["error_code"] == "ConfigurationError" and "RECORDING_NOTIFY_KEY" in out["message"]
