"""OSS trigger on callbacks/...agent_stop.json: archive the call log into call-logs/
(docs/architecture.md#the-chain)."""
import time

from shared.archive import workflow
from shared.archive.call_log import validate_call_log
from shared.clients import ice, object_store
from shared.oss_trigger import oss_triggered
from shared.settings import (
    ArchiveSettings,
    CloudCredentials,
    IceSettings,
    LiveSettings,
    OssSettings,
    RedactionSettings,
    load,
)

SETTINGS = (OssSettings, CloudCredentials, IceSettings, ArchiveSettings, RedactionSettings, LiveSettings)


@oss_triggered(settings=SETTINGS)
def handler(record, context):
    timeout = getattr(getattr(context, "function", None), "timeout", None) or 60
    # Leave a margin of the function's time budget for writing the result or a dead letter.
    deadline = time.monotonic() + max(1.0, timeout * 0.8)
    privacy = load(RedactionSettings)
    return workflow.archive_call(object_store.get_store(), ice.get_client(), load(ArchiveSettings), record.key,
                                 validate=validate_call_log, deadline=deadline, redaction=privacy.REDACTION_MODE,
                                 keep_raw=privacy.REDACTION_KEEP_RAW)
