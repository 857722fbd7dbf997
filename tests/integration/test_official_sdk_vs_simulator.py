"""The official ICE SDK's signed requests verify in our simulator, whose check is our own
canonicalization (shared.clients.acs3): the SDK and we sign the same canonical form.
Our client's requests verify too, with the same parameters arriving."""
import json

import pytest

from devkit.sims.ice import IceSimulator
from shared.clients.ice import IceClient
from shared.settings import CloudCredentials, IceSettings, load

VALUES = ["plain", "with space", "star*tilde~slash/", "中文 ünïcödé", "x" * 4000, "a+b=c&d", "%20literal"]
CONFIG = {"Greeting": "你好 world*~", "TtsConfig": {"VoiceId": "zhixiaoxia", "SpeechRate": 1},
          "AsrConfig": {"AsrHotWords": ["檢查", "a b"]}, "EnablePushToTalk": False}


@pytest.fixture(scope="module", params=[None, "sts-token-abc/+=="])
def sim(request):
    token = request.param
    s = IceSimulator({"ak-sdk": "sk-sdk"}, sts_tokens={"ak-sdk": token} if token else None).start()
    yield s, token
    s.stop()


def strip_empty(value):
    if isinstance(value, dict):
        return {k: strip_empty(v) for k, v in value.items() if v != []}
    return value


def sdk(sim_endpoint, token):
    from alibabacloud_ice20201109.client import Client
    from alibabacloud_tea_openapi import models as am

    host = sim_endpoint.split("//")[1]
    return Client(am.Config(access_key_id="ak-sdk", access_key_secret="sk-sdk", security_token=token,
                            endpoint=host, protocol="http"))


def ours(sim_endpoint, token):
    env = {"ICE_ENDPOINT": sim_endpoint, "ICE_MAX_RETRIES": "0"}
    creds = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak-sdk", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk-sdk"}
    if token:
        creds["ALIBABA_CLOUD_SECURITY_TOKEN"] = token
    return IceClient(load(IceSettings, env), load(CloudCredentials, creds))


@pytest.mark.parametrize("value", VALUES)
def test_describe_signed_by_the_sdk_and_by_us_both_verify(sim, value):
    from alibabacloud_ice20201109 import models as m

    s, token = sim
    s.add_instance(value)
    s.reset()
    resp = sdk(s.endpoint, token).describe_aiagent_instance(m.DescribeAIAgentInstanceRequest(instance_id=value))
    assert resp.body.instance.status == "Finished"
    assert ours(s.endpoint, token).describe_ai_agent_instance(value)["Instance"]["Status"] == "Finished"
    (_, sdk_params), (_, our_params) = s.calls
    assert sdk_params == our_params == {"InstanceId": value}


def test_generate_call_with_json_config_arrives_identically(sim):
    from alibabacloud_ice20201109 import models as m

    s, token = sim
    s.reset()
    req = m.GenerateAIAgentCallRequest(aiagent_id="agent 1", user_id="u1", expire=600, user_data='{"k": "v"}',
                                       agent_config=m.AIAgentConfig().from_map(CONFIG))
    sdk(s.endpoint, token).generate_aiagent_call(req)
    ours(s.endpoint, token).generate_ai_agent_call(ai_agent_id="agent 1", user_id="u1", expire=600,
                                                   user_data='{"k": "v"}', agent_config=CONFIG)
    (_, sdk_params), (_, our_params) = s.calls
    # The SDK's typed model adds empty lists for fields it knows (PronunciationRules: []...).
    assert strip_empty(json.loads(sdk_params.pop("AgentConfig"))) == json.loads(our_params.pop("AgentConfig")) == CONFIG
    assert sdk_params == our_params


def test_wrong_secret_is_refused_for_both(sim):
    from alibabacloud_ice20201109 import models as m
    from alibabacloud_ice20201109.client import Client
    from alibabacloud_tea_openapi import models as am

    s, token = sim
    bad = Client(am.Config(access_key_id="ak-sdk", access_key_secret="nope", security_token=token,
                           endpoint=s.endpoint.split("//")[1], protocol="http"))
    with pytest.raises(Exception) as exc:
        bad.describe_aiagent_instance(m.DescribeAIAgentInstanceRequest(instance_id="x"))
    assert getattr(exc.value, "code", "") == "SignatureDoesNotMatch"


@pytest.mark.parametrize("action, call", [
    ("DescribeAIAgentInstance", lambda c, m, v: c.describe_aiagent_instance(
        m.DescribeAIAgentInstanceRequest(instance_id=v))),
    ("GenerateMessageChatToken", lambda c, m, v: c.generate_message_chat_token(
        m.GenerateMessageChatTokenRequest(aiagent_id=v, user_id="u_1", role="admin", expire=1800))),
    ("GenerateAIAgentCall", lambda c, m, v: c.generate_aiagent_call(m.GenerateAIAgentCallRequest(
        aiagent_id=v, user_id="u1", user_data=json.dumps({"k": v}), session_id="s 1",
        template_config=m.AIAgentTemplateConfig().from_map({"VoiceChat": {"Greeting": v}})))),
])
@pytest.mark.parametrize("value", VALUES)
def test_same_request_and_same_authorization_as_the_sdk(sim, verified_requests, action, call, value):
    from urllib.parse import parse_qsl

    from alibabacloud_ice20201109 import models as m

    from shared.clients import acs3 as acs
    from shared.clients import ice

    s, token = sim
    s.add_instance(value)
    call(sdk(s.endpoint, token), m, value)
    method, path, raw_query, headers, body = verified_requests[-1]
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    # 1. Our signer over the SDK's own signed header set, nonce and date: the SDK's Authorization.
    names = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    ours_auth = acs.authorization(method=method, path=path, query=params, headers={n: headers[n] for n in names},
                                  body=body, access_key_id="ak-sdk", access_key_secret="sk-sdk")
    assert ours_auth == headers["authorization"]
    # 2. The request our client builds for the same parameters, date and nonce.
    creds = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak-sdk", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk-sdk"}
    if token:
        creds["ALIBABA_CLOUD_SECURITY_TOKEN"] = token
    prepared = ice.prepare(action, params, endpoint=s.endpoint, credentials=load(CloudCredentials, creds),
                           date=headers["x-acs-date"], nonce=headers["x-acs-signature-nonce"])
    assert (prepared.method, prepared.path, prepared.body) == (method, path, body)
    assert acs.canonical_query(prepared.query) == acs.canonical_query(params)
    assert prepared.headers["x-acs-content-sha256"] == headers["x-acs-content-sha256"] == acs.sha256_hex(body)
    for h in ("x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "host"):
        assert prepared.headers[h] == headers[h]
    assert prepared.headers.get("x-acs-security-token") == headers.get("x-acs-security-token")
