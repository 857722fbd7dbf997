"""Request models of the client-facing HTTP API: the API's documentation.

Strict types: a number where a string is expected is a 400 naming the field.
Unknown fields are ignored (client kits send extras such as `session_id`).
"""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# SPEC 3: ids a client supplies. user_id rule of the foundation issue: A-Za-z0-9_-, <= 64.
UserId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ChannelId = Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")]


class ApiRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, hide_input_in_errors=True)


class GetRtcAuthTokenRequest(ApiRequest):
    """POST /api/v2/aiagent/getRtcAuthToken."""

    user_id: UserId
    channel_id: ChannelId | None = None
