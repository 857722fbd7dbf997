"""Property-based fuzzing of every HTTP function through its real handler.

Invariants, whatever arrives (bodies, headers, encodings, base64 flags, sizes, methods,
paths): never a 5xx unless an upstream fault was injected; every error is JSON with
`code` and `message`; nothing is stored for a rejected request; no secret in any
response or log line.
"""
import base64
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from devkit.tokens import mint_token
from shared.archive import layout
from shared.clients import object_store
from tests.chain import CALLBACK_TOKEN, SK
from tests.support import load_function, sample

JWT_SECRET = "fuzz-jwt-secret-" + "s" * 32
APP_KEY = "fuzz-artc-app-key-secret"
SECRETS = (JWT_SECRET, APP_KEY, CALLBACK_TOKEN, SK)
HTTP_FUNCTIONS = ("get_rtc_auth_token", "generate_message_chat_token", "describe_ai_agent_instance",
                  "generate_ai_agent_call", "ingest_callback")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(["user_id", "channel_id", "ai_agent_id", "ai_agent_instance_id", "region", "role",
                               "expire", "agent_config", "user_data", "aiAgentId", "instanceId", "event",
                               "timestamp", "code", "data", "extendData"])
plausible = st.sampled_from(["u1", "inst-known", "agent1", "cn-shanghai", "mars-1", "", "agent_stop", "chat_record",
                             "2025-08-14T02:00:00Z", "2025-08-14T02:00:00", "a" * 65, "x y", "é", 3600, -1, 0,
                             # timestamps at and beyond the accepted range (some once crashed with a 500)
                             "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0999-12-31T23:59:59Z",
                             "2025-08-14T02:00:00+14:00", "2099-01-01T00:00:00Z", "２０２５-08-14T02:00:00Z"])
bodies = st.one_of(
    st.dictionaries(field_names, json_values, max_size=8).map(lambda d: json.dumps(d).encode()),
    st.dictionaries(field_names, plausible | json_values, min_size=3, max_size=10).map(
        lambda d: json.dumps(d, ensure_ascii=False).encode()),
    st.fixed_dictionaries({"aiAgentId": plausible, "instanceId": plausible, "event": plausible,
                           "timestamp": plausible, "user_id": plausible, "ai_agent_id": plausible,
                           "ai_agent_instance_id": plausible}, optional={"code": json_values, "data": json_values,
                                                                         "region": plausible}
                          ).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.just(b"{" * 5000 + b"}" * 5000),  # deeply nested
    st.integers(60_000, 300_000).map(lambda n: b'{"user_id":"' + b"a" * n + b'"}'),
)
auth_headers = st.one_of(
    st.none(), st.text(max_size=60),
    st.sampled_from(["Bearer ", "Bearer x.y.z", f"Bearer {CALLBACK_TOKEN}", "bearer  " + CALLBACK_TOKEN,
                     f"Bearer {mint_token('u1', JWT_SECRET)}", f"Bearer {mint_token('u1', 'x' * 40)}"]),
)


VALID = {
    "get_rtc_auth_token": ({"user_id": "u1"}, mint_token("u1", JWT_SECRET)),
    "generate_message_chat_token": ({"user_id": "u1", "ai_agent_id": "agent1"}, mint_token("u1", JWT_SECRET)),
    "describe_ai_agent_instance": ({"user_id": "u1", "ai_agent_instance_id": "inst-known"}, mint_token("u1", JWT_SECRET)),
    "generate_ai_agent_call": ({"user_id": "u1", "ai_agent_id": "agent1", "agent_config": {"a": 1}},
                               mint_token("u1", JWT_SECRET)),
    "ingest_callback": ({"aiAgentId": "a1", "instanceId": "inst-fuzz", "event": "chat_record",
                         "timestamp": "2025-08-14T02:00:00Z", "data": {"text": "hi"}}, CALLBACK_TOKEN),
}


@st.composite
def events(draw, path, key):
    valid_body, valid_token = VALID[key]
    if draw(st.integers(0, 3)) == 0:  # a valid request, then perhaps one field mutated
        doc = dict(valid_body)
        if draw(st.booleans()):
            doc[draw(st.sampled_from(sorted(doc)))] = draw(plausible | json_values)
        body = json.dumps(doc, ensure_ascii=False).encode()
    else:
        body = draw(bodies)
    b64 = draw(st.booleans())
    headers = draw(st.dictionaries(st.text(min_size=1, max_size=20).filter(lambda k: k.lower() != "authorization"),
                                   st.text(max_size=40), max_size=4))
    auth = draw(st.one_of(auth_headers, st.just(f"Bearer {valid_token}")))
    if auth is not None:
        headers["Authorization"] = auth
    event = json.loads(json.dumps(sample("fc_http_trigger_event.json")))
    method = draw(st.sampled_from(["POST", "POST", "POST", "POST", "POST", "GET", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD", "x"]))
    event["requestContext"]["http"]["method"] = method
    event["rawPath"] = draw(st.sampled_from([path, path + "/", "/", "/api/v2/aiagent/other"]))
    event["headers"] = headers
    if b64:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = body.decode("utf-8", "replace"), False
    if draw(st.integers(0, 20)) == 0:  # occasionally a broken event envelope
        event[draw(st.sampled_from(["body", "headers", "requestContext", "isBase64Encoded"]))] = draw(json_values)
    return json.dumps(event).encode()


@pytest.fixture
def env(monkeypatch, chain_env):
    for k, v in {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": JWT_SECRET, "LIVE_MIC_APP_ID": "fuzz-app",
                 "LIVE_MIC_APP_KEY": APP_KEY}.items():
        monkeypatch.setenv(k, v)
    return chain_env


def check(out, logs_text, stored_before, store):
    assert isinstance(out, dict) and isinstance(out["statusCode"], int)
    status = out["statusCode"]
    assert status < 500, out
    text = json.dumps(out)
    for secret in SECRETS:
        assert secret not in text and secret not in logs_text
    if out["body"]:
        body = json.loads(out["body"])
        assert isinstance(body, dict) and "code" in body
        if status >= 400:
            assert "message" in body and body["code"] == status and "Traceback" not in out["body"]
    if status != 200 and store is not None:
        assert {o.key for o in store.list(layout.CALLBACKS)} == stored_before


@pytest.mark.parametrize("key", HTTP_FUNCTIONS)
def test_fuzz_http_function(key, env, monkeypatch, logs, ice_sim):
    ice_sim.add_instance("inst-known", call_log=sample("call_log.json"))
    handler = load_function(key, monkeypatch, {})
    path = {"get_rtc_auth_token": "/api/v2/aiagent/getRtcAuthToken"}.get(key, "/api/v2/aiagent/x")
    store = object_store.get_store() if key == "ingest_callback" else None

    body, token = VALID[key]
    valid = json.loads(json.dumps(sample("fc_http_trigger_event.json")))
    valid.update(rawPath=path, body=json.dumps(body), isBase64Encoded=False,
                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    @FUZZ
    @example(event=json.dumps(valid).encode())  # always exercised: the success path
    @given(event=events(path, key))
    def run(event):
        before = {o.key for o in store.list(layout.CALLBACKS)} if store else set()
        logs.seek(0)
        logs.truncate()
        out = handler(event, None)
        check(out, logs.getvalue(), before, store)

    run()
    if key == "ingest_callback":  # the generator does reach the store
        assert any(True for _ in store.list(layout.CALLBACKS))
