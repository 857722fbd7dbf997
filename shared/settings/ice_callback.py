"""CallbackSettings, one settings group of shared.settings (imported when first named)."""
from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import _csv, is_dev_secret
from shared.settings.http import HttpSettings


class CallbackSettings(HttpSettings):
    """ICE agent callbacks (docs/protocols.md#ice-callbacks): the shared bearer token(s), the
    body limit, and how far an event's time may lie from now."""

    # Comma-separated; every entry is accepted, so the token can be rotated without downtime
    # (add the new one, point ICE at it with `aiagent configure-callbacks`, drop the old one).
    CALLBACK_TOKEN: tuple[SecretStr, ...]
    CALLBACK_MAX_BODY_BYTES: int = Field(default=256 * 1024, ge=1024, le=6 * 1024 * 1024)
    # An event dated further in the past / the future than this is refused (400 naming
    # `timestamp`): a forged or replayed event cannot open a call long over, or yet to come.
    CALLBACK_MAX_EVENT_AGE_SECONDS: int = Field(default=7 * 86400, ge=60, le=3650 * 86400)
    CALLBACK_MAX_EVENT_FUTURE_SECONDS: int = Field(default=600, ge=0, le=86400)

    _split = field_validator("CALLBACK_TOKEN", mode="before")(_csv)

    @field_validator("CALLBACK_TOKEN")
    @classmethod
    def _tokens_long_enough(cls, v: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if not v:
            raise ValueError("must name at least one token")
        if any(len(t.get_secret_value()) < 16 for t in v):
            raise ValueError("every entry must be at least 16 characters (use random values)")
        return v

    @model_validator(mode="after")
    def _no_dev_token_outside_dev(self) -> "CallbackSettings":
        if self.STAGE != "dev" and any(is_dev_secret(t.get_secret_value()) for t in self.CALLBACK_TOKEN):
            raise ValueError(f"CALLBACK_TOKEN contains the public development token of devkit/defaults.py, "
                             f"refused when STAGE={self.STAGE}")
        return self

    @property
    def max_body(self) -> int:
        return self.CALLBACK_MAX_BODY_BYTES
