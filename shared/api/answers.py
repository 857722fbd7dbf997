"""Business rules of the ICE-backed endpoints (docs/protocols.md#client-api): request -> ICE
parameters, ICE answer -> the AppServer's response fields. Free of event formats.
"""
from __future__ import annotations

import json
from typing import Any

from shared.errors import BadRequest


def json_string(value: Any) -> str | None:
    """An upstream object as a JSON string; None stays None (never the string "null")."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def config_param(name: str, value: dict | str | None) -> dict | None:
    """AgentConfig/TemplateConfig from a client: an object, or a string holding a JSON object."""
    if value is None or isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        raise BadRequest(f"{name}: must be a JSON object or a string holding one",
                         error_code="InvalidParameter") from None
    if not isinstance(parsed, dict):
        raise BadRequest(f"{name}: must be a JSON object or a string holding one", error_code="InvalidParameter")
    return parsed


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def message_chat_token_response(ice: dict[str, Any]) -> dict[str, Any]:
    """generateMessageChatToken fields from ICE GenerateMessageChatToken."""
    return _drop_none({
        "message": "success",
        "request_id": ice.get("RequestId"),
        "app_id": ice.get("AppId"),
        "token": ice.get("Token"),
        "user_id": ice.get("UserId"),
        "nonce": ice.get("Nonce"),
        "role": ice.get("Role"),
        "timestamp": ice.get("TimeStamp"),
        "app_sign": ice.get("AppSign"),
    })


# Keys of ICE's answers that hold a credential meant for another party (the agent's own
# ARTC join token inside RuntimeConfig): never passed on to a client.
SECRET_KEYS = frozenset({"authtoken"})


def without_secrets(value: Any) -> Any:
    """`value` with every SECRET_KEYS member removed at any depth (a JSON string is parsed,
    cleaned and serialized again; a string that is not JSON is kept as it is)."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return json_string(without_secrets(parsed)) if isinstance(parsed, (dict, list)) else value
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if str(k).lower() not in SECRET_KEYS}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def instance_response(ice: dict[str, Any]) -> dict[str, Any]:
    """describeAIAgentInstance fields from ICE DescribeAIAgentInstance; configs as JSON strings,
    the agent's own join tokens (`AuthToken` in RuntimeConfig) removed."""
    inst = ice.get("Instance") or {}
    return _drop_none({
        "message": "success",
        "request_id": ice.get("RequestId"),
        "call_log_url": inst.get("CallLogUrl"),
        "status": inst.get("Status"),
        "user_data": json_string(inst.get("UserData")),
        "runtime_config": json_string(without_secrets(inst.get("RuntimeConfig"))),
        "template_config": json_string(inst.get("TemplateConfig")),
        "agent_config": json_string(inst.get("AgentConfig")),
        "session_id": inst.get("SessionId"),
        "gmt_create": inst.get("GmtCreate"),
        "gmt_modified": inst.get("GmtModified"),
        "call_info": inst.get("CallInfo"),
    })


def agent_call_response(ice: dict[str, Any]) -> dict[str, Any]:
    """generateAIAgentCall fields from ICE GenerateAIAgentCall."""
    return _drop_none({
        "rtc_auth_token": ice.get("Token"),
        "ai_agent_instance_id": ice.get("InstanceId"),
        "ai_agent_user_id": ice.get("AIAgentUserId"),
        "channel_id": ice.get("ChannelId"),
        "user_id": ice.get("UserId"),
        "request_id": ice.get("RequestId"),
    })
