"""GetRtcAuthTokenRequest: one request model of shared.api.models (imported when first named)."""
from typing import Annotated

from shared.api.models import ApiRequest, ChannelId, UserId
from shared.validation import BOUND_USER


class GetRtcAuthTokenRequest(ApiRequest):
    """POST /api/v2/aiagent/getRtcAuthToken."""

    user_id: Annotated[UserId, BOUND_USER]
    channel_id: ChannelId | None = None
