"""DescribeAIAgentRequest: one request model of shared.api.models (imported when first named)."""
from typing import Annotated

from shared.api.models import ApiRequest, Region, ResourceId, UserId
from shared.validation import BOUND_USER


class DescribeAIAgentRequest(ApiRequest):
    """POST /api/v2/aiagent/describeAIAgent."""

    user_id: Annotated[UserId, BOUND_USER]
    ai_agent_id: ResourceId
    region: Region | None = None
