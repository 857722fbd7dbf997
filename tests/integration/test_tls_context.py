"""The shared TLS context (shared/clients/tls.py): a lazily read CA directory when the system
has one (OpenSSL hash links), certifi's bundle otherwise; either way the chain and the host name
are verified. Proved against a local HTTPS server whose CA is in a temporary hashed directory."""
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from shared.clients import tls

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for localhost signed by it, and a hashed CA dir."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=aicall test CA", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost",
            cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "srv.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    digest = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", "ca.pem"], cwd=d, check=True,
                            capture_output=True, text=True).stdout.strip()
    cadir = d / "cadir"
    cadir.mkdir()
    shutil.copy(d / "ca.pem", cadir / f"{digest}.0")
    return d, cadir


@pytest.fixture(scope="module")
def server(pki):
    d, _ = pki

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "srv.pem", d / "srv.key")
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()


def test_a_hashed_ca_directory_is_found_and_verifies_the_chain_and_host(pki, server, monkeypatch, tmp_path):
    _, cadir = pki
    monkeypatch.setenv("SSL_CERT_DIR", str(cadir))
    assert tls.ca_directory() == str(cadir)
    ctx = tls.build_context(tls.ca_directory())
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    with httpx.Client(verify=ctx) as c:
        assert c.get(f"https://localhost:{server}/").text == "ok"
        # The certificate names localhost, not 127.0.0.1: the same server by another name is refused.
        with pytest.raises(httpx.ConnectError, match="mismatch"):
            c.get(f"https://127.0.0.1:{server}/")
    # A directory without OpenSSL hash links is not a CA directory; certifi does not know our CA.
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    assert tls.ca_directory() is None
    with httpx.Client(verify=tls.build_context(None)) as c, \
            pytest.raises(httpx.ConnectError, match="unable to get local issuer|self.signed|verify failed"):
        c.get(f"https://localhost:{server}/")


def test_one_context_per_process(monkeypatch):
    monkeypatch.setattr(tls, "_context", None)
    assert tls.context() is tls.context()
