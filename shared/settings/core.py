"""CoreSettings, one settings group of shared.settings (imported when first named)."""
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import _csv, is_dev_secret
from shared.settings.http import HttpSettings


class CoreSettings(HttpSettings):
    """Client-facing HTTP functions: HttpSettings plus client authorization (AUTH_*)."""

    AUTH_MODE: Literal["jwt", "static", "none"] = "jwt"
    AUTH_JWT_SECRET: SecretStr | None = None
    AUTH_JWT_LEEWAY_SECONDS: int = Field(default=30, ge=0, le=300)
    # The longest a client JWT may still be valid (exp - now); a 10-year token is refused.
    AUTH_JWT_MAX_TTL_SECONDS: int = Field(default=86400, ge=60, le=30 * 86400)
    # When set, the token's aud (a string or a list) must contain it / its iss must equal it.
    AUTH_JWT_AUDIENCE: str | None = Field(default=None, min_length=1, max_length=256)
    AUTH_JWT_ISSUER: str | None = Field(default=None, min_length=1, max_length=256)
    AUTH_STATIC_TOKENS: tuple[SecretStr, ...] = ()

    _split = field_validator("AUTH_STATIC_TOKENS", mode="before")(_csv)

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
        if self.STAGE != "dev" and self.AUTH_MODE != "jwt":
            raise ValueError(f"AUTH_MODE={self.AUTH_MODE} is refused when STAGE={self.STAGE} "
                             "(development only; use AUTH_MODE=jwt)")
        if self.STAGE != "dev":
            if self.AUTH_JWT_SECRET is not None and is_dev_secret(self.AUTH_JWT_SECRET.get_secret_value()):
                raise ValueError(f"AUTH_JWT_SECRET is the public development secret of devkit/defaults.py, "
                                 f"refused when STAGE={self.STAGE} (use a random 256-bit value)")
            if any(is_dev_secret(t.get_secret_value()) for t in self.AUTH_STATIC_TOKENS):
                raise ValueError(f"AUTH_STATIC_TOKENS contains a public development token of devkit/defaults.py, "
                                 f"refused when STAGE={self.STAGE}")
        # Here, not in HttpSettings: browsers call the client API; the callback endpoint
        # (CallbackSettings) is called by ICE, server to server, and sets no origins.
        if self.STAGE == "prod" and "*" in self.CORS_ALLOW_ORIGINS:
            raise ValueError("CORS_ALLOW_ORIGINS must list the web app's origins when STAGE=prod "
                             "('*', the default, is refused), e.g. https://app.example.com")
        return self
