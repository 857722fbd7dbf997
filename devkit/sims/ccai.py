"""CCAI AnalyzeConversation simulator (development tooling, never shipped in a function).

Verifies the ACS3 signature of every request (devkit.sims.acs_verify), the ROA path
(`/{workspaceId}/ccai/app/{appId}/analyze_conversation`), action and version, and the
required body fields (docs/protocols.md#ccai-analysis), with CCAI's documented error codes. Answers each result
type deterministically (same dialog -> same text) in the documented response shape
(`tests/samples/ccai_analyze_conversation_response.json`), or as Server-Sent Events
when `stream` is true (`stream_mode` "delta": each event carries the next piece of
text; "cumulative": the text so far). Faults for tests: throttling with
`x-acs-retry-after`, 5xx, delays, dropped connections, streams cut short.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from devkit.httpserver import LoopbackService, QuickHandler
from devkit.sims.acs_verify import SignatureError, Verifier

VERSION = "2024-06-03"
ACTION = "AnalyzeConversation"
RESULT_TYPES = ("summary", "title", "fields", "keywords", "service_inspection", "question_solution",
                "questions_and_answer", "user_profile", "category_tag", "emotion_detection", "satisfaction",
                "actions", "service_finish", "label_classification", "custom_prompt")
MODELS = ("tyxmTurbo", "tyxmPlus")
_PATH = re.compile(r"/([^/]+)/ccai/app/([^/]+)/analyze_conversation")


def _rid() -> str:
    u = uuid.uuid4().hex.upper()
    return f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:32]}"


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Fault:
    status: int
    code: str
    message: str
    times: int
    delay: float = 0.0
    retry_after_ms: int | None = None
    drop: bool = False  # close the connection without answering
    cut_stream: bool = False  # stream: stop before the last event


def _missing(name: str) -> Refusal:
    return Refusal(403, "CCAI.ParamNotfound.MissParam", f"Required parameter {name} is missing.")


def _illegal(name: str, why: str) -> Refusal:
    return Refusal(400, "CCAI.ParamInvalid.IllegalParamValue", f"Parameter {name} is illegal: {why}")


def validate(body: Any, max_chars: int | None = None) -> None:
    """Refusal unless `body` is a well-formed AnalyzeConversation request."""
    if not isinstance(body, dict):
        raise _illegal("body", "must be a JSON object")
    dialogue = body.get("dialogue")
    if dialogue is None:
        raise _missing("dialogue")
    if not isinstance(dialogue, dict):
        raise _illegal("dialogue", "must be an object")
    sentences = dialogue.get("sentences")
    if not sentences:
        raise _missing("dialogue.sentences")
    if not isinstance(sentences, list):
        raise _illegal("dialogue.sentences", "must be a list")
    for i, s in enumerate(sentences):
        if not isinstance(s, dict) or s.get("role") not in ("user", "agent", "system"):
            raise _illegal(f"dialogue.sentences[{i}].role", "must be user, agent or system")
        if not isinstance(s.get("text"), str) or not s["text"]:
            raise _illegal(f"dialogue.sentences[{i}].text", "must be a non-empty string")
    if max_chars is not None and sum(len(s["text"]) for s in sentences) > max_chars:
        raise _illegal("dialogue", f"the dialogue exceeds {max_chars} characters")
    if "stream" not in body:
        raise _missing("stream")
    if not isinstance(body["stream"], bool):
        raise _illegal("stream", "must be a boolean")
    types = body.get("resultTypes")
    if not types:
        raise _missing("resultTypes")
    if not isinstance(types, list) or any(t not in RESULT_TYPES for t in types):
        raise _illegal("resultTypes", f"each must be one of {', '.join(RESULT_TYPES)}")
    if body.get("modelCode", "tyxmTurbo") not in MODELS:
        raise Refusal(400, "CCAI.InvalidParam.NotExist", f"Model {body.get('modelCode')} does not exist.")
    if "fields" in types:
        fields = body.get("fields")
        if not fields:
            raise _missing("fields")
        for i, f in enumerate(fields):
            if not isinstance(f, dict) or not f.get("code") or not f.get("name"):
                raise _illegal(f"fields[{i}]", "needs code and name")
    if "service_inspection" in types:
        si = body.get("serviceInspection")
        if not isinstance(si, dict) or not si.get("inspectionContents"):
            raise _missing("serviceInspection.inspectionContents")
    if "custom_prompt" in types and not body.get("customPrompt"):
        raise _missing("customPrompt")


def _words(sentences: list[dict]) -> list[str]:
    counts: dict[str, int] = {}
    for s in sentences:
        for w in re.findall(r"[A-Za-z]{4,}|[\u4e00-\u9fff]{2}", s["text"]):
            counts[w.lower()] = counts.get(w.lower(), 0) + 1
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]


def answer_for(result_type: str, body: dict) -> Any:
    """The deterministic result of one type: a string (plain text) or JSON-able data."""
    sentences = body["dialogue"]["sentences"]
    seed = int(hashlib.sha256(json.dumps(sentences, sort_keys=True, ensure_ascii=False).encode()).hexdigest(), 16)
    users = [s for s in sentences if s["role"] == "user"]
    agents = [s for s in sentences if s["role"] == "agent"]
    first = (users or sentences)[0]["text"][:40]
    if result_type == "summary":
        return (f"The call has {len(sentences)} sentences ({len(agents)} by the agent, {len(users)} by the user). "
                f"The user opened with: {first}")
    if result_type == "title":
        return f"Call about: {first}"
    if result_type == "keywords":
        return _words(sentences)
    if result_type == "fields":
        out = {}
        for i, f in enumerate(body["fields"]):
            enums = f.get("enumValues") or []
            out[f["code"]] = enums[(seed >> i) % len(enums)]["enumValue"] if enums else f"{f['name']}: {first}"
        return out
    if result_type == "service_inspection":
        items = body["serviceInspection"]["inspectionContents"]
        return [{"title": c.get("title"), "result": "pass" if (seed >> i) % 4 else "fail",
                 "reason": f"checked against {len(sentences)} sentences"} for i, c in enumerate(items)]
    if result_type == "satisfaction":
        return {"satisfaction": ("satisfied", "neutral", "dissatisfied")[seed % 3]}
    if result_type == "emotion_detection":
        return {"user_emotion": ("calm", "happy", "angry")[seed % 3], "agent_emotion": "calm"}
    if result_type == "questions_and_answer":
        pairs = []
        for i, s in enumerate(sentences[:-1]):
            if s["role"] == "user" and sentences[i + 1]["role"] == "agent":
                pairs.append({"question": s["text"][:80], "answer": sentences[i + 1]["text"][:80]})
        return pairs[:5]
    if result_type == "custom_prompt":
        return f"custom prompt answered over {len(sentences)} sentences"
    return {"type": result_type, "result": ("yes", "no")[seed % 2], "sentences": len(sentences)}


def text_for(body: dict) -> str:
    """The `text` of the answer: one result type -> its result (strings raw, data as JSON);
    several -> one JSON object keyed by result type."""
    types = body["resultTypes"]
    if len(types) == 1:
        value = answer_for(types[0], body)
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return json.dumps({t: answer_for(t, body) for t in types}, ensure_ascii=False)


class CcaiSimulator(LoopbackService):
    """`start()` serves on 127.0.0.1:port; `.endpoint` is what CCAI_ENDPOINT should be."""

    def __init__(self, keys: dict[str, str], *, workspace_id: str = "sandbox-workspace", app_id: str = "sandbox-app",
                 host: str = "127.0.0.1", port: int = 0, sts_tokens: dict[str, str] | None = None,
                 stream_mode: str = "delta", chunk_chars: int = 16, max_chars: int | None = None,
                 latency: float = 0.0) -> None:
        self.verifier = Verifier(keys, sts_tokens)
        self.workspace_id, self.app_id = workspace_id, app_id
        super().__init__(host, port)
        self.stream_mode = stream_mode
        self.chunk_chars = chunk_chars
        self.max_chars = max_chars
        self.latency = latency  # seconds added to every answer (benchmarks)
        self.event_delay = 0.0  # seconds between streamed events (a slow stream)
        # every verified request (refused ones included); "answered" is set on those given a result
        self.calls: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()

    def inject(self, *, status: int = 500, code: str = "CCAI.InternalError", message: str = "injected fault",
               times: int = 1, delay: float = 0.0, retry_after_ms: int | None = None, drop: bool = False,
               cut_stream: bool = False) -> None:
        """Make the next `times` requests fail (status >= 400), stall `delay` seconds
        first, drop the connection, or (streaming) end the stream early."""
        with self._lock:
            self.faults.append(Fault(status, code, message, times, delay, retry_after_ms, drop, cut_stream))

    def count(self) -> int:
        with self._lock:
            return len(self.calls)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.faults.clear()

    def start(self) -> CcaiSimulator:
        sim = self

        class Handler(QuickHandler):
            def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
                rid = body.get("RequestId") or body.get("requestId") or ""
                self.send_json(status, body, {"x-acs-request-id": rid, **(headers or {})})

            def _error(self, status: int, code: str, message: str, rid: str, headers: dict | None = None) -> None:
                self._json(status, {"RequestId": rid, "HostId": "contactcenterai.sim", "Code": code,
                                    "Message": message, "Recommend": "https://api.aliyun.com/troubleshoot"}, headers)

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                rid = _rid()
                try:
                    sim.verifier.verify("POST", parts.path, parts.query, dict(self.headers.items()), raw)
                except SignatureError as exc:
                    return self._error(exc.status, exc.code, exc.message, rid)
                m = _PATH.fullmatch(parts.path)
                if m is None:
                    return self._error(404, "InvalidAction.NotFound", f"Specified api {parts.path} is not found.", rid)
                if self.headers.get("x-acs-action") != ACTION or self.headers.get("x-acs-version") != VERSION:
                    return self._error(400, "InvalidAction.NotFound", "Action or version not supported.", rid)
                workspace, app = unquote(m.group(1)), unquote(m.group(2))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with sim._lock:
                    sim.calls.append({"workspace": workspace, "app": app, "body": body,
                                      "headers": {k.lower(): v for k, v in self.headers.items()}, "raw": raw})
                    fault = next((f for f in sim.faults if f.times > 0), None)
                    if fault:
                        fault.times -= 1
                if fault:
                    if self.stall_or_drop(fault.delay, fault.drop):
                        return
                    if fault.status >= 400:
                        hdrs = {"x-acs-retry-after": str(fault.retry_after_ms)} if fault.retry_after_ms else {}
                        return self._error(fault.status, fault.code, fault.message, rid, hdrs)
                if workspace != sim.workspace_id:
                    return self._error(403, "CCAI.TenantPermission.NoAuth",
                                       f"No permission on workspace {workspace}.", rid)
                if app != sim.app_id:
                    return self._error(400, "CCAI.InvalidParam.NotExist", f"App {app} does not exist.", rid)
                try:
                    validate(body, sim.max_chars)
                except Refusal as exc:
                    return self._error(exc.status, exc.code, exc.message, rid)
                if sim.latency:
                    time.sleep(sim.latency)
                text = text_for(body)
                with sim._lock:
                    sim.calls[-1]["answered"] = True  # a result was produced (for accounting)
                chars = sum(len(s["text"]) for s in body["dialogue"]["sentences"])
                usage = {"inputTokens": str(chars), "outputTokens": str(len(text)),
                         "totalTokens": str(chars + len(text))}
                base = {"errorCode": "success", "errorInfo": "success", "requestId": rid, "success": True}
                if not body["stream"]:
                    return self._json(200, {**base, "finishReason": "stop", "text": text, **usage})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream;charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("x-acs-request-id", rid)
                self.end_headers()
                pieces = [text[i:i + sim.chunk_chars] for i in range(0, len(text), sim.chunk_chars)] or [""]
                for i, piece in enumerate(pieces):
                    last = i == len(pieces) - 1
                    if last and fault is not None and fault.cut_stream:
                        self.close_connection = True
                        self._chunk(b"")
                        return
                    shown = text[: (i + 1) * sim.chunk_chars] if sim.stream_mode == "cumulative" else piece
                    event = {**base, "finishReason": "stop" if last else None, "text": shown,
                             **(usage if last else {})}
                    self._chunk(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
                    if sim.event_delay and not last:
                        time.sleep(sim.event_delay)
                self._chunk(b"")

        self._serve(Handler)
        return self
