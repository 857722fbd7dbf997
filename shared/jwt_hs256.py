"""Minimal JWT (RFC 7519) with HS256 only: the client-token format of AUTH_MODE=jwt.

Small on purpose (no JOSE library on the cold-start path). Only `alg: HS256` is
accepted; `none` and every other algorithm are refused, `exp` is mandatory.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

_HEADER = {"alg": "HS256", "typ": "JWT"}
MAX_TOKEN_LENGTH = 4096


class InvalidToken(Exception):
    """The token is malformed, forged, or expired. The message is safe to show."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(part: str) -> bytes:
    if not part or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in part):
        raise InvalidToken("malformed token")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def encode(claims: dict[str, Any], secret: str) -> str:
    """Sign `claims` with HS256 and return the compact JWT."""
    head = _b64url(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64url(sig)}"


def decode(token: str, secret: str, *, leeway: int = 0, now: float | None = None) -> dict[str, Any]:
    """Verify signature, `exp` (required) and `nbf`; return the claims or raise InvalidToken."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("malformed token")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("malformed token")
    try:
        header = json.loads(_unb64url(parts[0]))
        claims = json.loads(_unb64url(parts[1]))
        signature = _unb64url(parts[2]) if parts[2] else b""
    except (ValueError, UnicodeDecodeError):
        raise InvalidToken("malformed token") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("malformed token")
    if header.get("alg") != "HS256":
        raise InvalidToken("token algorithm not accepted")
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise InvalidToken("token signature invalid")
    now = time.time() if now is None else now
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise InvalidToken("token has no valid exp claim")
    if now > exp + leeway:
        raise InvalidToken("token expired")
    nbf = claims.get("nbf")
    if isinstance(nbf, (int, float)) and not isinstance(nbf, bool) and now + leeway < nbf:
        raise InvalidToken("token not yet valid")
    return claims
