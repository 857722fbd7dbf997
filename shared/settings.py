"""Configuration: environment variables parsed once into validated pydantic models.

Each group of settings is its own model so a function parses only what it uses.
Field names are the environment variable names, so every error names the variable.
Values of secret fields are registered with `shared.log` so they are scrubbed from
every log line, and never appear in an error message.
"""
from __future__ import annotations

import os
from typing import Literal, Mapping, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from shared.errors import ConfigurationError

S = TypeVar("S", bound="EnvSettings")

_cache: dict[type, "EnvSettings"] = {}


class EnvSettings(BaseModel):
    """Base of every settings group: frozen, unknown variables ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)


def load(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
    """Parse `cls` from the environment once per process (or from `environ`, uncached).

    Empty strings count as unset. Raises ConfigurationError naming each bad variable.
    """
    if environ is None and cls in _cache:
        return _cache[cls]  # type: ignore[return-value]
    env = os.environ if environ is None else environ
    raw = {name: env[name] for name in cls.model_fields if env.get(name, "") != ""}
    try:
        settings = cls.model_validate(raw)
    except ValidationError as exc:
        from shared.validation import describe

        raise ConfigurationError(f"configuration invalid: {describe(exc, limit=10)}") from None
    _register_secrets(settings)
    if environ is None:
        _cache[cls] = settings
    return settings


def reset_cache() -> None:
    """Forget parsed settings (tests and the sandbox change the environment)."""
    _cache.clear()


def _register_secrets(settings: BaseModel) -> None:
    from shared.log import register_secret

    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            register_secret(value.get_secret_value())
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, SecretStr):
                    register_secret(item.get_secret_value())


def _csv(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class CoreSettings(EnvSettings):
    """What every HTTP function needs: stage, client authorization, limits, CORS."""

    STAGE: Literal["dev", "staging", "prod"] = "dev"
    AUTH_MODE: Literal["jwt", "static", "none"] = "jwt"
    AUTH_JWT_SECRET: SecretStr | None = None
    AUTH_JWT_LEEWAY_SECONDS: int = Field(default=30, ge=0, le=300)
    AUTH_STATIC_TOKENS: tuple[SecretStr, ...] = ()
    CORS_ALLOW_ORIGINS: tuple[str, ...] = ("*",)
    HTTP_MAX_BODY_BYTES: int = Field(default=64 * 1024, ge=1024, le=6 * 1024 * 1024)

    _split = field_validator("AUTH_STATIC_TOKENS", "CORS_ALLOW_ORIGINS", mode="before")(_csv)

    @field_validator("AUTH_JWT_SECRET")
    @classmethod
    def _secret_long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (use a random 256-bit value)")
        return v

    @model_validator(mode="after")
    def _mode_is_complete(self) -> "CoreSettings":
        if self.AUTH_MODE == "jwt" and self.AUTH_JWT_SECRET is None:
            raise ValueError("AUTH_JWT_SECRET is required when AUTH_MODE=jwt")
        if self.AUTH_MODE == "static" and not self.AUTH_STATIC_TOKENS:
            raise ValueError("AUTH_STATIC_TOKENS is required when AUTH_MODE=static")
        if self.STAGE == "prod" and self.AUTH_MODE != "jwt":
            raise ValueError(f"AUTH_MODE={self.AUTH_MODE} is refused when STAGE=prod (use AUTH_MODE=jwt)")
        return self


class RtcSettings(EnvSettings):
    """ARTC application credentials for getRtcAuthToken (official: biz.live_mic.*)."""

    LIVE_MIC_APP_ID: str = Field(min_length=1, max_length=128)
    LIVE_MIC_APP_KEY: SecretStr
    RTC_TOKEN_TTL_SECONDS: int = Field(default=86400, ge=60, le=86400)
    RTC_GSLB: tuple[str, ...] = ("https://gw.rtn.aliyuncs.com",)

    _split = field_validator("RTC_GSLB", mode="before")(_csv)

    @field_validator("RTC_GSLB")
    @classmethod
    def _https_urls(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("must name at least one URL")
        for url in v:
            if not url.startswith("https://"):
                raise ValueError("every entry must be an https:// URL")
        return v
