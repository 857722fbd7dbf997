"""RtcSettings, one settings group of shared.settings (imported when first named)."""
from pydantic import Field, SecretStr, field_validator

from shared.settings import EnvSettings, _csv


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
