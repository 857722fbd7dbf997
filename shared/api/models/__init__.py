"""Request models of the client-facing HTTP API: the API's documentation
(docs/protocols.md#client-api).

Strict types: a number where a string is expected is a 400 naming the field.
Unknown fields are ignored (client kits send extras such as `session_id`).
Every model marks the field naming its user with `BOUND_USER`: `shared.http.endpoint`
then requires it to be the token's subject, whatever the field is called.

The shared types and the base are here; each request model is its own module
(`shared/api/models/<endpoint>.py`), created when first named (`from shared.api.models import
GetRtcAuthTokenRequest`): a function defines only its own (pydantic's class creation is about
a millisecond a model; issue 17).
"""

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from shared import lazy_names
from shared.validation import BindsUser

# Ids a client supplies: user ids are A-Za-z0-9_-, at most 64 characters.
UserId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ChannelId = Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")]


class ApiRequest(BindsUser, BaseModel):
    """Base of the client API's request models (strict, frozen, extra fields ignored)."""

    # defer_build: a function validates one request model; the others' schemas are never built.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, hide_input_in_errors=True, defer_build=True)


# Interactive-message user ids are stricter (no '-'), as ICE requires.
ChatUserId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")]
ResourceId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
Region = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$")]


Config = dict | Annotated[str, StringConstraints(max_length=32768)]
UserData = Annotated[str, StringConstraints(max_length=8192)] | dict
SessionId = Annotated[str, StringConstraints(max_length=128)]
WorkflowType = Literal["VoiceChat", "AvatarChat3D", "VisionChat", "VideoChat"]


# A number to call: digits with an optional leading +, 5 to 20 digits.
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{5,20}$")]


# Voiceprint ids: ICE allows 1-127 characters; the kits make `<user_id>_...` or `voiceprint_<user_id>_...`.
VoiceprintId = Annotated[str, StringConstraints(min_length=1, max_length=127, pattern=r"^[A-Za-z0-9_-]+$")]


# Every request model and the module under shared/api/models/ that defines it.
MODELS: dict[str, str] = {
    "GetRtcAuthTokenRequest": "rtc_auth_token",
    "GenerateMessageChatTokenRequest": "message_chat_token",
    "DescribeAIAgentInstanceRequest": "describe_instance",
    "GenerateAIAgentCallRequest": "generate_call",
    "DescribeAIAgentRequest": "describe_agent",
    "StartAIAgentOutboundCallRequest": "outbound_call",
    "GetOssConfigRequest": "oss_config",
    "SetAIAgentVoiceprintRequest": "set_voiceprint",
    "ClearAIAgentVoiceprintRequest": "clear_voiceprint",
    "EraseRequest": "erase",
}


def __getattr__(name: str) -> Any:
    """A request model, its module imported on first use (PEP 562)."""
    return lazy_names.resolve(__name__, MODELS, globals(), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *MODELS})


def all_models() -> list[type[ApiRequest]]:
    """Every request model (importing them all: for checks and docs, never a function's path)."""
    return [__getattr__(name) for name in MODELS]


if TYPE_CHECKING:  # what `from shared.api.models import X` gives, for the type checker
    from shared.api.models.clear_voiceprint import ClearAIAgentVoiceprintRequest as ClearAIAgentVoiceprintRequest
    from shared.api.models.describe_agent import DescribeAIAgentRequest as DescribeAIAgentRequest
    from shared.api.models.describe_instance import DescribeAIAgentInstanceRequest as DescribeAIAgentInstanceRequest
    from shared.api.models.erase import EraseRequest as EraseRequest
    from shared.api.models.generate_call import GenerateAIAgentCallRequest as GenerateAIAgentCallRequest
    from shared.api.models.message_chat_token import GenerateMessageChatTokenRequest as GenerateMessageChatTokenRequest
    from shared.api.models.oss_config import GetOssConfigRequest as GetOssConfigRequest
    from shared.api.models.outbound_call import StartAIAgentOutboundCallRequest as StartAIAgentOutboundCallRequest
    from shared.api.models.rtc_auth_token import GetRtcAuthTokenRequest as GetRtcAuthTokenRequest
    from shared.api.models.set_voiceprint import SetAIAgentVoiceprintRequest as SetAIAgentVoiceprintRequest
