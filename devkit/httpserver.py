"""What every local HTTP server of the devkit shares."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuickHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler with TCP_NODELAY: headers and body leave as separate
    writes, and without it Nagle + delayed ACK add ~40 ms to every response."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the functions log what matters
        return

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout): nothing to answer

    def stall_or_drop(self, delay: float, drop: bool) -> bool:
        """An injected fault's first part: wait `delay` seconds, then (with `drop`) close
        the connection without answering. True when the connection was dropped."""
        if delay:
            time.sleep(delay)
        if drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        return False

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """A JSON answer (UTF-8, Content-Length) with extra `headers`."""
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    """A threading HTTP server whose listen backlog holds a burst of new connections
    (the default 5 makes the 6th concurrent client wait for a SYN retry, ~1 s)."""

    daemon_threads = True
    request_queue_size = 128


def serve_in_thread(handler: type[BaseHTTPRequestHandler], host: str, port: int,
                    poll_interval: float = 0.1) -> ThreadingHTTPServer:
    """A threading server for `handler` on host:port (0: a free port), served by a daemon thread."""
    server = Server((host, port), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True).start()
    return server


def shutdown(server: ThreadingHTTPServer | None) -> None:
    """Stop serving and close the listening socket (no-op for None)."""
    if server is not None:
        server.shutdown()
        server.server_close()


class LoopbackService:
    """Base of the devkit's simulators: `start()` serves on host:port; `.endpoint` is the
    URL to configure (e.g. ICE_ENDPOINT); `stop()` closes it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "not started"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = serve_in_thread(handler, self.host, self.port)

    def stop(self) -> None:
        shutdown(self._server)
        self._server = None
