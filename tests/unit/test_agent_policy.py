"""The agent policy (shared/api/policy.py) and its settings (AgentPolicySettings)."""
from __future__ import annotations

import json
from typing import get_args

import pytest

from shared.api import models, policy
from shared.api.policy import (
    AgentPolicy,
    AgentRule,
    caller_number,
    check_at_cold_start,
    check_overrides,
    describe_agent,
    get_policy,
    load_policy,
    parse_policy,
    reset_policy,
)
from shared.errors import BadRequest, ConfigurationError, NotFound
from shared.settings import AgentPolicySettings, load
from tests.support import REPO

EXAMPLE = REPO / "config" / "agent-policy.example.json"
POLICY = {
    "agents": {
        "ag-1": {"inbound_numbers": ["+8657112345678"], "outbound_caller_numbers": ["057187654321", "057100000001"],
                 "client_overridable": ["Greeting", "TtsConfig.VoiceId", "VoiceprintConfig"], "recording": "video"},
        "ag_2": {},
    },
    "workflow_agents": {"VoiceChat": "ag-1", "VideoChat": "ag_2"},
}


@pytest.fixture(autouse=True)
def _fresh_policy(monkeypatch):
    for name in ("STAGE", "AGENT_POLICY", "AGENT_POLICY_FILE", "ICE_ALLOWED_REGIONS"):
        monkeypatch.delenv(name, raising=False)
    reset_policy()
    yield
    reset_policy()


def parse(doc, **kw) -> AgentPolicy:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    return parse_policy(text, source="AGENT_POLICY", stage=kw.pop("stage", "prod"), **kw)


def config_error(doc) -> str:
    with pytest.raises(ConfigurationError) as exc:
        parse(doc)
    assert exc.value.status == 500 and exc.value.error_code == "ConfigurationError"
    return exc.value.message


def with_agent(**agent) -> dict:
    return {"agents": {"ag-1": agent}}


# --- settings ---------------------------------------------------------------------------------


def test_settings_defaults():
    s = load(AgentPolicySettings, {})
    assert (s.STAGE, s.AGENT_POLICY, s.AGENT_POLICY_FILE, s.ICE_ALLOWED_REGIONS) == ("dev", None, None, ())


def test_settings_regions_are_comma_separated():
    s = load(AgentPolicySettings, {"ICE_ALLOWED_REGIONS": " cn-shanghai, ,ap-southeast-1 "})
    assert s.ICE_ALLOWED_REGIONS == ("cn-shanghai", "ap-southeast-1")


@pytest.mark.parametrize("value", ["CN-SHANGHAI", "shanghai", "cn_shanghai", "https://cn-shanghai"])
def test_settings_refuse_a_region_of_the_wrong_shape(value):
    with pytest.raises(ConfigurationError) as exc:
        load(AgentPolicySettings, {"ICE_ALLOWED_REGIONS": f"cn-beijing,{value}"})
    assert exc.value.message == ("configuration invalid: ICE_ALLOWED_REGIONS: each entry must look like "
                                 "a region id such as cn-shanghai")


def test_settings_refuse_both_sources():
    with pytest.raises(ConfigurationError) as exc:
        load(AgentPolicySettings, {"AGENT_POLICY": "{}", "AGENT_POLICY_FILE": "/x.json"})
    assert exc.value.message == ("configuration invalid: AGENT_POLICY and AGENT_POLICY_FILE are both set: "
                                 "set only one of them")


def test_settings_limit_the_inline_policy_to_256_kib():
    ok = "x" * (256 * 1024)
    assert load(AgentPolicySettings, {"AGENT_POLICY": ok}).AGENT_POLICY == ok
    with pytest.raises(ConfigurationError) as exc:
        load(AgentPolicySettings, {"AGENT_POLICY": ok[:-1] + "\u00e9"})  # 2 bytes in UTF-8
    assert exc.value.message.startswith("configuration invalid: AGENT_POLICY: must be at most 256 KiB")
    assert "xxxx" not in exc.value.message


def test_settings_stage_is_checked():
    with pytest.raises(ConfigurationError, match="STAGE"):
        load(AgentPolicySettings, {"STAGE": "qa"})


# --- parsing: a valid policy ------------------------------------------------------------------


def test_a_valid_policy():
    p = parse(POLICY, allowed_regions=("cn-shanghai",))
    assert p.source == "AGENT_POLICY" and p.allow_all is False and p.allowed_regions == ("cn-shanghai",)
    assert p.agents["ag-1"] == AgentRule("ag-1", ("+8657112345678",), ("057187654321", "057100000001"),
                                         ("Greeting", "TtsConfig.VoiceId", "VoiceprintConfig"), recording="video")
    assert p.agents["ag_2"] == AgentRule("ag_2", (), (), ())
    assert p.agents["ag_2"].recording == "off" and p.agents["ag_2"].allow_all is False
    assert dict(p.workflow_agents) == {"VoiceChat": "ag-1", "VideoChat": "ag_2"}
    assert list(p.agents) == ["ag-1", "ag_2"]


def test_the_policy_is_immutable():
    p = parse(POLICY)
    with pytest.raises(TypeError):
        p.agents["x"] = p.agents["ag-1"]  # type: ignore[index]
    with pytest.raises(TypeError):
        p.workflow_agents["VisionChat"] = "ag-1"  # type: ignore[index]
    with pytest.raises(AttributeError):
        p.allow_all = True  # type: ignore[misc]


def test_workflow_agents_are_optional():
    assert dict(parse({"agents": {"a": {}}}).workflow_agents) == {}


def test_workflow_types_are_the_request_models():
    assert policy.WORKFLOW_TYPES == get_args(models.WorkflowType)


def test_the_shipped_example_parses():
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "//" in text
    p = parse_policy(text, source="example", stage="prod")
    assert set(p.agents) == {"voice-agent-0001", "avatar-agent-0002"}
    assert dict(p.workflow_agents) == {"VoiceChat": "voice-agent-0001", "AvatarChat3D": "avatar-agent-0002"}
    voice = p.agents["voice-agent-0001"]
    assert voice.client_overridable[:3] == ("Greeting", "TtsConfig.VoiceId", "VoiceprintConfig")
    # The Web kit's default AgentConfig keys are listed, so its demo works with the example.
    assert {"EnablePushToTalk", "AsrConfig.VadLevel", "TurnDetectionConfig.Mode"} <= set(voice.client_overridable)
    assert "LlmConfig" not in voice.client_overridable  # the system prompt stays the operator's
    assert voice.inbound_numbers and voice.outbound_caller_numbers and voice.recording == "audio"


def test_full_line_comments_are_allowed():
    text = '// head\n{\n  // agents\n   \t// indented\n  "agents": {"a": {"client_overridable": ["X"]}}\n}\n//tail'
    assert parse(text).agents["a"].client_overridable == ("X",)


def test_comments_are_not_stripped_inside_strings_or_after_values():
    # A string holding // is a value, not a comment: here it is an invalid key path.
    assert config_error('{"agents": {"a": {"client_overridable": [\n"//X"\n]}}}') == (
        "AGENT_POLICY: agents.a.client_overridable[0]: not a dotted key path such as TtsConfig.VoiceId")
    assert config_error('{"agents": {"a": {}}} // trailing').startswith(
        "AGENT_POLICY: not valid JSON at line 1 column 23: Extra data")


def test_comment_lines_keep_line_numbers():
    assert config_error('// one\n// two\n{"agents": }') == (
        "AGENT_POLICY: not valid JSON at line 3 column 12: Expecting value")


# --- parsing: every error names its path ------------------------------------------------------


@pytest.mark.parametrize("doc, message", [
    ("", "not valid JSON at line 1 column 1: Expecting value"),
    ("{'agents': {}}", "not valid JSON at line 1 column 2: Expecting property name enclosed in double quotes"),
    ('{"agents": {"a": {}},}', "not valid JSON at line 1 column 22: Expecting property name enclosed in double quotes"),
    ('{"agents": {"a": {"x": NaN}}}', "not valid JSON: NaN is not JSON"),
    ('{"agents": {"a": {"x": -Infinity}}}', "not valid JSON: -Infinity is not JSON"),
    ("[]", "must be a JSON object with an agents key"),
    ('"agents"', "must be a JSON object with an agents key"),
    ({}, "agents: is required"),
    ({"workflow_agents": {}}, "agents: is required"),
    ({"agents": {"a": {}}, "agent": {}}, "agent: unknown key (allowed: agents, workflow_agents)"),
    ({"agents": []}, "agents: must be an object of agent id -> agent"),
    ({"agents": {}}, "agents: must list at least one agent"),
    ({"agents": {"bad.id": {}}}, 'agents."bad.id": not an agent id (1-128 of A-Za-z0-9_-)'),
    ({"agents": {"": {}}}, 'agents."": not an agent id (1-128 of A-Za-z0-9_-)'),
    ({"agents": {"a" * 129: {}}}, f'agents."{"a" * 40}...": not an agent id (1-128 of A-Za-z0-9_-)'),
    ({"agents": {"ag-1": []}}, "agents.ag-1: must be an object"),
    ({"agents": {"ag-1": None}}, "agents.ag-1: must be an object"),
    (with_agent(inbound_number=[]), "agents.ag-1.inbound_number: unknown key (allowed: inbound_numbers, "
                                    "outbound_caller_numbers, client_overridable, recording)"),
    (with_agent(inbound_numbers="0571"), "agents.ag-1.inbound_numbers: must be a list of strings"),
    (with_agent(inbound_numbers=[5712345678]), "agents.ag-1.inbound_numbers[0]: must be a string"),
    (with_agent(inbound_numbers=["0571-1234"]), "agents.ag-1.inbound_numbers[0]: not a phone number"),
    (with_agent(inbound_numbers=["1234"]), "agents.ag-1.inbound_numbers[0]: not a phone number"),
    (with_agent(inbound_numbers=["1" * 21]), "agents.ag-1.inbound_numbers[0]: not a phone number"),
    (with_agent(inbound_numbers=["12345\n"]), "agents.ag-1.inbound_numbers[0]: not a phone number"),
    (with_agent(inbound_numbers=["++12345"]), "agents.ag-1.inbound_numbers[0]: not a phone number"),
    (with_agent(inbound_numbers=["\uff11\uff12\uff13\uff14\uff15"]), "agents.ag-1.inbound_numbers[0]: not a phone number"),
    (with_agent(inbound_numbers=["12345", "12345"]), "agents.ag-1.inbound_numbers[1]: duplicate entry"),
    (with_agent(outbound_caller_numbers=["12345", "x"]), "agents.ag-1.outbound_caller_numbers[1]: not a phone number"),
    (with_agent(outbound_caller_numbers={}), "agents.ag-1.outbound_caller_numbers: must be a list of strings"),
    (with_agent(client_overridable="Greeting"), "agents.ag-1.client_overridable: must be a list of strings"),
    (with_agent(client_overridable=[None]), "agents.ag-1.client_overridable[0]: must be a string"),
    *[(with_agent(client_overridable=["Greeting", bad]),
       "agents.ag-1.client_overridable[1]: not a dotted key path such as TtsConfig.VoiceId")
      for bad in ["", "TtsConfig.", ".VoiceId", "TtsConfig..VoiceId", "1Tts", "Tts Config", "TtsConfig.*",
                  "TtsConfig/VoiceId", "TtsConfig.Voice-Id"]],
    (with_agent(recording="on"), "agents.ag-1.recording: must be one of off, audio, video"),
    (with_agent(recording=None), "agents.ag-1.recording: must be one of off, audio, video"),
    ({"agents": {"a": {}}, "workflow_agents": []}, "workflow_agents: must be an object of workflow type -> agent id"),
    ({"agents": {"a": {}}, "workflow_agents": {"voicechat": "a"}},
     "workflow_agents.voicechat: unknown workflow type (allowed: VoiceChat, AvatarChat3D, VisionChat, VideoChat)"),
    ({"agents": {"a": {}}, "workflow_agents": {"VoiceChat": ["a"]}}, "workflow_agents.VoiceChat: must be an agent id (a string)"),
    ({"agents": {"a": {}}, "workflow_agents": {"VisionChat": "b"}}, "workflow_agents.VisionChat: agent b is not in agents"),
])
def test_errors_name_the_path(doc, message):
    assert config_error(doc) == f"AGENT_POLICY: {message}"


@pytest.mark.parametrize("text, path", [
    ('{"agents": {"a": {}}, "agents": {"b": {}}}', "agents"),
    ('{"agents": {"a": {}, "b": {}, "a": {}}}', "agents.a"),
    ('{"agents": {"a": {"recording": "off", "recording": "video"}}}', "agents.a.recording"),
    ('{"agents": {"a": {}}, "workflow_agents": {"VoiceChat": "a", "VoiceChat": "a"}}', "workflow_agents.VoiceChat"),
    # Inside a list, and before a later problem: duplicates are reported first, in document order.
    ('{"agents": {"a": {"inbound_numbers": [{"x": 1, "x": 2}]}, "b": {"c": 1, "c": 1}}}',
     "agents.a.inbound_numbers[0].x"),
])
def test_duplicate_keys_are_refused(text, path):
    assert config_error(text) == f"AGENT_POLICY: {path}: duplicate key"


def test_the_source_starts_every_message():
    with pytest.raises(ConfigurationError) as exc:
        parse_policy('{"agents": {}}', source="AGENT_POLICY_FILE=/etc/p.json", stage="dev")
    assert exc.value.message == "AGENT_POLICY_FILE=/etc/p.json: agents: must list at least one agent"


def test_deep_nesting_is_a_configuration_error():
    text = '{"agents": {"a": {"inbound_numbers": ' + "[" * 100_000 + "]" * 100_000 + "}}}"
    message = config_error(text)
    assert message.startswith("AGENT_POLICY: ") and "[[[[" not in message


def test_an_unknown_stage_is_refused():
    with pytest.raises(ConfigurationError, match="^AGENT_POLICY: unknown STAGE"):
        parse_policy(json.dumps(POLICY), source="AGENT_POLICY", stage="qa")


# --- agents, workflows, regions ---------------------------------------------------------------


def test_agent_returns_the_rule():
    p = parse(POLICY)
    assert p.agent("ag-1") is p.agents["ag-1"]


@pytest.mark.parametrize("agent_id, message", [
    ("ag-3", "ai_agent_id: agent ag-3 is not in the agent policy"),
    ("AG-1", "ai_agent_id: agent AG-1 is not in the agent policy"),
    ("x" * 65, "ai_agent_id: agent is not in the agent policy"),
    ("a b<script>", "ai_agent_id: agent is not in the agent policy"),
])
def test_an_unknown_agent_is_not_found(agent_id, message):
    with pytest.raises(NotFound) as exc:
        parse(POLICY).agent(agent_id)
    assert (exc.value.status, exc.value.error_code, exc.value.message) == (404, "AgentNotFound", message)


def test_resolve_prefers_the_agent_id():
    p = parse(POLICY)
    assert p.resolve("ag_2", "VoiceChat").ai_agent_id == "ag_2"
    assert p.resolve("ag-1", None).ai_agent_id == "ag-1"
    assert p.resolve(None, "VoiceChat").ai_agent_id == "ag-1"
    assert p.resolve("", "VideoChat").ai_agent_id == "ag_2"
    with pytest.raises(NotFound, match="ai_agent_id"):
        p.resolve("nope", "VoiceChat")


@pytest.mark.parametrize("workflow", ["AvatarChat3D", "VisionChat", "Other", "voicechat"])
def test_resolve_an_unconfigured_workflow_type(workflow):
    with pytest.raises(NotFound) as exc:
        parse(POLICY).resolve(None, workflow)
    assert (exc.value.error_code, exc.value.message) == (
        "AgentNotFound", "workflow_type: no agent is configured for this workflow type (agent policy workflow_agents)")


@pytest.mark.parametrize("allow_all", [False, True])
def test_resolve_needs_an_agent_or_a_workflow(allow_all):
    p = parse(POLICY) if not allow_all else load_policy(load(AgentPolicySettings, {}))
    for args in [(None, None), ("", ""), ("", None)]:
        with pytest.raises(BadRequest) as exc:
            p.resolve(*args)
        assert (exc.value.status, exc.value.error_code, exc.value.message) == (
            400, "MissingParameter", "ai_agent_id: required (or workflow_type)")


def test_check_region():
    p = parse(POLICY, allowed_regions=("cn-shanghai", "cn-beijing"))
    p.check_region("cn-shanghai")
    p.check_region(None)
    with pytest.raises(BadRequest) as exc:
        p.check_region("cn-hangzhou")
    assert (exc.value.error_code, exc.value.message) == (
        "InvalidRegion", "region: must be one of cn-shanghai, cn-beijing (ICE_ALLOWED_REGIONS)")
    with pytest.raises(BadRequest, match="^region: "):
        p.check_region("")


def test_no_allowed_regions_allows_any():
    parse(POLICY).check_region("eu-central-1")


# --- client overrides -------------------------------------------------------------------------

RULE = AgentRule("ag-1", (), (), ("Greeting", "TtsConfig.VoiceId", "VoiceprintConfig", "AsrConfig.Vad.Level"))


@pytest.mark.parametrize("config", [
    None,
    {},
    {"Greeting": "hi"},
    {"Greeting": None},
    {"Greeting": {"Anything": {"Below": [1, 2]}}},
    {"TtsConfig": {"VoiceId": "zhixiaoxia"}},
    {"TtsConfig": {"VoiceId": {"Nested": 1}}},
    {"VoiceprintConfig": {"UseVoiceprint": True, "VoiceprintId": "u_1", "RegistrationMode": "Implicit"}},
    {"VoiceprintConfig": {}},
    {"VoiceprintConfig": []},
    {"TtsConfig": {"VoiceId": {}}},
    {"AsrConfig": {"Vad": {"Level": 3}}},
    {"Greeting": "hi", "TtsConfig": {"VoiceId": "v"}, "AsrConfig": {"Vad": {"Level": {"x": None}}}},
])
def test_allowed_overrides(config):
    check_overrides("agent_config", config, RULE)


@pytest.mark.parametrize("config, path", [
    ({"LlmConfig": {"Model": "x"}}, "LlmConfig.Model"),
    ({"LlmConfig": {"Z": 1, "B": {"D": 1, "C": 2}}}, "LlmConfig.B.C"),
    ({"LlmConfig": "x"}, "LlmConfig"),
    ({"LlmConfig": []}, "LlmConfig"),
    ({"TtsConfig": {"Voice": "x"}}, "TtsConfig.Voice"),
    ({"TtsConfig": {"VoiceIdx": "x"}}, "TtsConfig.VoiceIdx"),
    ({"TtsConfig": {"VoiceId": "v", "Speed": 2}}, "TtsConfig.Speed"),
    ({"TtsConfig": "whole"}, "TtsConfig"),
    ({"TtsConfig": ["VoiceId"]}, "TtsConfig"),
    ({"TtsConfig.VoiceId": "spoofed"}, "TtsConfig.VoiceId"),  # one key holding a dot is not the path
    ({"greeting": "hi"}, "greeting"),
    ({"AsrConfig": {"Vad": {"Level": 1, "Mode": 2}}}, "AsrConfig.Vad.Mode"),
    ({"AsrConfig": {"Vad": 3}}, "AsrConfig.Vad"),
    # Sorted order, whatever order the client sent: the first offending path is deterministic.
    ({"Zed": 1, "Greeting": "hi", "Alpha": {"B": 1}}, "Alpha.B"),
    ({"Zed": 1, "Alpha": {"B": 1}}, "Alpha.B"),
])
def test_refused_overrides_name_the_first_path(config, path):
    with pytest.raises(BadRequest) as exc:
        check_overrides("agent_config", config, RULE)
    assert (exc.value.status, exc.value.error_code, exc.value.message) == (
        400, "ConfigNotOverridable",
        f"agent_config.{path}: not overridable by clients (agent policy client_overridable)")


def test_an_agent_without_overridable_keys_allows_only_empty_configs():
    rule = AgentRule("a", (), (), ())
    check_overrides("template_config", {}, rule)
    check_overrides("template_config", None, rule)
    with pytest.raises(BadRequest, match=r"^template_config\.Greeting: not overridable"):
        check_overrides("template_config", {"Greeting": "hi"}, rule)


def test_a_long_offending_path_is_shortened():
    config: dict = {}
    node = config
    for _ in range(300):
        node["K"] = {}
        node = node["K"]
    node["K"] = 1
    with pytest.raises(BadRequest) as exc:
        check_overrides("config", config, RULE)
    assert exc.value.message == "config." + ".".join(["K"] * 301)[:200] + \
        "...: not overridable by clients (agent policy client_overridable)"


def test_deep_configs_do_not_recurse():
    config: dict = {"Greeting": 1}
    node = config
    for _ in range(5000):
        node["AsrConfig"] = {"Vad": {}}
        node = node["AsrConfig"]["Vad"]
    node["Leaf"] = 1
    with pytest.raises(BadRequest, match=r"^agent_config\.AsrConfig\.Vad\.AsrConfig\.Vad"):
        check_overrides("agent_config", config, RULE)


def test_empty_objects_set_nothing_and_pass():
    # The kits may send empty parent objects (an unset TtsConfig): they change nothing.
    check_overrides("agent_config", {"LlmConfig": {}, "TtsConfig": {"Extra": {}}, "AsrConfig": {"Vad": {}}}, RULE)
    with pytest.raises(BadRequest, match=r"^agent_config\.LlmConfig: not overridable"):
        check_overrides("agent_config", {"LlmConfig": []}, RULE)  # an empty list is a value


def test_allow_all_rule_passes_everything():
    check_overrides("agent_config", {"LlmConfig": {"Anything": 1}, "x": []}, AgentRule("a", (), (), (), allow_all=True))


# --- what clients see, caller numbers ---------------------------------------------------------


def test_describe_agent_shows_only_the_id_and_inbound_numbers():
    described = describe_agent(parse(POLICY).agent("ag-1"))
    assert described == {"AIAgentId": "ag-1", "InboundPhoneNumbers": ["+8657112345678"]}
    assert describe_agent(parse(POLICY).agent("ag_2")) == {"AIAgentId": "ag_2", "InboundPhoneNumbers": []}


def test_caller_number_is_the_first():
    assert caller_number(parse(POLICY).agent("ag-1")) == "057187654321"


def test_no_caller_number():
    with pytest.raises(BadRequest) as exc:
        caller_number(parse(POLICY).agent("ag_2"))
    assert (exc.value.status, exc.value.error_code, exc.value.message) == (
        400, "OutboundCallNotConfigured", "ai_agent_id: this agent has no outbound caller number in the agent policy")


# --- loading ----------------------------------------------------------------------------------


def settings(**env) -> AgentPolicySettings:
    return load(AgentPolicySettings, {k: str(v) for k, v in env.items()})


def test_load_inline():
    p = load_policy(settings(AGENT_POLICY=json.dumps(POLICY), STAGE="prod", ICE_ALLOWED_REGIONS="cn-shanghai"))
    assert p.source == "AGENT_POLICY" and set(p.agents) == {"ag-1", "ag_2"} and p.allowed_regions == ("cn-shanghai",)


def test_load_inline_errors_start_with_the_variable():
    with pytest.raises(ConfigurationError) as exc:
        load_policy(settings(AGENT_POLICY='{"agents": {"a": {"recording": "yes"}}}'))
    assert exc.value.message == "AGENT_POLICY: agents.a.recording: must be one of off, audio, video"


def test_load_file(tmp_path):
    f = tmp_path / "policy.json"
    f.write_text("\ufeff// with a BOM and a comment\n" + json.dumps(POLICY), encoding="utf-8")
    p = load_policy(settings(AGENT_POLICY_FILE=f, STAGE="staging"))
    assert p.source == f"AGENT_POLICY_FILE={f}" and p.agent("ag-1").recording == "video" and not p.allow_all


def test_load_the_example_file():
    p = load_policy(settings(AGENT_POLICY_FILE=EXAMPLE, STAGE="prod"))
    assert p.resolve(None, "VoiceChat").ai_agent_id == "voice-agent-0001"


def test_load_file_errors_name_the_file(tmp_path):
    f = tmp_path / "policy.json"
    f.write_text('{"agents": {"a": {"inbound_numbers": ["x"]}}}', encoding="utf-8")
    with pytest.raises(ConfigurationError) as exc:
        load_policy(settings(AGENT_POLICY_FILE=f))
    assert exc.value.message == f"AGENT_POLICY_FILE={f}: agents.a.inbound_numbers[0]: not a phone number"


def test_an_unreadable_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigurationError) as exc:
        load_policy(settings(AGENT_POLICY_FILE=missing))
    assert exc.value.message == f"AGENT_POLICY_FILE: cannot read {missing}: No such file or directory"
    with pytest.raises(ConfigurationError) as exc:
        load_policy(settings(AGENT_POLICY_FILE=tmp_path))
    assert exc.value.message == f"AGENT_POLICY_FILE: cannot read {tmp_path}: Is a directory"
    with pytest.raises(ConfigurationError, match="^AGENT_POLICY_FILE: cannot read it: "):
        load_policy(settings(AGENT_POLICY_FILE="a\x00b"))


def test_a_file_that_is_not_text_or_too_large(tmp_path):
    f = tmp_path / "p.bin"
    f.write_bytes(b'{"agents": \xff}')
    with pytest.raises(ConfigurationError) as exc:
        load_policy(settings(AGENT_POLICY_FILE=f))
    assert exc.value.message == f"AGENT_POLICY_FILE: {f} is not UTF-8 text"
    f.write_bytes(b" " * (1024 * 1024 + 1))
    with pytest.raises(ConfigurationError) as exc:
        load_policy(settings(AGENT_POLICY_FILE=f))
    assert exc.value.message == f"AGENT_POLICY_FILE: {f} is larger than 1 MiB"


def test_dev_without_a_policy_allows_everything(logs):
    p = load_policy(settings(ICE_ALLOWED_REGIONS="cn-beijing"))
    assert (p.allow_all, p.source, dict(p.agents), dict(p.workflow_agents), p.allowed_regions) == (
        True, "none (STAGE=dev: everything allowed)", {}, {}, ("cn-beijing",))
    rule = p.agent("any-agent")
    # ... and records every call (ARTC, audio; video where the call has it): the sandbox shows the feature
    assert rule == AgentRule("any-agent", (), (), (), allow_all=True, recording="audio")
    check_overrides("agent_config", {"LlmConfig": {"Model": "x"}}, rule)
    assert p.resolve("any-agent", "VoiceChat").allow_all
    with pytest.raises(BadRequest) as exc:
        caller_number(rule)
    assert exc.value.error_code == "OutboundCallNotConfigured"
    with pytest.raises(BadRequest, match="InvalidRegion|^region"):
        p.check_region("cn-shanghai")
    line = json.loads(logs.getvalue().strip().splitlines()[-1])
    assert line["level"] == "WARNING"
    assert "every agent and config key is allowed" in line["message"]


def test_dev_allow_all_has_no_workflow_agents():
    p = load_policy(settings(STAGE="dev"))
    with pytest.raises(NotFound) as exc:
        p.resolve(None, "VoiceChat")
    assert (exc.value.error_code, exc.value.message) == (
        "AgentNotFound", "workflow_type: no workflow_agents are configured (STAGE=dev without an agent policy): "
                         "send ai_agent_id")


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_staging_and_prod_require_a_policy(stage, logs):
    with pytest.raises(ConfigurationError) as exc:
        load_policy(settings(STAGE=stage))
    assert exc.value.message == f"AGENT_POLICY or AGENT_POLICY_FILE is required when STAGE={stage}"
    assert "every agent" not in logs.getvalue()


def test_get_policy_is_parsed_once(monkeypatch):
    monkeypatch.setenv("AGENT_POLICY", json.dumps(POLICY))
    first = get_policy()
    assert set(first.agents) == {"ag-1", "ag_2"}
    monkeypatch.setenv("AGENT_POLICY", '{"agents": {"other": {}}}')
    assert get_policy() is first
    reset_policy()
    from shared.settings import reset_cache

    reset_cache()
    assert set(get_policy().agents) == {"other"}


def test_get_policy_does_not_cache_an_error(monkeypatch):
    monkeypatch.setenv("STAGE", "prod")
    with pytest.raises(ConfigurationError, match="required when STAGE=prod"):
        get_policy()
    monkeypatch.setenv("AGENT_POLICY", json.dumps(POLICY))
    from shared.settings import reset_cache

    reset_cache()
    assert get_policy().agent("ag-1").ai_agent_id == "ag-1"


def test_check_at_cold_start(monkeypatch):
    monkeypatch.setenv("STAGE", "staging")
    monkeypatch.setenv("AGENT_POLICY", '{"agents": {}}')
    with pytest.raises(ConfigurationError, match="^AGENT_POLICY: agents: must list at least one agent$"):
        check_at_cold_start()
    monkeypatch.setenv("AGENT_POLICY", json.dumps(POLICY))
    from shared.settings import reset_cache

    reset_cache()
    assert check_at_cold_start() is None
    assert get_policy().agent("ag-1").recording == "video"


def test_importing_the_policy_stays_lean():
    import subprocess
    import sys

    code = ("import sys, shared.api.policy; "
            "heavy = [m for m in ('aws_lambda_powertools', 'httpx', 'shared.log') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
