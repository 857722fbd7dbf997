"""The agent policy: which agents clients may use and what they may change, in one validated
configuration (AGENT_POLICY inline JSON or AGENT_POLICY_FILE; config/agent-policy.example.json).

Per agent: the inbound numbers shown to clients (describeAIAgent), the caller numbers of outbound
calls (startAIAgentOutboundCall), the config key paths a client may override (AgentConfig,
TemplateConfig, the outbound call's Config), and the recording mode. `workflow_agents` maps the Web
kit's workflow types to agents. Without a policy only STAGE=dev runs, and then everything is allowed.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from shared import lazyre
from shared.errors import BadRequest, ConfigurationError, NotFound
from shared.settings import AgentPolicySettings, load

WORKFLOW_TYPES = ("VoiceChat", "AvatarChat3D", "VisionChat", "VideoChat")
RECORDING_MODES = ("off", "audio", "video")
_TOP_KEYS = ("agents", "workflow_agents")
_AGENT_KEYS = ("inbound_numbers", "outbound_caller_numbers", "client_overridable", "recording")
_AGENT_ID = lazyre.compile(r"[A-Za-z0-9_-]{1,128}")
_PHONE = lazyre.compile(r"\+?[0-9]{5,20}")
_KEY_PATH = lazyre.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
_MAX_FILE_BYTES = 1024 * 1024
_MAX_SHOWN = 200  # longest offending key path an error message repeats


class AgentRule(NamedTuple):
    """What clients may do with one agent."""

    ai_agent_id: str
    inbound_numbers: tuple[str, ...]
    outbound_caller_numbers: tuple[str, ...]
    # Dotted key paths (`TtsConfig.VoiceId`, `Greeting`); a listed object allows its whole subtree.
    client_overridable: tuple[str, ...]
    allow_all: bool = False
    recording: str = "off"


class AgentPolicy(NamedTuple):
    """The whole policy; `allow_all` only for STAGE=dev without a configured policy."""

    agents: Mapping[str, AgentRule]
    workflow_agents: Mapping[str, str]
    allowed_regions: tuple[str, ...]
    allow_all: bool
    source: str

    def agent(self, ai_agent_id: str) -> AgentRule:
        """The rule of `ai_agent_id`; NotFound (AgentNotFound) if the policy does not list it."""
        if self.allow_all:
            # STAGE=dev without a policy: every call is recorded (ARTC, audio; video where the call has it)
            return AgentRule(ai_agent_id, (), (), (), allow_all=True, recording="audio")
        rule = self.agents.get(ai_agent_id)
        if rule is None:
            shown = f" {ai_agent_id}" if len(ai_agent_id) <= 64 and _AGENT_ID.fullmatch(ai_agent_id) else ""
            raise NotFound(f"ai_agent_id: agent{shown} is not in the agent policy", error_code="AgentNotFound")
        return rule

    def resolve(self, ai_agent_id: str | None, workflow_type: str | None) -> AgentRule:
        """The agent a request names: its `ai_agent_id`, else the agent of its `workflow_type`."""
        if ai_agent_id:
            return self.agent(ai_agent_id)
        if not workflow_type:
            raise BadRequest("ai_agent_id: required (or workflow_type)", error_code="MissingParameter")
        if self.allow_all:
            raise NotFound("workflow_type: no workflow_agents are configured (STAGE=dev without an agent "
                           "policy): send ai_agent_id", error_code="AgentNotFound")
        agent_id = self.workflow_agents.get(workflow_type)
        if agent_id is None:
            raise NotFound("workflow_type: no agent is configured for this workflow type "
                           "(agent policy workflow_agents)", error_code="AgentNotFound")
        return self.agent(agent_id)

    def check_region(self, region: str | None) -> None:
        """BadRequest (InvalidRegion) if `region` is set and not one of `allowed_regions` (empty = any)."""
        if region is not None and self.allowed_regions and region not in self.allowed_regions:
            raise BadRequest(f"region: must be one of {', '.join(self.allowed_regions)} (ICE_ALLOWED_REGIONS)",
                             error_code="InvalidRegion")


def check_overrides(field: str, config: Mapping[str, Any] | None, rule: AgentRule) -> None:
    """Every leaf key path of `config` (lists are leaves; an empty object sets nothing and is
    ignored) must be at or under one of `rule.client_overridable`, segment by segment; else
    BadRequest (ConfigNotOverridable) naming the first offending path, keys in sorted order."""
    if rule.allow_all or not config:
        return
    allowed = [tuple(p.split(".")) for p in rule.client_overridable]
    # Depth first, sorted keys, without recursion (a client's config may nest deeply).
    stack: list[tuple[tuple[str, ...], Any]] = [((str(k),), config[k]) for k in sorted(config, key=str, reverse=True)]
    while stack:
        path, value = stack.pop()
        if any(path[:len(a)] == a for a in allowed):
            continue  # at or under an allowed path: its whole subtree is allowed
        if isinstance(value, Mapping):
            stack.extend((path + (str(k),), value[k]) for k in sorted(value, key=str, reverse=True))
            continue
        shown = ".".join(path)
        if len(shown) > _MAX_SHOWN:
            shown = shown[:_MAX_SHOWN] + "..."
        raise BadRequest(f"{field}.{shown}: not overridable by clients (agent policy client_overridable)",
                         error_code="ConfigNotOverridable")


def describe_agent(rule: AgentRule) -> dict:
    """What a client may see of an agent (describeAIAgent's `ai_agent`): never the caller numbers."""
    return {"AIAgentId": rule.ai_agent_id, "InboundPhoneNumbers": list(rule.inbound_numbers)}


def caller_number(rule: AgentRule) -> str:
    """The caller number of this agent's outbound calls (the first configured)."""
    if not rule.outbound_caller_numbers:
        raise BadRequest("ai_agent_id: this agent has no outbound caller number in the agent policy",
                         error_code="OutboundCallNotConfigured")
    return rule.outbound_caller_numbers[0]


class _Duplicates(dict):
    """A JSON object that repeated a key (`duplicates` lists the repeats in order)."""

    duplicates: list[str]


def _object(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    repeated = []
    for key, value in pairs:
        if key in out:
            repeated.append(key)
        out[key] = value
    if repeated:
        dup = _Duplicates(out)
        dup.duplicates = repeated
        return dup
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _seg(key: str) -> str:
    """A key as a path segment; odd or long keys quoted and shortened."""
    if _AGENT_ID.fullmatch(key) and len(key) <= 64:
        return key
    return json.dumps(key[:40] + ("..." if len(key) > 40 else ""), ensure_ascii=True)


def _join(path: str, key: str) -> str:
    return f"{path}.{_seg(key)}" if path else _seg(key)


def _first_duplicate(value: Any, path: str) -> str | None:
    """The path of the first repeated key, in document order (depth first)."""
    todo: list[tuple[Any, str]] = [(value, path)]
    while todo:
        node, where = todo.pop()
        if isinstance(node, _Duplicates):
            return _join(where, node.duplicates[0])
        if isinstance(node, dict):
            todo.extend((v, _join(where, k)) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            todo.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(node))))
    return None


def _strip_comments(text: str) -> str:
    """Blank every line whose first non-blank characters are `//` (a JSON string cannot span
    lines, so such a line is never inside one); line numbers stay as they were."""
    return "\n".join("" if line.lstrip().startswith("//") else line for line in text.split("\n"))


def parse_policy(text: str, *, source: str, stage: str, allowed_regions: tuple[str, ...] = ()) -> AgentPolicy:
    """Parse and validate a policy document; ConfigurationError starting with `source` and naming
    the exact path of the first problem."""
    if stage not in ("dev", "staging", "prod"):
        raise ConfigurationError(f"{source}: unknown STAGE (dev, staging or prod)")

    def fail(where: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")

    try:
        doc = json.loads(_strip_comments(text), object_pairs_hook=_object, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise fail("", f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # NaN, Infinity
        raise fail("", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise fail("", "not valid JSON: nested too deeply") from None
    duplicate = _first_duplicate(doc, "")
    if duplicate is not None:
        raise fail(duplicate, "duplicate key")
    if not isinstance(doc, dict):
        raise fail("", "must be a JSON object with an agents key")
    for key in doc:
        if key not in _TOP_KEYS:
            raise fail(_seg(key), f"unknown key (allowed: {', '.join(_TOP_KEYS)})")

    if "agents" not in doc:
        raise fail("agents", "is required")
    raw_agents = doc["agents"]
    if not isinstance(raw_agents, dict):
        raise fail("agents", "must be an object of agent id -> agent")
    if not raw_agents:
        raise fail("agents", "must list at least one agent")
    agents: dict[str, AgentRule] = {}
    for agent_id, raw in raw_agents.items():
        where = _join("agents", agent_id)
        if not _AGENT_ID.fullmatch(agent_id):
            raise fail(where, "not an agent id (1-128 of A-Za-z0-9_-)")
        if not isinstance(raw, dict):
            raise fail(where, "must be an object")
        for key in raw:
            if key not in _AGENT_KEYS:
                raise fail(_join(where, key), f"unknown key (allowed: {', '.join(_AGENT_KEYS)})")
        inbound = _strings(raw, "inbound_numbers", where, _PHONE, "not a phone number", fail)
        outbound = _strings(raw, "outbound_caller_numbers", where, _PHONE, "not a phone number", fail)
        paths = _strings(raw, "client_overridable", where, _KEY_PATH,
                         "not a dotted key path such as TtsConfig.VoiceId", fail)
        recording = raw.get("recording", "off")
        if recording not in RECORDING_MODES:
            raise fail(f"{where}.recording", f"must be one of {', '.join(RECORDING_MODES)}")
        agents[agent_id] = AgentRule(agent_id, inbound, outbound, paths, recording=recording)

    raw_workflows = doc.get("workflow_agents", {})
    if not isinstance(raw_workflows, dict):
        raise fail("workflow_agents", "must be an object of workflow type -> agent id")
    workflows: dict[str, str] = {}
    for workflow, agent_id in raw_workflows.items():
        where = _join("workflow_agents", workflow)
        if workflow not in WORKFLOW_TYPES:
            raise fail(where, f"unknown workflow type (allowed: {', '.join(WORKFLOW_TYPES)})")
        if not isinstance(agent_id, str):
            raise fail(where, "must be an agent id (a string)")
        if agent_id not in agents:
            raise fail(where, f"agent {_seg(agent_id)} is not in agents")
        workflows[workflow] = agent_id

    return AgentPolicy(agents=MappingProxyType(agents), workflow_agents=MappingProxyType(workflows),
                       allowed_regions=tuple(allowed_regions), allow_all=False, source=source)


def _strings(raw: dict, key: str, where: str, shape: lazyre.LazyPattern, problem: str,
             fail: Callable[[str, str], ConfigurationError]) -> tuple[str, ...]:
    """An optional list of distinct strings, each of `shape`."""
    value = raw.get(key, [])
    here = f"{where}.{key}"
    if not isinstance(value, list):
        raise fail(here, "must be a list of strings")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise fail(f"{here}[{i}]", "must be a string")
        if not shape.fullmatch(item):
            raise fail(f"{here}[{i}]", problem)
        if item in value[:i]:
            raise fail(f"{here}[{i}]", "duplicate entry")
    return tuple(value)


def _allow_all(settings: AgentPolicySettings) -> AgentPolicy:
    return AgentPolicy(agents=MappingProxyType({}), workflow_agents=MappingProxyType({}),
                       allowed_regions=settings.ICE_ALLOWED_REGIONS, allow_all=True,
                       source="none (STAGE=dev: everything allowed)")


def load_policy(settings: AgentPolicySettings) -> AgentPolicy:
    """The policy the settings name (inline or file). None: STAGE=dev allows everything (with a
    warning); staging and prod refuse to run."""
    common: dict[str, Any] = {"stage": settings.STAGE, "allowed_regions": settings.ICE_ALLOWED_REGIONS}
    if settings.AGENT_POLICY is not None:
        return parse_policy(settings.AGENT_POLICY, source="AGENT_POLICY", **common)
    if settings.AGENT_POLICY_FILE is not None:
        path = settings.AGENT_POLICY_FILE
        try:
            with Path(path).open("rb") as f:
                data = f.read(_MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise ConfigurationError(f"AGENT_POLICY_FILE: cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:  # e.g. a NUL byte in the path
            raise ConfigurationError(f"AGENT_POLICY_FILE: cannot read it: {exc}") from None
        if len(data) > _MAX_FILE_BYTES:
            raise ConfigurationError(f"AGENT_POLICY_FILE: {path} is larger than 1 MiB")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ConfigurationError(f"AGENT_POLICY_FILE: {path} is not UTF-8 text") from None
        return parse_policy(text, source=f"AGENT_POLICY_FILE={path}", **common)
    if settings.STAGE != "dev":
        raise ConfigurationError(f"AGENT_POLICY or AGENT_POLICY_FILE is required when STAGE={settings.STAGE}")
    from shared.log import logger

    logger.warning("no agent policy (STAGE=dev): every agent and config key is allowed; "
                   "set AGENT_POLICY or AGENT_POLICY_FILE (required when STAGE is staging or prod)")
    return _allow_all(settings)


_policy: AgentPolicy | None = None


def get_policy() -> AgentPolicy:
    """The process's policy, parsed once from the environment (a ConfigurationError is not cached)."""
    global _policy
    if _policy is None:
        _policy = load_policy(load(AgentPolicySettings))
    return _policy


def check_at_cold_start() -> None:
    """`shared.http.endpoint(check=...)`: parse the policy at cold start, so a bad or missing one
    is a ConfigurationError answered on every invocation, not a failure of the first request."""
    get_policy()


def reset_policy() -> None:
    """Forget the parsed policy (tests and the sandbox change the environment)."""
    global _policy
    _policy = None
