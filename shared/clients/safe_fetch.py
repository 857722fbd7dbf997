"""Fetching a CallLogUrl safely: only https, only allowed Alibaba Cloud hosts, no
userinfo or IP literals, redirects re-checked hop by hop, a size cap and a timeout.
Never fetch arbitrary URLs (SSRF).
"""
from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import urljoin, urlsplit

MAX_REDIRECTS = 3


class Refused(Exception):
    """The URL or its answer is unacceptable; retrying will not help. Message is safe to store."""


class FetchFailed(Exception):
    """A transient failure (network, 5xx, expired signature): a later attempt may succeed."""


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    """Whether `host` (lower case, no trailing dot) matches an exact host or a `*.suffix`
    pattern (`*.aliyuncs.com` matches `a.aliyuncs.com`, not `aliyuncs.com`)."""
    for p in patterns:
        if p.startswith("*."):
            if host.endswith(p[1:]) and len(host) > len(p) - 1:
                return True
        elif host == p:
            return True
    return False


def check_url(url: str, allowed_hosts: tuple[str, ...], *, allow_insecure: bool = False) -> str:
    """The URL if it may be fetched, else Refused naming why (without echoing its query)."""
    if not isinstance(url, str) or len(url) > 8192:
        raise Refused("CallLogUrl is not a usable URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("CallLogUrl is not a valid URL") from None
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise Refused("CallLogUrl carries userinfo (user@host): refused")
    if not host:
        raise Refused("CallLogUrl has no host")
    loopback = False
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
        loopback = ip.is_loopback
        if not (allow_insecure and loopback):
            raise Refused("CallLogUrl host is an IP literal: refused")
    except ValueError:
        pass
    if allow_insecure and (loopback or host == "localhost"):
        if parts.scheme not in ("http", "https"):
            raise Refused("CallLogUrl scheme must be https")
        return url
    if parts.scheme != "https":
        raise Refused(f"CallLogUrl scheme {parts.scheme or '(none)'} refused: only https")
    if port not in (None, 443):
        raise Refused("CallLogUrl port refused: only 443")
    if not host_allowed(host, allowed_hosts):
        raise Refused(f"CallLogUrl host {host[:100]} is not in CALL_LOG_ALLOWED_HOSTS")
    return url


def fetch_json(url: str, *, allowed_hosts: tuple[str, ...], max_bytes: int, timeout: float,
               allow_insecure: bool = False, http: Any = None) -> Any:
    """GET the call log, checking every redirect hop; the decoded JSON or Refused/FetchFailed
    (`fetch_bytes`; a body that is not JSON is Refused)."""
    data = fetch_bytes(url, allowed_hosts=allowed_hosts, max_bytes=max_bytes, timeout=timeout,
                       allow_insecure=allow_insecure, http=http)
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused("call log is not JSON") from None


def fetch_bytes(url: str, *, allowed_hosts: tuple[str, ...], max_bytes: int, timeout: float,
                allow_insecure: bool = False, http: Any = None, what: str = "CallLogUrl",
                noun: str = "call log") -> bytes:
    """GET `url` (the call log; a recording to copy into the archive), checking every redirect
    hop; its bytes or Refused/FetchFailed.

    Every httpx error maps to one of the two: what the HTTP client refuses about the URL
    (`InvalidURL`, `UnsupportedProtocol`) and a body it cannot decode (`DecodingError`,
    a malformed gzip/deflate/brotli body) are Refused; the rest of `httpx.HTTPError`
    (network, timeouts, protocol errors) FetchFailed. Anything else (a bug, OSError)
    propagates and the archive step counts it as an unexpected failure.
    """
    import httpx

    own = http is None
    from shared.clients.transport import Transport

    client = http or httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, transport=Transport())
    try:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url, allowed_hosts, allow_insecure=allow_insecure)
            try:
                with client.stream("GET", url, timeout=timeout) as resp:
                    if resp.status_code in (301, 302, 303, 307, 308):
                        location = resp.headers.get("location")
                        if not location:
                            raise Refused(f"{what} redirect without a Location")
                        try:
                            url = urljoin(url, location)
                        except ValueError:
                            raise Refused(f"{what} redirect Location is not a valid URL") from None
                        continue
                    if resp.status_code != 200:
                        raise FetchFailed(f"{what} answered HTTP {resp.status_code}")
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise Refused(f"{noun} is {declared} bytes, over the {max_bytes}-byte limit")
                    data = bytearray()
                    for chunk in resp.iter_bytes():
                        data += chunk
                        if len(data) > max_bytes:
                            raise Refused(f"{noun} is over the {max_bytes}-byte limit")
            except httpx.TimeoutException:
                raise FetchFailed(f"{what} timed out") from None
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise Refused(f"{what} refused by the HTTP client ({type(exc).__name__})") from None
            except httpx.DecodingError:
                raise Refused(f"{noun} body could not be decoded (malformed Content-Encoding)") from None
            except httpx.TooManyRedirects:
                raise Refused(f"{what} redirected more than {MAX_REDIRECTS} times") from None
            except httpx.TransportError as exc:
                raise FetchFailed(f"{what} unreachable ({type(exc).__name__})") from None
            except httpx.HTTPError as exc:
                raise FetchFailed(f"{what} download failed ({type(exc).__name__})") from None
            return bytes(data)
        raise Refused(f"{what} redirected more than {MAX_REDIRECTS} times")
    finally:
        if own:
            client.close()
