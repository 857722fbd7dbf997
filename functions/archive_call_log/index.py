"""OSS trigger on callbacks/...agent_stop.json: archive the call log into call-logs/ (SPEC 6)."""
import time

from shared.archive import workflow as archive_workflow
from shared.clients import ice
from shared.clients import object_store
from shared.archive.call_log import validate_call_log
from shared.settings import ArchiveSettings, OssSettings, load
from shared.oss_trigger import oss_triggered


def _settings():
    load(OssSettings)
    ice.load_ice_settings()
    return load(ArchiveSettings)


@oss_triggered(settings=_settings)
def handler(record, context):
    timeout = getattr(getattr(context, "function", None), "timeout", None) or 60
    # Leave a margin of the function's time budget for writing the result or a dead letter.
    deadline = time.monotonic() + max(1.0, timeout * 0.8)
    return archive_workflow.archive_call(object_store.get_store(), ice.get_client(), load(ArchiveSettings), record.key,
                                 validate=validate_call_log, deadline=deadline)
