"""RecordingSettings, one settings group of shared.settings (imported when first named)."""
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import EnvSettings, _url, is_dev_secret


class RecordingSettings(EnvSettings):
    """What the recording callbacks are checked with, and how recordings are started."""

    # The NotifyAuthKey of every recording task: ALI-LIVE-SIGNATURE = md5(timestamp + "|" + key).
    RECORDING_NOTIFY_KEY: SecretStr | None = None
    # Where Live sends the recording callbacks: https://<api domain>/api/v2/aiagent/recordingCallback.
    RECORDING_CALLBACK_URL: str | None = None
    # The ARTC app of the agent calls, when ICE's token does not say it (it carries `appid`).
    RECORDING_RTC_APP_ID: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # A callback whose ALI-LIVE-TIMESTAMP is older (or further ahead) than this is refused.
    RECORDING_CALLBACK_MAX_AGE_SECONDS: int = Field(default=600, ge=30, le=86400)
    # The task stops itself after this long without a publisher (Live: 10-14400, default 300).
    RECORDING_MAX_IDLE_SECONDS: int = Field(default=300, ge=10, le=14400)

    STAGE: Literal["dev", "staging", "prod"] = "dev"

    @field_validator("RECORDING_CALLBACK_URL")
    @classmethod
    def _callback_url(cls, v: str | None) -> str | None:
        return _url(v, "https://api.example.com/api/v2/aiagent/recordingCallback")

    @field_validator("RECORDING_NOTIFY_KEY")
    @classmethod
    def _key_shape(cls, v: SecretStr | None) -> SecretStr | None:
        import re

        if v is not None and not re.fullmatch(r"[A-Za-z0-9]{16,64}", v.get_secret_value()):
            raise ValueError("must be 16-64 letters and digits (Live's NotifyAuthKey)")
        return v

    @model_validator(mode="after")
    def _no_dev_key_outside_dev(self) -> "RecordingSettings":
        if self.STAGE != "dev" and self.RECORDING_NOTIFY_KEY is not None \
                and is_dev_secret(self.RECORDING_NOTIFY_KEY.get_secret_value()):
            raise ValueError(f"RECORDING_NOTIFY_KEY is the public development key; refused when STAGE={self.STAGE}")
        return self

    def notify_key(self) -> str:
        """The key, or a ConfigurationError naming the variable (recording needs it)."""
        if self.RECORDING_NOTIFY_KEY is None:
            from shared.errors import ConfigurationError

            raise ConfigurationError("RECORDING_NOTIFY_KEY: not set; ARTC recording callbacks are signed with it")
        return self.RECORDING_NOTIFY_KEY.get_secret_value()
