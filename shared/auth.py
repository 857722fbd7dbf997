"""Client authorization for the HTTP API (AUTH_MODE = jwt | static | none).

Called by `shared.http` before a request body is even parsed. Any failure is a 403,
which the client kits read as "log in again". The reason given is precise but never
echoes the token.
"""
from __future__ import annotations

import hmac
from typing import NamedTuple

from shared import jwt_hs256
from shared.errors import Forbidden
from shared.http import Request
from shared.settings import CoreSettings

ADMIN_ROLE = "admin"


class Principal(NamedTuple):
    """Who is calling. `subject` is the JWT `sub` (None in static/none mode); `admin` is true
    only for a JWT whose `role` claim is "admin" (operations: describe any instance, ...)."""

    mode: str
    subject: str | None = None
    admin: bool = False
    # An admin JWT with `"pii": true` may see the archive's raw text (docs/archive-index.md "Privacy").
    pii: bool = False

    def require_user(self, user_id: str) -> None:
        """In jwt mode the body's `user_id` must be the token's subject."""
        if self.subject is not None and not hmac.compare_digest(self.subject.encode(), user_id.encode()):
            raise Forbidden("user_id does not match the authorization token", error_code="TokenUserMismatch")

    def acting_user(self, claimed: str) -> str:
        """Whose resources a request acts on: the token's subject; in static/none mode (no
        identity, development only) the request's own `user_id`, which nothing verifies."""
        return self.subject if self.subject is not None else claimed

    def owns(self, owner: object, claimed: str) -> bool:
        """Whether a resource recorded as `owner`'s may be used by this caller (admins: any)."""
        if self.admin:
            return True
        return isinstance(owner, str) and hmac.compare_digest(owner.encode(), self.acting_user(claimed).encode())


def bearer_value(header: str | None) -> str | None:
    """The token from `Authorization: <token>` or `Authorization: Bearer <token>`."""
    if header is None:
        return None
    value = header.strip()
    if value.lower() == "bearer":
        return None
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value or None


def authorize_client(request: Request, settings: CoreSettings) -> Principal:
    """Check the request's Authorization header against the configured mode."""
    mode = settings.AUTH_MODE
    if mode == "none":
        return Principal(mode)
    token = bearer_value(request.headers.get("authorization"))
    if token is None:
        raise Forbidden("Authorization header is missing", error_code="MissingToken")
    if mode == "static":
        candidate = token.encode()
        ok = False
        for allowed in settings.AUTH_STATIC_TOKENS:
            # Check every token (no early exit) so timing says nothing about which.
            ok |= hmac.compare_digest(allowed.get_secret_value().encode(), candidate)
        if not ok:
            raise Forbidden("authorization token is not valid", error_code="InvalidToken")
        return Principal(mode)
    assert settings.AUTH_JWT_SECRET is not None  # guaranteed by CoreSettings
    return _jwt_principal(token, settings, mode)


def authorize_admin(request: Request, settings: CoreSettings) -> Principal:
    """The archive's readers: only a JWT (signed with AUTH_JWT_SECRET) whose `role` is admin,
    whatever AUTH_MODE says for the client API (static tokens and AUTH_MODE=none carry no role)."""
    if settings.AUTH_JWT_SECRET is None:
        from shared.errors import ConfigurationError

        raise ConfigurationError("AUTH_JWT_SECRET: not set; the archive API accepts only admin JWTs signed with it")
    token = bearer_value(request.headers.get("authorization"))
    if token is None:
        raise Forbidden("Authorization header is missing", error_code="MissingToken")
    principal = _jwt_principal(token, settings, "jwt")
    if not principal.admin:
        raise Forbidden("the archive needs an authorization token whose role is admin", error_code="AdminRoleRequired")
    return principal


def _jwt_principal(token: str, settings: CoreSettings, mode: str) -> Principal:
    assert settings.AUTH_JWT_SECRET is not None
    try:
        claims = jwt_hs256.decode(
            token,
            settings.AUTH_JWT_SECRET.get_secret_value(),
            leeway=settings.AUTH_JWT_LEEWAY_SECONDS,
            max_ttl=settings.AUTH_JWT_MAX_TTL_SECONDS,
            audience=settings.AUTH_JWT_AUDIENCE,
            issuer=settings.AUTH_JWT_ISSUER,
        )
    except jwt_hs256.InvalidToken as exc:
        # TokenExpired or InvalidToken; the message never contains the token.
        raise Forbidden(f"authorization {exc}", error_code=exc.error_code) from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Forbidden("authorization token has no subject", error_code="InvalidToken")
    admin = claims.get("role") == ADMIN_ROLE
    return Principal(mode, sub, admin=admin, pii=admin and claims.get("pii") is True)

