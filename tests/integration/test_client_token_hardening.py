"""Client-token and stage rules (security review) through getRtcAuthToken's real handler."""
import base64
import hashlib
import hmac
import json
import time

import pytest

from devkit.defaults import DEV_JWT_SECRET, DEV_TOKEN
from devkit.tokens import mint_token
from tests.support import call, http_event, load_function

SECRET = "h" * 48
ENV = {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET, "LIVE_MIC_APP_ID": "app-1", "LIVE_MIC_APP_KEY": "key-1-secret"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(claims: dict | None = None, *, header: dict | None = None, raw_claims: bytes | None = None) -> str:
    """Correctly signed with SECRET: only the property under test is wrong."""
    h = json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode()
    c = raw_claims if raw_claims is not None else json.dumps(claims).encode()
    signing = f"{b64(h)}.{b64(c)}"
    return f"{signing}.{b64(hmac.new(SECRET.encode(), signing.encode(), hashlib.sha256).digest())}"


@pytest.fixture(autouse=True)
def _store(oss_env):
    """The token function keeps channel ownership and quotas in OSS: moto's server for every test."""
    yield


@pytest.fixture
def handler(monkeypatch, oss_env):  # channel ownership and quotas live in OSS (moto)
    return load_function("get_rtc_auth_token", monkeypatch, ENV)


def ask(handler, token: str, user: str = "alice"):
    return call(handler, http_event({"user_id": user}, headers={"Authorization": f"Bearer {token}"}))


def refusals() -> list[tuple[str, str, str]]:
    now = int(time.time())
    good = mint_token("alice", SECRET, 600)
    head, body, sig = good.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bytes = alphabet[alphabet.index(sig[-1]) ^ 1]  # low bits of the last character: the same 32 bytes
    return [
        ("ten-year token", mint_token("alice", SECRET, 10 * 365 * 86400), "lifetime too long"),
        ("exp as a string", signed({"sub": "alice", "exp": str(now + 600)}), "exp claim is not an integer"),
        ("exp as a float", signed({"sub": "alice", "exp": now + 600.5}), "exp claim is not an integer"),
        ("exp as a bool", signed({"sub": "alice", "exp": True}), "exp claim is not an integer"),
        ("exp infinite", signed(raw_claims=b'{"sub":"alice","exp":1e999}'), "exp claim is not an integer"),
        ("exp NaN", signed(raw_claims=b'{"sub":"alice","exp":NaN}'), "payload is not JSON"),
        ("nbf ahead", signed({"sub": "alice", "exp": now + 600, "nbf": now + 300}), "not yet valid"),
        ("nbf a string", signed({"sub": "alice", "exp": now + 600, "nbf": "0"}), "nbf claim is not a number"),
        ("iat a string", signed({"sub": "alice", "exp": now + 600, "iat": "now"}), "iat claim is not a number"),
        ("crit header", signed({"sub": "alice", "exp": now + 600}, header={"alg": "HS256", "crit": ["exp"]}),
         "crit"),
        ("typ not JWT", signed({"sub": "alice", "exp": now + 600}, header={"alg": "HS256", "typ": "JWE"}),
         "typ must be JWT"),
        ("duplicate sub", signed(raw_claims=b'{"sub":"mallory","sub":"alice","exp":%d}' % (now + 600)),
         "duplicate member"),
        ("padded signature", f"{good}=", "signature is not base64url"),
        ("second spelling of the signature", f"{head}.{body}.{sig[:-1]}{same_bytes}", "not canonical base64url"),
    ]


@pytest.mark.parametrize("case", range(len(refusals())), ids=[r[0] for r in refusals()])
def test_refused_tokens_are_403_invalid_token_without_echoing_the_token(handler, case):
    _name, token, reason = refusals()[case]
    status, _, body = ask(handler, token)
    assert status == 403 and body["code"] == 403 and body["error_code"] == "InvalidToken", body
    assert reason in body["message"], body
    text = json.dumps(body)
    assert all(seg.rstrip("=") not in text for seg in token.split(".") if len(seg) > 4)


def test_the_well_formed_token_is_still_accepted_and_expiry_keeps_its_code(handler):
    assert ask(handler, mint_token("alice", SECRET, 600))[0] == 200
    status, _, body = ask(handler, mint_token("alice", SECRET, 60, now=time.time() - 3600))
    assert status == 403 and body["error_code"] == "TokenExpired"


def test_max_ttl_audience_and_issuer_settings(monkeypatch):
    h = load_function("get_rtc_auth_token", monkeypatch, {**ENV, "AUTH_JWT_MAX_TTL_SECONDS": "900",
                                                          "AUTH_JWT_AUDIENCE": "aicall-app",
                                                          "AUTH_JWT_ISSUER": "https://login.example"})
    kw = {"audience": "aicall-app", "issuer": "https://login.example"}
    assert ask(h, mint_token("alice", SECRET, 900, **kw))[0] == 200
    for token, reason in [
        (mint_token("alice", SECRET, 3600, **kw), "lifetime too long"),
        (signed({"sub": "alice", "exp": int(time.time()) + 600, "iss": "https://login.example"}), "no aud claim"),
        (mint_token("alice", SECRET, 600, audience="other-app", issuer="https://login.example"), "audience"),
        (mint_token("alice", SECRET, 600, audience="aicall-app", issuer="https://evil.example"), "issuer"),
    ]:
        status, _, body = ask(h, token)
        assert status == 403 and body["error_code"] == "InvalidToken" and reason in body["message"], body
    listed = signed({"sub": "alice", "exp": int(time.time()) + 600, "aud": ["x", "aicall-app"],
                     "iss": "https://login.example"})
    assert ask(h, listed)[0] == 200


@pytest.mark.parametrize("stage", ["staging", "prod"])
@pytest.mark.parametrize("env, name", [
    ({"AUTH_MODE": "static", "AUTH_STATIC_TOKENS": "a-static-token-123"}, "AUTH_MODE"),
    ({"AUTH_MODE": "none"}, "AUTH_MODE"),
    ({"AUTH_JWT_SECRET": DEV_JWT_SECRET}, "AUTH_JWT_SECRET"),
    ({"AUTH_STATIC_TOKENS": DEV_TOKEN}, "AUTH_STATIC_TOKENS"),
])
def test_deployed_stages_refuse_weak_auth_and_dev_secrets_at_cold_start(monkeypatch, stage, env, name):
    h = load_function("get_rtc_auth_token", monkeypatch,
                      {**ENV, "STAGE": stage, "CORS_ALLOW_ORIGINS": "https://app.example.com", **env})
    assert h.config_error is not None and name in h.config_error.message
    token = mint_token("alice", env.get("AUTH_JWT_SECRET", SECRET), 600)
    status, _, body = call(h, http_event({"user_id": "alice"}, headers={"Authorization": f"Bearer {token}"}))
    assert status == 500 and name in body["message"] and body["error_code"] == "ConfigurationError"
    assert DEV_JWT_SECRET not in json.dumps(body) and DEV_TOKEN not in json.dumps(body)


def test_dev_stage_still_runs_on_the_embedded_defaults(monkeypatch):
    h = load_function("get_rtc_auth_token", monkeypatch, {**ENV, "STAGE": "dev", "AUTH_MODE": "static",
                                                          "AUTH_STATIC_TOKENS": DEV_TOKEN})
    assert h.config_error is None
    assert call(h, http_event({"user_id": "alice"}, headers={"Authorization": DEV_TOKEN}))[0] == 200


def test_prod_cors_wildcard_is_refused_and_an_explicit_list_is_used(monkeypatch):
    h = load_function("get_rtc_auth_token", monkeypatch, {**ENV, "STAGE": "prod"})
    status, _, body = call(h, http_event({"user_id": "alice"}, token=mint_token("alice", SECRET, 600)))
    assert status == 500 and "CORS_ALLOW_ORIGINS" in body["message"]
    h = load_function("get_rtc_auth_token", monkeypatch,
                      {**ENV, "STAGE": "prod", "CORS_ALLOW_ORIGINS": "https://app.example.com"})
    token = mint_token("alice", SECRET, 600)
    status, headers, _ = call(h, http_event({"user_id": "alice"}, token=token, headers={"Origin": "https://app.example.com"}))
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    status, headers, _ = call(h, http_event({"user_id": "alice"}, token=token, headers={"Origin": "https://evil.example"}))
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
