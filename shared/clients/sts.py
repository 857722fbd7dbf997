"""STS AssumeRole (RPC style, version 2015-04-01), signed with ACS3 exactly like ICE
(docs/protocols.md#signing-alibaba-cloud-requests); the call loop is `shared.clients.rpc`.

`POST https://sts.aliyuncs.com/?<params>` (or STS_ENDPOINT) with an empty body.
The answer's temporary credentials are never logged: `TemporaryCredentials` hides the
secret and the token from its repr, and the call loop logs no parameters or answers.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shared import lazyre
from shared.clients import retry, rpc
from shared.clients.acs3 import Prepared
from shared.errors import UpstreamError
from shared.frozen import Frozen
from shared.settings import CloudCredentials, StsSettings, load

VERSION = "2015-04-01"
SERVICE = "STS"
ACTION = "AssumeRole"
MIN_DURATION_SECONDS = 900
MAX_DURATION_SECONDS = 43200  # a role's longest session; a role chain (FC's own role) caps it at 3600
MAX_POLICY_CHARS = 2048
_SESSION_NAME = lazyre.compile(r"[A-Za-z0-9.@_-]{2,64}")


class TemporaryCredentials(Frozen):
    """What AssumeRole issued. `expiration` is STS's own ISO text (UTC), `expires_at` the
    same instant in epoch seconds. The secret and the token stay out of the repr.

    Immutable, compared and hashed by value. Deliberately not a tuple (NamedTuple): a tuple
    would hand the secret and the token to anything that iterates it, such as `json.dumps` or
    the log redaction (which turns tuples into lists)."""

    __slots__ = ("access_key_id", "access_key_secret", "security_token", "expiration", "expires_at")
    access_key_id: str
    access_key_secret: str
    security_token: str
    expiration: str
    expires_at: float

    def __init__(self, access_key_id: str, access_key_secret: str, security_token: str, expiration: str,
                 expires_at: float) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "access_key_id", access_key_id)
        setattr_(self, "access_key_secret", access_key_secret)
        setattr_(self, "security_token", security_token)
        setattr_(self, "expiration", expiration)
        setattr_(self, "expires_at", expires_at)

    def __repr__(self) -> str:
        return (f"TemporaryCredentials(access_key_id={self.access_key_id!r}, expiration={self.expiration!r}, "
                f"expires_at={self.expires_at!r})")


def prepare(action: str, params: Mapping[str, Any], *, endpoint: str, credentials: CloudCredentials,
            date: str | None = None, nonce: str | None = None) -> Prepared:
    """Build and sign one STS call. Unset (None) parameters are omitted."""
    return rpc.prepare(action, params, version=VERSION, endpoint=endpoint, credentials=credentials,
                       date=date, nonce=nonce)


def assume_role_params(*, role_arn: str, session_name: str, duration_seconds: int,
                       policy: Mapping[str, Any] | str | None = None) -> dict[str, Any]:
    """The AssumeRole query parameters, validated (ValueError naming what is wrong).

    A policy object is sent as compact JSON; a policy string must already be JSON."""
    if not isinstance(role_arn, str) or not role_arn.strip():
        raise ValueError("role_arn: must be a RAM role ARN such as acs:ram::123456789012:role/name")
    if not isinstance(session_name, str) or not _SESSION_NAME.fullmatch(session_name):
        raise ValueError("session_name: must be 2-64 characters of A-Z a-z 0-9 . @ _ -")
    if isinstance(duration_seconds, bool) or not isinstance(duration_seconds, int) \
            or not MIN_DURATION_SECONDS <= duration_seconds <= MAX_DURATION_SECONDS:
        raise ValueError(f"duration_seconds: must be an integer from {MIN_DURATION_SECONDS} "
                         f"to {MAX_DURATION_SECONDS}")
    policy_text: str | None = None
    if policy is not None:
        if isinstance(policy, str):
            try:
                parsed = json.loads(policy)
            except ValueError:
                raise ValueError("policy: must be a JSON object") from None
            if not isinstance(parsed, dict):
                raise ValueError("policy: must be a JSON object")
            policy_text = policy
        elif isinstance(policy, Mapping):
            policy_text = rpc.param_value(dict(policy))
        else:
            raise ValueError("policy: must be a JSON object (a dict or its JSON text)")
        if len(policy_text) > MAX_POLICY_CHARS:
            raise ValueError(f"policy: its JSON must be at most {MAX_POLICY_CHARS} characters "
                             f"(it is {len(policy_text)})")
    return {"RoleArn": role_arn, "RoleSessionName": session_name, "DurationSeconds": duration_seconds,
            "Policy": policy_text}


def parse_expiration(text: str) -> float:
    """Epoch seconds of an STS Expiration (`2026-12-01T12:52:19Z`; a zone-less time is UTC)."""
    from datetime import datetime, timezone

    stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def _invalid(request_id: str | None, why: str) -> UpstreamError:
    return UpstreamError(f"{SERVICE} answered AssumeRole without usable credentials ({why})",
                         error_code=f"{SERVICE}.InvalidResponse", request_id=request_id, status=502)


def credentials_from(payload: Mapping[str, Any]) -> TemporaryCredentials:
    """The TemporaryCredentials of an AssumeRole answer, or UpstreamError (502, STS.InvalidResponse)."""
    request_id = payload.get("RequestId")
    request_id = request_id if isinstance(request_id, str) else None
    creds = payload.get("Credentials")
    if not isinstance(creds, Mapping):
        raise _invalid(request_id, "no Credentials")
    fields = ("AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration")
    missing = [n for n in fields if not isinstance(creds.get(n), str) or not creds[n]]
    if missing:
        raise _invalid(request_id, "missing " + ", ".join(missing))  # names only, never values
    try:
        expires_at = parse_expiration(creds["Expiration"])
    except ValueError:
        raise _invalid(request_id, "Expiration is not an ISO-8601 time") from None
    return TemporaryCredentials(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"],
                                creds["Expiration"], expires_at)


class StsClient:
    """Calls STS AssumeRole with the server's own credentials."""

    def __init__(self, settings: StsSettings, credentials: CloudCredentials, http: Any = None) -> None:
        self.settings = settings
        self.credentials = credentials
        self._http = http or retry.http_client(settings.STS_CONNECT_TIMEOUT_SECONDS, settings.STS_READ_TIMEOUT_SECONDS)
        self._rpc = rpc.RpcClient(SERVICE, VERSION, credentials, self._http, settings.STS_MAX_RETRIES)

    def call(self, action: str, params: Mapping[str, Any], *, deadline: float | None = None) -> dict[str, Any]:
        """One STS action with bounded retries (5xx, timeouts, throttling such as Throttling.Api)."""
        return self._rpc.call(action, params, endpoint=self.settings.endpoint, deadline=deadline)

    def assume_role(self, *, role_arn: str, session_name: str, duration_seconds: int,
                    policy: Mapping[str, Any] | str | None = None,
                    deadline: float | None = None) -> TemporaryCredentials:
        """Temporary credentials of `role_arn`, narrowed by `policy` (the effective rights are
        the intersection with the role's). ValueError for invalid arguments (nothing is sent);
        an AppError for STS's refusals; UpstreamError STS.InvalidResponse for an incomplete answer."""
        params = assume_role_params(role_arn=role_arn, session_name=session_name,
                                    duration_seconds=duration_seconds, policy=policy)
        return credentials_from(self.call(ACTION, params, deadline=deadline))


_client: StsClient | None = None


def get_client() -> StsClient:
    """The process-wide client (settings and credentials parsed once, one connection pool)."""
    global _client
    if _client is None:
        _client = StsClient(load(StsSettings), load(CloudCredentials))
    return _client


def reset_client() -> None:
    """Forget the cached client (tests and the sandbox change settings)."""
    global _client
    _client = None
