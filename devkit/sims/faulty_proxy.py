"""A TCP proxy in front of an HTTP/1.x server that injects network faults on demand.

Development and tests only (standard library: socket, select, threading). It listens on
`127.0.0.1:<free port>` (`.endpoint` is `http://127.0.0.1:<port>`) and relays bytes to
a target `host:port` unchanged: the Host header, signatures and bodies are the client's
own, so a SigV4 client pointed at the proxy signs for the proxy's address, as it would
for any endpoint. It only looks at the client's side far enough to cut the byte stream
into requests (request line, headers, then `Content-Length` or `chunked` body);
responses are relayed as raw bytes and never parsed.

Faults are queued with `inject(kind, times=N)` (`times=None`: until `clear()`), and
each applies to the next N *requests* that match its optional `method` /
`path_contains` filter, in the order they reach the proxy — whether the request opens a
new connection or arrives on a kept-alive one. That keeps tests deterministic whatever
the client's connection pool does. Kinds:

- `reset`: the request is read whole, never forwarded, and the client's connection is
  closed with a TCP RST (SO_LINGER 0) without an answer.
- `reset_mid_response`: the request is forwarded on a fresh upstream connection, the
  first `after_bytes` bytes of the upstream's answer (default 20: inside the status
  line; a few KiB: inside the body) are relayed, then, 50 ms later, RST. The upstream
  did execute the request (a PUT is stored; only its answer is lost).
- `slow`: the proxy waits `delay` seconds before forwarding the request, then relays as
  usual. A client that gives up during the wait (its read timeout) closes the
  connection: the request is then never forwarded (counted as `abandoned`).
- `slow_response`: the request is forwarded at once (the upstream executes it) and the
  answer is held for `delay` seconds before it is relayed; a client that gave up in the
  meantime never gets it (`abandoned`).
- `trickle`: the request is forwarded at once and its answer relayed `chunk_bytes` at a
  time, one piece every `delay` seconds (a link that is slow but never silent for long:
  no single read waits long, the whole answer does). The throttle ends when the client
  sends its next request on the connection, i.e. once it has read the whole answer.

After `reset` and `reset_mid_response` the client connection is gone; after a slow
fault that the client waited out, the connection carries on as a pass-through one.
When the upstream closes a kept-alive connection, the proxy closes the client's side
the same way (FIN), so the client sees what it would see without the proxy.

Accounting: `stats()` counts `connections`, `requests`, `forwarded` (requests that
reached the upstream), one counter per fault kind served, and `abandoned`; `served()`
lists one `Served` record per request (connection number, method, target, fault or
None, forwarded or not). A slow fault's outcome is known only when the client gives up
or the delay ends: call `settle()` before asserting on the counters.
"""
from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, overload
from urllib.parse import urlsplit

FAULTS = ("reset", "reset_mid_response", "slow", "slow_response", "trickle")
MAX_HEAD_BYTES = 64 * 1024
_UPSTREAM_CONNECT_TIMEOUT = 5.0
_UPSTREAM_READ_TIMEOUT = 10.0  # waiting for the first bytes of an answer in reset_mid_response
_RST_PAUSE = 0.05  # lets the client read the partial answer before the RST


@dataclass(frozen=True)
class Served:
    """One request the proxy handled."""

    connection: int
    method: str
    target: str
    fault: str | None
    forwarded: bool


@dataclass
class _Fault:
    kind: str
    remaining: int | None
    delay: float
    after_bytes: int
    chunk_bytes: int
    method: str | None
    path_contains: str | None

    def matches(self, method: str, target: str) -> bool:
        return (self.method is None or self.method == method) and \
            (self.path_contains is None or self.path_contains in target)


class _Malformed(Exception):
    pass


class _Request:
    __slots__ = ("method", "target", "raw")

    def __init__(self, method: str, target: str, raw: bytes) -> None:
        self.method, self.target, self.raw = method, target, raw


class _Reader:
    """Buffered reads of whole HTTP/1.x requests from the client's socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    @overload
    def _until(self, delim: bytes, limit: int, *, eof_ok: Literal[False] = ...) -> bytes: ...

    @overload
    def _until(self, delim: bytes, limit: int, *, eof_ok: bool) -> bytes | None: ...

    def _until(self, delim: bytes, limit: int, *, eof_ok: bool = False) -> bytes | None:
        start = 0
        while True:
            i = self.buf.find(delim, start)
            if i >= 0:
                out = bytes(self.buf[:i + len(delim)])
                del self.buf[:i + len(delim)]
                return out
            if len(self.buf) > limit:
                raise _Malformed("request head too long")
            start = max(0, len(self.buf) - len(delim) + 1)
            if not self._fill():
                if eof_ok and not self.buf:
                    return None
                raise _Malformed("connection closed inside a request")

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise _Malformed("connection closed inside a request body")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def request(self) -> _Request | None:
        """The next whole request, or None when the client closed between requests."""
        while self.buf.startswith(b"\r\n"):  # tolerated between requests (RFC 9112 2.2)
            del self.buf[:2]
        head = self._until(b"\r\n\r\n", MAX_HEAD_BYTES, eof_ok=True)
        if head is None:
            return None
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            raise _Malformed("bad request line")
        method, target = parts[0].decode("latin-1"), parts[1].decode("latin-1")
        length, chunked = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if not chunked:
            return _Request(method, target, head + self._exact(length))
        body = []
        while True:
            size_line = self._until(b"\r\n", 4096)
            body.append(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailer section up to the empty line
                    line = self._until(b"\r\n", MAX_HEAD_BYTES)
                    body.append(line)
                    if line == b"\r\n":
                        break
                break
            body.append(self._exact(size + 2))
        return _Request(method, target, head + b"".join(body))


def _rst(sock: socket.socket) -> None:
    """Close `sock` with a TCP RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def _shutdown(sock: socket.socket | None, how: int = socket.SHUT_RDWR) -> None:
    if sock is None:
        return
    try:
        sock.shutdown(how)
    except OSError:
        pass


class _Connection:
    """One client connection: reads requests, forwards or faults them. The response
    direction of a pass-through upstream connection is pumped by a second thread."""

    def __init__(self, proxy: FaultyProxy, client: socket.socket, number: int) -> None:
        self.proxy = proxy
        self.client = client
        self.number = number
        self.up: socket.socket | None = None
        self.pump: threading.Thread | None = None
        self.client_write_closed = False  # FIN sent to the client (the upstream closed)
        self.throttle: tuple[int, float] | None = None  # (bytes, seconds) while a trickle lasts
        self.thread = threading.Thread(target=self.run, name=f"faulty-proxy-conn-{number}", daemon=True)

    # -- upstream plumbing --

    def _open_upstream(self) -> socket.socket:
        up = socket.create_connection(self.proxy.target, timeout=_UPSTREAM_CONNECT_TIMEOUT)
        up.settimeout(None)
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return up

    def _attach(self, up: socket.socket) -> None:
        self.up = up
        self.pump = threading.Thread(target=self._pump, args=(up,), name=f"faulty-proxy-pump-{self.number}",
                                     daemon=True)
        self.pump.start()

    def _pump(self, up: socket.socket) -> None:
        try:
            while True:
                throttle = self.throttle
                data = up.recv(throttle[0] if throttle else 65536)
                if not data:
                    break
                self.client.sendall(data)
                if throttle and self.proxy._stopping.wait(throttle[1]):
                    break
        except OSError:
            pass
        if self.up is up:  # the upstream closed (not us detaching it): mirror it
            self.client_write_closed = True
            _shutdown(self.client, socket.SHUT_WR)

    def _detach(self) -> None:
        up, pump = self.up, self.pump
        self.up = self.pump = None
        if up is not None:
            _shutdown(up)
            if pump is not None:
                pump.join(2.0)
            up.close()

    def _forward(self, request: _Request) -> bool:
        if self.client_write_closed:
            return False  # the upstream closed this connection: no answer can reach the client
        if self.up is None:
            self._attach(self._open_upstream())
        assert self.up is not None
        self.up.sendall(request.raw)
        return True

    def _client_waits(self, delay: float) -> bool:
        """Wait `delay` seconds; False as soon as the client hangs up (or the proxy stops)."""
        deadline = time.monotonic() + delay
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            if self.proxy._stopping.is_set():
                return False
            readable, _, _ = select.select([self.client], [], [], min(remaining, 0.02))
            if readable:
                try:
                    if not self.client.recv(1, socket.MSG_PEEK):
                        return False
                except OSError:
                    return False
                time.sleep(min(max(remaining, 0.0), 0.02))  # more bytes from the client: keep waiting

    # -- the request loop --

    def run(self) -> None:
        reader = _Reader(self.client)
        keep = True
        try:
            while keep and not self.proxy._stopping.is_set():
                request = reader.request()
                if request is None:
                    break
                self.throttle = None  # the client read the previous answer whole
                fault = self.proxy._take(request.method, request.target)
                if fault is None:
                    keep = self._forward(request)
                    self.proxy._record(self, request, None, keep)
                    continue
                try:
                    keep = self._fault(fault, request)
                finally:
                    self.proxy._fault_done()
        except (OSError, _Malformed, ValueError):
            keep = False
        finally:
            self._detach()
            try:
                self.client.close()
            except OSError:
                pass
            self.proxy._forget(self)

    def _fault(self, fault: _Fault, request: _Request) -> bool:
        """Apply `fault` to `request`; whether the client connection stays open."""
        proxy = self.proxy
        if fault.kind == "reset":
            self._detach()
            proxy._record(self, request, "reset", False)
            _rst(self.client)
            return False
        if fault.kind == "reset_mid_response":
            self._detach()
            up = self._open_upstream()
            try:
                up.settimeout(_UPSTREAM_READ_TIMEOUT)
                up.sendall(request.raw)
                proxy._record(self, request, "reset_mid_response", True)
                got = bytearray()
                while len(got) < fault.after_bytes:
                    data = up.recv(65536)
                    if not data:
                        break
                    got += data
                self.client.sendall(bytes(got[:fault.after_bytes]))
                time.sleep(_RST_PAUSE)
            finally:
                up.close()
            _rst(self.client)
            return False
        if fault.kind == "slow":
            if not self._client_waits(fault.delay):
                proxy._record(self, request, "slow", False, abandoned=True)
                return False
            keep = self._forward(request)
            proxy._record(self, request, "slow", keep)
            return keep
        if fault.kind == "slow_response":
            self._detach()
            up = self._open_upstream()
            up.sendall(request.raw)
            if not self._client_waits(fault.delay):
                up.close()
                proxy._record(self, request, "slow_response", True, abandoned=True)
                return False
            proxy._record(self, request, "slow_response", True)
            self._attach(up)  # the held answer is relayed now
            return True
        if fault.kind == "trickle":
            self._detach()
            up = self._open_upstream()
            up.sendall(request.raw)
            proxy._record(self, request, "trickle", True)
            self.throttle = (max(1, fault.chunk_bytes), fault.delay)
            self._attach(up)
            return True
        raise AssertionError(fault.kind)


class FaultyProxy:
    """See the module docstring. `target` is `http://host:port` or `(host, port)`."""

    def __init__(self, target: str | tuple[str, int], *, host: str = "127.0.0.1", port: int = 0) -> None:
        if isinstance(target, str):
            parts = urlsplit(target)
            if not parts.hostname:
                raise ValueError("target must be http://host:port or (host, port)")
            target = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        self.target: tuple[str, int] = target
        self._bind = (host, port)
        self._lock = threading.Condition()
        self._faults: list[_Fault] = []
        self._counts: Counter[str] = Counter()
        self._served: list[Served] = []
        self._connections: set[_Connection] = set()
        self._in_fault = 0
        self._numbers = 0
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle --

    @property
    def endpoint(self) -> str:
        return f"http://{self._bind[0]}:{self.port}"

    def start(self) -> FaultyProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(self._bind)
        listener.listen(64)
        listener.settimeout(0.05)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._stopping.clear()
        self._thread = threading.Thread(target=self._accept_loop, name="faulty-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            _shutdown(conn.client)  # wakes its reader; the reader closes everything itself
        for conn in connections:
            conn.thread.join(2.0)

    def __enter__(self) -> FaultyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            client.settimeout(None)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._numbers += 1
                self._counts["connections"] += 1
                conn = _Connection(self, client, self._numbers)
                self._connections.add(conn)
            conn.thread.start()

    # -- control --

    def inject(self, kind: str, times: int | None = 1, *, delay: float = 1.0, after_bytes: int = 20,
               chunk_bytes: int = 32, method: str | None = None, path_contains: str | None = None) -> None:
        """Apply `kind` to the next `times` matching requests (None: until `clear()`).
        `delay`: seconds (slow, slow_response; trickle: between pieces); `after_bytes`:
        reset_mid_response; `chunk_bytes`: trickle; `method`, `path_contains`: filters."""
        if kind not in FAULTS:
            raise ValueError(f"kind must be one of {FAULTS}")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        with self._lock:
            self._faults.append(_Fault(kind, times, float(delay), int(after_bytes), int(chunk_bytes),
                                       method.upper() if method else None, path_contains))

    def clear(self) -> None:
        """Drop every pending fault: from now on, everything passes through."""
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """`clear()`, and forget the counters and the served records."""
        self.settle()
        with self._lock:
            self._faults.clear()
            self._counts.clear()
            self._served.clear()

    def settle(self, timeout: float = 5.0) -> bool:
        """Wait until no fault is being served (slow waits over); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._in_fault:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    def stats(self) -> dict[str, int]:
        """Counters: connections, requests, forwarded, abandoned, and one per fault kind."""
        with self._lock:
            out = {name: 0 for name in ("connections", "requests", "forwarded", "abandoned", *FAULTS)}
            out.update(self._counts)
            return out

    def served(self, match: Callable[[Served], bool] | None = None) -> list[Served]:
        """The requests handled so far, oldest first (those `match` accepts)."""
        with self._lock:
            return [s for s in self._served if match is None or match(s)]

    # -- used by connections --

    def _take(self, method: str, target: str) -> _Fault | None:
        with self._lock:
            self._counts["requests"] += 1
            for fault in self._faults:
                if fault.matches(method, target):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    self._in_fault += 1
                    return fault
            return None

    def _fault_done(self) -> None:
        with self._lock:
            self._in_fault -= 1
            self._lock.notify_all()

    def _record(self, conn: _Connection, request: _Request, fault: str | None, forwarded: bool, *,
                abandoned: bool = False) -> None:
        with self._lock:
            if fault:
                self._counts[fault] += 1
            if forwarded:
                self._counts["forwarded"] += 1
            if abandoned:
                self._counts["abandoned"] += 1
            self._served.append(Served(conn.number, request.method, request.target, fault, forwarded))

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.discard(conn)
