"""Timer trigger (every minute): merge the call index's row updates into its day files
(shared/archive/compaction.py; docs/archive-index.md). Locally, `aiagent dev` runs it every
few seconds (SANDBOX_COMPACT_SECONDS)."""
from typing import Any

from shared.archive import compaction
from shared.clients import object_store
from shared.log import logger, start_request
from shared.settings import CompactionSettings, OssSettings, load, load_at_cold_start

SETTINGS = (OssSettings, CompactionSettings)
_config_error = load_at_cold_start(SETTINGS)


def handler(event: Any, context: Any) -> dict[str, Any]:
    start_request(str(getattr(context, "request_id", "") or ""), "compact_archive_index")
    if _config_error is not None:
        raise _config_error  # FC records the failure; the next tick tries again
    s = load(CompactionSettings)
    report = compaction.compact(object_store.get_store(), max_updates=s.INDEX_COMPACT_MAX_UPDATES,
                                lease_seconds=s.INDEX_LEASE_SECONDS)
    if report.updates or report.invalid or report.skipped:
        logger.info("compaction done", extra=report.as_dict())
    else:
        logger.debug("compaction: nothing pending")
    return report.as_dict()


handler.config_error = _config_error  # type: ignore[attr-defined]  # read by the sandbox
handler.settings_groups = SETTINGS  # type: ignore[attr-defined]  # read by the deploy checks
