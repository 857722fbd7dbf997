"""ICE agent callbacks (docs/protocols.md#ice-callbacks): the envelope model, the callback-token check,
the event-time window, and making one event durable under its deterministic key before ICE gets its 200.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_validator

from shared.archive import layout
from shared.errors import BadRequest, Unauthorized
from shared.http import Request

KNOWN_EVENTS = frozenset({
    "agent_start", "session_start", "agent_stop", "error", "intent_detected", "intent_recognized",
    "llm_data_received", "tts_data_received", "chat_record", "audio_record", "full_audio_record",
    "outbound_call", "inbound_call", "client_defined_data", "instruction",
})


class CallbackEnvelope(BaseModel):
    """The fields every callback carries. Unknown fields are kept (the raw body is stored)."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    aiAgentId: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    instanceId: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
    event: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    timestamp: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    code: int | float | str | None = Field(default=None, union_mode="left_to_right")
    message: str | None = None
    userData: str | None = None
    data: dict | list | str | None = None
    extendData: dict | list | str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _no_bools(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("must be a number or a string")
        return v

    @field_validator("timestamp")
    @classmethod
    def _iso_timestamp(cls, v: str) -> str:
        layout.parse_timestamp(v)  # ValueError -> 400 naming `timestamp`
        return v


def token_matches(presented: str | None, accepted: Iterable[SecretStr]) -> bool:
    """True when `presented` equals one of the `accepted` tokens.

    Every entry is compared, without early exit, each with `hmac.compare_digest` over
    SHA-256 digests (equal lengths): the time taken says neither which entry matched nor
    how long any token is.
    """
    probe = hashlib.sha256((presented or "").encode("utf-8", "surrogatepass")).digest()
    matched = False
    for token in accepted:
        expected = hashlib.sha256(token.get_secret_value().encode("utf-8", "surrogatepass")).digest()
        matched |= hmac.compare_digest(probe, expected)
    return matched and presented is not None


def authorize_callback(request: Request, settings: Any) -> None:
    """`Authorization: Bearer <token>`, one of CALLBACK_TOKEN's entries (`token_matches`); else 401."""
    from shared.auth import bearer_value

    presented = bearer_value(request.headers.get("authorization"))
    if not token_matches(presented, settings.CALLBACK_TOKEN):
        raise Unauthorized("callback token missing or wrong", error_code="InvalidCallbackToken",
                           headers={"WWW-Authenticate": "Bearer"})


def check_event_time(timestamp: str, settings: Any, now: datetime | None = None) -> datetime:
    """The event's UTC time if it lies in the window around `now` (default: the clock):
    at most CALLBACK_MAX_EVENT_AGE_SECONDS before, CALLBACK_MAX_EVENT_FUTURE_SECONDS after.
    Else 400 naming `timestamp`: a forged or replayed event (an agent_stop dated 2099)
    stores nothing and starts no second archive."""
    try:
        when = layout.parse_timestamp(timestamp)
    except ValueError as exc:
        raise BadRequest(f"timestamp: {exc}", error_code="InvalidParameter") from None
    now = now or datetime.now(timezone.utc)
    if when < now - timedelta(seconds=settings.CALLBACK_MAX_EVENT_AGE_SECONDS):
        raise BadRequest(f"timestamp: more than {settings.CALLBACK_MAX_EVENT_AGE_SECONDS} s in the past "
                         "(CALLBACK_MAX_EVENT_AGE_SECONDS)", error_code="InvalidParameter")
    if when > now + timedelta(seconds=settings.CALLBACK_MAX_EVENT_FUTURE_SECONDS):
        raise BadRequest(f"timestamp: more than {settings.CALLBACK_MAX_EVENT_FUTURE_SECONDS} s in the future "
                         "(CALLBACK_MAX_EVENT_FUTURE_SECONDS)", error_code="InvalidParameter")
    return when


def store_event(store: Any, raw: bytes, event: CallbackEnvelope, parsed: dict) -> tuple[str, bool]:
    """Put the event exactly as received under its deterministic key; (key, created).

    The key is derived from the content, so a re-delivery maps to the same object and
    `if_absent` keeps it from being written (and from firing the OSS trigger) twice.
    """
    try:
        key = layout.callback_key(event.instanceId, event.event, event.timestamp, parsed)
    except ValueError as exc:
        raise BadRequest(f"{exc}", error_code="InvalidCallback") from None
    result = store.put(key, raw, content_type="application/json", if_absent=True,
                       metadata={"event": layout.safe_event(event.event), "instance-id": event.instanceId})
    return key, result.created
