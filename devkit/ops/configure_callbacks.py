"""`aiagent configure-callbacks`: point an agent's ICE callbacks at a deployment.

Operations tooling, never shipped: ICE's SetNotifyConfig and DescribeNotifyConfig are
called through the shipped ICE client's generic `call` (same signing, retries and
error mapping as the functions), so the functions' client carries no CLI-only actions.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

ALL_EVENTS = ("agent_start,session_start,agent_stop,error,intent_detected,intent_recognized,llm_data_received,"
              "tts_data_received,chat_record,audio_record,full_audio_record,outbound_call,inbound_call,"
              "client_defined_data,instruction")


def set_notify_config(client: Any, *, ai_agent_id: str, callback_url: str, token: str | None = None,
                      event_types: str | None = None, audio_oss_path: str | None = None,
                      enable_notify: bool = True, enable_audio_recording: bool | None = None,
                      region: str | None = None) -> dict[str, Any]:
    """ICE SetNotifyConfig (unset parameters are omitted)."""
    return client.call("SetNotifyConfig", {
        "AIAgentId": ai_agent_id, "EnableNotify": enable_notify, "CallbackUrl": callback_url, "Token": token,
        "EventTypes": event_types, "AudioOssPath": audio_oss_path, "EnableAudioRecording": enable_audio_recording,
    }, region=region)


def describe_notify_config(client: Any, *, ai_agent_id: str, region: str | None = None) -> dict[str, Any]:
    """ICE DescribeNotifyConfig."""
    return client.call("DescribeNotifyConfig", {"AIAgentId": ai_agent_id}, region=region)


def run(agent_id: str, url: str, *, token: str | None, events: str, audio_oss_path: str | None,
        region: str | None, allow_http: bool) -> int:
    """Configure, read back, print the result (the token masked); the CLI's exit code."""
    from shared.clients import ice
    from shared.errors import AppError

    # CALLBACK_TOKEN may list several (rotation): ICE is given the first, the one to keep.
    token = token or (os.environ.get("CALLBACK_TOKEN") or "").split(",")[0].strip()
    if len(token) < 16:
        print("error: --token (or CALLBACK_TOKEN): a callback token of at least 16 characters is required",
              file=sys.stderr)
        return 2
    if not url.startswith("https://") and not allow_http:
        print("error: --url: must be https:// (ICE sends the token in the Authorization header); "
              "--allow-http for local testing", file=sys.stderr)
        return 2
    try:
        client = ice.get_client()
        set_notify_config(client, ai_agent_id=agent_id, callback_url=url, token=token, event_types=events,
                          audio_oss_path=audio_oss_path,
                          enable_audio_recording=True if audio_oss_path else None, region=region)
        cfg = describe_notify_config(client, ai_agent_id=agent_id, region=region)
    except AppError as exc:
        print(f"error: {exc.error_code}: {exc.message}", file=sys.stderr)
        return 1
    shown = {k: ("***" if k == "Token" else v) for k, v in cfg.items() if k != "RequestId"}
    print(f"callbacks configured for agent {agent_id}: {json.dumps(shown, ensure_ascii=False)}")
    return 0
