"""HttpSettings, one settings group of shared.settings (imported when first named)."""
from typing import Literal

from pydantic import Field, field_validator

from shared.settings import EnvSettings, _csv


class HttpSettings(EnvSettings):
    """What every HTTP function needs: stage, body limit, CORS."""

    STAGE: Literal["dev", "staging", "prod"] = "dev"
    CORS_ALLOW_ORIGINS: tuple[str, ...] = ("*",)
    HTTP_MAX_BODY_BYTES: int = Field(default=64 * 1024, ge=1024, le=6 * 1024 * 1024)

    _split_origins = field_validator("CORS_ALLOW_ORIGINS", mode="before")(_csv)

    @property
    def max_body(self) -> int:
        """The request body limit this function enforces (413 above it)."""
        return self.HTTP_MAX_BODY_BYTES
