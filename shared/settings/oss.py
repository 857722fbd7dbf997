"""OssSettings, one settings group of shared.settings (imported when first named)."""
from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import EnvSettings, _url


class OssSettings(EnvSettings):
    """The archive bucket over OSS's S3-compatible protocol (docs/protocols.md#archive-chain).

    Credentials default to the ALIBABA_CLOUD_* ones (see `credentials()`).
    """

    ARCHIVE_BUCKET: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    OSS_REGION: str = "cn-shanghai"
    OSS_ENDPOINT: str | None = None
    OSS_ACCESS_KEY_ID: str | None = None
    OSS_ACCESS_KEY_SECRET: SecretStr | None = None
    OSS_SECURITY_TOKEN: SecretStr | None = None
    ALIBABA_CLOUD_ACCESS_KEY_ID: str | None = None
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: SecretStr | None = None
    ALIBABA_CLOUD_SECURITY_TOKEN: SecretStr | None = None
    OSS_CONNECT_TIMEOUT_SECONDS: float = Field(default=1.0, gt=0, le=30)
    OSS_READ_TIMEOUT_SECONDS: float = Field(default=2.0, gt=0, le=120)
    # Total time one store operation may take, retries included. The default keeps a
    # callback's PUT inside ICE's 3-second deadline (a 5xx then makes ICE retry).
    OSS_MAX_ELAPSED_SECONDS: float = Field(default=2.5, gt=0, le=300)

    @field_validator("OSS_ENDPOINT")
    @classmethod
    def _endpoint_url(cls, v: str | None) -> str | None:
        return _url(v, "https://s3.oss-cn-shanghai-internal.aliyuncs.com")

    @model_validator(mode="after")
    def _credentials_present(self) -> "OssSettings":
        if (self.OSS_ACCESS_KEY_ID is None) != (self.OSS_ACCESS_KEY_SECRET is None):
            raise ValueError("OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET must be set together")
        if self.OSS_ACCESS_KEY_ID is None and (self.ALIBABA_CLOUD_ACCESS_KEY_ID is None
                                               or self.ALIBABA_CLOUD_ACCESS_KEY_SECRET is None):
            raise ValueError("set OSS_ACCESS_KEY_ID/OSS_ACCESS_KEY_SECRET or "
                             "ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        return self

    @property
    def endpoint(self) -> str:
        """OSS_ENDPOINT, else the in-region internal S3-compatible endpoint."""
        return self.OSS_ENDPOINT or f"https://s3.oss-{self.OSS_REGION}-internal.aliyuncs.com"

    def credentials(self) -> tuple[str, str, str | None]:
        """(access key id, secret, STS token or None): OSS_* if set, else ALIBABA_CLOUD_*."""
        if self.OSS_ACCESS_KEY_ID is not None and self.OSS_ACCESS_KEY_SECRET is not None:
            token = self.OSS_SECURITY_TOKEN
            return self.OSS_ACCESS_KEY_ID, self.OSS_ACCESS_KEY_SECRET.get_secret_value(), \
                token.get_secret_value() if token else None
        assert self.ALIBABA_CLOUD_ACCESS_KEY_ID and self.ALIBABA_CLOUD_ACCESS_KEY_SECRET
        token = self.ALIBABA_CLOUD_SECURITY_TOKEN
        return self.ALIBABA_CLOUD_ACCESS_KEY_ID, self.ALIBABA_CLOUD_ACCESS_KEY_SECRET.get_secret_value(), \
            token.get_secret_value() if token else None
