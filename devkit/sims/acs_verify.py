"""Server-side ACS3-HMAC-SHA256 verification for the local simulators (ICE, CCAI).

Answers with the error codes Alibaba Cloud's gateway uses, so clients are tested
against realistic refusals: missing headers, unknown key, bad signature, clock skew,
a reused nonce.
"""
from __future__ import annotations

import calendar
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from shared.clients import acs3 as acs

MAX_SKEW_SECONDS = 15 * 60
REQUIRED = ("x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "authorization")


@dataclass
class SignatureError(Exception):
    status: int
    code: str
    message: str


class Verifier:
    """Checks requests against `keys` (access key id -> secret); remembers nonces."""

    def __init__(self, keys: Mapping[str, str], sts_tokens: Mapping[str, str] | None = None) -> None:
        self.keys = dict(keys)
        self.sts_tokens = dict(sts_tokens or {})  # access key id -> required security token
        self._nonces: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, method: str, path: str, raw_query: str, headers: Mapping[str, str], body: bytes,
               now: float | None = None) -> str:
        """Return the caller's access key id, or raise SignatureError."""
        h = {k.lower(): v for k, v in headers.items()}
        for name in REQUIRED:
            if not h.get(name):
                raise SignatureError(400, "MissingParameter" if name != "authorization" else "MissingAuthorization",
                                     f"The input parameter {name} that is mandatory for processing this request "
                                     "is not supplied.")
        auth = h["authorization"]
        if not auth.startswith(acs.ALGORITHM + " "):
            raise SignatureError(400, "InvalidAuthorization", "The Authorization header is not ACS3-HMAC-SHA256.")
        fields = {}
        for part in auth[len(acs.ALGORITHM) + 1:].split(","):
            key, _, value = part.strip().partition("=")
            fields[key] = value
        ak, signed, sig = fields.get("Credential"), fields.get("SignedHeaders"), fields.get("Signature")
        if not ak or not signed or not sig:
            raise SignatureError(400, "InvalidAuthorization", "The Authorization header is malformed.")
        secret = self.keys.get(ak)
        if secret is None:
            raise SignatureError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        try:
            stamp = calendar.timegm(time.strptime(h["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ"))
        except ValueError:
            raise SignatureError(400, "InvalidTimeStamp.Format",
                                 "Specified time stamp or date value is not well formatted.") from None
        now = time.time() if now is None else now
        if abs(now - stamp) > MAX_SKEW_SECONDS:
            raise SignatureError(400, "InvalidTimeStamp.Expired",
                                 "Specified time stamp or date value is expired.")
        names = signed.split(";")
        # Any header may be signed (the official SDKs sign a few more); host and every
        # x-acs-* header must be, and every signed header must be present.
        if "host" not in names or any(n not in h for n in names):
            raise SignatureError(400, "InvalidAuthorization",
                                 "SignedHeaders must include host and name only headers sent.")
        for must in [n for n in h if n.startswith("x-acs-")]:
            if must not in names:
                raise SignatureError(400, "SignatureDoesNotMatch", f"Header {must} is not signed.")
        if h.get("x-acs-content-sha256") and h["x-acs-content-sha256"] != acs.sha256_hex(body):
            raise SignatureError(400, "SignatureDoesNotMatch", "x-acs-content-sha256 does not match the body.")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))  # decodes '+' and %XX alike
        signed_headers = {n: h.get(n, "") for n in names}
        canonical, _ = acs.canonical_request(method, path, query, signed_headers, body)
        if sig != acs.signature(secret, canonical):
            raise SignatureError(400, "SignatureDoesNotMatch",
                                 "The request signature we calculated does not match the signature you provided.")
        expected_token = self.sts_tokens.get(ak)
        if expected_token is not None and h.get("x-acs-security-token") != expected_token:
            raise SignatureError(400, "InvalidSecurityToken.Mismatch", "The security token is not valid.")
        nonce = h["x-acs-signature-nonce"]
        with self._lock:
            for old in [n for n, t in self._nonces.items() if now - t > MAX_SKEW_SECONDS]:
                del self._nonces[old]
            if nonce in self._nonces:
                raise SignatureError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self._nonces[nonce] = now
        return ak
