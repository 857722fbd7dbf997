"""A small HTTP/1.1 transport for httpx on the standard library's `http.client`.

Why: cold starts. httpx's default transport imports httpcore, h11, anyio and certifi when the
first `httpx.Client` is made (~30-40 ms of every cold start), while `import httpx` has already
imported `http.client`, `socket` and `ssl`. With `httpx.Client(transport=Transport(),
trust_env=False)` the clients keep httpx's API (timeouts, exceptions, Request/Response, content
decoding) and none of those modules is imported.

Supported: `http` and `https` (one `ssl.SSLContext`, by default `shared.clients.tls.context()`:
the chain and the host name verified); HTTP/1.1 keep-alive with a thread-safe pool of idle
connections per origin; request bodies with Content-Length or `Transfer-Encoding: chunked`
(read into memory first, so that a stale kept-alive connection can be retried); response bodies
streamed as raw chunks (httpx decodes Content-Encoding); httpx's connect/read/write timeouts and
exception classes; `response.extensions["network_stream"].get_extra_info("socket")`.

Not supported: HTTP/2; proxies (none is used; build the client with `trust_env=False`, else
httpx mounts its own transports for proxy environment variables); the `pool` timeout (no request
ever waits for a connection: one is opened when none is idle); request extensions other than
`timeout`; `Expect: 100-continue`, CONNECT and protocol upgrades. A connection is never used by two
requests at once: a response that is not read to its end (or closed) keeps its connection.
"""
from __future__ import annotations

import http.client
import select
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import socket
    import ssl

_Key = tuple[str, str, int]  # (scheme, host, port): connections are shared by origin only
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CHUNK = 65536
# Methods a stale connection may be retried with after the request went out: the server may have
# processed a POST before closing (RFC 9110 9.2.2); its callers decide (their own retry loops).
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class _Stale(Exception):
    """A kept-alive connection turned out to be closed by the server: try again on a fresh one."""


def _mapped(exc: BaseException, phase: str, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception for an error of the connect, write or read phase."""
    kind: type[httpx.TransportError]
    timeout = isinstance(exc, TimeoutError)  # socket.timeout is TimeoutError since Python 3.10
    if phase == "connect":
        kind = httpx.ConnectTimeout if timeout else httpx.ConnectError
    elif phase == "write":
        kind = httpx.WriteTimeout if timeout else httpx.WriteError
    elif timeout:
        kind = httpx.ReadTimeout
    elif isinstance(exc, http.client.HTTPException):  # before OSError: RemoteDisconnected is both
        kind = httpx.RemoteProtocolError
    else:
        kind = httpx.ReadError
    return kind(str(exc) or type(exc).__name__, request=request)


def _unusable(conn: http.client.HTTPConnection) -> bool:
    """An idle HTTP/1.1 connection with something to read (EOF, a reset, garbage) is dead."""
    sock = conn.sock
    if sock is None:
        return True
    pending = getattr(sock, "pending", None)  # bytes already decrypted by an SSLSocket
    try:
        if pending is not None and pending():
            return True
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class _NetworkStream:
    """What httpx callers may ask of the connection (`retry.cut_off_at` shuts its socket down)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def get_extra_info(self, info: str) -> Any:
        return self._sock if info == "socket" else None


class _ResponseStream(httpx.SyncByteStream):
    """The raw body, chunk by chunk; at its end the connection goes back to the pool."""

    def __init__(self, transport: Transport, key: _Key, conn: http.client.HTTPConnection,
                 resp: http.client.HTTPResponse, request: httpx.Request) -> None:
        self._transport, self._key, self._request = transport, key, request
        self._conn: http.client.HTTPConnection | None = conn
        self._resp = resp

    def __iter__(self) -> Iterator[bytes]:
        if self._conn is None:
            return
        try:
            while chunk := self._resp.read1(_CHUNK):  # dechunked, still Content-Encoded
                yield chunk
            if self._resp.length:  # read1 does not raise when the server closes before Content-Length
                raise http.client.IncompleteRead(b"", self._resp.length)
        except BaseException as exc:  # GeneratorExit too: a body left unread closes its connection
            self.close()
            if isinstance(exc, (OSError, http.client.HTTPException)):
                raise _mapped(exc, "read", self._request) from exc
            raise
        self._finish(reusable=not self._resp.will_close)

    def close(self) -> None:
        self._finish(reusable=False)

    def _finish(self, reusable: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        self._resp.close()  # lets the connection send its next request
        if reusable:
            self._transport._put(self._key, conn)
        else:
            conn.close()


class Transport(httpx.BaseTransport):
    """httpx transport: HTTP/1.1 over `http.client`, kept-alive connections pooled per origin."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, max_idle_per_origin: int = 4,
                 keepalive_expiry: float = 60.0) -> None:
        self._ssl_context = ssl_context  # None: shared.clients.tls.context(), on the first https request
        self._max_idle = max_idle_per_origin
        self._expiry = keepalive_expiry
        self._idle: dict[_Key, list[tuple[http.client.HTTPConnection, float]]] = {}  # oldest first
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"Unsupported URL scheme {url.scheme!r}: only http and https",
                                            request=request)
        key = (url.scheme, url.raw_host.decode("ascii"), url.port or _DEFAULT_PORTS[url.scheme])
        timeouts: Mapping[str, float | None] = request.extensions.get("timeout", {})
        body = request.read()
        conn = self._take(key)
        if conn is not None:
            try:
                return self._exchange(key, conn, request, body, timeouts, reused=True)
            except _Stale:
                pass  # closed by the server between requests: once more on a fresh connection
        conn = self._connect(key, request, timeouts.get("connect"))
        return self._exchange(key, conn, request, body, timeouts, reused=False)

    def close(self) -> None:
        """Close every idle connection. The transport stays usable (it opens new ones); a response
        being read keeps its connection, which joins the pool when that body is read to the end."""
        with self._lock:
            idle = [conn for conns in self._idle.values() for conn, _ in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()

    def _connect(self, key: _Key, request: httpx.Request, timeout: float | None) -> http.client.HTTPConnection:
        scheme, host, port = key
        conn: http.client.HTTPConnection
        if scheme == "https":
            if self._ssl_context is None:
                from shared.clients import tls

                self._ssl_context = tls.context()
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl_context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.auto_open = 0  # never reconnect silently
        try:
            conn.connect()  # TCP, then the TLS handshake: both within the connect timeout
        except (OSError, UnicodeError) as exc:  # refused, DNS, TLS verification; UnicodeError: IDNA
            conn.close()
            raise _mapped(exc, "connect", request) from exc
        return conn

    def _exchange(self, key: _Key, conn: http.client.HTTPConnection, request: httpx.Request, body: bytes,
                  timeouts: Mapping[str, float | None], reused: bool) -> httpx.Response:
        sock = conn.sock
        try:  # exactly what httpx built: http.client adds no header (Host, Accept-Encoding are httpx's)
            sock.settimeout(timeouts.get("write"))
            conn.putrequest(request.method, request.url.raw_path.decode("ascii"), skip_host=True,
                            skip_accept_encoding=True)
            for name, value in request.headers.raw:
                conn.putheader(name, value)  # bytes go out as they are (signed headers)
            conn.endheaders()
            if "chunked" in request.headers.get("transfer-encoding", "").lower():
                conn.send((b"%X\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n")
            elif body:
                conn.send(body)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, ValueError):  # a header name or value http.client refuses (CR, LF, ...)
                raise httpx.LocalProtocolError(str(exc), request=request) from exc
            if reused and isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
                raise _Stale from exc
            if isinstance(exc, OSError):
                raise _mapped(exc, "write", request) from exc
            raise
        try:
            sock.settimeout(timeouts.get("read"))
            resp = conn.getresponse()  # status line and headers
        except BaseException as exc:
            conn.close()
            # RemoteDisconnected (no byte of a status line) is a ConnectionResetError.
            if reused and request.method in _IDEMPOTENT and isinstance(exc, (ConnectionResetError, BrokenPipeError)):
                raise _Stale from exc
            if isinstance(exc, (OSError, http.client.HTTPException)):
                raise _mapped(exc, "read", request) from exc
            raise
        # Received order, duplicates kept; http.client decoded them as latin-1 and kept the value's
        # trailing whitespace (h11 strips both ends, as RFC 9110 says).
        headers = [(name.encode("latin-1"), value.strip(" \t").encode("latin-1"))
                   for name, value in resp.getheaders()]
        return httpx.Response(
            resp.status, headers=headers, stream=_ResponseStream(self, key, conn, resp, request),
            extensions={"http_version": b"HTTP/1.0" if resp.version == 10 else b"HTTP/1.1",
                        "reason_phrase": resp.reason.encode("latin-1"), "network_stream": _NetworkStream(sock)})

    def _take(self, key: _Key) -> http.client.HTTPConnection | None:
        """The most recently used idle connection to `key` that is neither expired nor dead."""
        dropped = []
        found = None
        with self._lock:
            idle = self._idle.get(key)
            now = time.monotonic()
            while idle and found is None:
                conn, since = idle.pop()
                if now - since > self._expiry or _unusable(conn):
                    dropped.append(conn)
                else:
                    found = conn
        for conn in dropped:
            conn.close()
        return found

    def _put(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        """Back to the pool, most recent last; the oldest beyond `max_idle_per_origin` are closed."""
        dropped = []
        with self._lock:
            idle = self._idle.setdefault(key, [])
            now = time.monotonic()
            idle.append((conn, now))
            while idle and (len(idle) > self._max_idle or now - idle[0][1] > self._expiry):
                dropped.append(idle.pop(0)[0])
        for conn in dropped:
            conn.close()
