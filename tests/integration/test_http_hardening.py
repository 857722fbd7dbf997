"""Request-level rules of every HTTP function, through the real handlers: values JSON can't
carry onward are refused before any upstream sees them, client endpoints take JSON only,
the callback endpoint is not for browsers, and every request leaves an audit line."""
import json

import pytest

from devkit.tokens import mint_token
from shared.clients import ice
from tests.chain import CALLBACK_TOKEN, callback
from tests.support import call, http_event, load_function

AK, SK = "hardening-ak", "hardening-sk-0123456789"
SECRET = "hardening-jwt-secret-" + "x" * 32
CALL = "/api/v2/aiagent/generateAIAgentCall"
CLIENT_FUNCTIONS = {"get_rtc_auth_token": ("/api/v2/aiagent/getRtcAuthToken", {"user_id": "u1"}),
                    "generate_message_chat_token": ("/api/v2/aiagent/generateMessageChatToken",
                                                    {"user_id": "u1", "ai_agent_id": "agent1"}),
                    "describe_ai_agent_instance": ("/api/v2/aiagent/describeAIAgentInstance",
                                                   {"user_id": "u1", "ai_agent_instance_id": "inst-1"}),
                    "generate_ai_agent_call": (CALL, {"user_id": "u1", "ai_agent_id": "agent1"})}


@pytest.fixture
def client_fn(monkeypatch, oss_env, sim):
    sim.reset()

    def load(key):
        ice.reset_client()
        return load_function(key, monkeypatch, {
            "AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET, "ICE_ENDPOINT": sim.endpoint,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SK,
            "LIVE_MIC_APP_ID": "app", "LIVE_MIC_APP_KEY": "app-key-0123456789"})

    yield load
    ice.reset_client()


@pytest.fixture(scope="module")
def sim():
    from devkit.sims.ice import IceSimulator

    sim = IceSimulator({AK: SK}).start()
    yield sim
    sim.stop()


@pytest.mark.parametrize("raw, field", [
    ('{"user_id": "u1", "ai_agent_id": "agent1", "user_data": {"score": NaN}}', "user_data.score: NaN"),
    ('{"user_id": "u1", "ai_agent_id": "agent1", "agent_config": {"a": [1, -Infinity]}}', "agent_config.a[1]"),
    ('{"user_id": "u1", "ai_agent_id": "agent1", "user_data": {"big": 1e999}}', "user_data.big: number"),
    ('{"user_id": "u1", "ai_agent_id": "agent1", "session_id": "x\\ud800y"}', "session_id: not valid text"),
    ('{"user_id": "u1", "ai_agent_id": "agent1", "user_data": {"\\udc00": 1}}', "user_data: a key"),
])
def test_values_json_cannot_carry_are_400_naming_the_field_and_never_reach_ice(client_fn, sim, raw, field):
    handler = client_fn("generate_ai_agent_call")
    status, _, out = call(handler, http_event(path=CALL, raw_body=raw, token=mint_token("u1", SECRET)))
    assert status == 400 and out["message"].startswith(field), out
    assert sim.count() == 0


@pytest.mark.parametrize("key", sorted(CLIENT_FUNCTIONS))
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_client_endpoints_take_json_only(client_fn, sim, key, content_type):
    path, body = CLIENT_FUNCTIONS[key]
    event = json.loads(http_event(body, path=path, token=mint_token("u1", SECRET)))
    event["headers"].pop("Content-Type")
    if content_type:
        event["headers"]["Content-Type"] = content_type
    status, _, out = call(client_fn(key), json.dumps(event).encode())
    assert (status, out["message"]) == (415, "content-type: must be application/json")
    assert sim.count() == 0


def test_callback_endpoint_sends_no_cors_headers_and_has_no_preflight(monkeypatch, chain_env):
    handler = load_function("ingest_callback", monkeypatch, {})
    status, headers, _ = call(handler, http_event(callback("inst-cors", "agent_start"), path="/api/v2/aiagent/callback",
                                                  headers={"Authorization": f"Bearer {CALLBACK_TOKEN}",
                                                           "Origin": "https://evil.example"}))
    assert status == 200 and not any(h.lower().startswith("access-control-") for h in headers)
    status, headers, _ = call(handler, http_event(path="/api/v2/aiagent/callback", method="OPTIONS",
                                                  headers={"Origin": "https://evil.example"}))
    assert status == 405 and not any(h.lower().startswith("access-control-") for h in headers)


def test_every_client_request_leaves_an_audit_line_without_the_token(client_fn, logs):
    token = mint_token("alice", SECRET)
    handler = client_fn("describe_ai_agent_instance")
    call(handler, http_event({"user_id": "alice", "ai_agent_instance_id": "inst-audit", "region": "cn-hangzhou"},
                             path="/api/v2/aiagent/describeAIAgentInstance", token=token))
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if '"request done"' in line]
    assert lines, logs.getvalue()
    audit = lines[-1]
    assert audit["user"] == "alice" and audit["ai_agent_instance_id"] == "inst-audit"
    assert audit["region"] == "cn-hangzhou" and "source_ip" in audit and "status" in audit
    assert token not in logs.getvalue() and SECRET not in logs.getvalue()
