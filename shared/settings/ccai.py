"""CcaiSettings, one settings group of shared.settings (imported when first named)."""
from typing import Literal

from pydantic import Field, field_validator, model_validator

from shared.settings import EnvSettings, _url


class CcaiSettings(EnvSettings):
    """CCAI AnalyzeConversation (docs/protocols.md#ccai-analysis) and the analysis profile to use."""

    CCAI_ENDPOINT: str = "https://contactcenterai.cn-shanghai.aliyuncs.com"
    CCAI_WORKSPACE_ID: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,128}$")
    CCAI_APP_ID: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,128}$")
    ANALYSIS_PROFILE: str = Field(default="default", pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    CCAI_STREAM: bool = False
    CCAI_CONNECT_TIMEOUT_SECONDS: float = Field(default=3.0, gt=0, le=30)
    CCAI_READ_TIMEOUT_SECONDS: float = Field(default=60.0, gt=0, le=600)
    CCAI_MAX_RETRIES: int = Field(default=4, ge=0, le=10)
    # Long calls: above this many characters of dialogue text the long-dialog policy applies.
    ANALYSIS_MAX_REQUEST_CHARS: int = Field(default=60000, ge=1000, le=1_000_000)
    ANALYSIS_LONG_DIALOG_POLICY: Literal["split", "truncate"] = "split"
    # Transient failures (throttling, 5xx, timeouts) of one call before its dead letter.
    ANALYSIS_MAX_ATTEMPTS: int = Field(default=4, ge=1, le=20)

    @field_validator("CCAI_ENDPOINT")
    @classmethod
    def _endpoint_url(cls, v: str) -> str:
        url = _url(v, "https://contactcenterai.cn-shanghai.aliyuncs.com")
        assert url is not None  # v is a str, so is the URL
        return url

    @model_validator(mode="after")
    def _ids_present(self) -> "CcaiSettings":
        missing = [n for n in ("CCAI_WORKSPACE_ID", "CCAI_APP_ID") if getattr(self, n) is None]
        if missing:
            raise ValueError(f"{' and '.join(missing)} required (the CCAI workspace and app to analyse with)")
        return self
