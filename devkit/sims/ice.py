"""ICE OpenAPI simulator (development tooling, never shipped in a function).

Verifies the ACS3 signature of every request, answers the actions the bundle uses
with the documented response shapes (see tests/samples/ice_*.json), keeps agent
instances and notify configs in memory, and injects faults for tests. It also
serves call logs itself, so a simulated call archives end to end with no cloud.
"""
from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devkit.httpserver import LoopbackService, QuickHandler
from devkit.sims.acs_verify import SignatureError, Verifier

SAMPLES = Path(__file__).resolve().parents[2] / "tests" / "samples"
VERSION = "2020-11-09"


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


class IceSimulator(LoopbackService):
    """`start()` serves on 127.0.0.1:port; `.endpoint` is what ICE_ENDPOINT should be."""

    def __init__(self, keys: dict[str, str], host: str = "127.0.0.1", port: int = 0,
                 sts_tokens: dict[str, str] | None = None) -> None:
        self.verifier = Verifier(keys, sts_tokens)
        super().__init__(host, port)
        self.instances: dict[str, Instance] = {}
        self.notify: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.faults: list[Fault] = []
        self.finish_seen_instances = True  # instances learnt from callbacks answer Finished
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

    def call_log_url(self, instance_id: str) -> str:
        return f"{self.endpoint}/call-logs/{instance_id}.json"

    def start(self) -> IceSimulator:
        sim = self

        class Handler(QuickHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                return

            def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
                self.send_json(status, body, headers)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path.startswith("/call-logs/") and path.endswith(".json"):
                    inst = sim.instances.get(path[len("/call-logs/"):-5])
                    with sim._lock:
                        sim.calls.append(("GET call log", {"path": path}))
                    if inst is not None and inst.call_log_raw is not None:
                        self.send_response(200)
                        self.send_header("Content-Type", "application/octet-stream")
                        self.send_header("Content-Length", str(len(inst.call_log_raw)))
                        self.end_headers()
                        self.wfile.write(inst.call_log_raw)
                        return
                    if inst is not None and inst.call_log is not None:
                        return self._json(200, inst.call_log)
                self._json(404, {"Code": "NoSuchKey", "Message": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                if body and "form" in (self.headers.get("Content-Type") or ""):
                    params.update(parse_qsl(body.decode(), keep_blank_values=True))
                request_id = _rid()
                try:
                    sim.verifier.verify("POST", parts.path or "/", parts.query, dict(self.headers.items()), body)
                except SignatureError as exc:
                    return self._json(exc.status, {"RequestId": request_id, "Code": exc.code, "Message": exc.message,
                                                   "HostId": "ice.sim"})
                action = self.headers.get("x-acs-action") or params.get("Action", "")
                if self.headers.get("x-acs-version") != VERSION:
                    return self._json(400, {"RequestId": request_id, "Code": "InvalidVersion",
                                            "Message": "Specified parameter Version is not valid."})
                with sim._lock:
                    sim.calls.append((action, params))
                    fault = next((f for f in sim.faults if f.times > 0 and f.action in (None, action)), None)
                    if fault:
                        fault.times -= 1
                if fault:
                    if self.stall_or_drop(fault.delay, fault.drop):
                        return
                    if fault.status < 400:  # a pure delay
                        fault = None
                if fault:
                    hdrs = {"x-acs-retry-after": str(fault.retry_after_ms)} if fault.retry_after_ms else {}
                    return self._json(fault.status, {"RequestId": request_id, "Code": fault.code,
                                                     "Message": fault.message, "HostId": "ice.sim"}, hdrs)
                handler = getattr(sim, f"_do_{action}", None)
                if handler is None:
                    return self._json(404, {"RequestId": request_id, "Code": "InvalidAction.NotFound",
                                            "Message": f"Specified api {action} is not found."})
                status, out = handler(params)
                out = {"RequestId": request_id, **out}
                self._json(status, out)

        self._serve(Handler)
        return self

    # --- actions ------------------------------------------------------------------
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
        inst = Instance(uuid.uuid4().hex, p["AIAgentId"], p.get("UserId") or uuid.uuid4().hex[:12],
                        user_data=p.get("UserData"), session_id=p.get("SessionId"),
                        agent_config=agent_config, template_config=template_config)
        with self._lock:
            self.instances[inst.instance_id] = inst
        return 200, {"AIAgentUserId": uuid.uuid4().hex, "ChannelId": uuid.uuid4().hex,
                     "InstanceId": inst.instance_id, "Token": "eyJhcHBpZCI6" + uuid.uuid4().hex, "UserId": inst.user_id}

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
