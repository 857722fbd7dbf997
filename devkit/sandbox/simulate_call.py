"""`aiagent simulate-call`: the tour of the product. Drives one whole call through a
running sandbox (`aiagent dev`) the way ICE would: callbacks (agent_start,
chat_record..., agent_stop) -> stored under callbacks/ -> the archiver (OSS trigger)
writes call-logs/ -> the analyser (OSS trigger) writes analyses/. Then prints where
each object landed and the analysis summary.

    aiagent simulate-call [--url http://127.0.0.1:9000] [--turns 6]

The callback token is CALLBACK_TOKEN (its first entry), as the sandbox's (its embedded
development token when unset). The sandbox's /_sandbox/ endpoints, which show the objects,
take their own token: SANDBOX_TOKEN (likewise).
"""
from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

CALLBACK_PATH = "/api/v2/aiagent/callback"
LINES = [
    ("agent", "Hello, I'm the assistant of this app. How can I help you today?"),
    ("user", "I'd like to know why my last order has not arrived yet."),
    ("agent", "Let me check. Your order left the warehouse yesterday and should arrive tomorrow."),
    ("user", "Can you make sure it is delivered in the afternoon?"),
    ("agent", "Done: I asked the courier for an afternoon delivery. Anything else?"),
    ("user", "No, that's all. Thank you!"),
    ("agent", "You're welcome, have a nice day."),
]


def _stamp(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def call_events(instance_id: str, turns: int, agent_id: str = "simulated-agent",
                start: datetime | None = None) -> list[dict[str, Any]]:
    """ICE callbacks of one call: agent_start, `turns` chat records, agent_stop."""
    start = start or datetime.now(timezone.utc).replace(microsecond=0)

    def event(kind: str, t: float, data: Any = None) -> dict[str, Any]:
        return {"aiAgentId": agent_id, "instanceId": instance_id, "event": kind, "code": 1000, "message": kind,
                "timestamp": _stamp(start + timedelta(seconds=t)), "userData": json.dumps({"simulated": True}),
                "data": data or {}, "extendData": {}}

    out = [event("agent_start", 0.0)]
    for i in range(turns):
        role, text = LINES[i % len(LINES)]
        if i >= len(LINES):
            text = f"{text} (turn {i + 1})"
        out.append(event("chat_record", 1.0 + 2.5 * i, {"role": role, "text": text, "sentenceId": i + 1}))
    out.append(event("agent_stop", 2.0 + 2.5 * turns))
    return out


class Sandbox:
    """The sandbox's callback endpoint (callback token) and its /_sandbox/ views (sandbox token)."""

    def __init__(self, url: str, token: str, sandbox_token: str, timeout: float = 10.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.callback_auth = {"Authorization": f"Bearer {token}"}
        self.http = httpx.Client(timeout=timeout, trust_env=False,
                                 headers={"Authorization": f"Bearer {sandbox_token}"})

    def post_callback(self, event: dict[str, Any]) -> dict[str, Any]:
        resp = self.http.post(self.url + CALLBACK_PATH, content=json.dumps(event, ensure_ascii=False).encode(),
                              headers={"Content-Type": "application/json", **self.callback_auth})
        body = resp.json() if resp.content else {}
        if resp.status_code != 200:
            raise RuntimeError(f"callback {event['event']} answered {resp.status_code}: "
                               f"{body.get('code')} {body.get('message')}")
        return body

    def ice_audio(self, **params: Any) -> dict[str, Any]:
        """The ICE simulator's recording of a sentence (or the whole call): its audio callback."""
        resp = self.http.post(self.url + "/_sandbox/ice/audio", params={k: str(v) for k, v in params.items()
                                                                        if v is not None})
        if resp.status_code != 200:
            raise RuntimeError(f"/_sandbox/ice/audio answered {resp.status_code}: {resp.text[:200]}")
        return resp.json()["event"]

    def objects(self, prefix: str) -> list[dict[str, Any]]:
        resp = self.http.get(self.url + "/_sandbox/objects", params={"prefix": prefix})
        if resp.status_code != 200:
            raise RuntimeError(f"/_sandbox/objects answered {resp.status_code}: {resp.text[:200]}")
        return resp.json()["objects"]

    def object(self, key: str) -> dict[str, Any]:
        resp = self.http.get(self.url + "/_sandbox/object", params={"key": key})
        if resp.status_code != 200:
            raise RuntimeError(f"/_sandbox/object answered {resp.status_code}: {resp.text[:200]}")
        return resp.json()["content"]

    def wait_for(self, prefixes: list[str], timeout: float) -> tuple[str, str] | None:
        """(prefix, key) of the first object found under any of `prefixes` within `timeout`."""
        end = time.monotonic() + timeout
        while True:
            for prefix in prefixes:
                found = self.objects(prefix)
                if found:
                    return prefix, found[0]["key"]
            if time.monotonic() >= end:
                return None
            time.sleep(0.1)


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """A few lines saying what the analysis found."""
    lines = [f"  status {doc.get('status')}, profile {doc['profile']['name']} v{doc['profile']['version']} "
             f"({doc['profile']['hash'][:12]}), model {doc.get('model')}",
             f"  CCAI request ids {', '.join(doc['ccai']['request_ids']) or '-'}; tokens {doc.get('usage')}"]
    result = doc.get("result") or {}
    parsed = result.get("parsed")
    if isinstance(parsed, dict):
        for k, v in parsed.items():
            text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            lines.append(f"  {k}: {text[:110]}")
    elif result.get("text"):
        lines.append(f"  {result['text'][:300]}")
    return lines


# The agent's latency after each user turn (s): intent recognised, LLM first packet, TTS first packet.
LATENCY = (0.2, 0.65, 1.1)


def with_latency(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The call's callbacks with what ICE reports of the agent's latency after each user turn:
    intent_recognized, llm_data_received, tts_data_received (the archive step's timings)."""
    out: list[dict[str, Any]] = []
    for ev in events:
        out.append(ev)
        data: dict[str, Any] = ev["data"] if isinstance(ev.get("data"), dict) else {}
        if ev["event"] == "chat_record" and data.get("role") == "user":
            at = datetime.strptime(ev["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
            for kind, delay in zip(("intent_recognized", "llm_data_received", "tts_data_received"), LATENCY):
                out.append({**ev, "event": kind, "timestamp": _stamp(at + timedelta(seconds=delay)),
                            "data": {"sentenceId": data.get("sentenceId")}})
    return out


def with_audio(sb: Sandbox, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The call's callbacks as ICE sends them with voice recording on: each chat_record followed by
    its sentence's audio_record (the WAV written by the ICE simulator), full_audio_record before
    agent_stop."""
    out: list[dict[str, Any]] = []
    for ev in events:
        if ev["event"] == "agent_stop":
            out.append(sb.ice_audio(instance_id=ev["instanceId"], kind="call", duration_ms=1000,
                                    timestamp=ev["timestamp"]))
        out.append(ev)
        if ev["event"] == "chat_record":
            data = ev["data"]
            out.append(sb.ice_audio(instance_id=ev["instanceId"], kind="sentence", sentence_id=data.get("sentenceId"),
                                    role=data.get("role"), text=data.get("text"), duration_ms=600,
                                    timestamp=ev["timestamp"]))
    return out


def start_video_call(sb: Sandbox, out: Callable[[str], None]) -> str:
    """A video call started the way the kits start one: generateAIAgentCall (VisionChat) with the
    client token (AUTH_MODE=static in the sandbox); the function starts its ARTC cloud recording."""
    from devkit.defaults import DEV_TOKEN

    client = (os.environ.get("AUTH_STATIC_TOKENS") or DEV_TOKEN).split(",")[0].strip()
    resp = sb.http.post(sb.url + "/api/v2/aiagent/generateAIAgentCall",
                        json={"user_id": "sim-user", "ai_agent_id": "simulated-agent", "workflow_type": "VisionChat"},
                        headers={"Authorization": f"Bearer {client}"})
    body = resp.json() if resp.content else {}
    if resp.status_code != 200:
        raise RuntimeError(f"generateAIAgentCall answered {resp.status_code}: {body.get('message')}")
    out(f"video call started through generateAIAgentCall: instance {body['ai_agent_instance_id']}, "
        f"channel {body.get('channel_id')}")
    return str(body["ai_agent_instance_id"])


def run(url: str, turns: int, token: str, timeout: float = 30.0, out: Callable[[str], None] = print,
        sandbox_token: str | None = None, audio: bool = True, video: bool = False) -> int:
    from devkit.defaults import DEV_SANDBOX_TOKEN
    from shared.archive import layout

    sb = Sandbox(url, token, sandbox_token or DEV_SANDBOX_TOKEN)
    instance_id = start_video_call(sb, out) if video else "sim" + uuid.uuid4().hex[:24]
    events = with_latency(call_events(instance_id, turns))
    if audio:
        events = with_audio(sb, events)
    out(f"simulated call {instance_id}: {len(events)} callbacks to {sb.url}{CALLBACK_PATH}")
    stop_key: Any = None  # the agent_stop answer's key: parse_callback_key rejects anything else
    for ev in events:
        answer = sb.post_callback(ev)
        out(f"  {ev['event']:17} -> {answer.get('key')}")
        if ev["event"] == "agent_stop":
            stop_key = answer.get("key")
    dt = layout.parse_callback_key(stop_key).dt
    call_log = layout.call_log_key(dt, instance_id)
    found = sb.wait_for([call_log, layout.date_prefix(f"{layout.FAILED}archive/", dt) + instance_id],
                        timeout)
    if found is None or found[0] != call_log:
        out(f"archive: {'dead letter ' + found[1] if found else f'nothing after {timeout:.0f} s'}")
        return 1
    out(f"archive:  {call_log}")
    analysis_prefix = layout.date_prefix(layout.ANALYSES, dt) + instance_id + "/"
    found = sb.wait_for([analysis_prefix, layout.date_prefix(f"{layout.FAILED}analyze/", dt) + instance_id],
                        timeout)
    if found is None or found[0] != analysis_prefix:
        if found:
            out(f"analysis: dead letter {found[1]}: {sb.object(found[1]).get('reason')}")
        else:
            out(f"analysis: nothing after {timeout:.0f} s")
        return 1
    out(f"analysis: {found[1]}")
    for line in summary_lines(sb.object(found[1])):
        out(line)
    if video:  # the ARTC recording stopped with the call: Live uploads its MP4, then calls back
        start_day = datetime.now(timezone.utc).date()
        prefixes = [layout.recording_prefix((start_day - timedelta(days=d)).isoformat(), instance_id)
                    for d in (0, 1)]
        end = time.monotonic() + timeout
        files: list[dict[str, Any]] = []
        while time.monotonic() < end and not files:
            files = [o for p in prefixes for o in sb.objects(p) if o["key"].endswith(".mp4")]
            if not files:
                time.sleep(0.2)
        if not files:
            out(f"recording: no MP4 after {timeout:.0f} s")
            return 1
        out(f"recording: {files[0]['key']} ({files[0]['size']} bytes)")
    return 0


def main(url: str, turns: int, timeout: float, video: bool = False) -> int:
    import sys

    from devkit.defaults import DEV_CALLBACK_TOKEN, DEV_SANDBOX_TOKEN

    if not 1 <= turns <= 5000:
        print("error: --turns: must be between 1 and 5000", file=sys.stderr)
        return 2
    token = (os.environ.get("CALLBACK_TOKEN") or DEV_CALLBACK_TOKEN).split(",")[0].strip()
    try:
        return run(url, turns, token, timeout, sandbox_token=os.environ.get("SANDBOX_TOKEN") or DEV_SANDBOX_TOKEN,
                   video=video)
    except Exception as exc:  # noqa: BLE001 - a command line: say what failed, no traceback
        print(f"error: {type(exc).__name__}: {exc} (is `aiagent dev` running at {url}?)", file=sys.stderr)
        return 1
