"""What every local HTTP server of the devkit shares."""
from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler


class QuickHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler with TCP_NODELAY: headers and body leave as separate
    writes, and without it Nagle + delayed ACK add ~40 ms to every response."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args: object) -> None:  # quiet: the functions log what matters
        return

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout): nothing to answer
