"""StartAIAgentOutboundCallRequest: one request model of shared.api.models (imported when first named)."""
from typing import Annotated

from shared.api.models import ApiRequest, Config, PhoneNumber, Region, ResourceId, SessionId, UserData, UserId
from shared.validation import BOUND_USER


class StartAIAgentOutboundCallRequest(ApiRequest):
    """POST /api/v2/aiagent/startAIAgentOutboundCall. The caller number comes from the agent policy."""

    user_id: Annotated[UserId, BOUND_USER]
    ai_agent_id: ResourceId
    called_number: PhoneNumber
    config: Config | None = None
    user_data: UserData | None = None
    session_id: SessionId | None = None
    region: Region | None = None
