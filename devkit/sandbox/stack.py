"""The local sandbox: every function of s.yaml served on 127.0.0.1 like FC would.

Each real HTTP request becomes an FC 3.0 HTTP-trigger event; the function's own
`handler(event_bytes, context)` answers it. Like FC's python runtime, a function
instance handles one request at a time (a lock per function).
"""
from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devkit import syaml
from devkit.httpserver import QuickHandler, Server
from devkit.sandbox.fc_context import FCContext, load_handler

MAX_GATEWAY_BODY = 6 * 1024 * 1024  # like FC's sync-invocation payload ceiling


@dataclass
class Deployed:
    spec: syaml.FunctionSpec
    handler: Callable[[Any, Any], Any]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, event: bytes, request_id: str | None = None, retry_count: int = 0) -> Any:
        ctx = FCContext.for_function(self.spec, request_id, retry_count)
        with self.lock:
            return self.handler(event, ctx)


def http_event(method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str,
               request_id: str, host: str) -> dict[str, Any]:
    """The FC 3.0 HTTP-trigger event for one request (format of samples/fc_http_trigger_event.json)."""
    parts = urlsplit(target)
    try:
        text, b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, b64 = base64.b64encode(body).decode("ascii"), True
    now = datetime.now(timezone.utc)
    return {
        "version": "v1",
        "rawPath": parts.path,
        "body": text,
        "isBase64Encoded": b64,
        "headers": headers,
        "queryParameters": dict(parse_qsl(parts.query, keep_blank_values=True)),
        "requestContext": {
            "accountId": "1234567890123456",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("User-Agent", headers.get("user-agent", "")),
            },
            "requestId": request_id,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "timeEpoch": str(int(now.timestamp() * 1000)),
        },
    }


class Sandbox:
    """Loads every s.yaml function (cold start), routes HTTP paths to them."""

    def __init__(self, functions: dict[str, syaml.FunctionSpec] | None = None) -> None:
        self.specs = functions if functions is not None else syaml.functions()
        self.deployed: dict[str, Deployed] = {}
        self.routes: dict[str, Deployed] = {}
        self.config_errors: dict[str, str] = {}
        # Dev-only endpoints under /_sandbox/ (set by DevStack): (method, path, query, headers) -> (status, body)
        self.admin: Callable[[str, str, dict[str, str], dict[str, str]], tuple[int, Any]] | None = None

    def load(self) -> None:
        from shared.settings import reset_cache

        reset_cache()
        for key, spec in self.specs.items():
            handler = load_handler(spec, fresh=True)
            dep = Deployed(spec, handler)
            self.deployed[key] = dep
            err = getattr(handler, "config_error", None)
            if err is not None:
                self.config_errors[key] = err.message
            for route in spec.routes:
                self.routes[route.path] = dep

    def route(self, path: str) -> Deployed | None:
        """The function serving `path`: an exact route, else the longest `<prefix>/*` route
        `path` is under (like FC's custom-domain routes)."""
        exact = self.routes.get(path)
        if exact is not None:
            return exact
        best = None
        for pattern, dep in self.routes.items():
            if pattern.endswith("/*") and path.startswith(pattern[:-1]) and (best is None or len(pattern) > best[0]):
                best = (len(pattern), dep)
        return best[1] if best else None

    def serve(self, host: str = "127.0.0.1", port: int = 9000) -> ThreadingHTTPServer:
        sandbox = self

        class Handler(QuickHandler):
            protocol_version = "HTTP/1.1"
            server_version = "aiagent-dev"

            def log_message(self, fmt: str, *args: Any) -> None:  # access log is the function's
                return

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status: int, code: str, message: str) -> None:
                body = json.dumps({"code": status, "message": message, "error_code": code}).encode()
                self._send(status, {"Content-Type": "application/json; charset=utf-8"}, body)

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                path = parts.path
                if path.startswith("/_sandbox/") and sandbox.admin is not None:
                    self._drain()
                    try:
                        status, body = sandbox.admin(self.command, path, dict(parse_qsl(parts.query)),
                                                     {k.lower(): v for k, v in self.headers.items()})
                    except Exception as exc:  # e.g. the store is down: say so, as JSON
                        status, body = 503, {"code": 503, "message": f"sandbox endpoint failed: {type(exc).__name__}"}
                    data = json.dumps(body, ensure_ascii=False).encode()
                    return self._send(status, {"Content-Type": "application/json; charset=utf-8"}, data)
                dep = sandbox.route(path)
                if dep is None:
                    self._drain()
                    return self._error(404, "NotFound", f"no function serves {path[:200]}")
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    self.close_connection = True
                    return self._error(411, "LengthRequired", "send a Content-Length body")
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    return self._error(400, "InvalidHeader", "Content-Length is not a number")
                if length > MAX_GATEWAY_BODY:
                    self.close_connection = True
                    return self._error(413, "PayloadTooLarge", f"body: larger than {MAX_GATEWAY_BODY} bytes")
                body = self.rfile.read(length) if length else b""
                headers: dict[str, str] = {}
                for k, v in self.headers.items():  # repeated headers comma-joined, like FC
                    headers[k] = f"{headers[k]},{v}" if k in headers else v
                request_id = f"1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:12]}"
                event = http_event(self.command, self.path, headers, body, self.client_address[0],
                                   request_id, self.headers.get("Host", "127.0.0.1"))
                try:
                    result = dep.invoke(json.dumps(event).encode(), request_id)
                except Exception as exc:  # a crash in a handler is FC's 502, not ours to hide
                    return self._error(502, "FunctionError", f"function {dep.spec.key} raised {type(exc).__name__}")
                status = int(result.get("statusCode", 200))
                out = result.get("body") or ""
                data = base64.b64decode(out) if result.get("isBase64Encoded") else out.encode()
                self._send(status, dict(result.get("headers") or {}), data)

            def _drain(self) -> None:
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = 0
                if 0 < length <= MAX_GATEWAY_BODY:
                    self.rfile.read(length)
                elif length:
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle

        return Server((host, port), Handler)


def wait_until_listening(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on host:port."""
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class DevStack:
    """Everything `aiagent dev` runs, startable in-process (tests, chaos runs, benchmarks):
    simulators or real upstreams, the functions, OSS-trigger emulation, the HTTP gateway."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9000, *, data_dir: Any = None,
                 retry_delay: float | None = None) -> None:
        self.host, self.port = host, port
        self.data_dir = data_dir
        self.retry_delay = retry_delay if retry_delay is not None else float(
            os.environ.get("SANDBOX_TRIGGER_RETRY_SECONDS", "1.0"))
        self.filled: dict[str, str] = {}
        self.ups: Any = None
        self.sandbox: Sandbox | None = None
        self.dispatcher: Any = None
        self.server: ThreadingHTTPServer | None = None
        self._listeners: list[Any] = []
        self._timer_stop: threading.Event | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://{self.host}:{self.server.server_address[1]}"

    def start(self) -> DevStack:
        from devkit import defaults
        from devkit.sandbox import upstreams
        from devkit.sandbox.triggers import TriggerDispatcher
        from shared.clients import ccai, ice, object_store

        self.filled = defaults.apply()
        self.ups = upstreams.start(data_dir=self.data_dir)
        from shared.clients import live

        live.reset_client()
        ice.reset_client()
        ccai.reset_client()
        object_store.reset_store()
        self.sandbox = Sandbox()
        self.sandbox.load()
        if self.sandbox.config_errors:
            self.stop()
            raise SystemExit("\n".join(f"error: {k}: {m}" for k, m in self.sandbox.config_errors.items()))
        self.dispatcher = TriggerDispatcher(self.sandbox.deployed, retry_delay=self.retry_delay,
                                            region=os.environ.get("OSS_REGION", "cn-shanghai")).start()
        self._listen(self.dispatcher.on_write)
        if self.ups.ice is not None:
            self._listen(self._tell_ice)
        self._start_timers()
        self.sandbox.admin = self._admin
        self.server = self.sandbox.serve(self.host, self.port)
        if not os.environ.get("RECORDING_CALLBACK_URL"):
            # Live's recording callbacks come back to this sandbox (its port is known only now).
            from shared.settings import reset_cache

            os.environ["RECORDING_CALLBACK_URL"] = f"{self.url}/api/v2/aiagent/recordingCallback"
            self.filled["RECORDING_CALLBACK_URL"] = os.environ["RECORDING_CALLBACK_URL"]
            reset_cache()
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        return self

    def _start_timers(self) -> None:
        """Timer triggers, every SANDBOX_COMPACT_SECONDS (default 3; 0 = never) rather than
        their cloud schedule: a call is in the index seconds after its analysis."""
        assert self.sandbox is not None
        every = float(os.environ.get("SANDBOX_COMPACT_SECONDS", "3"))
        timed = [d for d in self.sandbox.deployed.values() if d.spec.timer_triggers]
        if every <= 0 or not timed:
            return
        stop = self._timer_stop = threading.Event()

        def tick() -> None:
            while not stop.wait(every):
                for dep in timed:
                    for trig in dep.spec.timer_triggers:
                        event = {"triggerTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                 "triggerName": trig.name, "payload": trig.payload}
                        try:
                            dep.invoke(json.dumps(event).encode())
                        except Exception:  # like FC: the failure is logged, the next tick runs
                            from shared.log import logger

                            logger.exception("timer-triggered function failed", extra={"function": dep.spec.key})

        threading.Thread(target=tick, daemon=True, name="sandbox-timers").start()

    def _listen(self, fn: Any) -> None:
        from devkit.sandbox.observed_store import observe_process_store

        observe_process_store([fn])
        self._listeners.append(fn)

    def _tell_ice(self, bucket: str, key: str, result: Any, size: int) -> None:
        """Let the ICE simulator see stored callbacks (so simulated calls finish)."""
        from devkit.sims.ice import observe_callback
        from shared.archive import layout
        from shared.clients import object_store

        if not key.startswith(layout.CALLBACKS):
            return
        try:
            observe_callback(self.ups.ice, json.loads(object_store.get_store().get(key)[0]))
        except Exception:  # the simulator's view is best effort; the archive is what counts
            pass

    def _admin(self, method: str, path: str, query: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        """GET /_sandbox/status | /_sandbox/objects?prefix= | /_sandbox/object?key= (SANDBOX_TOKEN,
        not the callback token: whoever may post callbacks may not read the archive)."""
        import hashlib
        import hmac

        from shared.clients import object_store

        token = os.environ.get("SANDBOX_TOKEN", "")
        presented = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest(),
                                                hashlib.sha256(token.encode()).digest()):
            return 401, {"code": 401, "message": "sandbox endpoints need Authorization: Bearer <SANDBOX_TOKEN>"}
        store = object_store.get_store()
        if path == "/_sandbox/ice/audio" and method == "POST":
            return self._ice_audio(store, query)
        if method != "GET":
            return 405, {"code": 405, "message": "GET only"}
        if path == "/_sandbox/status":
            st = self.dispatcher.stats
            # Where this sandbox's upstreams are (no credentials): `aiagent reanalyze --url` uses them.
            # CALL_LOG_ALLOW_INSECURE too: the ICE simulator serves call logs over http (`aiagent replay`).
            endpoints = {n: os.environ.get(n) for n in ("OSS_ENDPOINT", "ARCHIVE_BUCKET", "CCAI_ENDPOINT",
                                                         "CCAI_WORKSPACE_ID", "CCAI_APP_ID", "ICE_ENDPOINT",
                                                         "STS_ENDPOINT", "CALL_LOG_ALLOW_INSECURE")}
            from shared.archive.dead_letters import open_dead_letters

            open_letters = {step: sum(1 for _ in open_dead_letters(store, step)) for step in ("archive", "analyze")}
            return 200, {"code": 200, "upstreams": self.ups.lines, "bucket": store.bucket, "endpoints": endpoints,
                         "open_dead_letters": open_letters,
                         "triggers": {"delivered": st.delivered, "failed_attempts": st.failed_attempts,
                                      "exhausted": st.exhausted, "by_function": st.by_function,
                                      "to_destination": st.to_destination},
                         "idle": self.dispatcher.wait_idle(0)}
        if path == "/_sandbox/objects":
            import itertools

            listing = store.list(query.get("prefix", ""), start_after=query.get("start_after") or None)
            items = [{"key": o.key, "size": o.size, "etag": o.etag} for o in itertools.islice(listing, 5000)]
            return 200, {"code": 200, "objects": items, "truncated": len(items) == 5000}
        if path == "/_sandbox/object":
            from shared.clients.object_store import ObjectNotFound

            try:
                data, info = store.get(query.get("key", ""))
            except ObjectNotFound:
                return 404, {"code": 404, "message": "no such object"}
            try:
                content: Any = json.loads(data)
            except ValueError:
                content = data.decode("utf-8", "replace")
            return 200, {"code": 200, "key": info.key, "etag": info.etag, "content": content}
        return 404, {"code": 404, "message": f"unknown sandbox endpoint {path[:100]}"}

    @staticmethod
    def _ice_audio(store: Any, query: dict[str, str]) -> tuple[int, Any]:
        """POST /_sandbox/ice/audio?instance_id=&kind=sentence|call[&sentence_id=&role=&duration_ms=&timestamp=]:
        the ICE simulator's voice recording: the WAV written into the bucket, the audio callback
        ICE would send for it returned (`aiagent simulate-call` posts it to the callback endpoint)."""
        from devkit.sims.ice import record_audio
        from shared.archive import layout

        try:
            instance = layout.validate_instance_id(query.get("instance_id", ""))
            sentence = int(query["sentence_id"]) if query.get("sentence_id") else None
            event = record_audio(store, instance, kind=query.get("kind", "sentence"), sentence_id=sentence,
                                 role=query.get("role") or None, duration_ms=int(query.get("duration_ms") or 800),
                                 timestamp=query.get("timestamp") or None, text=query.get("text") or None)
        except (ValueError, KeyError) as exc:
            return 400, {"code": 400, "message": f"ice audio: {exc}"}
        return 200, {"code": 200, "event": event}

    def stop(self) -> None:
        from devkit.sandbox.observed_store import ObservedStore
        from shared.clients import object_store

        if self._timer_stop is not None:
            self._timer_stop.set()
        store = object_store.get_store() if self._listeners else None
        if isinstance(store, ObservedStore):
            for fn in self._listeners:
                store.remove_listener(fn)
        self._listeners.clear()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.dispatcher is not None:
            self.dispatcher.wait_idle(5)
            self.dispatcher.stop()
        if self.ups is not None:
            self.ups.stop()


def run(host: str, port: int, out: Callable[[str], None] = print) -> int:
    """`aiagent dev`: apply defaults, start upstreams, cold-start every function, serve."""
    try:
        stack = DevStack(host, port).start()
    except SystemExit as exc:
        out(str(exc))
        return 2
    assert stack.sandbox is not None
    base = stack.url
    out(f"aiagent dev: serving {len(stack.sandbox.deployed)} function(s) on {base}")
    for path, dep in sorted(stack.sandbox.routes.items()):
        methods = "|".join(m for m in next(r.methods for r in dep.spec.routes if r.path == path) if m != "OPTIONS")
        out(f"  {methods} {base}{path}  -> functions/{dep.spec.key} ({dep.spec.handler})")
    for key, dep in stack.sandbox.deployed.items():
        for timer in dep.spec.timer_triggers:
            every = os.environ.get('SANDBOX_COMPACT_SECONDS', '3')
            out(f"  timer {timer.cron!r} -> functions/{key} (here: every {every} s)")
    for key, dep in stack.sandbox.deployed.items():
        for trig in dep.spec.oss_triggers:
            out(f"  OSS trigger {trig.prefix}*{trig.suffix} -> functions/{key} (async, retried)")
    from devkit.sandbox.triggers import destination_of

    for key, dep in stack.sandbox.deployed.items():
        target = destination_of(dep.spec)
        dest = next((k for k, d in stack.sandbox.deployed.items() if d.spec.function_name == target), None)
        if dest:
            out(f"  failure destination of functions/{key} (retries used up) -> functions/{dest}")
    mode = os.environ.get("AUTH_MODE")
    if mode == "static":
        token = os.environ.get("AUTH_STATIC_TOKENS", "").split(",")[0].strip()
        note = " (embedded development token)" if "AUTH_STATIC_TOKENS" in stack.filled else ""
        out(f"client auth: AUTH_MODE=static; token{note}: {token}")
        first = next((p for p in stack.sandbox.routes if p.endswith("/getRtcAuthToken")), "/")
        out(f"try: curl -s -X POST {base}{first} -H 'Authorization: Bearer {token}' "
            "-H 'Content-Type: application/json' -d '{\"user_id\":\"alice\"}'")
    elif mode == "jwt":
        out("client auth: AUTH_MODE=jwt; mint a token with: aiagent token --user-id alice")
    else:
        out(f"client auth: AUTH_MODE={mode} (no client authorization)")
    if os.environ.get("CALLBACK_TOKEN"):
        note = " (embedded development token)" if "CALLBACK_TOKEN" in stack.filled else ""
        out(f"ICE callbacks: POST {base}/api/v2/aiagent/callback with Authorization: Bearer "
            f"{os.environ['CALLBACK_TOKEN'].split(',')[0].strip()}{note}")
    if os.environ.get("SANDBOX_TOKEN"):
        note = " (embedded development token)" if "SANDBOX_TOKEN" in stack.filled else ""
        out(f"sandbox endpoints: GET {base}/_sandbox/status with Authorization: Bearer "
            f"{os.environ['SANDBOX_TOKEN']}{note}")
    if os.environ.get("AUTH_JWT_SECRET") and "archive_console" in stack.sandbox.deployed:
        from devkit.tokens import mint_token

        ttl = min(int(os.environ.get("AUTH_JWT_MAX_TTL_SECONDS") or 86400), 86400)
        admin = mint_token("dev-admin", os.environ["AUTH_JWT_SECRET"], ttl, role="admin")
        out(f"QA console (signed in as a development admin for {ttl // 3600} h): {base}/console/#token={admin}")
        out("  calls appear there seconds after `aiagent simulate-call` ends")
    for line in stack.ups.lines:
        out(f"upstream {line}")
    if stack.filled:
        out("embedded development defaults in use for: " + ", ".join(sorted(stack.filled)))
    out("press Ctrl+C to stop")
    import signal

    def _terminate(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0
