"""StsSettings, one settings group of shared.settings (imported when first named)."""
from pydantic import Field, field_validator

from shared.settings import EnvSettings, _url


class StsSettings(EnvSettings):
    """Where and how to call STS AssumeRole (getOssConfig; docs/protocols.md#signing-alibaba-cloud-requests)."""

    # STS_ENDPOINT: another STS (the sandbox's simulator, a VPC endpoint); else https://sts.aliyuncs.com.
    STS_ENDPOINT: str | None = None
    STS_CONNECT_TIMEOUT_SECONDS: float = Field(default=2.0, gt=0, le=30)
    STS_READ_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0, le=60)
    STS_MAX_RETRIES: int = Field(default=2, ge=0, le=5)

    @field_validator("STS_ENDPOINT")
    @classmethod
    def _endpoint_url(cls, v: str | None) -> str | None:
        return _url(v, "https://sts.cn-shanghai.aliyuncs.com or http://127.0.0.1:9001")

    @property
    def endpoint(self) -> str:
        return self.STS_ENDPOINT or "https://sts.aliyuncs.com"
