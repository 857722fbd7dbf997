"""The user binding is a property of the request model, not of a field's name: whatever the
marked field is called, `shared.http.endpoint` requires it to be the token's subject, and a
model that marks nothing (and does not say it names no user) cannot be defined."""
from typing import Annotated, ClassVar

import pytest
from pydantic import BaseModel

from devkit.tokens import mint_token
from shared.api import models
from shared.auth import authorize_client
from shared.http import endpoint
from shared.settings import CoreSettings
from shared.validation import BOUND_USER, BindsUser
from tests.support import call, http_event

SECRET = "user-binding-secret-0123456789abcdef"


class CallerNamedDifferently(BindsUser, BaseModel):
    account: Annotated[str, BOUND_USER]
    note: str = ""


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)

    @endpoint(authorize=authorize_client, body=CallerNamedDifferently, settings=(CoreSettings,))
    def fn(req, principal, request):
        return {"acted_for": req.account}

    return fn


def test_a_field_with_another_name_is_still_bound(handler):
    status, _, body = call(handler, http_event({"account": "bob"}, token=mint_token("alice", SECRET)))
    assert (status, body["error_code"]) == (403, "TokenUserMismatch")
    status, _, body = call(handler, http_event({"account": "alice"}, token=mint_token("alice", SECRET)))
    assert (status, body["acted_for"]) == (200, "alice")


def test_a_model_that_marks_no_user_cannot_be_defined():
    with pytest.raises(TypeError, match="BOUND_USER"):
        class Forgot(BindsUser, BaseModel):
            user_id: str


def test_opting_out_is_explicit_and_two_marks_or_an_optional_mark_are_refused():
    class NamesNoUser(BindsUser, BaseModel):
        binds_no_user: ClassVar[bool] = True
        agent: str

    assert NamesNoUser(agent="a").bound_user() is None
    with pytest.raises(TypeError, match="mark one"):
        class Two(BindsUser, BaseModel):
            a: Annotated[str, BOUND_USER]
            b: Annotated[str, BOUND_USER]
    with pytest.raises(TypeError, match="required"):
        class Optional(BindsUser, BaseModel):
            a: Annotated[str | None, BOUND_USER] = None


def test_every_client_request_model_binds_its_user():
    found = models.all_models()
    assert len(found) == 10
    # The admins' erasure request names whom to erase, not the caller: the one model binding no user.
    assert [c.__name__ for c in found if c.binds_no_user] == ["EraseRequest"]
    assert models.EraseRequest.bound_user_field is None
    for cls in found:
        if cls is not models.EraseRequest:
            assert cls.bound_user_field == "user_id", cls.__name__
