"""CloudCredentials, one settings group of shared.settings (imported when first named)."""
from pydantic import Field, SecretStr

from shared.settings import EnvSettings


class CloudCredentials(EnvSettings):
    """Alibaba Cloud credentials. On FC these are the function role's STS credentials."""

    ALIBABA_CLOUD_ACCESS_KEY_ID: str = Field(min_length=1)
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: SecretStr
    ALIBABA_CLOUD_SECURITY_TOKEN: SecretStr | None = None
