"""Request models of the client-facing HTTP API: the API's documentation
(docs/protocols.md#client-api).

Strict types: a number where a string is expected is a 400 naming the field.
Unknown fields are ignored (client kits send extras such as `session_id`).
Every model marks the field naming its user with `BOUND_USER`: `shared.http.endpoint`
then requires it to be the token's subject, whatever the field is called.
"""

from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.validation import BOUND_USER, BindsUser

# Ids a client supplies: user ids are A-Za-z0-9_-, at most 64 characters.
UserId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ChannelId = Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")]


class ApiRequest(BindsUser, BaseModel):
    """Base of the client API's request models (strict, frozen, extra fields ignored)."""

    # defer_build: a function validates one request model; the others' schemas are never built.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, hide_input_in_errors=True, defer_build=True)


class GetRtcAuthTokenRequest(ApiRequest):
    """POST /api/v2/aiagent/getRtcAuthToken."""

    user_id: Annotated[UserId, BOUND_USER]
    channel_id: ChannelId | None = None


# Interactive-message user ids are stricter (no '-'), as ICE requires.
ChatUserId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")]
ResourceId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
Region = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$")]


class GenerateMessageChatTokenRequest(ApiRequest):
    """POST /api/v2/aiagent/generateMessageChatToken."""

    ai_agent_id: ResourceId
    user_id: Annotated[ChatUserId, BOUND_USER]
    role: Annotated[str, StringConstraints(max_length=32, pattern=r"^[A-Za-z0-9_-]*$")] | None = None
    expire: Annotated[int, Field(ge=60, le=86400)] | None = None
    region: Region | None = None


class DescribeAIAgentInstanceRequest(ApiRequest):
    """POST /api/v2/aiagent/describeAIAgentInstance."""

    user_id: Annotated[UserId, BOUND_USER]
    ai_agent_instance_id: ResourceId
    region: Region | None = None


Config = dict | Annotated[str, StringConstraints(max_length=32768)]
UserData = Annotated[str, StringConstraints(max_length=8192)] | dict
SessionId = Annotated[str, StringConstraints(max_length=128)]
WorkflowType = Literal["VoiceChat", "AvatarChat3D", "VisionChat", "VideoChat"]


class GenerateAIAgentCallRequest(ApiRequest):
    """POST /api/v2/aiagent/generateAIAgentCall. Configs may be objects or JSON strings.
    `workflow_type` names the agent through the policy's workflow_agents when the app has no
    agent id (the Web kit)."""

    ai_agent_id: ResourceId | None = None
    workflow_type: WorkflowType | None = None
    user_id: Annotated[UserId, BOUND_USER]
    expire: Annotated[int, Field(ge=60, le=86400)] | None = None
    user_data: UserData | None = None
    session_id: SessionId | None = None
    agent_config: Config | None = None
    template_config: Config | None = None
    chat_sync_config: Config | None = None
    region: Region | None = None


class DescribeAIAgentRequest(ApiRequest):
    """POST /api/v2/aiagent/describeAIAgent."""

    user_id: Annotated[UserId, BOUND_USER]
    ai_agent_id: ResourceId
    region: Region | None = None


# A number to call: digits with an optional leading +, 5 to 20 digits.
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{5,20}$")]


class StartAIAgentOutboundCallRequest(ApiRequest):
    """POST /api/v2/aiagent/startAIAgentOutboundCall. The caller number comes from the agent policy."""

    user_id: Annotated[UserId, BOUND_USER]
    ai_agent_id: ResourceId
    called_number: PhoneNumber
    config: Config | None = None
    user_data: UserData | None = None
    session_id: SessionId | None = None
    region: Region | None = None


class GetOssConfigRequest(ApiRequest):
    """POST /api/v2/aiagent/getOssConfig."""

    user_id: Annotated[UserId, BOUND_USER]


# Voiceprint ids: ICE allows 1-127 characters; the kits make `<user_id>_...` or `voiceprint_<user_id>_...`.
VoiceprintId = Annotated[str, StringConstraints(min_length=1, max_length=127, pattern=r"^[A-Za-z0-9_-]+$")]


class SetAIAgentVoiceprintRequest(ApiRequest):
    """POST /api/v2/aiagent/setAIAgentVoiceprint. `input`: an object or a JSON string."""

    user_id: Annotated[UserId, BOUND_USER]
    voiceprint_id: VoiceprintId
    input: dict | Annotated[str, StringConstraints(max_length=8192)]
    region: Region | None = None


class ClearAIAgentVoiceprintRequest(ApiRequest):
    """POST /api/v2/aiagent/clearAIAgentVoiceprint."""

    user_id: Annotated[UserId, BOUND_USER]
    voiceprint_id: VoiceprintId
    registration_mode: Literal["Explicit", "Implicit"] = "Explicit"
    region: Region | None = None


class EraseRequest(ApiRequest):
    """POST /api/v2/archive/erase (admins only): the calls, or the user, to erase. `user_id` here
    names whom to erase, not the caller, so the model binds no user to the token."""

    binds_no_user: ClassVar[bool] = True

    instance_ids: Annotated[list[ResourceId], Field(min_length=1, max_length=100)] | None = None
    user_id: UserId | None = None
    # Dates arrive as JSON strings (YYYY-MM-DD): parsed, not strict.
    since: Annotated[date, Field(strict=False)] | None = None
    until: Annotated[date, Field(strict=False)] | None = None
    dry_run: bool = False
