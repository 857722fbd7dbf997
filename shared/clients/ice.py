"""ICE OpenAPI (RPC style, version 2020-11-09) over httpx, signed with ACS3
(docs/protocols.md#signing-alibaba-cloud-requests).

`POST https://ice.{region}.aliyuncs.com/?<params>` with an empty body. One httpx
client (connection pool) per warm instance; bounded retries on 5xx, timeouts and
throttling only; errors mapped by `shared.clients.retry.map_error`. The call loop is
`shared.clients.rpc`, shared with STS.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.clients import retry, rpc
from shared.clients.acs3 import Prepared
from shared.clients.rpc import param_value as param_value  # re-exported: part of this module's API
from shared.errors import BadRequest
from shared.settings import CloudCredentials, IceSettings, load

VERSION = "2020-11-09"
SERVICE = "ICE"


def endpoint_for(settings: IceSettings, region: str | None) -> str:
    """ICE_ENDPOINT if set (simulator, private endpoint), else https://ice.{region}.aliyuncs.com."""
    region = region or settings.ICE_REGION
    if region not in settings.regions:
        raise BadRequest(f"region: must be one of {', '.join(settings.regions)}", error_code="InvalidRegion")
    return settings.ICE_ENDPOINT or f"https://ice.{region}.aliyuncs.com"


def prepare(action: str, params: Mapping[str, Any], *, endpoint: str, credentials: CloudCredentials,
            date: str | None = None, nonce: str | None = None) -> Prepared:
    """Build and sign one ICE call. Unset (None) parameters are omitted, never sent as "null"."""
    return rpc.prepare(action, params, version=VERSION, endpoint=endpoint, credentials=credentials,
                       date=date, nonce=nonce)


class IceClient:
    """Calls ICE actions and returns their JSON bodies (dict) or raises an AppError."""

    def __init__(self, settings: IceSettings, credentials: CloudCredentials, http: Any = None) -> None:
        self.settings = settings
        self.credentials = credentials
        self._http = http or retry.http_client(settings.ICE_CONNECT_TIMEOUT_SECONDS, settings.ICE_READ_TIMEOUT_SECONDS)
        self._rpc = rpc.RpcClient(SERVICE, VERSION, credentials, self._http, settings.ICE_MAX_RETRIES)

    def call(self, action: str, params: Mapping[str, Any], *, region: str | None = None,
             deadline: float | None = None) -> dict[str, Any]:
        """One ICE action with bounded retries (5xx, timeouts, throttling only)."""
        return self._rpc.call(action, params, endpoint=endpoint_for(self.settings, region), deadline=deadline)

    def generate_message_chat_token(self, *, ai_agent_id: str, user_id: str, role: str | None = None,
                                    expire: int | None = None, region: str | None = None) -> dict[str, Any]:
        return self.call("GenerateMessageChatToken",
                         {"AIAgentId": ai_agent_id, "UserId": user_id, "Role": role, "Expire": expire}, region=region)

    def describe_ai_agent_instance(self, instance_id: str, *, region: str | None = None,
                                   deadline: float | None = None) -> dict[str, Any]:
        return self.call("DescribeAIAgentInstance", {"InstanceId": instance_id}, region=region, deadline=deadline)

    def generate_ai_agent_call(self, *, ai_agent_id: str, user_id: str | None = None, expire: int | None = None,
                               user_data: str | None = None, session_id: str | None = None,
                               agent_config: Any = None, template_config: Any = None,
                               chat_sync_config: Any = None, region: str | None = None) -> dict[str, Any]:
        return self.call("GenerateAIAgentCall", {
            "AIAgentId": ai_agent_id, "UserId": user_id, "Expire": expire, "UserData": user_data,
            "SessionId": session_id, "AgentConfig": agent_config, "TemplateConfig": template_config,
            "ChatSyncConfig": chat_sync_config,
        }, region=region)

    def start_ai_agent_outbound_call(self, *, ai_agent_id: str, caller_number: str, called_number: str,
                                     config: Any = None, user_data: str | None = None,
                                     session_id: str | None = None, region: str | None = None) -> dict[str, Any]:
        """StartAIAgentOutboundCall: the agent phones `called_number` from `caller_number`.
        `config` (an AIAgentOutboundCallConfig object, or its JSON text) travels as JSON.
        Answer: {RequestId, InstanceId}."""
        return self.call("StartAIAgentOutboundCall", {
            "AIAgentId": ai_agent_id, "CallerNumber": caller_number, "CalledNumber": called_number,
            "Config": config, "UserData": user_data, "SessionId": session_id,
        }, region=region)

    def set_ai_agent_voiceprint(self, *, voiceprint_id: str, input: Any,
                                region: str | None = None) -> dict[str, Any]:
        """SetAIAgentVoiceprint: register `input` ({"Type": "oss", "Data": <URL>, "Format": "wav"},
        or its JSON text) as `voiceprint_id`. Answer: {RequestId, VoiceprintId}."""
        return self.call("SetAIAgentVoiceprint", {"VoiceprintId": voiceprint_id, "Input": input}, region=region)

    def clear_ai_agent_voiceprint(self, *, voiceprint_id: str, registration_mode: str | None = None,
                                  region: str | None = None) -> dict[str, Any]:
        """ClearAIAgentVoiceprint (`registration_mode` Explicit, ICE's default, or Implicit). Answer: {RequestId}."""
        return self.call("ClearAIAgentVoiceprint",
                         {"VoiceprintId": voiceprint_id, "RegistrationMode": registration_mode}, region=region)

    def list_ai_agent_voiceprints(self, *, voiceprint_id: str | None = None, registration_mode: str | None = None,
                                  page_number: int | None = None, page_size: int | None = None,
                                  region: str | None = None) -> dict[str, Any]:
        """ListAIAgentVoiceprints. Answer: {RequestId, TotalCount, Voiceprints: [{VoiceprintId, GmtCreate,
        GmtModified}]}."""
        return self.call("ListAIAgentVoiceprints", {
            "VoiceprintId": voiceprint_id, "RegistrationMode": registration_mode, "PageNumber": page_number,
            "PageSize": page_size,
        }, region=region)


_client: IceClient | None = None


def get_client() -> IceClient:
    """The process-wide client (settings and credentials parsed once, one connection pool)."""
    global _client
    if _client is None:
        _client = IceClient(load(IceSettings), load(CloudCredentials))
    return _client


def reset_client() -> None:
    """Forget the cached client (tests and the sandbox change settings)."""
    global _client
    _client = None
