"""LiveSettings, one settings group of shared.settings (imported when first named)."""
from pydantic import Field, field_validator

from shared.settings import EnvSettings, _url


class LiveSettings(EnvSettings):
    """ARTC cloud recording through the Live API (product live, 2016-11-01; docs/protocols.md#artc-cloud-recording)."""

    # LIVE_ENDPOINT: another Live API (the sandbox's simulator); else https://live.aliyuncs.com.
    LIVE_ENDPOINT: str | None = None
    LIVE_CONNECT_TIMEOUT_SECONDS: float = Field(default=2.0, gt=0, le=30)
    LIVE_READ_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0, le=60)
    LIVE_MAX_RETRIES: int = Field(default=2, ge=0, le=5)

    @field_validator("LIVE_ENDPOINT")
    @classmethod
    def _endpoint_url(cls, v: str | None) -> str | None:
        return _url(v, "https://live.aliyuncs.com or http://127.0.0.1:9001")

    @property
    def endpoint(self) -> str:
        return self.LIVE_ENDPOINT or "https://live.aliyuncs.com"
