"""The ICE-backed endpoints through their real handlers; ICE is the simulator (every
request's signature checked) with injected faults."""
import json

import pytest

from devkit.tokens import mint_token
from shared.clients import ice
from tests.support import call, http_event, load_function, sample

AK, SK = "ice-fn-ak", "ice-fn-sk-0123456789"
SECRET = "ice-fn-jwt-secret-" + "x" * 32
PATHS = {"generate_message_chat_token": "/api/v2/aiagent/generateMessageChatToken",
         "describe_ai_agent_instance": "/api/v2/aiagent/describeAIAgentInstance",
         "generate_ai_agent_call": "/api/v2/aiagent/generateAIAgentCall"}


@pytest.fixture(scope="module")
def sim():
    from devkit.sims.ice import IceSimulator

    s = IceSimulator({AK: SK}).start()
    yield s
    s.stop()


@pytest.fixture
def fn(monkeypatch, oss_env, sim):
    """Cold-start an ICE function with the simulator and moto's OSS (ownership, quotas)."""
    sim.reset()

    def load(key, **env):
        ice.reset_client()
        base = {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET, "ICE_ENDPOINT": sim.endpoint,
                "ALIBABA_CLOUD_ACCESS_KEY_ID": AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SK, "ICE_MAX_RETRIES": "2"}
        return load_function(key, monkeypatch, {**base, **env})

    yield load
    ice.reset_client()


def post(handler, key, body, user="u1", **claims):
    return call(handler, http_event(body, path=PATHS[key], token=mint_token(user, SECRET, **claims)))


def own(instance_id, user="u1"):
    """Record `user` as the owner of an instance added to the simulator directly (what
    generateAIAgentCall / startAIAgentOutboundCall record when they start one)."""
    from shared.api import ownership
    from shared.clients import object_store

    ownership.record_instance(object_store.get_store(), instance_id, user_id=user, ai_agent_id="agent1",
                              via="test")


def test_message_chat_token_shape(fn):
    status, _, out = post(fn("generate_message_chat_token"), "generate_message_chat_token",
                          {"user_id": "u1", "ai_agent_id": "agent1", "role": "admin", "expire": 1800}, role="admin")
    assert status == 200
    assert set(out) == {"code", "message", "request_id", "app_id", "token", "user_id", "nonce", "role",
                        "timestamp", "app_sign"}
    assert out["message"] == "success" and out["user_id"] == "u1" and out["role"] == "admin"


def test_call_then_describe(fn, sim):
    status, _, call_out = post(fn("generate_ai_agent_call"), "generate_ai_agent_call",
                               {"user_id": "u1", "ai_agent_id": "agent1", "agent_config": {"Greeting": "hi"},
                                "user_data": {"plan": "gold"}})
    assert status == 200
    assert set(call_out) == {"code", "rtc_auth_token", "ai_agent_instance_id", "ai_agent_user_id", "channel_id",
                             "user_id", "request_id"}
    status, _, desc = post(fn("describe_ai_agent_instance"), "describe_ai_agent_instance",
                           {"user_id": "u1", "ai_agent_instance_id": call_out["ai_agent_instance_id"]})
    assert status == 200 and desc["status"] == "Executing"
    assert json.loads(desc["agent_config"]) == {"Greeting": "hi"}
    assert json.loads(desc["user_data"]) == {"plan": "gold"}
    for name in ("runtime_config", "template_config"):
        assert isinstance(json.loads(desc[name]), dict)
    assert "null" not in desc.values()


def test_describe_maps_every_config_as_json_strings(fn, sim):
    sim.add_instance("inst-sample", call_log=sample("call_log.json"), call_info={"Type": "voice"})
    own("inst-sample")
    status, _, out = post(fn("describe_ai_agent_instance"), "describe_ai_agent_instance",
                          {"user_id": "u1", "ai_agent_instance_id": "inst-sample"})
    upstream = sample("ice_describe_ai_agent_instance_response.json")["Instance"]
    assert status == 200 and out["status"] == "Finished" and out["call_log_url"].endswith("inst-sample.json")
    # The agent's own ARTC join tokens never reach a client; everything else does.
    runtime = upstream["RuntimeConfig"]
    assert json.loads(out["runtime_config"]) == {
        k: ({kk: vv for kk, vv in v.items() if kk != "AuthToken"} if isinstance(v, dict) else v)
        for k, v in runtime.items() if k != "AuthToken"}
    assert runtime["AuthToken"] not in json.dumps(out, ensure_ascii=False)
    assert json.loads(out["template_config"]) == upstream["TemplateConfig"]
    assert json.loads(out["agent_config"]) == upstream["AgentConfig"]
    assert out["call_info"] == {"Type": "voice"} and "gmt_create" in out


@pytest.mark.parametrize("key, body, field", [
    ("generate_message_chat_token", {"user_id": "u1", "ai_agent_id": "a1", "region": "mars-1"}, "region"),
    ("describe_ai_agent_instance", {"user_id": "u1", "ai_agent_instance_id": "i1", "region": "eu-nowhere-9"}, "region"),
    ("describe_ai_agent_instance", {"user_id": "u1", "ai_agent_instance_id": ""}, "ai_agent_instance_id"),
    ("generate_ai_agent_call", {"user_id": "u1", "ai_agent_id": ""}, "ai_agent_id"),
    ("generate_ai_agent_call", {"user_id": "u1"}, "ai_agent_id"),
    ("generate_message_chat_token", {"user_id": "u-1", "ai_agent_id": "a1"}, "user_id"),  # no '-' here
    ("generate_message_chat_token", {"user_id": "u" * 65, "ai_agent_id": "a1"}, "user_id"),
    ("generate_ai_agent_call", {"user_id": "u1", "ai_agent_id": "a1", "agent_config": "[1]"}, "agent_config"),
    ("generate_ai_agent_call", {"user_id": "u1", "ai_agent_id": "a1", "agent_config": "{bad"}, "agent_config"),
    ("generate_message_chat_token", {"user_id": "u1", "ai_agent_id": "a1", "expire": "3600"}, "expire"),
])
def test_bad_input_is_400_naming_the_field(fn, sim, key, body, field):
    status, _, out = post(fn(key), key, body, user=body["user_id"])
    assert status == 400 and out["message"].startswith(field), out
    assert sim.count() == 0  # refused before any ICE call


def test_extra_regions_extend_the_list(fn):
    h = fn("describe_ai_agent_instance", ICE_EXTRA_REGIONS="eu-central-1")
    own("nope")
    status, _, out = post(h, "describe_ai_agent_instance",
                          {"user_id": "u1", "ai_agent_instance_id": "nope", "region": "eu-central-1"})
    assert status == 404  # reached ICE (the simulator) instead of a 400


def test_wrong_user_is_403_without_calling_ice(fn, sim):
    status, _, _ = call(fn("generate_ai_agent_call"), http_event({"user_id": "bob", "ai_agent_id": "a1"},
                        path=PATHS["generate_ai_agent_call"], token=mint_token("alice", SECRET)))
    assert status == 403 and sim.count() == 0


@pytest.mark.parametrize("fault, want_status, want_calls", [
    (dict(status=400, code="InvalidParameter", times=5), 400, 1),
    (dict(status=404, code="InvalidInstanceId.NotFound", times=5), 404, 1),
    (dict(status=403, code="Forbidden.RAM", times=5), 502, 1),
    (dict(status=429, code="Throttling", times=5, retry_after_ms=10), 429, 3),
    (dict(status=500, code="InternalError", times=5), 502, 3),
    (dict(status=503, code="ServiceUnavailable", times=2), 200, 3),  # retried, then succeeded
])
def test_upstream_faults_map_to_whose_fault_it_is(fn, sim, fault, want_status, want_calls):
    sim.add_instance("inst-f")
    own("inst-f")
    sim.inject(action="DescribeAIAgentInstance", **fault)
    status, headers, out = post(fn("describe_ai_agent_instance"), "describe_ai_agent_instance",
                                {"user_id": "u1", "ai_agent_instance_id": "inst-f"})
    assert status == want_status, out
    assert sim.count("DescribeAIAgentInstance") == want_calls
    if status != 200:
        assert out["error_code"] == fault["code"] and out["request_id"]
    if status == 429:
        assert "Retry-After" in headers


def test_timeout_is_504_and_bounded(fn, sim):
    sim.add_instance("inst-slow")
    own("inst-slow")
    sim.inject(action="DescribeAIAgentInstance", status=200, delay=0.6, times=5)
    status, _, out = post(fn("describe_ai_agent_instance", ICE_READ_TIMEOUT_SECONDS="0.2", ICE_MAX_RETRIES="1"),
                          "describe_ai_agent_instance", {"user_id": "u1", "ai_agent_instance_id": "inst-slow"})
    assert status == 504 and out["code"] == 504
    assert sim.count("DescribeAIAgentInstance") == 2


def test_wrong_keys_are_502_never_403_and_leak_nothing(fn, sim, logs):
    own("x")
    h = fn("describe_ai_agent_instance", ALIBABA_CLOUD_ACCESS_KEY_SECRET="wrong-secret-value-123")
    status, _, out = post(h, "describe_ai_agent_instance", {"user_id": "u1", "ai_agent_instance_id": "x"})
    assert status == 502 and out["error_code"] == "SignatureDoesNotMatch"
    text = json.dumps(out) + logs.getvalue()
    assert "wrong-secret-value-123" not in text and SK not in text and "Signature=" not in text
    h = fn("describe_ai_agent_instance", ALIBABA_CLOUD_ACCESS_KEY_ID="unknown-ak")
    status, _, out = post(h, "describe_ai_agent_instance", {"user_id": "u1", "ai_agent_instance_id": "x"})
    assert status == 502 and out["error_code"] == "InvalidAccessKeyId.NotFound"
