"""GenerateMessageChatTokenRequest: one request model of shared.api.models (imported when first named)."""
from typing import Annotated

from pydantic import Field, StringConstraints

from shared.api.models import ApiRequest, ChatUserId, Region, ResourceId
from shared.validation import BOUND_USER


class GenerateMessageChatTokenRequest(ApiRequest):
    """POST /api/v2/aiagent/generateMessageChatToken."""

    ai_agent_id: ResourceId
    user_id: Annotated[ChatUserId, BOUND_USER]
    role: Annotated[str, StringConstraints(max_length=32, pattern=r"^[A-Za-z0-9_-]*$")] | None = None
    expire: Annotated[int, Field(ge=60, le=86400)] | None = None
    region: Region | None = None
