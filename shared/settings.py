"""Configuration: environment variables parsed once into validated pydantic models.

Each group of settings is its own model so a function parses only what it uses.
Field names are the environment variable names, so every error names the variable.
Values of secret fields are registered with `shared.log` so they are scrubbed from
every log line, and never appear in an error message.
"""

import hashlib
import os
from collections.abc import Callable, Mapping
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from shared.errors import ConfigurationError


def _without_pydantic_plugins() -> None:
    """This bundle uses no pydantic plugin. pydantic looks for them (entry points) when it builds
    its first validator: importing importlib.metadata and scanning every installed distribution
    costs 20-30 ms of each cold start. With PYDANTIC_DISABLE_PLUGINS unset or "__all__" (pydantic's
    own switch, set here), its plugin loader is replaced by one that finds none, before it is
    first imported (docs/decisions.md "No pydantic plugin discovery at cold start")."""
    import sys
    import types

    if os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__") != "__all__":
        return  # the operator names plugins to disable: let pydantic discover the rest
    if "pydantic.plugin._loader" not in sys.modules:
        loader = types.ModuleType("pydantic.plugin._loader")
        loader.get_plugins = lambda: ()  # type: ignore[attr-defined]
        sys.modules["pydantic.plugin._loader"] = loader


_without_pydantic_plugins()

S = TypeVar("S", bound="EnvSettings")

_cache: "dict[type, EnvSettings]" = {}


class EnvSettings(BaseModel):
    """Base of every settings group: frozen, unknown variables ignored."""

    # defer_build: a schema is built when a group is first loaded, not for every group at import.
    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True, defer_build=True)


def load(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
    """Parse `cls` from the environment once per process (or from `environ`, uncached).

    Empty strings count as unset. Raises ConfigurationError naming each bad variable.
    """
    if environ is None and cls in _cache:
        return _cache[cls]  # type: ignore[return-value]
    env = os.environ if environ is None else environ
    raw = {name: env[name] for name in cls.model_fields if env.get(name, "") != ""}
    try:
        settings = cls.model_validate(raw)
    except ValidationError as exc:
        from shared.validation import describe

        raise ConfigurationError(f"configuration invalid: {describe(exc, limit=10)}") from None
    _register_secrets(settings)
    if environ is None:
        _cache[cls] = settings
    return settings


def load_at_cold_start(groups: tuple[type[EnvSettings], ...],
                       check: Callable[[], None] | None = None) -> ConfigurationError | None:
    """Load every settings group a function declares (and run `check`), once, at cold
    start. A configuration error is logged once and returned, not raised: the handler
    keeps it and answers it on every invocation instead of failing its import."""
    try:
        for group in groups:
            load(group)
        if check is not None:
            check()
    except ConfigurationError as exc:
        from shared.log import logger

        logger.error("cold start: configuration invalid", extra={"error": exc.message})
        return exc
    return None


def reset_cache() -> None:
    """Forget parsed settings (tests and the sandbox change the environment)."""
    _cache.clear()


def _register_secrets(settings: BaseModel) -> None:
    from shared.log import register_secret

    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            register_secret(value.get_secret_value())
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, SecretStr):
                    register_secret(item.get_secret_value())


def _url(value: str | None, example: str) -> str | None:
    """An endpoint override: an http(s) URL without a trailing slash."""
    if value is not None and not value.startswith(("https://", "http://")):
        raise ValueError(f"must be a URL such as {example}")
    return value.rstrip("/") if value else value


def _csv(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


# SHA-256 of the public development values embedded in devkit/defaults.py (shared/ never
# imports devkit). Outside STAGE=dev they are refused as secrets and tokens;
# tests/unit/test_dev_secrets.py proves these are devkit's current values.
DEV_SECRET_FINGERPRINTS: dict[str, str] = {
    "DEV_JWT_SECRET": "28d4a1daa3d7feec4e2373c83e6353e8f5e13ba7af5a55a77eacd98a5d46ac79",
    "DEV_CALLBACK_TOKEN": "fc8b9e3167ab5f890304b2fb92f5e8e7d7bcd2694e3361d10bf406be72cb29fd",
    "DEV_TOKEN": "e44a373157f8cc98ecf514e8f55006b4cddd65893bbae7634f9f38ed59d6b10a",
    "DEV_RECORDING_NOTIFY_KEY": "0fa0194ebcc24dabf028f1a68c093f025c5de86a5d4edf540a247fb778d348e6",
}
_DEV_FINGERPRINTS = frozenset(DEV_SECRET_FINGERPRINTS.values())


def is_dev_secret(value: str) -> bool:
    """True if `value` (or it without surrounding whitespace) is one of devkit's public
    development secrets or tokens: refuse it whenever STAGE is not dev."""
    return any(hashlib.sha256(v.encode()).hexdigest() in _DEV_FINGERPRINTS for v in {value, value.strip()})


class HttpSettings(EnvSettings):
    """What every HTTP function needs: stage, body limit, CORS."""

    STAGE: Literal["dev", "staging", "prod"] = "dev"
    CORS_ALLOW_ORIGINS: tuple[str, ...] = ("*",)
    HTTP_MAX_BODY_BYTES: int = Field(default=64 * 1024, ge=1024, le=6 * 1024 * 1024)

    _split_origins = field_validator("CORS_ALLOW_ORIGINS", mode="before")(_csv)

    @property
    def max_body(self) -> int:
        """The request body limit this function enforces (413 above it)."""
        return self.HTTP_MAX_BODY_BYTES


class CoreSettings(HttpSettings):
    """Client-facing HTTP functions: HttpSettings plus client authorization (AUTH_*)."""

    AUTH_MODE: Literal["jwt", "static", "none"] = "jwt"
    AUTH_JWT_SECRET: SecretStr | None = None
    AUTH_JWT_LEEWAY_SECONDS: int = Field(default=30, ge=0, le=300)
    # The longest a client JWT may still be valid (exp - now); a 10-year token is refused.
    AUTH_JWT_MAX_TTL_SECONDS: int = Field(default=86400, ge=60, le=30 * 86400)
    # When set, the token's aud (a string or a list) must contain it / its iss must equal it.
    AUTH_JWT_AUDIENCE: str | None = Field(default=None, min_length=1, max_length=256)
    AUTH_JWT_ISSUER: str | None = Field(default=None, min_length=1, max_length=256)
    AUTH_STATIC_TOKENS: tuple[SecretStr, ...] = ()

    _split = field_validator("AUTH_STATIC_TOKENS", mode="before")(_csv)

    @field_validator("AUTH_JWT_SECRET")
    @classmethod
    def _secret_long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (use a random 256-bit value)")
        return v

    @model_validator(mode="after")
    def _mode_is_complete(self) -> "CoreSettings":
        if self.AUTH_MODE == "jwt" and self.AUTH_JWT_SECRET is None:
            raise ValueError("AUTH_JWT_SECRET is required when AUTH_MODE=jwt")
        if self.AUTH_MODE == "static" and not self.AUTH_STATIC_TOKENS:
            raise ValueError("AUTH_STATIC_TOKENS is required when AUTH_MODE=static")
        if self.STAGE != "dev" and self.AUTH_MODE != "jwt":
            raise ValueError(f"AUTH_MODE={self.AUTH_MODE} is refused when STAGE={self.STAGE} "
                             "(development only; use AUTH_MODE=jwt)")
        if self.STAGE != "dev":
            if self.AUTH_JWT_SECRET is not None and is_dev_secret(self.AUTH_JWT_SECRET.get_secret_value()):
                raise ValueError(f"AUTH_JWT_SECRET is the public development secret of devkit/defaults.py, "
                                 f"refused when STAGE={self.STAGE} (use a random 256-bit value)")
            if any(is_dev_secret(t.get_secret_value()) for t in self.AUTH_STATIC_TOKENS):
                raise ValueError(f"AUTH_STATIC_TOKENS contains a public development token of devkit/defaults.py, "
                                 f"refused when STAGE={self.STAGE}")
        # Here, not in HttpSettings: browsers call the client API; the callback endpoint
        # (CallbackSettings) is called by ICE, server to server, and sets no origins.
        if self.STAGE == "prod" and "*" in self.CORS_ALLOW_ORIGINS:
            raise ValueError("CORS_ALLOW_ORIGINS must list the web app's origins when STAGE=prod "
                             "('*', the default, is refused), e.g. https://app.example.com")
        return self


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


class CloudCredentials(EnvSettings):
    """Alibaba Cloud credentials. On FC these are the function role's STS credentials."""

    ALIBABA_CLOUD_ACCESS_KEY_ID: str = Field(min_length=1)
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: SecretStr
    ALIBABA_CLOUD_SECURITY_TOKEN: SecretStr | None = None


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


class CallbackSettings(HttpSettings):
    """ICE agent callbacks (docs/protocols.md#ice-callbacks): the shared bearer token(s), the
    body limit, and how far an event's time may lie from now."""

    # Comma-separated; every entry is accepted, so the token can be rotated without downtime
    # (add the new one, point ICE at it with `aiagent configure-callbacks`, drop the old one).
    CALLBACK_TOKEN: tuple[SecretStr, ...]
    CALLBACK_MAX_BODY_BYTES: int = Field(default=256 * 1024, ge=1024, le=6 * 1024 * 1024)
    # An event dated further in the past / the future than this is refused (400 naming
    # `timestamp`): a forged or replayed event cannot open a call long over, or yet to come.
    CALLBACK_MAX_EVENT_AGE_SECONDS: int = Field(default=7 * 86400, ge=60, le=3650 * 86400)
    CALLBACK_MAX_EVENT_FUTURE_SECONDS: int = Field(default=600, ge=0, le=86400)

    _split = field_validator("CALLBACK_TOKEN", mode="before")(_csv)

    @field_validator("CALLBACK_TOKEN")
    @classmethod
    def _tokens_long_enough(cls, v: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if not v:
            raise ValueError("must name at least one token")
        if any(len(t.get_secret_value()) < 16 for t in v):
            raise ValueError("every entry must be at least 16 characters (use random values)")
        return v

    @model_validator(mode="after")
    def _no_dev_token_outside_dev(self) -> "CallbackSettings":
        if self.STAGE != "dev" and any(is_dev_secret(t.get_secret_value()) for t in self.CALLBACK_TOKEN):
            raise ValueError(f"CALLBACK_TOKEN contains the public development token of devkit/defaults.py, "
                             f"refused when STAGE={self.STAGE}")
        return self

    @property
    def max_body(self) -> int:
        return self.CALLBACK_MAX_BODY_BYTES


class ArchiveSettings(EnvSettings):
    """Archiving call logs (docs/protocols.md#archive-chain): where a CallLogUrl may point, limits, retries."""

    STAGE: Literal["dev", "staging", "prod"] = "dev"
    # Host patterns: exact hosts or "*.suffix". CallLogUrl is a signed OSS URL.
    CALL_LOG_ALLOWED_HOSTS: tuple[str, ...] = ("*.aliyuncs.com",)
    CALL_LOG_MAX_BYTES: int = Field(default=20 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024)
    CALL_LOG_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0, le=120)
    # Development only (the sandbox's simulator serves call logs over http on loopback).
    CALL_LOG_ALLOW_INSECURE: bool = False
    # Attempts per archive/analysis before a dead letter (FC async: 1 + maxAsyncRetryAttempts).
    ARCHIVE_MAX_ATTEMPTS: int = Field(default=4, ge=1, le=10)

    _split = field_validator("CALL_LOG_ALLOWED_HOSTS", mode="before")(_csv)

    @field_validator("CALL_LOG_ALLOWED_HOSTS")
    @classmethod
    def _patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for p in v:
            if not re.fullmatch(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", p):
                raise ValueError("each entry must be a host name or *.domain (no scheme, port or path)")
        return v

    @model_validator(mode="after")
    def _insecure_only_in_dev(self) -> "ArchiveSettings":
        if self.CALL_LOG_ALLOW_INSECURE and self.STAGE != "dev":
            raise ValueError(f"CALL_LOG_ALLOW_INSECURE is refused when STAGE={self.STAGE} (development only)")
        return self


class QuotaSettings(EnvSettings):
    """Per-user cost limits of the client API: billed agent starts per user and UTC day."""

    # generateAIAgentCall, startAIAgentOutboundCall and getRtcAuthToken each count one; 0 = unlimited.
    CALL_QUOTA_PER_USER_PER_DAY: int = Field(default=100, ge=0, le=100_000)


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


class ArchiveApiSettings(EnvSettings):
    """The archive API (docs/archive-index.md): where the call index is mirrored, how fresh it is
    kept, how large an export may be, how long a recording's URL lives."""

    INDEX_CACHE_DIR: str = Field(default="/tmp/aicall-index", min_length=1, max_length=512)
    # At most this often a warm instance LISTs the index for changed day files (0: every request).
    INDEX_REFRESH_SECONDS: float = Field(default=5.0, ge=0, le=3600)
    # Rows of one export; more are cut off (X-Export-Truncated: true): narrow the filters.
    ARCHIVE_EXPORT_MAX_ROWS: int = Field(default=20_000, ge=1, le=1_000_000)
    RECORDING_URL_TTL_SECONDS: int = Field(default=900, ge=60, le=43_200)


class CompactionSettings(EnvSettings):
    """The index's compaction step (shared/archive/compaction.py)."""

    # Row updates merged per run (the rest wait for the next run).
    INDEX_COMPACT_MAX_UPDATES: int = Field(default=20_000, ge=1, le=1_000_000)
    # How long a run holds the lease; keep it below the function's timeout.
    INDEX_LEASE_SECONDS: int = Field(default=240, ge=10, le=3600)


class RedactionSettings(EnvSettings):
    """Where personal data in transcripts is masked (shared/privacy/redact.py; README "Privacy")."""

    # off: as received. analysis: CCAI gets redacted text, the archive keeps the raw transcript.
    # archive: the stored call log and the analysis (input and output) are redacted too.
    REDACTION_MODE: Literal["off", "analysis", "archive"] = "off"
    # archive mode: keep the raw call log under raw/ (no function reads it; its own retention).
    REDACTION_KEEP_RAW: bool = False


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
