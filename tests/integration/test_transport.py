"""The http.client transport (shared/clients/transport.py) behind httpx.Client, over real loopback
sockets: servers written here answer byte by byte (or misbehave on purpose), so every request is
checked as the server received it and every failure is a real one."""
from __future__ import annotations

import datetime
import gzip
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest

from shared.clients.retry import cut_off_at
from shared.clients.transport import Transport

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = httpx.Timeout(3.0)


# --- a loopback server whose every byte is ours ---------------------------------------------------------

@dataclass
class Received:
    head: bytes  # request line and headers, exactly as they arrived (through the blank line)
    line: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes  # dechunked
    raw_body: bytes  # as it arrived

    @property
    def method(self) -> bytes:
        return self.line.split(b" ")[0]

    @property
    def target(self) -> bytes:
        return self.line.split(b" ")[1]

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def read_request(rfile: BinaryIO) -> Received | None:
    """One HTTP/1.1 request from the stream, or None at EOF."""
    lines = [rfile.readline()]
    if not lines[0]:
        return None
    while lines[-1] not in (b"\r\n", b""):
        lines.append(rfile.readline())
    if not lines[-1]:
        return None
    headers = [(k, v.strip()) for k, _, v in (x.rstrip(b"\r\n").partition(b":") for x in lines[1:-1])]
    got = Received(b"".join(lines), lines[0].rstrip(b"\r\n"), headers, b"", b"")
    if got.header(b"content-length") is not None:
        got.body = got.raw_body = rfile.read(int(got.header(b"content-length") or 0))
    elif got.header(b"transfer-encoding") == b"chunked":
        while True:
            size_line = rfile.readline()
            size = int(size_line.strip(), 16)
            data = rfile.read(size + 2)
            got.raw_body += size_line + data
            got.body += data[:-2]
            if size == 0:
                break
    return got


def reply(body: bytes = b"", *headers: tuple[bytes, bytes], status: bytes = b"200 OK", head_only: bool = False,
          length: bool = True) -> bytes:
    fields = ([(b"Content-Length", str(len(body)).encode())] if length else []) + list(headers)
    head = b"HTTP/1.1 " + status + b"\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in fields) + b"\r\n"
    return head if head_only else head + body


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


class Conn:
    """One accepted connection, as the handlers see it."""

    def __init__(self, sock: socket.socket, server: Server) -> None:
        self.sock, self.server = sock, server
        self.port = sock.getpeername()[1]
        self.rfile = sock.makefile("rb")

    def request(self) -> Received | None:
        got = read_request(self.rfile)
        if got is not None:
            with self.server.lock:
                self.server.requests.append((self.port, got))
        return got


Handler = Callable[[Conn], None]


class Server:
    """TCP (or TLS) on 127.0.0.1, a thread per connection; counts accepts and open connections."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.handler, self.tls = handler, tls
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.accepts = self.open = 0
        self.requests: list[tuple[int, Received]] = []
        self.socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def ports(self) -> list[int]:
        return [port for port, _ in self.requests]

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepts += 1
                self.open += 1
                self.socks.append(sock)
            threading.Thread(target=self._run, args=(sock,), daemon=True).start()

    def _run(self, sock: socket.socket) -> None:
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
            self.handler(Conn(sock, self))
        except (OSError, ValueError):
            pass
        finally:
            sock.close()
            with self.lock:
                self.open -= 1

    def close(self) -> None:
        self.stopped.set()
        for s in [self.listener, *self.socks]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def keep_alive(respond: Callable[[Received], bytes]) -> Handler:
    """A well-behaved HTTP/1.1 server: answers requests on a connection until the client closes it."""
    def handler(conn: Conn) -> None:
        while (got := conn.request()) is not None:
            conn.sock.sendall(respond(got))
    return handler


def until(predicate: Callable[[], bool], seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(handler: Handler, tls: ssl.SSLContext | None = None) -> Server:
        servers.append(Server(handler, tls))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def client(timeout: httpx.Timeout = TIMEOUT, **options: Any) -> httpx.Client:
    return httpx.Client(transport=Transport(**options), trust_env=False, timeout=timeout)


def ok(got: Received) -> bytes:
    return reply(b"ok " + got.target)


# --- requests and answers ----------------------------------------------------------------------------------

ANSWER_HEADERS = [(b"Content-Type", b"text/plain"), (b"Set-Cookie", b"a=1"), (b"X-Latin", b"caf\xe9"),
                  (b"set-cookie", b"b=2"), (b"X-Empty", b""), (b"X-Trailing-Space", b"v")]
PATH = "/a%20b/%E2%9C%93/x?q=1%202&r=%2F&s=a+b"


@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "HEAD", "DELETE"])
def test_the_request_goes_out_as_httpx_built_it_and_the_answer_comes_back_whole(serve, method):
    def respond(got: Received) -> bytes:
        head = got.method == b"HEAD"
        return reply(got.method + b" " + got.body, *ANSWER_HEADERS, head_only=head).replace(
            b"X-Trailing-Space: v", b"X-Trailing-Space: v  ")

    srv = serve(keep_alive(respond))
    content = b"payload \x00\xff\r\n" if method in ("PUT", "POST") else None
    with client() as c:
        built = c.build_request(method, srv.url(PATH), content=content,
                                headers=[(b"X-Sig", b"\xe4bc = "), (b"x-acs-Date", b"2024-01-01T00:00:00Z")])
        resp = c.send(built)

    [(_, got)] = srv.requests
    assert got.line == f"{method} {PATH} HTTP/1.1".encode()  # percent-encoding kept, nothing re-encoded
    # Every header as httpx built it, in its order and case, byte for byte; nothing added.
    assert got.head == got.line + b"\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in built.headers.raw) + b"\r\n"
    assert (b"X-Sig", b"\xe4bc = ") in built.headers.raw
    assert got.raw_body == (content or b"")
    assert resp.status_code == 200 and resp.reason_phrase == "OK" and resp.http_version == "HTTP/1.1"
    body = method.encode() + b" " + (content or b"")
    assert resp.headers.raw == [(b"Content-Length", str(len(body)).encode()), *ANSWER_HEADERS]
    assert resp.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert resp.content == (b"" if method == "HEAD" else body)


@pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"])
def test_answers_without_a_body_leave_the_connection_ready(serve, status):
    srv = serve(keep_alive(lambda got: reply(b"", (b"ETag", b'"1"'), status=status, length=False)))
    with client() as c:
        first = c.get(srv.url("/1"))
        second = c.get(srv.url("/2"))
    assert first.status_code == second.status_code == int(status[:3]) and first.content == b""
    assert srv.accepts == 1


def test_chunked_bodies_both_ways(serve):
    def respond(got: Received) -> bytes:
        return reply(chunked(b"hello ", b"chunked ", got.body), (b"Transfer-Encoding", b"chunked"), length=False)

    def parts() -> Iterator[bytes]:
        yield b"up"
        yield b"load"

    srv = serve(keep_alive(respond))
    with client() as c:
        first = c.post(srv.url("/"), content=parts())
        second = c.post(srv.url("/"), content=b"again")
    assert first.text == "hello chunked upload" and second.text == "hello chunked again"
    got = srv.requests[0][1]
    assert got.header(b"Transfer-Encoding") == b"chunked" and got.header(b"Content-Length") is None
    assert got.raw_body == b"6\r\nupload\r\n0\r\n\r\n"
    assert srv.accepts == 1  # both bodies were framed right: the connection was reused


def test_a_gzip_body_is_decoded_by_httpx_from_the_raw_stream(serve):
    text = b"compressible " * 2000
    packed = gzip.compress(text)
    srv = serve(keep_alive(lambda got: reply(packed, (b"Content-Encoding", b"gzip"))))
    with client() as c:
        resp = c.get(srv.url())
    assert resp.content == text and resp.headers["content-encoding"] == "gzip"
    assert resp.num_bytes_downloaded == len(packed)  # the transport passed the compressed bytes


def test_a_streamed_download_arrives_in_pieces_and_frees_its_connection(serve):
    blob = os.urandom(1 << 20)
    srv = serve(keep_alive(lambda got: reply(blob) if got.target == b"/big" else ok(got)))
    with client() as c:
        with c.stream("GET", srv.url("/big")) as resp:
            pieces = list(resp.iter_bytes())
        assert b"".join(pieces) == blob and len(pieces) > 1
        assert c.get(srv.url("/next")).text == "ok /next"
    assert srv.accepts == 1


def test_a_stream_closed_early_drops_its_connection(serve):
    blob = os.urandom(8 << 20)  # more than the socket buffers hold: the server is still writing
    srv = serve(keep_alive(lambda got: reply(blob) if got.target == b"/big" else ok(got)))
    with client() as c:
        with c.stream("GET", srv.url("/big")) as resp:
            assert next(resp.iter_raw())
        assert until(lambda: srv.open == 0)  # closed: the server's write failed
        assert c.get(srv.url("/next")).text == "ok /next"
    assert srv.accepts == 2 and srv.ports()[0] != srv.ports()[1]


# --- keep-alive ----------------------------------------------------------------------------------------------

def test_consecutive_requests_share_one_connection_until_it_expires(serve):
    srv = serve(keep_alive(ok))
    with client(keepalive_expiry=0.2) as c:
        for i in range(3):
            assert c.get(srv.url(f"/{i}")).text == f"ok /{i}"
        time.sleep(0.3)
        assert c.get(srv.url("/late")).text == "ok /late"
    ports = srv.ports()
    assert len(set(ports[:3])) == 1 and ports[3] != ports[0] and srv.accepts == 2


def test_the_most_recently_used_idle_connection_is_taken_first(serve):
    srv = serve(keep_alive(ok))
    with client() as c:
        with c.stream("GET", srv.url("/a")) as a, c.stream("GET", srv.url("/b")) as b:
            a.read()  # idle first
            b.read()  # idle last
        c.get(srv.url("/c"))
    port = dict((got.target, port) for port, got in srv.requests)
    assert port[b"/a"] != port[b"/b"] and port[b"/c"] == port[b"/b"]


def test_connection_close_from_the_server_means_a_new_connection(serve):
    def handler(conn: Conn) -> None:
        got = conn.request()
        assert got is not None
        conn.sock.sendall(reply(b"bye", (b"Connection", b"close")))

    srv = serve(handler)
    with client() as c:
        assert c.get(srv.url("/1")).text == "bye"
        assert c.get(srv.url("/2")).text == "bye"
    assert srv.accepts == 2


def test_an_idle_connection_the_server_closed_is_not_reused(serve):
    closed = threading.Event()

    def handler(conn: Conn) -> None:  # answers once, then hangs up without having said so
        got = conn.request()
        assert got is not None
        conn.sock.sendall(ok(got))
        conn.sock.close()
        closed.set()

    srv = serve(handler)
    with client() as c:
        assert c.get(srv.url("/1")).text == "ok /1"
        assert closed.wait(2)
        time.sleep(0.05)  # the FIN has reached the client
        assert c.get(srv.url("/2")).text == "ok /2"
    assert srv.accepts == 2 and len(set(srv.ports())) == 2


def test_an_idle_connection_with_unexpected_bytes_is_not_reused(serve):
    sent = threading.Event()

    def handler(conn: Conn) -> None:  # answers, then an answer nobody asked for, and waits
        got = conn.request()
        if got is None:
            return
        conn.sock.sendall(ok(got))
        time.sleep(0.05)  # the client has read its answer (bytes arriving with it would be read ahead)
        conn.sock.sendall(reply(b"unsolicited"))
        sent.set()
        keep_alive(ok)(conn)

    srv = serve(handler)
    with client() as c:
        assert c.get(srv.url("/1")).text == "ok /1"
        assert sent.wait(2)
        time.sleep(0.05)
        assert c.get(srv.url("/2")).text == "ok /2"
    assert srv.accepts == 2


def read_head_then_reset(conn: Conn) -> None:
    """Reads a request's head, not its body, and resets the connection."""
    while conn.rfile.readline() not in (b"\r\n", b""):
        pass
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def test_a_reused_connection_that_fails_while_sending_is_retried_once(serve):
    def handler(conn: Conn) -> None:
        with conn.server.lock:
            first = conn.server.accepts == 1
        if first:
            got = conn.request()
            assert got is not None
            conn.sock.sendall(ok(got))
            read_head_then_reset(conn)
        else:
            keep_alive(lambda got: reply(b"%d bytes" % len(got.body)))(conn)

    srv = serve(handler)
    big = bytes(16 << 20)  # more than the socket buffers hold: the reset meets the upload
    with client() as c:
        assert c.get(srv.url("/1")).text == "ok /1"
        assert c.put(srv.url("/2"), content=big).text == f"{len(big)} bytes"
    assert srv.accepts == 2


def test_a_fresh_connection_that_fails_while_sending_is_a_write_error(serve):
    srv = serve(read_head_then_reset)
    with client() as c, pytest.raises(httpx.WriteError):
        c.put(srv.url(), content=bytes(16 << 20))
    assert srv.accepts == 1


def stale_after_first_answer(answer_later: bool) -> Handler:
    """Connection 1 answers once, then reads the next request and hangs up (closed while idle, found
    out only by that request). Later connections answer normally, or hang up like it."""
    def handler(conn: Conn) -> None:
        with conn.server.lock:
            first = conn.server.accepts == 1
        if first:
            got = conn.request()
            assert got is not None
            conn.sock.sendall(ok(got))
        elif answer_later:
            keep_alive(ok)(conn)
            return
        conn.request()

    return handler


def test_a_reused_connection_closed_by_the_server_is_retried_once_on_a_fresh_one(serve):
    srv = serve(stale_after_first_answer(answer_later=True))
    with client() as c:
        assert c.get(srv.url("/1")).text == "ok /1"
        assert c.get(srv.url("/2")).text == "ok /2"
    assert srv.accepts == 2 and [got.target for _, got in srv.requests] == [b"/1", b"/2", b"/2"]


def test_a_post_whose_reused_connection_hangs_up_after_sending_is_not_resent(serve):
    # The server may have acted on it before hanging up: the caller decides (RFC 9110 9.2.2).
    srv = serve(stale_after_first_answer(answer_later=True))
    with client() as c:
        assert c.get(srv.url("/1")).text == "ok /1"
        with pytest.raises(httpx.RemoteProtocolError):
            c.post(srv.url("/2"), content=b"charge once")
    assert srv.accepts == 1 and [got.target for _, got in srv.requests] == [b"/1", b"/2"]


def test_the_retry_of_a_stale_connection_is_not_retried(serve):
    srv = serve(stale_after_first_answer(answer_later=False))
    with client() as c:
        assert c.get(srv.url("/1")).text == "ok /1"
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(srv.url("/2"))
    assert srv.accepts == 2


def test_a_fresh_connection_that_fails_is_not_retried(serve):
    srv = serve(lambda conn: (conn.request(), None)[1])  # reads the request, hangs up
    with client() as c, pytest.raises(httpx.RemoteProtocolError):
        c.post(srv.url("/"), content=b"once")
    assert srv.accepts == 1 and len(srv.requests) == 1


# --- failures ------------------------------------------------------------------------------------------------

def test_connection_refused_is_a_connect_error():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    with client() as c, pytest.raises(httpx.ConnectError):
        c.get(f"http://127.0.0.1:{port}/")


def test_a_tls_handshake_never_answered_is_a_connect_timeout(serve):
    srv = serve(lambda conn: conn.server.stopped.wait(5) and None)
    started = time.monotonic()
    with client(httpx.Timeout(3.0, connect=0.3), ssl_context=ssl.create_default_context()) as c, \
            pytest.raises(httpx.ConnectTimeout):
        c.get(srv.url(scheme="https"))
    assert time.monotonic() - started < 1.5


def test_a_server_that_never_answers_is_a_read_timeout(serve):
    srv = serve(lambda conn: (conn.request(), conn.server.stopped.wait(5), None)[2])
    started = time.monotonic()
    with client(httpx.Timeout(3.0, read=0.3)) as c, pytest.raises(httpx.ReadTimeout):
        c.get(srv.url())
    assert 0.25 < time.monotonic() - started < 1.5


def test_a_server_that_never_reads_is_a_write_timeout(serve):
    srv = serve(lambda conn: conn.server.stopped.wait(5) and None)
    started = time.monotonic()
    with client(httpx.Timeout(3.0, write=0.3)) as c, pytest.raises(httpx.WriteTimeout):
        c.put(srv.url(), content=bytes(64 << 20))  # far more than the socket buffers hold
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("answer", [
    reply(b"0123456789" * 10)[:-90],  # Content-Length 100, 10 bytes sent
    reply(b"", (b"Transfer-Encoding", b"chunked"), length=False) + b"10\r\nonly half",
    reply(b"", (b"Transfer-Encoding", b"chunked"), length=False) + b"zz\r\n",  # not a chunk size
], ids=["content-length", "chunked", "bad-chunk"])
def test_a_body_cut_short_is_a_remote_protocol_error(serve, answer):
    def handler(conn: Conn) -> None:
        conn.request()
        conn.sock.sendall(answer)

    srv = serve(handler)
    with client() as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(srv.url("/cut"))
        assert srv.accepts == 1
        srv.handler = keep_alive(ok)
        assert c.get(srv.url("/next")).text == "ok /next"  # that connection was not reused
    assert srv.accepts == 2


def test_a_reset_mid_body_is_a_read_error(serve):
    def handler(conn: Conn) -> None:
        conn.request()
        conn.sock.sendall(reply(b"x" * 100)[:-90])
        time.sleep(0.1)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.sock.close()  # RST

    srv = serve(handler)
    with client() as c, pytest.raises(httpx.ReadError), c.stream("GET", srv.url()) as resp:
        resp.read()


@pytest.mark.parametrize("answer", [
    b"HELLO THERE\r\n\r\n",
    b"HTTP/1.1 200 " + b"x" * 70000 + b"\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n",
], ids=["garbage", "long-status-line", "too-many-headers"])
def test_a_malformed_answer_is_a_remote_protocol_error(serve, answer):
    def handler(conn: Conn) -> None:
        conn.request()
        conn.sock.sendall(answer)

    srv = serve(handler)
    with client() as c, pytest.raises(httpx.RemoteProtocolError):
        c.get(srv.url())
    assert srv.accepts == 1


def test_only_http_and_https_are_spoken():
    with client() as c, pytest.raises(httpx.UnsupportedProtocol, match="ftp"):
        c.get("ftp://127.0.0.1/file")


def test_a_header_value_http_client_refuses_is_a_local_protocol_error(serve):
    srv = serve(keep_alive(ok))
    with client() as c, pytest.raises(httpx.LocalProtocolError):
        c.get(srv.url(), headers={"X-Bad": "a\r\nInjected: 1"})
    assert srv.requests == []


# --- threads -------------------------------------------------------------------------------------------------

def test_threads_share_one_client_and_the_pool_keeps_at_most_its_idle_limit(serve):
    together = threading.Barrier(8)
    seen = []

    def respond(got: Received) -> bytes:
        with srv.lock:
            seen.append(got.target)
            first_round = len(seen) <= 8
        if first_round:
            together.wait(5)  # the first 8 requests are in flight at once: 8 connections
        return reply(b"echo " + got.target, (b"X-Echo", got.header(b"X-Id") or b""))

    srv = serve(keep_alive(respond))
    transport = Transport(max_idle_per_origin=4)
    with httpx.Client(transport=transport, trust_env=False, timeout=TIMEOUT) as c:
        def worker(t: int) -> None:
            for i in range(25):
                resp = c.get(srv.url(f"/{t}/{i}"), headers={"X-Id": f"{t}.{i}"})
                assert resp.text == f"echo /{t}/{i}" and resp.headers["x-echo"] == f"{t}.{i}"

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(worker, range(8)))
        assert len(srv.requests) == 200 and srv.accepts >= 8
        assert srv.accepts < 50  # connections were reused
        assert until(lambda: srv.open <= 4) and srv.open == 4  # the 4 beyond the idle limit were closed
        transport.close()
        assert until(lambda: srv.open == 0)
        assert c.get(srv.url("/after")).text == "echo /after"  # still usable after close()


# --- TLS -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A local CA and a certificate for localhost it signed: (CA PEM, server context)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("transport test CA")).issuer_name(name("transport test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("transport-pki")
    (d / "srv.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "srv.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(d / "srv.pem", d / "srv.key")
    return ca.public_bytes(serialization.Encoding.PEM).decode(), server


def test_https_with_a_context_that_trusts_the_server_ca(serve, pki):
    ca_pem, server_ctx = pki
    srv = serve(keep_alive(ok), tls=server_ctx)
    with client(ssl_context=ssl.create_default_context(cadata=ca_pem)) as c:
        assert c.get(srv.url("/1", scheme="https", host="localhost")).text == "ok /1"
        resp = c.get(srv.url("/2", scheme="https", host="localhost"))
        assert resp.text == "ok /2"
        assert isinstance(resp.extensions["network_stream"].get_extra_info("socket"), ssl.SSLSocket)
        # The certificate names localhost, not 127.0.0.1: the same server by another name is refused.
        with pytest.raises(httpx.ConnectError, match="mismatch|doesn't match"):
            c.get(srv.url("/3", scheme="https"))
    assert srv.accepts == 2 and len(set(srv.ports())) == 1  # the TLS connection was kept alive


def test_https_with_the_default_context_does_not_trust_a_local_ca(serve, pki):
    _, server_ctx = pki
    srv = serve(keep_alive(ok), tls=server_ctx)
    with client() as c, pytest.raises(httpx.ConnectError, match="certificate verify failed"):
        c.get(srv.url(scheme="https", host="localhost"))
    assert srv.requests == []


# --- the socket under the response ---------------------------------------------------------------------------

def test_the_network_stream_socket_lets_cut_off_at_end_a_trickling_body(serve):
    def handler(conn: Conn) -> None:
        got = conn.request()
        if got is not None and got.target == b"/next":
            conn.sock.sendall(ok(got))
            return
        conn.sock.sendall(reply(b"x" * 1000, head_only=True))
        while not conn.server.stopped.wait(0.05):
            conn.sock.sendall(b"x")

    srv = serve(handler)
    with client() as c:
        with c.stream("GET", srv.url("/slow")) as resp:
            stream = resp.extensions["network_stream"]
            sock = stream.get_extra_info("socket")
            assert isinstance(sock, socket.socket) and sock.getpeername() == ("127.0.0.1", srv.port)
            assert stream.get_extra_info("ssl_object") is None
            started = time.monotonic()
            received = []
            with pytest.raises(httpx.TransportError), cut_off_at(resp, time.monotonic() + 0.3):
                for chunk in resp.iter_raw():
                    received.append(chunk)
            assert 0.25 < time.monotonic() - started < 1.5 and 0 < len(b"".join(received)) < 1000
        assert c.get(srv.url("/next")).text == "ok /next"
    assert srv.accepts == 2


# --- cold start: what a client built on the transport imports ------------------------------------------------

CHILD = """
import json, sys
import httpx
from shared.clients.transport import Transport
with httpx.Client(transport=Transport(), trust_env=False) as c:
    text = c.get(sys.argv[1]).text
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("httpcore", "h11", "anyio", "certifi"))
print(json.dumps({"text": text, "heavy": heavy}))
"""


def test_a_client_on_this_transport_imports_neither_httpcore_nor_certifi(serve):
    srv = serve(keep_alive(ok))
    proc = subprocess.run([sys.executable, "-c", CHILD, srv.url("/child")], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"text": "ok /child", "heavy": []}
