"""Turn pydantic validation errors into one precise, secret-free message.

pydantic's own `str(exc)` echoes the offending input, which may be a secret (a key
in an env var, a token in a body). We build messages from location and reason only.
"""
from __future__ import annotations

from typing import Any, ClassVar, TypeVar

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


class BoundUser:
    """Field marker, `Annotated[str, BOUND_USER]`: this field names the calling user, so it
    must equal the authorization token's subject (checked by `shared.http.endpoint`)."""

    def __repr__(self) -> str:
        return "BOUND_USER"


BOUND_USER = BoundUser()


class BindsUser:
    """Mixin of every client request model (`class M(BindsUser, BaseModel)`). A model
    either marks exactly one required field with `BOUND_USER`, or says
    `binds_no_user: ClassVar[bool] = True` (a request that names no user); anything else fails when the
    class is defined. The user check therefore does not depend on what the field is
    called, and a new model cannot skip it by accident. (A plain mixin, not a model:
    pydantic calls its hook, and defining it costs nothing at cold start.)"""

    binds_no_user: ClassVar[bool] = False
    bound_user_field: ClassVar[str | None] = None

    model_fields: ClassVar[dict[str, Any]]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)  # type: ignore[misc]  # BaseModel's, next in the MRO
        marked = [name for name, f in cls.model_fields.items() if any(isinstance(m, BoundUser) for m in f.metadata)]
        if len(marked) > 1:
            raise TypeError(f"{cls.__name__}: fields {', '.join(marked)} are all marked BOUND_USER; mark one")
        if marked and not cls.model_fields[marked[0]].is_required():
            raise TypeError(f"{cls.__name__}.{marked[0]}: a BOUND_USER field must be required")
        if not marked and not cls.binds_no_user and cls.model_fields:
            raise TypeError(f"{cls.__name__}: mark the field naming the user with BOUND_USER, "
                            "or declare binds_no_user: ClassVar[bool] = True")
        cls.bound_user_field = marked[0] if marked else None

    def bound_user(self) -> str | None:
        """The value of the marked field (the user this request acts for), or None."""
        name = type(self).bound_user_field
        return None if name is None else str(getattr(self, name))
