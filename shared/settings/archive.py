"""ArchiveSettings, one settings group of shared.settings (imported when first named)."""
from typing import Literal

from pydantic import Field, field_validator, model_validator

from shared.settings import EnvSettings, _csv


class ArchiveSettings(EnvSettings):
    """Archiving call logs (docs/protocols.md#archive-chain): where a CallLogUrl may point, limits, retries."""

    STAGE: Literal["dev", "staging", "prod"] = "dev"
    # Host patterns: exact hosts or "*.suffix". CallLogUrl is a signed OSS URL.
    CALL_LOG_ALLOWED_HOSTS: tuple[str, ...] = ("*.aliyuncs.com",)
    CALL_LOG_MAX_BYTES: int = Field(default=20 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024)
    CALL_LOG_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0, le=120)
    # Development only (the sandbox's simulator serves call logs over http on loopback).
    CALL_LOG_ALLOW_INSECURE: bool = False
    # Attempts per archive/analysis before a dead letter (FC async: 1 + maxAsyncRetryAttempts).
    ARCHIVE_MAX_ATTEMPTS: int = Field(default=4, ge=1, le=10)

    _split = field_validator("CALL_LOG_ALLOWED_HOSTS", mode="before")(_csv)

    @field_validator("CALL_LOG_ALLOWED_HOSTS")
    @classmethod
    def _patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for p in v:
            if not re.fullmatch(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", p):
                raise ValueError("each entry must be a host name or *.domain (no scheme, port or path)")
        return v

    @model_validator(mode="after")
    def _insecure_only_in_dev(self) -> "ArchiveSettings":
        if self.CALL_LOG_ALLOW_INSECURE and self.STAGE != "dev":
            raise ValueError(f"CALL_LOG_ALLOW_INSECURE is refused when STAGE={self.STAGE} (development only)")
        return self
