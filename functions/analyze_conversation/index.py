"""OSS trigger on call-logs/...json: analyze the call with CCAI into analyses/ (docs/architecture.md#the-chain)."""
import time

from shared.analysis import profile, workflow
from shared.clients import ccai, object_store
from shared.errors import ConfigurationError
from shared.oss_trigger import oss_triggered
from shared.settings import CcaiSettings, CloudCredentials, OssSettings, RedactionSettings, load

SETTINGS = (OssSettings, CloudCredentials, CcaiSettings, RedactionSettings)


def _profile_loads() -> None:
    try:
        profile.load_profile(load(CcaiSettings).ANALYSIS_PROFILE)
    except profile.ProfileError as exc:  # a bad profile fails the cold start, named
        raise ConfigurationError(f"configuration invalid: {exc}") from None


@oss_triggered(settings=SETTINGS, check=_profile_loads)
def handler(record, context):
    settings = load(CcaiSettings)
    timeout = getattr(getattr(context, "function", None), "timeout", None) or 600
    # Leave a margin of the function's time budget for writing the result or a dead letter.
    deadline = time.monotonic() + max(1.0, timeout * 0.85)
    return workflow.analyze_call(object_store.get_store(), ccai.get_client(), settings, record.key,
                                 profile=profile.load_profile(settings.ANALYSIS_PROFILE),
                                 source_etag=record.etag, deadline=deadline,
                                 redaction=load(RedactionSettings).REDACTION_MODE)
