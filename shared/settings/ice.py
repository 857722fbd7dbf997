"""IceSettings, one settings group of shared.settings (imported when first named)."""
from pydantic import Field, field_validator, model_validator

from shared.settings import EnvSettings, _csv, _url

DEFAULT_ICE_REGIONS = ("cn-shanghai", "cn-hangzhou", "cn-beijing", "cn-shenzhen", "ap-southeast-1", "us-west-1")


class IceSettings(EnvSettings):
    """Where and how to call ICE OpenAPI (docs/protocols.md#signing-alibaba-cloud-requests)."""

    ICE_REGION: str = "cn-shanghai"
    ICE_EXTRA_REGIONS: tuple[str, ...] = ()
    ICE_ENDPOINT: str | None = None
    ICE_CONNECT_TIMEOUT_SECONDS: float = Field(default=2.0, gt=0, le=30)
    ICE_READ_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0, le=60)
    ICE_MAX_RETRIES: int = Field(default=2, ge=0, le=5)

    _split = field_validator("ICE_EXTRA_REGIONS", mode="before")(_csv)

    @field_validator("ICE_EXTRA_REGIONS")
    @classmethod
    def _region_shape(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for region in v:
            if not re.fullmatch(r"[a-z]{2}(-[a-z0-9]+){1,3}", region):
                raise ValueError("each entry must look like a region id such as eu-central-1")
        return v

    @field_validator("ICE_ENDPOINT")
    @classmethod
    def _endpoint_url(cls, v: str | None) -> str | None:
        return _url(v, "https://ice.cn-shanghai.aliyuncs.com or http://127.0.0.1:9001")

    @property
    def regions(self) -> tuple[str, ...]:
        """Every region a request may name."""
        return DEFAULT_ICE_REGIONS + tuple(r for r in self.ICE_EXTRA_REGIONS if r not in DEFAULT_ICE_REGIONS)

    @model_validator(mode="after")
    def _default_region_known(self) -> "IceSettings":
        if self.ICE_REGION not in self.regions:
            raise ValueError(f"ICE_REGION must be one of {', '.join(self.regions)} (extend with ICE_EXTRA_REGIONS)")
        return self
