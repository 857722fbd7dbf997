"""POST /api/v2/aiagent/recordingCallback: ARTC cloud recording callbacks from Live, checked
(`ALI-LIVE-SIGNATURE`, the timestamp's age) and stored as the call's callbacks before the answer
(shared/archive/recording_callbacks.py; docs/protocols.md#artc-cloud-recording)."""
from typing import Any

from shared.archive import recording_callbacks
from shared.clients import object_store
from shared.http import RawResponse, endpoint
from shared.settings import HttpSettings, OssSettings, RecordingSettings, load

SETTINGS = (HttpSettings, OssSettings, RecordingSettings)
SUCCESS = b'{"Code":0,"Msg":"Success"}'


def check_at_cold_start() -> None:
    load(RecordingSettings).notify_key()  # without the key no callback can be checked: say so now


def authorize_live(request: Any, _settings: Any) -> None:
    """Live's signature: md5(ALI-LIVE-TIMESTAMP + "|" + RECORDING_NOTIFY_KEY), recent; 401 before
    the body is read otherwise (nothing stored)."""
    s = load(RecordingSettings)
    recording_callbacks.check_signature(request.headers.get("ali-live-timestamp"),
                                        request.headers.get("ali-live-signature"), s.notify_key(),
                                        max_age=s.RECORDING_CALLBACK_MAX_AGE_SECONDS)


@endpoint(authorize=authorize_live, settings=SETTINGS, cors=False, check=check_at_cold_start)
def handler(request, _principal, _req) -> RawResponse:
    event = recording_callbacks.parse(request.json())
    key, known = recording_callbacks.store_event(object_store.get_store(), event)
    if key is None:
        from shared.log import logger

        logger.info("recording callback of an erased call: acknowledged, not stored")
    elif not known:
        from shared.log import logger

        logger.warning("recording callback for a task this deployment did not start; stored",
                       extra={"key": key, "event": event["eventType"]})
    return RawResponse(SUCCESS, "application/json")
