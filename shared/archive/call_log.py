"""The call log ICE serves at CallLogUrl (docs/protocols.md#archive-chain, tests/samples/call_log.json), validated.

Tolerant of fields ICE may add; strict about what the archive and the analysis rely on.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class DialogTurn(BaseModel):
    """One sentence of the conversation."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    id: int | str | None = None
    begin: float = Field(ge=0)  # seconds from the start of the call
    role: str = Field(min_length=1, max_length=32)  # agent | user (others kept)
    type: str | None = None  # greeting | normal | speech | ...
    text: str = ""


class CallLog(BaseModel):
    """The whole call: who, when, and the dialog."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    instanceid: str | None = None
    startTime: float | None = None  # epoch seconds
    agentUserId: str | None = None
    remoteUserId: str | None = None
    dialog: list[DialogTurn]


def validate_call_log(raw: Any) -> Any:
    """`raw` itself if it is a valid call log, else `call_log_fetch.Refused` naming the field."""
    from shared.clients.safe_fetch import Refused
    from shared.validation import describe

    if not isinstance(raw, dict):
        raise Refused("call log is not a JSON object")
    try:
        CallLog.model_validate(raw)
    except ValidationError as exc:
        raise Refused(f"call log invalid: {describe(exc)}") from None
    return raw
