import base64
import json

import pytest

from devkit.tokens import mint_token
from shared import jwt_hs256
from shared.auth import Principal, authorize_client, bearer_value
from shared.errors import Forbidden
from shared.http import Headers, Request
from shared.settings import CoreSettings, load

SECRET = "s" * 40


def req(auth: str | None) -> Request:
    headers = Headers({"Authorization": auth} if auth is not None else {})
    return Request("POST", "/x", headers, {}, b"{}")


def test_roundtrip_and_claims():
    token = jwt_hs256.encode({"sub": "alice", "exp": 2000}, SECRET)
    assert jwt_hs256.decode(token, SECRET, now=1000) == {"sub": "alice", "exp": 2000}


@pytest.mark.parametrize("mutate, reason", [
    (lambda t: t + "x", "token signature invalid"),
    (lambda t: t.rsplit(".", 1)[0] + ".", "token signature invalid"),
    (lambda t: "a.b", "malformed token"),
    (lambda t: "!!!.###.$$$", "malformed token"),
    (lambda t: "x" * 5000, "malformed token"),
])
def test_tampered_tokens_are_refused(mutate, reason):
    token = jwt_hs256.encode({"sub": "alice", "exp": 2000}, SECRET)
    with pytest.raises(jwt_hs256.InvalidToken, match=reason):
        jwt_hs256.decode(mutate(token), SECRET, now=1000)


def test_alg_none_and_other_algorithms_refused():
    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    for alg in ("none", "HS512", "RS256"):
        forged = f"{b64({'alg': alg})}.{b64({'sub': 'alice', 'exp': 9e9})}."
        with pytest.raises(jwt_hs256.InvalidToken, match="algorithm"):
            jwt_hs256.decode(forged, SECRET, now=1000)


def test_exp_required_and_enforced_with_leeway():
    no_exp = jwt_hs256.encode({"sub": "a"}, SECRET)
    with pytest.raises(jwt_hs256.InvalidToken, match="exp"):
        jwt_hs256.decode(no_exp, SECRET, now=1)
    t = jwt_hs256.encode({"sub": "a", "exp": 100}, SECRET)
    assert jwt_hs256.decode(t, SECRET, now=120, leeway=30)["sub"] == "a"
    with pytest.raises(jwt_hs256.InvalidToken, match="expired"):
        jwt_hs256.decode(t, SECRET, now=131, leeway=30)


def test_wrong_secret_refused():
    t = jwt_hs256.encode({"sub": "a", "exp": 9e9}, SECRET)
    with pytest.raises(jwt_hs256.InvalidToken, match="signature"):
        jwt_hs256.decode(t, "t" * 40)


def test_bearer_value_forms():
    assert bearer_value("Bearer abc") == "abc"
    assert bearer_value("bearer   abc ") == "abc"
    assert bearer_value("abc") == "abc"
    assert bearer_value("Bearer ") is None
    assert bearer_value(None) is None


def test_jwt_mode_principal_and_user_binding():
    s = load(CoreSettings, {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET})
    p = authorize_client(req(f"Bearer {mint_token('alice', SECRET)}"), s)
    assert p == Principal("jwt", "alice")
    p.require_user("alice")
    with pytest.raises(Forbidden):
        p.require_user("bob")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer nope", "garbage.garbage.garbage"])
def test_jwt_mode_refuses_missing_and_garbled(header):
    s = load(CoreSettings, {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET})
    with pytest.raises(Forbidden) as exc:
        authorize_client(req(header), s)
    assert exc.value.status == 403


def test_jwt_without_sub_refused():
    s = load(CoreSettings, {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET})
    with pytest.raises(Forbidden, match="subject"):
        authorize_client(req(jwt_hs256.encode({"exp": 9e9}, SECRET)), s)


def test_static_mode_accepts_any_listed_token_only():
    s = load(CoreSettings, {"AUTH_MODE": "static", "AUTH_STATIC_TOKENS": "tok-one-123, tok-two-456"})
    assert authorize_client(req("tok-two-456"), s).subject is None
    assert authorize_client(req("Bearer tok-one-123"), s).mode == "static"
    for bad in ("tok-one-12", "tok-one-1234", "tok-two-456 ", "x"):
        with pytest.raises(Forbidden):
            authorize_client(req(f"Bearer {bad}x" if bad.endswith(" ") else bad), s)


def test_none_mode_lets_everyone_in():
    s = load(CoreSettings, {"AUTH_MODE": "none"})
    assert authorize_client(req(None), s) == Principal("none")
