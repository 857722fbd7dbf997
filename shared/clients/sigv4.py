"""AWS Signature Version 4 (`AWS4-HMAC-SHA256`), the pieces OSS's S3-compatible endpoint
checks: canonical request, string to sign, the HMAC key chain. Pure functions: the
object store signs with them and the sandbox's embedded store verifies with them
(docs/decisions.md says why we sign ourselves rather than import boto3).
"""
from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def uri_encode(value: str, *, keep_slash: bool) -> str:
    """RFC 3986 percent-encoding of UTF-8 (unreserved A-Z a-z 0-9 - _ . ~ kept; `/` kept
    when `keep_slash`), the form SigV4 canonicalises paths and query parameters to."""
    return quote(value, safe="/-_.~" if keep_slash else "-_.~")


def canonical_query(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """`k=v` pairs, both percent-encoded, sorted by encoded key then value, joined by `&`."""
    items = params.items() if isinstance(params, Mapping) else params
    pairs = sorted((uri_encode(str(k), keep_slash=False), uri_encode(str(v), keep_slash=False)) for k, v in items)
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_request(method: str, path: str, query: str, headers: Mapping[str, str], signed: Iterable[str],
                      payload_hash: str) -> str:
    """The SigV4 canonical request. `path` and `query` are already canonical (encoded);
    `headers` maps lower-case names to values; `signed` names the headers to sign."""
    names = sorted(signed)
    canon = "".join(f"{n}:{' '.join(str(headers[n]).split())}\n" for n in names)
    return "\n".join([method.upper(), path, query, canon, ";".join(names), payload_hash])


def signing_key(secret: str, datestamp: str, region: str, service: str = SERVICE) -> bytes:
    """HMAC chain `AWS4<secret>` -> date -> region -> service -> `aws4_request`."""
    k = hmac.new(f"AWS4{secret}".encode(), datestamp.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode("utf-8"), hashlib.sha256).digest()
    return k


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    """`AWS4-HMAC-SHA256 \\n <amz date> \\n <scope> \\n hex(sha256(canonical request))`."""
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])


def signature(key: bytes, to_sign: str) -> str:
    """hex(HMAC-SHA256(signing key, string to sign))."""
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def amz_date(epoch: float | None = None) -> str:
    """`x-amz-date`: UTC `YYYYMMDDTHHMMSSZ`."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if epoch is None else epoch))
