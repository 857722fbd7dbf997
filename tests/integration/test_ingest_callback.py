"""ingest_callback through its real handler; OSS is moto's server over HTTP."""
import json

import pytest

from shared.archive import layout
from shared.clients import object_store
from tests.chain import CALLBACK_TOKEN, callback, raw
from tests.support import call, http_event, load_function

PATH = "/api/v2/aiagent/callback"
EVENTS = ["agent_start", "session_start", "agent_stop", "error", "intent_detected", "intent_recognized",
          "llm_data_received", "tts_data_received", "chat_record", "audio_record", "full_audio_record",
          "outbound_call", "inbound_call", "client_defined_data", "instruction", "some_future_event"]


@pytest.fixture
def ingest(monkeypatch, chain_env):
    return load_function("ingest_callback", monkeypatch, {})


def post(handler, body, token=CALLBACK_TOKEN, raw_body=None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return call(handler, http_event(raw_body=raw_body if raw_body is not None else raw(body), path=PATH,
                                    headers=headers))


def stored(instance_id):
    store = object_store.get_store()
    return [o.key for o in store.list(layout.CALLBACKS) if f"/{instance_id}/" in o.key]


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_type_stored_once_exactly_as_received(ingest, event):
    inst = f"inst-{event.replace('_', '-')}"
    body = raw(callback(inst, event, data={"k": "v"}))
    status, _, out = post(ingest, None, raw_body=body)
    assert status == 200 and out["code"] == 200 and out["duplicate"] is False
    keys = stored(inst)
    assert keys == [out["key"]]
    ref = layout.parse_callback_key(out["key"])
    assert (ref.instance_id, ref.event, ref.dt) == (inst, event, "2025-08-14")
    data, _ = object_store.get_store().get(out["key"])
    assert data == body.encode()


def test_same_event_three_times_is_one_object(ingest):
    body = callback("inst-dup", "agent_stop")
    outs = [post(ingest, body) for _ in range(3)]
    assert [s for s, _, _ in outs] == [200, 200, 200]
    assert [o["duplicate"] for _, _, o in outs] == [False, True, True]
    # Same content re-serialised (key order, spacing) still maps to the same object.
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    status, _, out = post(ingest, None, raw_body=reordered)
    assert status == 200 and out["duplicate"] is True
    assert len(stored("inst-dup")) == 1


def test_unknown_type_with_odd_characters_is_kept(ingest):
    status, _, out = post(ingest, callback("inst-odd", "Weird/Type!"))
    assert status == 200 and out["key"].endswith("-unknown.json")
    assert json.loads(object_store.get_store().get(out["key"])[0])["event"] == "Weird/Type!"


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789", CALLBACK_TOKEN + "x", CALLBACK_TOKEN[:-1]])
def test_bad_callback_token_is_401_and_nothing_stored(ingest, token):
    status, headers, out = post(ingest, callback("inst-401", "agent_start"), token=token)
    assert status == 401 and out["code"] == 401 and headers.get("WWW-Authenticate") == "Bearer"
    assert stored("inst-401") == []


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b.pop("instanceId"), "instanceId"),
    (lambda b: b.pop("aiAgentId"), "aiAgentId"),
    (lambda b: b.pop("event"), "event"),
    (lambda b: b.pop("timestamp"), "timestamp"),
    (lambda b: b.update(timestamp="yesterday"), "timestamp"),
    (lambda b: b.update(instanceId="../../etc"), "instanceId"),
    (lambda b: b.update(code=True), "code"),
    (lambda b: b.update(code=[1]), "code"),
    (lambda b: b.update(event=7), "event"),
])
def test_bad_envelopes_are_400_naming_the_field(ingest, mutate, field):
    body = callback("inst-400", "agent_start")
    mutate(body)
    status, _, out = post(ingest, body)
    assert status == 400 and out["message"].startswith(field), out
    assert stored("inst-400") == []


@pytest.mark.parametrize("code", [1001, "1001", 3.5, None])
def test_code_number_or_string_and_data_as_string(ingest, code):
    body = callback("inst-code", "chat_record", code=code, data=json.dumps({"text": "hi"}), extendData="{}")
    status, _, _ = post(ingest, body)
    assert status == 200


def test_not_json_and_oversized(ingest):
    assert post(ingest, None, raw_body="{nope")[0] == 400
    big = callback("inst-big", "chat_record", data={"text": "x" * (300 * 1024)})
    status, _, out = post(ingest, big)
    assert status == 413 and out["code"] == 413
    assert stored("inst-big") == []


def test_store_down_is_5xx_and_nothing_is_written(monkeypatch, chain_env, moto_oss):
    from tests.support import free_port

    handler = load_function("ingest_callback", monkeypatch, {"OSS_ENDPOINT": f"http://127.0.0.1:{free_port()}"})
    object_store.reset_store()
    status, _, out = post(handler, callback("inst-down", "agent_stop"))
    assert 500 <= status < 600 and out["code"] == status and "Traceback" not in json.dumps(out)
    monkeypatch.setenv("OSS_ENDPOINT", moto_oss.endpoint)
    from shared.settings import reset_cache

    reset_cache()
    object_store.reset_store()
    assert stored("inst-down") == []


def test_no_secret_in_logs(ingest, logs):
    post(ingest, callback("inst-log", "agent_start"))
    post(ingest, callback("inst-log", "agent_start"), token="wrong-token-0123456789")
    text = logs.getvalue()
    assert "request done" in text and CALLBACK_TOKEN not in text and "wrong-token-0123456789" not in text
