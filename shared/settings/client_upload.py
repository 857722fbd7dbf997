"""ClientUploadSettings, one settings group of shared.settings (imported when first named)."""
from typing import Literal

from pydantic import Field, model_validator

from shared.settings import EnvSettings


class ClientUploadSettings(EnvSettings):
    """Where the client kits upload voiceprint audio with temporary credentials (getOssConfig)."""

    STAGE: Literal["dev", "staging", "prod"] = "dev"
    ARCHIVE_BUCKET: str | None = Field(default=None, min_length=3, max_length=63,
                                       pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    OSS_REGION: str = Field(default="cn-shanghai", pattern=r"^[a-z]{2}(-[a-z0-9]+){1,3}$")
    CLIENT_UPLOAD_BUCKET: str | None = Field(default=None, min_length=3, max_length=63,
                                             pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    # A prefix no trigger listens on; each user's uploads go under <prefix><user_id>/.
    CLIENT_UPLOAD_PREFIX: str = Field(default="client-uploads/", min_length=2, max_length=128,
                                      pattern=r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*/$")
    CLIENT_UPLOAD_ROLE_ARN: str | None = Field(default=None,
                                               pattern=r"^acs:ram::[0-9]{1,32}:role/[A-Za-z0-9._-]{1,64}$")
    CLIENT_UPLOAD_TTL_SECONDS: int = Field(default=900, ge=900, le=3600)

    @model_validator(mode="after")
    def _complete(self) -> "ClientUploadSettings":
        if self.bucket is None:
            raise ValueError("CLIENT_UPLOAD_BUCKET (or ARCHIVE_BUCKET, its default) must be set")
        return self

    @property
    def bucket(self) -> str | None:
        return self.CLIENT_UPLOAD_BUCKET or self.ARCHIVE_BUCKET
