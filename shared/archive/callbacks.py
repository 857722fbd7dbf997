"""ICE agent callbacks (docs/protocols.md#ice-callbacks): the envelope model, the callback-token check, and
making one event durable under its deterministic key before ICE gets its 200.
"""
from __future__ import annotations

import hmac
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

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


def authorize_callback(request: Request, settings: Any) -> None:
    """`Authorization: Bearer <CALLBACK_TOKEN>`, compared in constant time; else 401."""
    from shared.auth import bearer_value

    presented = bearer_value(request.headers.get("authorization"))
    expected = settings.CALLBACK_TOKEN.get_secret_value()
    if presented is None or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Unauthorized("callback token missing or wrong", error_code="InvalidCallbackToken",
                           headers={"WWW-Authenticate": "Bearer"})


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
