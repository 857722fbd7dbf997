"""ACS3-HMAC-SHA256: the V3 request signature of Alibaba Cloud OpenAPI
(docs/protocols.md#signing-alibaba-cloud-requests).

CanonicalRequest = METHOD \\n URI \\n CanonicalQuery \\n CanonicalHeaders \\n SignedHeaders \\n hex(sha256(body))
StringToSign     = "ACS3-HMAC-SHA256\\n" + hex(sha256(CanonicalRequest))
Authorization    = ACS3-HMAC-SHA256 Credential=<AK>,SignedHeaders=<a;b>,Signature=hex(hmac(SK, StringToSign))

The signed form is always RFC 3986 (space %20, * %2A, ~ kept); servers decode the
query before checking, so whatever encoding goes on the wire verifies the same.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def percent(value: object) -> str:
    """RFC 3986 percent-encoding of a query key or value (UTF-8)."""
    return quote(str(value), safe="-_.~")


def canonical_uri(path: str) -> str:
    """The request path as sent, percent-encoded ('/' kept); '/' when empty.

    A path whose segments are already percent-encoded (ROA paths such as CCAI's
    `/{workspaceId}/ccai/app/{appId}/...`, built with `percent`) is signed as it is,
    like the official SDKs do: '%' is never encoded again."""
    return quote(path or "/", safe="/-_.~%")


def canonical_query(query: Mapping[str, object]) -> str:
    """Keys sorted (by encoded form), `key=value` in RFC 3986 form, joined by '&'."""
    pairs = sorted((percent(k), percent(v)) for k, v in query.items() if v is not None)
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    """(CanonicalHeaders, SignedHeaders) over every header given but Authorization.

    The caller chooses what to sign; it must include host, content-type (with a body)
    and every x-acs-* header (`sign_request` does). The official SDKs also sign accept
    and user-agent: given the same headers, the signature is the same.
    """
    chosen: dict[str, str] = {}
    for name, value in headers.items():
        low = name.lower().strip()
        if low != "authorization":
            chosen[low] = str(value).strip()
    names = sorted(chosen)
    return "".join(f"{n}:{chosen[n]}\n" for n in names), ";".join(names)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_request(method: str, path: str, query: Mapping[str, object], headers: Mapping[str, str],
                      body: bytes) -> tuple[str, str]:
    """(CanonicalRequest, SignedHeaders). The body hash is x-acs-content-sha256 when present."""
    canon_headers, signed = canonical_headers(headers)
    lowered = {k.lower(): v for k, v in headers.items()}
    payload_hash = lowered.get("x-acs-content-sha256") or sha256_hex(body)
    return "\n".join([method.upper(), canonical_uri(path), canonical_query(query), canon_headers, signed,
                      payload_hash]), signed


def signature(access_key_secret: str, canonical: str) -> str:
    """hex(HMAC-SHA256(secret, StringToSign)) of a canonical request."""
    to_sign = f"{ALGORITHM}\n{sha256_hex(canonical.encode('utf-8'))}"
    return hmac.new(access_key_secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization(*, method: str, path: str, query: Mapping[str, object], headers: Mapping[str, str],
                  body: bytes, access_key_id: str, access_key_secret: str) -> str:
    """The Authorization header value for a request whose headers are already complete."""
    canonical, signed = canonical_request(method, path, query, headers, body)
    sig = signature(access_key_secret, canonical)
    return f"{ALGORITHM} Credential={access_key_id},SignedHeaders={signed},Signature={sig}"


def new_nonce() -> str:
    """A unique x-acs-signature-nonce (128 random bits, hex)."""
    return os.urandom(16).hex()


def acs_date(epoch: float | None = None) -> str:
    """x-acs-date: UTC ISO-8601 to the second (`%Y-%m-%dT%H:%M:%SZ`)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if epoch is None else epoch))


def sign_request(
    *,
    method: str,
    host: str,
    path: str,
    query: Mapping[str, object],
    body: bytes,
    action: str,
    version: str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    content_type: str | None = None,
    date: str | None = None,
    nonce: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every header an ACS3-signed request carries, Authorization included."""
    headers: dict[str, str] = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": date or acs_date(),
        "x-acs-signature-nonce": nonce or new_nonce(),
        "x-acs-content-sha256": sha256_hex(body),
    }
    if content_type:
        headers["content-type"] = content_type
    if security_token:
        headers["x-acs-security-token"] = security_token
    if extra_headers:
        headers.update({k.lower(): v for k, v in extra_headers.items()})
    headers["Authorization"] = authorization(method=method, path=path, query=query, headers=headers, body=body,
                                             access_key_id=access_key_id, access_key_secret=access_key_secret)
    return headers


class Prepared(NamedTuple):
    """A signed request, ready to send (and to compare with the official SDK's)."""

    method: str
    url: str
    host: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
