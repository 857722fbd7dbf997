"""The sandbox's own /_sandbox/ endpoints take SANDBOX_TOKEN, not the callback token:
whoever may post ICE callbacks may not list or read the archive (security review)."""
import json
import time
from datetime import datetime, timezone

import httpx
import pytest

from devkit.defaults import DEV_CALLBACK_TOKEN, DEV_SANDBOX_TOKEN
from tests.support import SandboxProcess

pytestmark = pytest.mark.e2e
CALLBACK = "/api/v2/aiagent/callback"


def _auth(token):
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


def _printed(sb, text, timeout=5.0):
    end = time.monotonic() + timeout
    while text not in sb.output():
        if time.monotonic() > end:
            return False
        time.sleep(0.1)
    return True


def test_sandbox_endpoints_take_the_sandbox_token_not_the_callback_token(tmp_path):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {"aiAgentId": "a1", "instanceId": "inst-admin", "event": "chat_record", "timestamp": now}
    with SandboxProcess({"SANDBOX_DATA_DIR": str(tmp_path)}) as sb, httpx.Client(base_url=sb.url, timeout=10) as c:
        for path in ("/_sandbox/status", "/_sandbox/objects?prefix=callbacks/", "/_sandbox/object?key=x"):
            for token in (None, "x", DEV_CALLBACK_TOKEN, DEV_SANDBOX_TOKEN + "x", DEV_SANDBOX_TOKEN[:-1]):
                r = c.get(path, headers=_auth(token))
                assert r.status_code == 401 and "SANDBOX_TOKEN" in r.json()["message"], (path, token, r.text)
        assert c.get("/_sandbox/status", headers=_auth(DEV_SANDBOX_TOKEN)).status_code == 200
        # The callback endpoint is the other way round.
        assert c.post(CALLBACK, content=json.dumps(event), headers=_auth(DEV_SANDBOX_TOKEN)).status_code == 401
        r = c.post(CALLBACK, content=json.dumps(event), headers=_auth(DEV_CALLBACK_TOKEN))
        assert r.status_code == 200, r.text
        listed = c.get("/_sandbox/objects", params={"prefix": "callbacks/"}, headers=_auth(DEV_SANDBOX_TOKEN))
        assert [o["key"] for o in listed.json()["objects"]] == [r.json()["key"]]
        # `aiagent dev` prints it where it prints the other development tokens.
        assert _printed(sb, f"Bearer {DEV_SANDBOX_TOKEN} (embedded development token)"), sb.output()[-2000:]


def test_a_configured_sandbox_token_replaces_the_development_one(tmp_path):
    mine = "my-sandbox-token-0123456789"
    with SandboxProcess({"SANDBOX_DATA_DIR": str(tmp_path), "SANDBOX_TOKEN": mine}) as sb:
        assert httpx.get(sb.url + "/_sandbox/status", headers=_auth(DEV_SANDBOX_TOKEN)).status_code == 401
        assert httpx.get(sb.url + "/_sandbox/status", headers=_auth(mine)).status_code == 200
