"""SetAIAgentVoiceprintRequest: one request model of shared.api.models (imported when first named)."""
from typing import Annotated

from pydantic import StringConstraints

from shared.api.models import ApiRequest, Region, UserId, VoiceprintId
from shared.validation import BOUND_USER


class SetAIAgentVoiceprintRequest(ApiRequest):
    """POST /api/v2/aiagent/setAIAgentVoiceprint. `input`: an object or a JSON string."""

    user_id: Annotated[UserId, BOUND_USER]
    voiceprint_id: VoiceprintId
    input: dict | Annotated[str, StringConstraints(max_length=8192)]
    region: Region | None = None
