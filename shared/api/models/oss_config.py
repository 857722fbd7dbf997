"""GetOssConfigRequest: one request model of shared.api.models (imported when first named)."""
from typing import Annotated

from shared.api.models import ApiRequest, UserId
from shared.validation import BOUND_USER


class GetOssConfigRequest(ApiRequest):
    """POST /api/v2/aiagent/getOssConfig."""

    user_id: Annotated[UserId, BOUND_USER]
