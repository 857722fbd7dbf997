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
    sync = {"IMAIAgentId": "im agent*~", "ReceiverId": "用户 1"}
    req = m.GenerateAIAgentCallRequest(aiagent_id="agent 1", user_id="u1", expire=600, user_data='{"k": "v"}',
                                       agent_config=m.AIAgentConfig().from_map(CONFIG),
                                       chat_sync_config=m.GenerateAIAgentCallRequestChatSyncConfig().from_map(sync))
    sdk(s.endpoint, token).generate_aiagent_call(req)
    ours(s.endpoint, token).generate_ai_agent_call(ai_agent_id="agent 1", user_id="u1", expire=600,
                                                   user_data='{"k": "v"}', agent_config=CONFIG, chat_sync_config=sync)
    (_, sdk_params), (_, our_params) = s.calls
    # The SDK's typed model adds empty lists for fields it knows (PronunciationRules: []...).
    assert strip_empty(json.loads(sdk_params.pop("AgentConfig"))) == json.loads(our_params.pop("AgentConfig")) == CONFIG
    assert json.loads(sdk_params.pop("ChatSyncConfig")) == json.loads(our_params.pop("ChatSyncConfig")) == sync
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
    ("StartAIAgentOutboundCall", lambda c, m, v: c.start_aiagent_outbound_call(m.StartAIAgentOutboundCallRequest(
        aiagent_id=v, caller_number="057112345678", called_number="13800000000", user_data=json.dumps({"k": v}),
        session_id="s 1", config=m.AIAgentOutboundCallConfig().from_map({"Greeting": v, "TtsConfig": {"VoiceId": v}})))),
    ("SetAIAgentVoiceprint", lambda c, m, v: c.set_aiagent_voiceprint(m.SetAIAgentVoiceprintRequest(
        voiceprint_id=v[:127], input=m.SetAIAgentVoiceprintRequestInput(
            type="oss", format="wav", data=f"https://b.oss-cn-shanghai.aliyuncs.com/{v[:500]}.wav?Expires=1&a=b+c")))),
    ("ClearAIAgentVoiceprint", lambda c, m, v: c.clear_aiagent_voiceprint(m.ClearAIAgentVoiceprintRequest(
        voiceprint_id=v[:127], registration_mode="Implicit"))),
    ("ListAIAgentVoiceprints", lambda c, m, v: c.list_aiagent_voiceprints(m.ListAIAgentVoiceprintsRequest(
        voiceprint_id=v[:127], registration_mode="Explicit", page_number=1, page_size=100))),
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


OUTBOUND_CONFIG = {"Greeting": "您好 world*~", "TtsConfig": {"VoiceId": "zhixiaoxia", "SpeechRate": 1},
                   "AsrConfig": {"AsrHotWords": ["檢查", "a b"]}, "LlmConfig": {"LlmSystemPrompt": "be brief"},
                   "InterruptConfig": {"EnableVoiceInterrupt": False, "InterruptWords": ["停"]}}


def test_outbound_call_arrives_identically_and_is_described(sim):
    from alibabacloud_ice20201109 import models as m

    s, token = sim
    s.reset()
    req = m.StartAIAgentOutboundCallRequest(aiagent_id="agent 1", caller_number="057112345678",
                                            called_number="13800000000", user_data='{"k": "v 1"}', session_id="s-1",
                                            config=m.AIAgentOutboundCallConfig().from_map(OUTBOUND_CONFIG))
    sdk_out = sdk(s.endpoint, token).start_aiagent_outbound_call(req)
    out = ours(s.endpoint, token).start_ai_agent_outbound_call(
        ai_agent_id="agent 1", caller_number="057112345678", called_number="13800000000", config=OUTBOUND_CONFIG,
        user_data='{"k": "v 1"}', session_id="s-1")
    assert sdk_out.body.instance_id and out["InstanceId"] and out["RequestId"]
    (_, sdk_params), (_, our_params) = s.calls
    assert strip_empty(json.loads(sdk_params.pop("Config"))) == json.loads(our_params.pop("Config")) == OUTBOUND_CONFIG
    assert sdk_params == our_params
    described = ours(s.endpoint, token).describe_ai_agent_instance(out["InstanceId"])["Instance"]
    assert described["UserData"] == '{"k": "v 1"}' and described["SessionId"] == "s-1"
    assert s.instances[out["InstanceId"]].outbound_config == OUTBOUND_CONFIG


def test_voiceprint_set_list_clear_arrive_identically(sim):
    from alibabacloud_ice20201109 import models as m

    s, token = sim
    s.reset()
    source = {"Type": "oss", "Data": "https://b.oss-cn-shanghai.aliyuncs.com/u 1/rec*~.wav?Expires=9&Signature=a+b",
              "Format": "wav"}
    client = sdk(s.endpoint, token)
    resp = client.set_aiagent_voiceprint(m.SetAIAgentVoiceprintRequest(
        voiceprint_id="voiceprint_u1_1", input=m.SetAIAgentVoiceprintRequestInput().from_map(source)))
    assert resp.body.voiceprint_id == "voiceprint_u1_1"
    assert ours(s.endpoint, token).set_ai_agent_voiceprint(voiceprint_id="voiceprint_u1_1", input=source)[
        "VoiceprintId"] == "voiceprint_u1_1"
    (_, sdk_params), (_, our_params) = s.calls
    assert json.loads(sdk_params.pop("Input")) == json.loads(our_params.pop("Input")) == source
    assert sdk_params == our_params == {"VoiceprintId": "voiceprint_u1_1"}

    s.reset()
    listed = client.list_aiagent_voiceprints(m.ListAIAgentVoiceprintsRequest(voiceprint_id="voiceprint_u1_1",
                                                                             page_number=1, page_size=10))
    assert [v.voiceprint_id for v in listed.body.voiceprints] == ["voiceprint_u1_1"]
    ours_listed = ours(s.endpoint, token).list_ai_agent_voiceprints(voiceprint_id="voiceprint_u1_1", page_number=1,
                                                                    page_size=10)
    assert ours_listed["TotalCount"] == 1 and ours_listed["Voiceprints"][0]["VoiceprintId"] == "voiceprint_u1_1"
    (_, sdk_params), (_, our_params) = s.calls
    assert sdk_params == our_params

    s.reset()
    client.clear_aiagent_voiceprint(m.ClearAIAgentVoiceprintRequest(voiceprint_id="voiceprint_u1_1",
                                                                   registration_mode="Explicit"))
    assert ours(s.endpoint, token).clear_ai_agent_voiceprint(voiceprint_id="voiceprint_u1_1",
                                                             registration_mode="Explicit").keys() == {"RequestId"}
    (_, sdk_params), (_, our_params) = s.calls
    assert sdk_params == our_params == {"VoiceprintId": "voiceprint_u1_1", "RegistrationMode": "Explicit"}
    assert ("voiceprint_u1_1", "Explicit") not in s.voiceprints


@pytest.mark.parametrize("source", [
    {"Type": "url", "Data": "https://b/x.wav", "Format": "wav"},
    {"Type": "oss", "Data": "https://b/x.mp3", "Format": "mp3"},
    {"Type": "oss", "Data": "", "Format": "wav"},
])
def test_bad_voiceprint_input_is_refused_for_the_sdk_and_for_us(sim, source):
    from alibabacloud_ice20201109 import models as m

    from shared.errors import BadRequest

    s, token = sim
    with pytest.raises(Exception) as exc:
        sdk(s.endpoint, token).set_aiagent_voiceprint(m.SetAIAgentVoiceprintRequest(
            voiceprint_id="vp1", input=m.SetAIAgentVoiceprintRequestInput().from_map(source)))
    assert getattr(exc.value, "code", "") == "InvalidParameter"
    with pytest.raises(BadRequest) as ours_exc:
        ours(s.endpoint, token).set_ai_agent_voiceprint(voiceprint_id="vp1", input=source)
    assert ours_exc.value.error_code == "InvalidParameter" and ours_exc.value.request_id


@pytest.mark.parametrize("action, params, code", [
    ("StartAIAgentOutboundCall", {"AIAgentId": "a", "CalledNumber": "13800000000"}, "MissingParameter"),
    ("StartAIAgentOutboundCall", {"AIAgentId": "a", "CallerNumber": "0571", "CalledNumber": "138", "Config": "{"},
     "InvalidParameter"),
    ("SetAIAgentVoiceprint", {"VoiceprintId": "vp"}, "MissingParameter"),
    ("SetAIAgentVoiceprint", {"VoiceprintId": "v" * 128, "Input": {"Type": "oss", "Data": "oss://b/k", "Format": "wav"}},
     "InvalidParameter"),
    ("ClearAIAgentVoiceprint", {"RegistrationMode": "Explicit"}, "MissingParameter"),
    ("ClearAIAgentVoiceprint", {"VoiceprintId": "vp", "RegistrationMode": "Sometimes"}, "InvalidParameter"),
    ("ListAIAgentVoiceprints", {"PageSize": 101}, "InvalidParameter"),
])
def test_the_simulator_refuses_what_ice_refuses(sim, action, params, code):
    from shared.errors import BadRequest

    s, token = sim
    with pytest.raises(BadRequest) as exc:
        ours(s.endpoint, token).call(action, params)
    assert exc.value.error_code == code
