"""GenerateAIAgentCallRequest: one request model of shared.api.models (imported when first named)."""
from typing import Annotated

from pydantic import Field

from shared.api.models import ApiRequest, Config, Region, ResourceId, SessionId, UserData, UserId, WorkflowType
from shared.validation import BOUND_USER


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
