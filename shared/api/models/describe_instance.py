"""DescribeAIAgentInstanceRequest: one request model of shared.api.models (imported when first named)."""
from typing import Annotated

from shared.api.models import ApiRequest, Region, ResourceId, UserId
from shared.validation import BOUND_USER


class DescribeAIAgentInstanceRequest(ApiRequest):
    """POST /api/v2/aiagent/describeAIAgentInstance."""

    user_id: Annotated[UserId, BOUND_USER]
    ai_agent_instance_id: ResourceId
    region: Region | None = None
