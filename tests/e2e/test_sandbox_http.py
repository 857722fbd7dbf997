"""The sandbox on a real socket: `aiagent dev` + httpx, as a client kit would call it."""
import time

import httpx
import pytest

from devkit.defaults import DEV_TOKEN
from devkit.tokens import mint_token
from shared.api import rtc_token
from tests.support import SandboxProcess

pytestmark = pytest.mark.e2e
PATH = "/api/v2/aiagent/getRtcAuthToken"
SECRET = "e2e-secret-" + "x" * 40


@pytest.fixture(scope="module")
def jwt_sandbox():
    with SandboxProcess({"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET}) as sb:
        with httpx.Client(base_url=sb.url, timeout=10) as client:
            yield client, sb


def test_default_sandbox_starts_with_no_configuration_and_serves():
    with SandboxProcess() as sb:
        r = httpx.post(sb.url + PATH, json={"user_id": "alice"}, headers={"Authorization": f"Bearer {DEV_TOKEN}"})
        assert r.status_code == 200, r.text
        assert r.json()["channel_id"] == rtc_token.parse(r.json()["rtc_auth_token"])["channelid"]
        out = sb.output()
        assert PATH in out and DEV_TOKEN in out


def test_success_and_token_fields(jwt_sandbox):
    client, _ = jwt_sandbox
    r = client.post(PATH, json={"user_id": "alice", "channel_id": "c1"},
                    headers={"Authorization": f"Bearer {mint_token('alice', SECRET)}"})
    assert r.status_code == 200
    doc = rtc_token.parse(r.json()["rtc_auth_token"])
    assert doc["channelid"] == "c1" and doc["userid"] == "alice" and doc["timestamp"] == r.json()["timestamp"]


@pytest.mark.parametrize("auth", [None, "Bearer x.y.z", "nonsense"])
def test_bad_tokens_403(jwt_sandbox, auth):
    client, _ = jwt_sandbox
    r = client.post(PATH, json={"user_id": "alice"}, headers={"Authorization": auth} if auth else {})
    assert r.status_code == 403 and r.json()["code"] == 403


def test_expired_and_wrong_user_403(jwt_sandbox):
    client, _ = jwt_sandbox
    expired = mint_token("alice", SECRET, 1, now=time.time() - 600)
    assert client.post(PATH, json={"user_id": "alice"}, headers={"Authorization": expired}).status_code == 403
    other = mint_token("bob", SECRET)
    assert client.post(PATH, json={"user_id": "alice"}, headers={"Authorization": other}).status_code == 403


@pytest.mark.parametrize("content, field", [
    (b"{not json", "body"),
    (b'{"user_id": ["a"]}', "user_id"),
    (b'{}', "user_id"),
    (b'{"user_id": "' + b"u" * 65 + b'"}', "user_id"),
    (b'{"user_id": "bad!chars"}', "user_id"),
])
def test_bad_input_400_naming_field(jwt_sandbox, content, field):
    client, _ = jwt_sandbox
    r = client.post(PATH, content=content, headers={"Authorization": mint_token("alice", SECRET),
                                                    "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["message"].startswith(field), r.text


def test_413_405_404_and_cors(jwt_sandbox):
    client, _ = jwt_sandbox
    auth = {"Authorization": mint_token("alice", SECRET)}
    r = client.post(PATH, content=b'{"user_id":"alice","p":"' + b"x" * 70000 + b'"}', headers=auth)
    assert r.status_code == 413 and r.json()["code"] == 413
    r = client.get(PATH, headers=auth)
    assert r.status_code == 405 and r.json()["code"] == 405
    r = client.post("/api/v2/aiagent/nothingHere", json={}, headers=auth)
    assert r.status_code == 404 and r.json()["code"] == 404
    r = client.options(PATH, headers={"Origin": "https://web.example", "Access-Control-Request-Method": "POST",
                                      "Access-Control-Request-Headers": "authorization,content-type"})
    assert r.status_code == 204 and "authorization" in r.headers["access-control-allow-headers"]


def test_every_error_is_json_without_stack_traces(jwt_sandbox):
    client, sb = jwt_sandbox
    for method, path, content in [("POST", PATH, b"\xff\xfe"), ("PUT", PATH, b""), ("POST", "/x", b"1"),
                                  ("POST", PATH, b'{"user_id": {"a": 1}}')]:
        r = client.request(method, path, content=content, headers={"Authorization": mint_token("alice", SECRET)})
        assert r.status_code >= 400
        body = r.json()
        assert {"code", "message"} <= set(body) and "Traceback" not in r.text
    assert SECRET not in sb.output() and "Traceback" not in sb.output()
