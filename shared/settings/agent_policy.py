"""AgentPolicySettings, one settings group of shared.settings (imported when first named)."""
from typing import Literal

from pydantic import Field, field_validator, model_validator

from shared.settings import EnvSettings, _csv


class AgentPolicySettings(EnvSettings):
    """The agent policy (shared/api/policy.py): which agents clients may use, which config keys they
    may override, their numbers; inline JSON or a file. Required unless STAGE=dev."""

    STAGE: Literal["dev", "staging", "prod"] = "dev"
    # Inline JSON (full-line // comments allowed); config/agent-policy.example.json shows the shape.
    AGENT_POLICY: str | None = None
    AGENT_POLICY_FILE: str | None = Field(default=None, min_length=1, max_length=4096)
    # Regions a client request may name; empty = every region ICE_REGION/ICE_EXTRA_REGIONS allow.
    ICE_ALLOWED_REGIONS: tuple[str, ...] = ()

    _split = field_validator("ICE_ALLOWED_REGIONS", mode="before")(_csv)

    @field_validator("AGENT_POLICY")
    @classmethod
    def _policy_size(cls, v: str | None) -> str | None:
        if v is not None and len(v.encode("utf-8")) > 256 * 1024:
            raise ValueError("must be at most 256 KiB (use AGENT_POLICY_FILE for a larger policy)")
        return v

    @field_validator("ICE_ALLOWED_REGIONS")
    @classmethod
    def _region_shape(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for region in v:
            if not re.fullmatch(r"[a-z]{2}(-[a-z0-9]+){1,3}", region):
                raise ValueError("each entry must look like a region id such as cn-shanghai")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> "AgentPolicySettings":
        if self.AGENT_POLICY is not None and self.AGENT_POLICY_FILE is not None:
            raise ValueError("AGENT_POLICY and AGENT_POLICY_FILE are both set: set only one of them")
        return self
