"""Client tokens for development and operations (`aiagent token`, the sandbox, tests).

The shipped functions only verify tokens (`shared.auth`); minting them is the job of
the customer's own login service in production, and of this module everywhere else.
"""
from __future__ import annotations

import os
import time
from typing import Any

from shared import jwt_hs256


def mint_token(user_id: str, secret: str, ttl_seconds: int = 3600, now: float | None = None,
               *, audience: str | None = None, issuer: str | None = None, role: str | None = None,
               **extra: Any) -> str:
    """An HS256 JWT with `sub`=`user_id`, `iat` and `exp`, as `AUTH_MODE=jwt` expects.

    `aud` and `iss` are added when given, else from AUTH_JWT_AUDIENCE / AUTH_JWT_ISSUER
    when those are set, so `aiagent token` and `aiagent smoke` match the deployment.
    `role="admin"` makes an operations token (describe any instance, the archive API);
    `extra` claims are added as given.
    """
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"sub": user_id, "iat": issued, "exp": issued + int(ttl_seconds)}
    audience = audience or os.environ.get("AUTH_JWT_AUDIENCE") or None
    issuer = issuer or os.environ.get("AUTH_JWT_ISSUER") or None
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    if role:
        claims["role"] = role
    claims.update(extra)
    return jwt_hs256.encode(claims, secret)
