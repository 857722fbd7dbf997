"""Client tokens for development and operations (`aiagent token`, the sandbox, tests).

The shipped functions only verify tokens (`shared.auth`); minting them is the job of
the customer's own login service in production, and of this module everywhere else.
"""
from __future__ import annotations

import time

from shared import jwt_hs256


def mint_token(user_id: str, secret: str, ttl_seconds: int = 3600, now: float | None = None) -> str:
    """An HS256 JWT with `sub`=`user_id`, `iat` and `exp`, as `AUTH_MODE=jwt` expects."""
    issued = int(time.time() if now is None else now)
    return jwt_hs256.encode({"sub": user_id, "iat": issued, "exp": issued + int(ttl_seconds)}, secret)
