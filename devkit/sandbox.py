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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from devkit import syaml
from devkit.fc_context import FCContext, load_handler

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

    def serve(self, host: str = "127.0.0.1", port: int = 9000) -> ThreadingHTTPServer:
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
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
                path = urlsplit(self.path).path
                dep = sandbox.routes.get(path)
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

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        return server


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


def run(host: str, port: int, out: Callable[[str], None] = print) -> int:
    """`aiagent dev`: apply defaults, cold-start every function, serve until interrupted."""
    from devkit import defaults, upstreams

    filled = defaults.apply()
    ups = upstreams.start()
    sandbox = Sandbox()
    sandbox.load()
    if sandbox.config_errors:
        for key, msg in sandbox.config_errors.items():
            out(f"error: {key}: {msg}")
        ups.stop()
        return 2
    server = sandbox.serve(host, port)
    base = f"http://{host}:{server.server_address[1]}"
    out(f"aiagent dev: serving {len(sandbox.deployed)} function(s) on {base}")
    for path, dep in sorted(sandbox.routes.items()):
        out(f"  POST {base}{path}  -> functions/{dep.spec.key} ({dep.spec.handler})")
    mode = os.environ.get("AUTH_MODE")
    if mode == "static":
        tokens = os.environ.get("AUTH_STATIC_TOKENS", "").split(",")
        note = " (embedded development token)" if "AUTH_STATIC_TOKENS" in filled else ""
        out(f"client auth: AUTH_MODE=static; token{note}: {tokens[0].strip()}")
        first = next((p for p in sandbox.routes if p.endswith("/getRtcAuthToken")), next(iter(sandbox.routes), "/"))
        out(f"try: curl -s -X POST {base}{first} -H 'Authorization: Bearer {tokens[0].strip()}' "
            "-H 'Content-Type: application/json' -d '{\"user_id\":\"alice\"}'")
    elif mode == "jwt":
        out("client auth: AUTH_MODE=jwt; mint a token with: aiagent token --user-id alice")
    else:
        out(f"client auth: AUTH_MODE={mode} (no client authorization)")
    for line in ups.lines:
        out(f"upstream {line}")
    if filled:
        out("embedded development defaults in use for: " + ", ".join(sorted(filled)))
    out("press Ctrl+C to stop")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        ups.stop()
    return 0
