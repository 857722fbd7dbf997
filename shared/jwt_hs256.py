"""Minimal JWT (RFC 7519) with HS256 only: the client-token format of AUTH_MODE=jwt.

Small on purpose (no JOSE library on the cold-start path). Strict by design, so one
token has one spelling and one meaning:

- header: `alg` exactly `HS256` (checked before the key is used), `typ` if present
  `JWT`, no `crit` (no extension is understood, so none may be required);
- every segment canonical base64url (no padding, no characters outside the alphabet,
  no stray trailing bits: re-encoding the bytes must give the segment back);
- header and payload UTF-8 JSON objects, no duplicate member, no NaN/Infinity;
- `exp` required, an integer, not passed (beyond `leeway`) and at most `max_ttl`
  seconds (+ `leeway`) ahead; `nbf` and `iat` numbers when present, `nbf` honoured;
- `aud` (a string or a list of strings) and `iss` enforced when an audience or issuer
  is configured.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from typing import Any

_HEADER = {"alg": "HS256", "typ": "JWT"}
MAX_TOKEN_LENGTH = 4096
DEFAULT_MAX_TTL = 86400
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class InvalidToken(Exception):
    """The token is malformed, forged, or not acceptable. The message is safe to show
    (it never contains the token); `error_code` is what the client kits see."""

    error_code = "InvalidToken"


class TokenExpired(InvalidToken):
    """`exp` has passed (beyond the leeway): the kits read this as "log in again"."""

    error_code = "TokenExpired"


class _DuplicateMember(ValueError):
    pass


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(part: str, where: str) -> bytes:
    """Strict base64url (RFC 7515 section 2): the one spelling of its bytes, or InvalidToken."""
    if not part or not _ALPHABET.issuperset(part) or len(part) % 4 == 1:
        raise InvalidToken(f"malformed token ({where} is not base64url)")
    data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    if _b64url(data) != part:  # non-zero trailing bits: a second spelling of the same bytes
        raise InvalidToken(f"malformed token ({where} is not canonical base64url)")
    return data


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateMember
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_object(data: bytes, where: str) -> dict[str, Any]:
    """A decoded segment as a JSON object: UTF-8, no duplicate member, no NaN/Infinity."""
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_object, parse_constant=_no_constant)
    except _DuplicateMember:
        raise InvalidToken(f"malformed token ({where} has a duplicate member)") from None
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidToken(f"malformed token ({where} is not JSON)") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"malformed token ({where} is not a JSON object)")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def encode(claims: dict[str, Any], secret: str) -> str:
    """Sign `claims` with HS256 and return the compact JWT."""
    head = _b64url(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":"), allow_nan=False).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64url(sig)}"


def decode(
    token: str,
    secret: str,
    *,
    leeway: int = 0,
    now: float | None = None,
    max_ttl: int = DEFAULT_MAX_TTL,
    audience: str | None = None,
    issuer: str | None = None,
) -> dict[str, Any]:
    """Verify header, signature and claims (see the module docstring); return the claims.

    Raises TokenExpired when `exp` has passed, InvalidToken for everything else.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken(f"malformed token (longer than {MAX_TOKEN_LENGTH} characters)")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("malformed token (not three dot-separated parts)")
    raw_header = _unb64url(parts[0], "header")
    raw_claims = _unb64url(parts[1], "payload")
    signature = _unb64url(parts[2], "signature") if parts[2] else b""
    header = _json_object(raw_header, "header")
    if header.get("alg") != "HS256":
        raise InvalidToken("token algorithm not accepted (only HS256)")
    typ = header.get("typ", "JWT")  # media-type names compare case-insensitively (RFC 7515 4.1.9)
    if not isinstance(typ, str) or not typ.isascii() or typ.upper() != "JWT":
        raise InvalidToken("token type not accepted (typ must be JWT)")
    if "crit" in header:
        raise InvalidToken("token header has critical parameters (crit is not supported)")
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise InvalidToken("token signature invalid")
    claims = _json_object(raw_claims, "payload")  # parsed only once the signature is verified
    now = time.time() if now is None else now
    if "exp" not in claims:
        raise InvalidToken("token has no exp claim")
    exp = claims["exp"]
    if not _is_int(exp):
        raise InvalidToken("token exp claim is not an integer (seconds since the epoch)")
    if now > exp + leeway:
        raise TokenExpired("token expired")
    if exp > now + max_ttl + leeway:
        raise InvalidToken(f"token lifetime too long (exp more than {max_ttl} seconds ahead)")
    for name in ("nbf", "iat"):
        if name in claims and not _is_number(claims[name]):
            raise InvalidToken(f"token {name} claim is not a number")
    nbf = claims.get("nbf")
    if nbf is not None and now + leeway < nbf:
        raise InvalidToken("token not yet valid (nbf)")
    if audience is not None:
        aud = claims.get("aud")
        if aud is None:
            raise InvalidToken("token has no aud claim")
        if isinstance(aud, str):
            aud = [aud]
        if not isinstance(aud, list) or not all(isinstance(a, str) for a in aud):
            raise InvalidToken("token aud claim is not a string or a list of strings")
        if audience not in aud:
            raise InvalidToken("token audience not accepted")
    if issuer is not None:
        if "iss" not in claims:
            raise InvalidToken("token has no iss claim")
        if claims["iss"] != issuer:
            raise InvalidToken("token issuer not accepted")
    return claims
