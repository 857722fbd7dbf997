"""ARTC cloud recording of a call the client API started (the agent policy's `recording`;
docs/protocols.md#artc-cloud-recording): after ICE's GenerateAIAgentCall, StartRtcCloudRecording
on the call's channel, subscribing the user and the agent, one mixed MP4 into the archive bucket
under `recordings/dt=<day>/<instanceId>/`, callbacks to RECORDING_CALLBACK_URL signed with
RECORDING_NOTIFY_KEY. The task's record (`state/recordings/tasks/<taskId>.json`, and the call's
`state/recordings/calls/<instanceId>.json`) lets the callbacks find the call and the archive step
stop it. A recording that cannot start never fails the call: the call's record says why."""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from typing import Any

import shared.archive.layout as layout
from shared.log import logger
from shared.ports import Store

VIDEO_WORKFLOWS = ("AvatarChat3D", "VisionChat", "VideoChat")


def wanted(mode: str, workflow_type: str | None) -> tuple[bool, bool]:
    """(record?, with video?) for the agent's `recording` mode: `off`; `video` records calls
    with video (a video workflow, or any call of an agent the policy marks video); `audio`
    records every call, with video where the call has it."""
    has_video = workflow_type in VIDEO_WORKFLOWS if workflow_type else mode == "video"
    if mode == "audio":
        return True, has_video
    if mode == "video":
        return has_video, True
    return False, False


def app_id_of(token: Any) -> str | None:
    """The ARTC app id inside ICE's join token (base64 JSON with `appid`), or None."""
    if not isinstance(token, str) or not token:
        return None
    try:
        doc = json.loads(base64.b64decode(token + "=" * (-len(token) % 4), validate=False))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    app = doc.get("appid") if isinstance(doc, dict) else None
    return app if isinstance(app, str) and app else None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def start(store: Store, *, answer: dict[str, Any], user_id: str, ai_agent_id: str, video: bool,
          settings: Any, bucket: str, region: str) -> dict[str, Any]:
    """Start the recording of the call ICE just created (`answer`); what the call's record says."""
    instance = str(answer["InstanceId"])
    channel, agent_user = answer.get("ChannelId"), answer.get("AIAgentUserId")
    day = datetime.now(timezone.utc).date().isoformat()
    record: dict[str, Any] = {"instance_id": instance, "channel_id": channel, "user_id": user_id,
                              "ai_agent_id": ai_agent_id, "video": video, "dt": day, "requested_at": _now()}
    app_id = settings.RECORDING_RTC_APP_ID or app_id_of(answer.get("Token"))
    rtc_user = str(answer.get("UserId") or user_id)
    why = None
    if not isinstance(channel, str) or not isinstance(agent_user, str):
        why = "ICE's answer has no ChannelId or AIAgentUserId"
    elif app_id is None:
        why = "the ARTC app id is unknown (ICE's token has none; set RECORDING_RTC_APP_ID)"
    elif not settings.RECORDING_CALLBACK_URL or settings.RECORDING_NOTIFY_KEY is None:
        why = "RECORDING_CALLBACK_URL and RECORDING_NOTIFY_KEY must be set"
    if why is None and isinstance(channel, str) and isinstance(agent_user, str) and app_id is not None:
        from shared.clients import live

        client = live.get_client()
        try:
            out = client.start_rtc_cloud_recording(
                app_id=app_id, channel_id=channel, user_ids=[rtc_user, agent_user], bucket=bucket,
                oss_endpoint=f"oss-{region}.aliyuncs.com", path_prefix=layout.recording_prefix(day, instance),
                notify_url=settings.RECORDING_CALLBACK_URL, notify_key=settings.notify_key(),
                max_idle_seconds=settings.RECORDING_MAX_IDLE_SECONDS, video=video)
        except Exception as exc:  # noqa: BLE001 - the call goes on without its recording, and says so
            code = getattr(exc, "error_code", None) or type(exc).__name__
            why = f"StartRtcCloudRecording failed: {code}"
        else:
            record.update(task_id=out["TaskId"], started_at=_now(), status="started")
            try:
                store.put(layout.recording_task_key(out["TaskId"]), json.dumps(record).encode())
            except Exception as exc:  # noqa: BLE001 - a task nobody could find: stop it rather than lose it
                why = f"the task's record was not stored ({type(exc).__name__}); the task was stopped"
                try:
                    client.stop_rtc_cloud_recording(out["TaskId"])
                except Exception:  # noqa: BLE001 - its idle timeout stops it
                    why = f"the task's record was not stored ({type(exc).__name__}); its idle timeout stops it"
    if why is not None:
        record.update(status="not_started", reason=why)
        logger.warning("call recording not started", extra={"instance_id": instance, "reason": why})
    store.put(layout.recording_call_key(instance), json.dumps(record).encode())
    return record
