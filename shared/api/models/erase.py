"""EraseRequest: one request model of shared.api.models (imported when first named)."""
from datetime import date
from typing import Annotated, ClassVar

from pydantic import Field

from shared.api.models import ApiRequest, ResourceId, UserId


class EraseRequest(ApiRequest):
    """POST /api/v2/archive/erase (admins only): the calls, or the user, to erase. `user_id` here
    names whom to erase, not the caller, so the model binds no user to the token."""

    binds_no_user: ClassVar[bool] = True

    instance_ids: Annotated[list[ResourceId], Field(min_length=1, max_length=100)] | None = None
    user_id: UserId | None = None
    # Dates arrive as JSON strings (YYYY-MM-DD): parsed, not strict.
    since: Annotated[date, Field(strict=False)] | None = None
    until: Annotated[date, Field(strict=False)] | None = None
    dry_run: bool = False
