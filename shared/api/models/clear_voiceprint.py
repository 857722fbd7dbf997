"""ClearAIAgentVoiceprintRequest: one request model of shared.api.models (imported when first named)."""
from typing import Annotated, Literal

from shared.api.models import ApiRequest, Region, UserId, VoiceprintId
from shared.validation import BOUND_USER


class ClearAIAgentVoiceprintRequest(ApiRequest):
    """POST /api/v2/aiagent/clearAIAgentVoiceprint."""

    user_id: Annotated[UserId, BOUND_USER]
    voiceprint_id: VoiceprintId
    registration_mode: Literal["Explicit", "Implicit"] = "Explicit"
    region: Region | None = None
