"""OSS trigger on call-logs/...json: analyse the call with CCAI into analyses/ (SPEC 7)."""
import time

from shared.analysis import workflow as analyze_workflow
from shared.analysis import profile as profiles
from shared.clients import ccai
from shared.clients import object_store
from shared.errors import ConfigurationError
from shared.settings import CcaiSettings, OssSettings, load
from shared.oss_trigger import oss_triggered


def _settings():
    load(OssSettings)
    settings = ccai.load_settings()
    try:
        profiles.load_profile(settings.ANALYSIS_PROFILE)
    except profiles.ProfileError as exc:  # a bad profile fails the cold start, named
        raise ConfigurationError(f"configuration invalid: {exc}") from None
    return settings


@oss_triggered(settings=_settings)
def handler(record, context):
    settings = load(CcaiSettings)
    timeout = getattr(getattr(context, "function", None), "timeout", None) or 600
    # Leave a margin of the function's time budget for writing the result or a dead letter.
    deadline = time.monotonic() + max(1.0, timeout * 0.85)
    return analyze_workflow.analyze_call(object_store.get_store(), ccai.get_client(), settings, record.key,
                                 profile=profiles.load_profile(settings.ANALYSIS_PROFILE),
                                 source_etag=record.etag, deadline=deadline)
