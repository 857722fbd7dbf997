"""One TLS context per process for every upstream client (OSS, ICE, STS, CCAI, the call-log
download), built on first use with the cheapest trust store that is complete.

httpx's default is `ssl.create_default_context(cafile=certifi.where())`, which parses the whole
Mozilla bundle (~150 certificates) up front: ~30 ms of every cold start, once per client. A
hashed CA directory (OpenSSL `capath`, `/etc/ssl/certs` on Debian, FC's Python runtimes
included; `SSL_CERT_DIR` overrides) is read lazily, one file per issuer actually met: under
1 ms. Both are the Mozilla roots; the directory is used when it holds OpenSSL's hash links,
certifi's bundle otherwise. Verification is the same either way: TLS 1.2+, the certificate
chain and the host name checked (docs/decisions.md "A lazily read CA directory").
"""
from __future__ import annotations

import os
import threading
from typing import Any

from shared import lazyre

DEFAULT_CA_DIR = "/etc/ssl/certs"
_HASH_LINK = lazyre.compile(r"[0-9a-f]{8}\.[0-9]+")
_context: Any = None
_lock = threading.Lock()


def ca_directory() -> str | None:
    """A CA directory with OpenSSL hash links (SSL_CERT_DIR, else /etc/ssl/certs), or None."""
    path = os.environ.get("SSL_CERT_DIR") or DEFAULT_CA_DIR
    try:
        with os.scandir(path) as entries:
            return path if any(_HASH_LINK.fullmatch(e.name) for e in entries) else None
    except OSError:
        return None


def build_context(ca_dir: str | None = None) -> Any:
    """A client TLS context: hostname and chain verified, TLS 1.2 or newer."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED by default
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_dir is not None:
        ctx.load_verify_locations(capath=ca_dir)
    else:
        import certifi

        ctx.load_verify_locations(cafile=certifi.where())
    return ctx


def context() -> Any:
    """The process's TLS context (built once, shared by every httpx client)."""
    global _context
    if _context is None:
        with _lock:
            if _context is None:
                _context = build_context(ca_directory())
    return _context
