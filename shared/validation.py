"""Turn pydantic validation errors into one precise, secret-free message.

pydantic's own `str(exc)` echoes the offending input, which may be a secret (a key
in an env var, a token in a body). We build messages from location and reason only.
"""
from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import BadRequest

M = TypeVar("M", bound=BaseModel)


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def describe(exc: ValidationError, *, limit: int = 5) -> str:
    """`field: reason; field2: reason` for the first `limit` errors, no input values."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:limit]:
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "is required"
        elif err["type"] == "extra_forbidden":
            msg = "is not allowed"
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        where = _loc(err["loc"])
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def first_field(exc: ValidationError) -> str:
    """The location of the first error, e.g. `user_id`."""
    errs = exc.errors(include_url=False, include_input=False)
    return (_loc(errs[0]["loc"]) if errs else "") or "body"


def parse_body(model: type[M], data: Any) -> M:
    """Validate a decoded JSON body against `model`; BadRequest naming the field."""
    if not isinstance(data, dict):
        raise BadRequest("body: must be a JSON object", error_code="InvalidBody")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(describe(exc), error_code="InvalidParameter") from None
