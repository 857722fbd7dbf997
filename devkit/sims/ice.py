"""ICE OpenAPI simulator (development tooling, never shipped in a function).

Verifies the ACS3 signature of every request, answers the actions the bundle uses
with the documented response shapes (see tests/samples/ice_*.json), keeps agent
instances, notify configs and voiceprints in memory, and injects faults for tests. It
also serves call logs itself, so a simulated call archives end to end with no cloud.
`RpcSimulator` is the RPC-style plumbing it shares with the STS simulator.
"""
from __future__ import annotations

import base64
import copy
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from devkit.httpserver import LoopbackService, QuickHandler
from devkit.sims.acs_verify import SignatureError, Verifier

SAMPLES = Path(__file__).resolve().parents[2] / "tests" / "samples"
VERSION = "2020-11-09"
REGISTRATION_MODES = ("Explicit", "Implicit")
_S = TypeVar("_S", bound="RpcSimulator")


def _sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def _rid() -> str:
    u = uuid.uuid4().hex.upper()
    return f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:32]}"


@dataclass
class Fault:
    action: str | None
    status: int
    code: str
    message: str
    times: int
    delay: float = 0.0
    retry_after_ms: int | None = None
    drop: bool = False  # close the connection without answering


@dataclass
class Instance:
    instance_id: str
    agent_id: str
    user_id: str
    status: str = "Executing"
    user_data: str | None = None
    session_id: str | None = None
    agent_config: dict | None = None
    template_config: dict | None = None
    call_log: dict | None = None
    call_log_raw: bytes | None = None  # served instead of call_log (e.g. not JSON)
    call_log_url: str | None = None  # answered instead of the simulator's own URL
    call_info: dict | None = None
    created: float = field(default_factory=time.time)
    # StartAIAgentOutboundCall: who calls whom, with which AIAgentOutboundCallConfig.
    caller_number: str | None = None
    called_number: str | None = None
    outbound_config: dict | None = None


@dataclass
class Voiceprint:
    voiceprint_id: str
    registration_mode: str  # Explicit (SetAIAgentVoiceprint) | Implicit (learnt during a call)
    input: dict | None = None
    created: float = field(default_factory=time.time)
    modified: float = field(default_factory=time.time)


class RpcSimulator(LoopbackService):
    """What every RPC-style OpenAPI simulator (ICE, STS) shares: `POST /?<params>` with
    its ACS3 signature verified, the version checked, then `_do_<Action>(params)`
    answering (status, body); the control API (`calls`, `inject`, `count`, `reset`).
    `start()` serves on 127.0.0.1:port; `.endpoint` is what the *_ENDPOINT should be."""

    VERSION = ""
    HOST_ID = "sim"

    def __init__(self, keys: dict[str, str], host: str = "127.0.0.1", port: int = 0,
                 sts_tokens: dict[str, str] | None = None) -> None:
        self.verifier = Verifier(keys, sts_tokens)
        super().__init__(host, port)
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()

    # --- control API for tests and the sandbox -------------------------------------
    def inject(self, *, status: int = 500, code: str = "InternalError", message: str = "injected fault",
               times: int = 1, action: str | None = None, delay: float = 0.0, retry_after_ms: int | None = None,
               drop: bool = False) -> None:
        """Make the next `times` matching calls fail (or stall `delay` seconds first)."""
        with self._lock:
            self.faults.append(Fault(action, status, code, message, times, delay, retry_after_ms, drop))

    def count(self, action: str | None = None) -> int:
        with self._lock:
            return sum(1 for a, _ in self.calls if action is None or a == action)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.faults.clear()

    def start(self: _S) -> _S:
        sim = self

        class Handler(QuickHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                sim._get(self)

            def do_POST(self) -> None:
                sim._post(self)

        self._serve(Handler)
        return self

    def _get(self, h: QuickHandler) -> None:
        h.send_json(404, {"Code": "NoSuchKey", "Message": "not found"})

    def _post(self, h: QuickHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parts = urlsplit(h.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if body and "form" in (h.headers.get("Content-Type") or ""):
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        request_id = _rid()
        try:
            self.verifier.verify("POST", parts.path or "/", parts.query, dict(h.headers.items()), body)
        except SignatureError as exc:
            return h.send_json(exc.status, {"RequestId": request_id, "Code": exc.code, "Message": exc.message,
                                            "HostId": self.HOST_ID})
        action = h.headers.get("x-acs-action") or params.get("Action", "")
        if h.headers.get("x-acs-version") != self.VERSION:
            return h.send_json(400, {"RequestId": request_id, "Code": "InvalidVersion",
                                     "Message": "Specified parameter Version is not valid."})
        with self._lock:
            self.calls.append((action, params))
            fault = next((f for f in self.faults if f.times > 0 and f.action in (None, action)), None)
            if fault:
                fault.times -= 1
        if fault:
            if h.stall_or_drop(fault.delay, fault.drop):
                return
            if fault.status < 400:  # a pure delay
                fault = None
        if fault:
            hdrs = {"x-acs-retry-after": str(fault.retry_after_ms)} if fault.retry_after_ms else {}
            return h.send_json(fault.status, {"RequestId": request_id, "Code": fault.code,
                                              "Message": fault.message, "HostId": self.HOST_ID}, hdrs)
        handler = getattr(self, f"_do_{action}", None)
        if handler is None:
            return h.send_json(404, {"RequestId": request_id, "Code": "InvalidAction.NotFound",
                                     "Message": f"Specified api {action} is not found."})
        status, out = handler(params)
        h.send_json(status, {"RequestId": request_id, **out})

    # --- parameter checks for the actions ------------------------------------------
    @staticmethod
    def _missing(params: dict[str, str], *names: str) -> tuple[int, dict] | None:
        for n in names:
            if not params.get(n):
                return 400, {"Code": "MissingParameter", "Message": f"The input parameter {n} that is mandatory "
                                                                    "for processing this request is not supplied."}
        return None

    @staticmethod
    def _json_param(params: dict[str, str], name: str) -> tuple[Any, tuple[int, dict] | None]:
        raw = params.get(name)
        if raw is None:
            return None, None
        try:
            value = json.loads(raw)
        except ValueError:
            return None, (400, {"Code": "InvalidParameter", "Message": f"The parameter {name} is not valid JSON."})
        return value, None


class IceSimulator(RpcSimulator):
    """`start()` serves on 127.0.0.1:port; `.endpoint` is what ICE_ENDPOINT should be."""

    VERSION = VERSION
    HOST_ID = "ice.sim"

    def __init__(self, keys: dict[str, str], host: str = "127.0.0.1", port: int = 0,
                 sts_tokens: dict[str, str] | None = None) -> None:
        super().__init__(keys, host, port, sts_tokens)
        self.instances: dict[str, Instance] = {}
        self.artc_app_id = "sandbox-artc-app"  # the ARTC app the simulated agent calls use
        self.notify: dict[str, dict[str, Any]] = {}
        self.voiceprints: dict[tuple[str, str], Voiceprint] = {}  # (VoiceprintId, RegistrationMode) ->
        self.finish_seen_instances = True  # instances learnt from callbacks answer Finished

    def add_instance(self, instance_id: str, *, agent_id: str = "sim-agent", user_id: str = "sim-user",
                     status: str = "Finished", call_log: dict | None = None, user_data: str | None = None,
                     call_log_raw: bytes | None = None, call_log_url: str | None = None,
                     call_info: dict | None = None) -> Instance:
        """Register (or update) an instance with an optional call log to serve, raw bytes
        to serve instead, or a CallLogUrl to answer instead of the simulator's own."""
        with self._lock:
            inst = self.instances.get(instance_id)
            if inst is None:
                inst = Instance(instance_id, agent_id, user_id, status=status, user_data=user_data)
                self.instances[instance_id] = inst
            else:
                inst.status = status
            for name, value in (("call_log", call_log), ("call_log_raw", call_log_raw),
                                ("call_log_url", call_log_url), ("call_info", call_info)):
                if value is not None:
                    setattr(inst, name, value)
            return inst

    def add_voiceprint(self, voiceprint_id: str, *, registration_mode: str = "Implicit",
                       input: dict | None = None) -> Voiceprint:
        """Register a voiceprint as ICE would (Implicit: learnt from the user's speech in a call)."""
        with self._lock:
            vp = Voiceprint(voiceprint_id, registration_mode, input)
            self.voiceprints[(voiceprint_id, registration_mode)] = vp
            return vp

    def call_log_url(self, instance_id: str) -> str:
        return f"{self.endpoint}/call-logs/{instance_id}.json"

    def _get(self, h: QuickHandler) -> None:
        path = urlsplit(h.path).path
        if path.startswith("/call-logs/") and path.endswith(".json"):
            inst = self.instances.get(path[len("/call-logs/"):-5])
            with self._lock:
                self.calls.append(("GET call log", {"path": path}))
            if inst is not None and inst.call_log_raw is not None:
                h.send_response(200)
                h.send_header("Content-Type", "application/octet-stream")
                h.send_header("Content-Length", str(len(inst.call_log_raw)))
                h.end_headers()
                h.wfile.write(inst.call_log_raw)
                return
            if inst is not None and inst.call_log is not None:
                return h.send_json(200, inst.call_log)
        h.send_json(404, {"Code": "NoSuchKey", "Message": "not found"})

    # --- actions ------------------------------------------------------------------
    def _do_GenerateMessageChatToken(self, p: dict[str, str]) -> tuple[int, dict]:
        miss = self._missing(p, "AIAgentId", "UserId")
        if miss:
            return miss
        expire = int(p.get("Expire") or 3600)
        base = _sample("ice_generate_message_chat_token_response.json")
        return 200, {**{k: v for k, v in base.items() if k != "RequestId"}, "UserId": p["UserId"],
                     "Role": p.get("Role", ""), "TimeStamp": int(time.time()) + expire,
                     "Token": "acet" + uuid.uuid4().hex, "Nonce": "AK-" + uuid.uuid4().hex[:8]}

    def _do_GenerateAIAgentCall(self, p: dict[str, str]) -> tuple[int, dict]:
        miss = self._missing(p, "AIAgentId")
        if miss:
            return miss
        agent_config, err = self._json_param(p, "AgentConfig")
        if err:
            return err
        template_config, err = self._json_param(p, "TemplateConfig")
        if err:
            return err
        _, err = self._json_param(p, "ChatSyncConfig")
        if err:
            return err
        inst = Instance(uuid.uuid4().hex, p["AIAgentId"], p.get("UserId") or uuid.uuid4().hex[:12],
                        user_data=p.get("UserData"), session_id=p.get("SessionId"),
                        agent_config=agent_config, template_config=template_config)
        with self._lock:
            self.instances[inst.instance_id] = inst
        channel = uuid.uuid4().hex
        # ICE's join token: base64 JSON naming the ARTC app, channel and user (what the kits decode).
        token = base64.b64encode(json.dumps({"appid": self.artc_app_id, "channelid": channel, "userid": inst.user_id,
                                             "nonce": uuid.uuid4().hex[:16], "timestamp": int(time.time()) + 86400,
                                             "token": uuid.uuid4().hex}).encode()).decode()
        return 200, {"AIAgentUserId": uuid.uuid4().hex, "ChannelId": channel,
                     "InstanceId": inst.instance_id, "Token": token, "UserId": inst.user_id}

    def _do_DescribeAIAgentInstance(self, p: dict[str, str]) -> tuple[int, dict]:
        miss = self._missing(p, "InstanceId")
        if miss:
            return miss
        inst = self.instances.get(p["InstanceId"])
        if inst is None:
            return 404, {"Code": "InvalidInstanceId.NotFound",
                         "Message": "The specified AI agent instance does not exist."}
        doc = copy.deepcopy(_sample("ice_describe_ai_agent_instance_response.json")["Instance"])
        doc["Status"] = inst.status
        served = inst.call_log is not None or inst.call_log_raw is not None
        doc["CallLogUrl"] = inst.call_log_url or (self.call_log_url(inst.instance_id) if served else "")
        if inst.call_info is not None:
            doc["CallInfo"] = inst.call_info
        doc["UserData"] = inst.user_data
        doc["SessionId"] = inst.session_id
        if inst.agent_config is not None:
            doc["AgentConfig"] = inst.agent_config
        if inst.template_config is not None:
            doc["TemplateConfig"] = inst.template_config
        return 200, {"Instance": {k: v for k, v in doc.items() if v is not None}}

    def _do_SetNotifyConfig(self, p: dict[str, str]) -> tuple[int, dict]:
        miss = self._missing(p, "AIAgentId", "EnableNotify")
        if miss:
            return miss
        with self._lock:
            self.notify[p["AIAgentId"]] = {k: v for k, v in p.items() if k != "AIAgentId"}
        return 200, {"IsSuccess": True}

    def _do_DescribeNotifyConfig(self, p: dict[str, str]) -> tuple[int, dict]:
        miss = self._missing(p, "AIAgentId")
        if miss:
            return miss
        cfg = self.notify.get(p["AIAgentId"], {})
        return 200, {"EnableNotify": cfg.get("EnableNotify", "false") == "true",
                     "CallbackUrl": cfg.get("CallbackUrl", ""),
                     "EventTypes": cfg.get("EventTypes", ""), "Token": cfg.get("Token", ""),
                     "AudioOssPath": cfg.get("AudioOssPath", ""),
                     "EnableAudioRecording": cfg.get("EnableAudioRecording", "false") == "true"}

    def _do_ListAIAgentInstance(self, p: dict[str, str]) -> tuple[int, dict]:
        miss = self._missing(p, "AIAgentId")
        if miss:
            return miss
        page, size = int(p.get("PageNumber") or 1), min(int(p.get("PageSize") or 10), 100)
        items = sorted((i for i in self.instances.values() if i.agent_id == p["AIAgentId"]), key=lambda i: i.created)
        chunk = items[(page - 1) * size: page * size]
        return 200, {"TotalCount": len(items), "Instances": [{
            "InstanceId": i.instance_id, "Status": i.status, "UserData": i.user_data or "",
            "CallLogUrl": self.call_log_url(i.instance_id) if i.call_log is not None else "",
            "GmtCreate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(i.created)),
        } for i in chunk]}

    def _do_StartAIAgentOutboundCall(self, p: dict[str, str]) -> tuple[int, dict]:
        miss = self._missing(p, "AIAgentId", "CallerNumber", "CalledNumber")
        if miss:
            return miss
        config, err = self._json_param(p, "Config")
        if err:
            return err
        inst = Instance(uuid.uuid4().hex, p["AIAgentId"], p["CalledNumber"], user_data=p.get("UserData"),
                        session_id=p.get("SessionId"), caller_number=p["CallerNumber"],
                        called_number=p["CalledNumber"], outbound_config=config)
        with self._lock:
            self.instances[inst.instance_id] = inst
        # ice_start_ai_agent_outbound_call_response.json: {RequestId, InstanceId}
        return 200, {"InstanceId": inst.instance_id}

    @staticmethod
    def _mode(p: dict[str, str]) -> tuple[str, tuple[int, dict] | None]:
        mode = p.get("RegistrationMode") or "Explicit"
        if mode not in REGISTRATION_MODES:
            return mode, (400, {"Code": "InvalidParameter",
                                "Message": "The parameter RegistrationMode must be Explicit or Implicit."})
        return mode, None

    def _do_SetAIAgentVoiceprint(self, p: dict[str, str]) -> tuple[int, dict]:
        miss = self._missing(p, "VoiceprintId", "Input")
        if miss:
            return miss
        if len(p["VoiceprintId"]) > 127:
            return 400, {"Code": "InvalidParameter", "Message": "The parameter VoiceprintId is too long (1-127)."}
        source, err = self._json_param(p, "Input")
        if err:
            return err
        if not isinstance(source, dict) or source.get("Type") != "oss" or source.get("Format") != "wav" \
                or not isinstance(source.get("Data"), str) or not source["Data"]:
            return 400, {"Code": "InvalidParameter",
                         "Message": 'The parameter Input must be {"Type":"oss","Data":<URL>,"Format":"wav"}.'}
        key = (p["VoiceprintId"], "Explicit")
        with self._lock:
            old = self.voiceprints.get(key)
            vp = Voiceprint(key[0], key[1], source, created=old.created if old else time.time())
            self.voiceprints[key] = vp
        # ice_set_ai_agent_voiceprint_response.json: {RequestId, VoiceprintId}
        return 200, {"VoiceprintId": vp.voiceprint_id}

    def _do_ClearAIAgentVoiceprint(self, p: dict[str, str]) -> tuple[int, dict]:
        miss = self._missing(p, "VoiceprintId")
        if miss:
            return miss
        mode, err = self._mode(p)
        if err:
            return err
        with self._lock:
            self.voiceprints.pop((p["VoiceprintId"], mode), None)  # clearing an unknown one succeeds
        return 200, {}

    def _do_ListAIAgentVoiceprints(self, p: dict[str, str]) -> tuple[int, dict]:
        _, err = self._mode(p)  # optional filter; all modes when absent
        if err:
            return err
        try:
            page, size = int(p.get("PageNumber") or 1), int(p.get("PageSize") or 10)
        except ValueError:
            page, size = 0, 0
        if page < 1 or not 1 <= size <= 100:
            return 400, {"Code": "InvalidParameter", "Message": "PageNumber >= 1 and PageSize 1-100 are required."}
        with self._lock:
            items = sorted((v for v in self.voiceprints.values()
                            if p.get("RegistrationMode") in (None, "", v.registration_mode)
                            and p.get("VoiceprintId") in (None, "", v.voiceprint_id)), key=lambda v: v.created)
        chunk = items[(page - 1) * size: page * size]

        def iso(t: float) -> str:
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

        return 200, {"TotalCount": len(items), "Voiceprints": [{
            "VoiceprintId": v.voiceprint_id, "GmtCreate": iso(v.created), "GmtModified": iso(v.modified),
        } for v in chunk]}


def _text_and_role(data: Any) -> tuple[str | None, str | None]:
    """Defensive read of an (undocumented) chat_record payload."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return data, None
    if not isinstance(data, dict):
        return None, None
    text = next((data[k] for k in ("text", "content", "sentence", "Text") if isinstance(data.get(k), str)), None)
    role = next((data[k] for k in ("role", "source", "speaker", "Role") if isinstance(data.get(k), str)), None)
    if role is not None:
        role = "agent" if role.lower() in ("agent", "assistant", "bot", "ai") else "user"
    return text, role


def observe_callback(sim: IceSimulator, event: dict) -> None:
    """What the sandbox tells the simulator about each stored callback: instances it has
    seen become known; chat_record events become the dialog; agent_stop finishes the
    call with a CallLogUrl the simulator serves itself."""
    from datetime import datetime

    instance_id, kind = event.get("instanceId"), event.get("event")
    if not isinstance(instance_id, str) or not isinstance(kind, str):
        return
    try:
        ts = datetime.fromisoformat(str(event.get("timestamp", "")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        ts = time.time()
    with sim._lock:
        inst = sim.instances.get(instance_id)
        if inst is None:
            inst = Instance(instance_id, str(event.get("aiAgentId") or "sim-agent"), "sim-user",
                            user_data=event.get("userData") if isinstance(event.get("userData"), str) else None)
            sim.instances[instance_id] = inst
        dialog = getattr(inst, "_dialog", None)
        if dialog is None:
            dialog = []
            inst._dialog = dialog  # type: ignore[attr-defined]
            inst._start = ts  # type: ignore[attr-defined]
        if kind == "chat_record":
            text, role = _text_and_role(event.get("data"))
            if text:
                dialog.append((ts, role or "user", text))
        if kind == "agent_stop" and sim.finish_seen_instances:
            inst.status = "Finished"
            start = getattr(inst, "_start", ts)
            turns = sorted(dialog) or [(start + 1.0, "agent", "(no chat records were received for this call)")]
            inst.call_log = {
                "instanceid": instance_id, "startTime": start,
                "agentUserId": "AGENT_" + instance_id[:12], "remoteUserId": inst.user_id,
                "dialog": [{"id": i + 1, "begin": round(t - start, 3), "role": r,
                            "type": "greeting" if i == 0 and r == "agent" else "normal", "text": x}
                           for i, (t, r, x) in enumerate(turns)],
            }


# --- voice recording (SetNotifyConfig EnableAudioRecording + AudioOssPath) -----------------------

def wav_bytes(duration_ms: int, *, rate: int = 8000, tone_hz: int = 440) -> bytes:
    """A real, small WAV file (mono, 16-bit PCM, a quiet tone) of at most a second."""
    import math
    import struct

    n = max(1, min(rate, rate * max(1, int(duration_ms)) // 1000))
    frames = b"".join(struct.pack("<h", int(1200 * math.sin(2 * math.pi * tone_hz * i / rate))) for i in range(n))
    header = (b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVE" + b"fmt " +
              struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", len(frames)))
    return header + frames


def record_audio(store: Any, instance_id: str, *, kind: str, sentence_id: int | None, role: str | None,
                 duration_ms: int, agent_id: str = "simulated-agent", channel_id: str | None = None,
                 timestamp: str | None = None, text: str | None = None) -> dict:
    """What ICE does when voice recording is on: write the sentence's (or the whole call's) WAV
    into the customer's bucket under the AudioOssPath (here `recordings/<instanceId>/`) and send
    an `audio_record` / `full_audio_record` callback naming it (SPEC 12's inferred shape)."""
    if kind not in ("sentence", "call"):
        raise ValueError("kind must be sentence or call")
    name = f"sentence_{sentence_id}_{role}.wav" if kind == "sentence" else "full.wav"
    key = f"recordings/{instance_id}/{name}"
    store.put(key, wav_bytes(duration_ms), content_type="audio/wav")
    data: dict[str, Any] = {"ossUrl": f"oss://{store.bucket}/{key}", "duration": duration_ms, "format": "wav"}
    if kind == "sentence":
        data.update(role=role, text=text)
    extend: dict[str, Any] = {"channelId": channel_id or instance_id[:32]}
    if sentence_id is not None:
        extend["sentenceId"] = sentence_id
    return {"aiAgentId": agent_id, "instanceId": instance_id,
            "event": "audio_record" if kind == "sentence" else "full_audio_record", "code": 0, "message": "",
            "timestamp": timestamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "userData": "{}",
            "data": data, "extendData": extend}
