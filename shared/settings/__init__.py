"""Configuration: environment variables parsed once into validated pydantic models.

Each group of settings is its own model so a function parses only what it uses, and its own
module (`shared/settings/<group>.py`) so a function defines only what it uses: a group's class
is created when it is first named (`from shared.settings import OssSettings`), not for every
group at import (each costs about a millisecond of pydantic's field collection; issue 17).
Field names are the environment variable names, so every error names the variable.
Values of secret fields are registered with `shared.log` so they are scrubbed from
every log line, and never appear in an error message.
"""

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from shared import lazy_names
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
    import hashlib

    return any(hashlib.sha256(v.encode()).hexdigest() in _DEV_FINGERPRINTS for v in {value, value.strip()})


# Every settings group and the module under shared/settings/ that defines it.
GROUPS: dict[str, str] = {
    "HttpSettings": "http", "CoreSettings": "core", "CallbackSettings": "ice_callback", "RtcSettings": "rtc",
    "CloudCredentials": "cloud", "IceSettings": "ice", "OssSettings": "oss", "CcaiSettings": "ccai",
    "ArchiveSettings": "archive", "QuotaSettings": "quota", "LiveSettings": "live",
    "RecordingSettings": "recording_tasks", "ArchiveApiSettings": "archive_api", "CompactionSettings": "compaction",
    "RedactionSettings": "redaction_mode", "StsSettings": "sts", "ClientUploadSettings": "client_upload",
    "AgentPolicySettings": "agent_policy",
}


def __getattr__(name: str) -> Any:
    """A settings group, its module imported on first use (PEP 562)."""
    return lazy_names.resolve(__name__, GROUPS, globals(), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *GROUPS})


def all_groups() -> list[type[EnvSettings]]:
    """Every settings group (importing them all: for checks and docs, never a function's path)."""
    return [__getattr__(name) for name in GROUPS]


if TYPE_CHECKING:  # what `from shared.settings import X` gives, for the type checker
    from shared.settings.agent_policy import AgentPolicySettings as AgentPolicySettings
    from shared.settings.archive import ArchiveSettings as ArchiveSettings
    from shared.settings.archive_api import ArchiveApiSettings as ArchiveApiSettings
    from shared.settings.ccai import CcaiSettings as CcaiSettings
    from shared.settings.client_upload import ClientUploadSettings as ClientUploadSettings
    from shared.settings.cloud import CloudCredentials as CloudCredentials
    from shared.settings.compaction import CompactionSettings as CompactionSettings
    from shared.settings.core import CoreSettings as CoreSettings
    from shared.settings.http import HttpSettings as HttpSettings
    from shared.settings.ice import IceSettings as IceSettings
    from shared.settings.ice_callback import CallbackSettings as CallbackSettings
    from shared.settings.live import LiveSettings as LiveSettings
    from shared.settings.oss import OssSettings as OssSettings
    from shared.settings.quota import QuotaSettings as QuotaSettings
    from shared.settings.recording_tasks import RecordingSettings as RecordingSettings
    from shared.settings.redaction_mode import RedactionSettings as RedactionSettings
    from shared.settings.rtc import RtcSettings as RtcSettings
    from shared.settings.sts import StsSettings as StsSettings
