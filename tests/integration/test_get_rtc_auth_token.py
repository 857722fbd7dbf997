"""getRtcAuthToken through its real handler(event_bytes, context) with real FC events."""
import base64
import hashlib
import json
import re
import time

import pytest

from devkit.tokens import mint_token
from shared.api import rtc_token
from tests.support import call, http_event, load_function

SECRET = "j" * 48
ENV = {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET, "LIVE_MIC_APP_ID": "app-1", "LIVE_MIC_APP_KEY": "key-1-secret"}


@pytest.fixture(autouse=True)
def _store(oss_env):
    """The token function keeps channel ownership and quotas in OSS: moto's server for every test."""
    yield


@pytest.fixture
def handler(monkeypatch, oss_env):  # channel ownership and quotas live in OSS (moto)
    return load_function("get_rtc_auth_token", monkeypatch, ENV)


def token(user="alice", ttl=600):
    return mint_token(user, SECRET, ttl)


def test_success_generates_channel_and_verifiable_token(handler):
    before = int(time.time())
    status, headers, body = call(handler, http_event({"user_id": "alice"}, token=token()))
    assert status == 200 and body["code"] == 200
    assert re.fullmatch(r"[0-9a-f]{32}", body["channel_id"])
    assert before + 86400 <= body["timestamp"] <= int(time.time()) + 86400
    doc = json.loads(base64.b64decode(body["rtc_auth_token"]))
    assert doc["channelid"] == body["channel_id"] and doc["userid"] == "alice" and doc["appid"] == "app-1"
    assert doc["timestamp"] == body["timestamp"]
    expected = hashlib.sha256(f"app-1key-1-secret{body['channel_id']}alice{body['timestamp']}".encode()).hexdigest()
    assert doc["token"] == expected
    assert headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("channel", [None, ""])
def test_absent_or_empty_channel_is_generated(handler, channel):
    body = {"user_id": "alice"} if channel is None else {"user_id": "alice", "channel_id": channel}
    _, _, out = call(handler, http_event(body, token=token()))
    assert re.fullmatch(r"[0-9a-f]{32}", out["channel_id"])


def test_given_channel_is_used_and_returned(handler):
    _, _, out = call(handler, http_event({"user_id": "alice", "channel_id": "room-7"}, token=token()))
    assert out["channel_id"] == "room-7" and rtc_token.parse(out["rtc_auth_token"])["channelid"] == "room-7"


def test_ttl_setting(monkeypatch):
    h = load_function("get_rtc_auth_token", monkeypatch, {**ENV, "RTC_TOKEN_TTL_SECONDS": "600"})
    _, _, out = call(h, http_event({"user_id": "alice"}, token=token()))
    assert abs(out["timestamp"] - (time.time() + 600)) < 5


@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer garbage", "Bearer a.b.c"])
def test_missing_or_garbled_token_is_403(handler, auth):
    headers = {"Authorization": auth} if auth else {}
    status, _, body = call(handler, http_event({"user_id": "alice"}, headers=headers))
    assert status == 403 and body["code"] == 403 and body["message"]


def test_expired_token_is_403(handler):
    status, _, body = call(handler, http_event({"user_id": "alice"}, token=mint_token("alice", SECRET, 1,
                                                                                      now=time.time() - 3600)))
    assert status == 403 and body["error_code"] == "TokenExpired"


def test_wrong_user_is_403(handler):
    status, _, body = call(handler, http_event({"user_id": "bob"}, token=token("alice")))
    assert status == 403 and body["error_code"] == "TokenUserMismatch"


def test_token_signed_with_other_secret_is_403(handler):
    status, _, _ = call(handler, http_event({"user_id": "alice"}, token=mint_token("alice", "z" * 48)))
    assert status == 403


@pytest.mark.parametrize("raw, field", [
    ("not json", "body"),
    ("[1,2]", "body"),
    ("", "body"),
    ('{"user_id": 12}', "user_id"),
    ('{"user_id": null}', "user_id"),
    ('{"channel_id": "c"}', "user_id"),
    ('{"user_id": "' + "a" * 65 + '"}', "user_id"),
    ('{"user_id": "al ice"}', "user_id"),
    ('{"user_id": "al\\u00e9"}', "user_id"),
    ('{"user_id": "a/b"}', "user_id"),
    ('{"user_id": "alice", "channel_id": 5}', "channel_id"),
    ('{"user_id": "alice", "channel_id": "has space"}', "channel_id"),
])
def test_bad_bodies_are_400_naming_the_field(handler, raw, field):
    status, _, body = call(handler, http_event(raw_body=raw, token=token()))
    assert status == 400, body
    assert body["code"] == 400 and body["message"].startswith(field), body


def test_user_id_64_chars_is_fine(monkeypatch):
    h = load_function("get_rtc_auth_token", monkeypatch, {**ENV, "AUTH_MODE": "none"})
    status, _, _ = call(h, http_event({"user_id": "a" * 64}))
    assert status == 200


def test_oversized_body_is_413(handler):
    big = json.dumps({"user_id": "alice", "pad": "x" * (64 * 1024)})
    status, _, body = call(handler, http_event(raw_body=big, token=token()))
    assert status == 413 and body["code"] == 413


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_are_405(handler, method):
    status, headers, body = call(handler, http_event(method=method, token=token()))
    assert status == 405 and "POST" in headers["Allow"] and body["code"] == 405


def test_preflight_allows_authorization_and_content_type(handler):
    status, headers, body = call(handler, http_event(method="OPTIONS", headers={"Origin": "https://app.example"}))
    assert status == 204 and body is None
    allowed = headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in headers["Access-Control-Allow-Methods"]


def test_base64_encoded_body(handler):
    status, _, _ = call(handler, http_event({"user_id": "alice"}, token=token(), base64_body=True))
    assert status == 200


def test_config_error_is_a_500_json_naming_the_variable(monkeypatch):
    h = load_function("get_rtc_auth_token", monkeypatch, {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET})
    status, _, body = call(h, http_event({"user_id": "alice"}, token=token()))
    assert status == 500 and "LIVE_MIC_APP_ID" in body["message"] and body["error_code"] == "ConfigurationError"


def test_prod_with_static_auth_is_refused_at_cold_start(monkeypatch):
    h = load_function("get_rtc_auth_token", monkeypatch,
                      {**ENV, "STAGE": "prod", "AUTH_MODE": "static", "AUTH_STATIC_TOKENS": "abcdefgh"})
    assert h.config_error is not None and "STAGE=prod" in h.config_error.message
    status, _, body = call(h, http_event({"user_id": "alice"}, headers={"Authorization": "abcdefgh"}))
    assert status == 500 and "AUTH_MODE" in body["message"]


def test_no_secret_in_any_response_or_log(handler, logs):
    for ev in (http_event({"user_id": "alice"}, token=token()), http_event(raw_body="{", token=token()),
               http_event({"user_id": "bob"}, token=token())):
        out = handler(ev, None)
        assert "key-1-secret" not in json.dumps(out) and SECRET not in json.dumps(out)
    logs = logs.getvalue()
    assert logs.count("request done") == 3 and "key-1-secret" not in logs and SECRET not in logs and token() not in logs
