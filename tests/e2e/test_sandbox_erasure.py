"""Erasure on request through the sandbox: a user's call (started through generateAIAgentCall,
then its callbacks, archive and analysis) and the user's own records are erased by `aiagent
erase --user`; nothing is left, the receipt holds no personal data, a second run is a no-op, and a
callback for the erased call arriving later is not stored."""
import argparse
import hashlib
import io
import json
import os
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

pytestmark = pytest.mark.e2e
USER = "erase_me_01"


@pytest.fixture
def stack():
    from tests.support import in_process_sandbox

    with in_process_sandbox() as st:
        yield st


def keys(stack, prefix=""):
    r = httpx.get(stack.url + "/_sandbox/objects", params={"prefix": prefix},
                  headers={"Authorization": f"Bearer {os.environ['SANDBOX_TOKEN']}"})
    return [o["key"] for o in r.json()["objects"]]


def erase(stack, **kw):
    from devkit.ops import erase as erase_cmd

    # The days around today only (the default searches 400 days: slower, same code).
    since = (datetime.now(timezone.utc) - timedelta(days=2)).date().isoformat()
    args = argparse.Namespace(instance=kw.get("instance"), user=kw.get("user"), since=since, until=None,
                              dry_run=kw.get("dry_run", False), by="test-operator", url=stack.url)
    out, err = io.StringIO(), io.StringIO()
    assert erase_cmd.main(args, env=dict(os.environ), out=out, err=err) == 0, err.getvalue()
    return json.loads(out.getvalue().splitlines()[0]), out.getvalue()


def test_a_users_calls_and_records_are_erased_and_stay_erased(stack):
    from devkit.defaults import DEV_TOKEN
    from devkit.sandbox.simulate_call import Sandbox
    from shared.archive import layout

    api = httpx.Client(base_url=stack.url + "/api/v2/aiagent/", headers={"Authorization": DEV_TOKEN}, timeout=20)
    started = api.post("generateAIAgentCall", json={"user_id": USER, "ai_agent_id": "agent-1"}).json()
    instance = started["ai_agent_instance_id"]
    token = api.post("getRtcAuthToken", json={"user_id": USER}).json()
    channels = {started["channel_id"], token["channel_id"]}  # the user's channel records
    other = api.post("generateAIAgentCall", json={"user_id": "someone_else", "ai_agent_id": "agent-1"}).json()
    sb = Sandbox(stack.url, os.environ["CALLBACK_TOKEN"].split(",")[0].strip(), os.environ["SANDBOX_TOKEN"])
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)

    def event(inst, kind, t, data=None):
        return {"aiAgentId": "agent-1", "instanceId": inst, "event": kind, "code": 1000, "data": data or {},
                "timestamp": (start + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ"), "extendData": {}}

    for inst in (instance, other["ai_agent_instance_id"]):
        for ev in (event(inst, "agent_start", 0), event(inst, "chat_record", 1, {"role": "user", "text": "你好"}),
                   event(inst, "agent_stop", 5)):
            sb.post_callback(ev)
    dt = start.date().isoformat()
    for inst in (instance, other["ai_agent_instance_id"]):
        assert sb.wait_for([layout.date_prefix(layout.ANALYSES, dt) + inst + "/"], 30), inst
    stack.ups.live.drain()  # Live's recording callbacks so far, stored
    # the call's ARTC recording task (STAGE=dev without a policy records every call)
    task = sb.object(layout.recording_call_key(instance)).get("task_id")
    tasks = {layout.recording_task_key(task)} if task else set()

    def is_mine(k):  # the index's updates come and go with the compaction: checked on their own
        return not k.startswith(layout.WAREHOUSE) and (
            instance in k or f"/{USER}/" in k or any(f"/{c}.json" in k for c in channels) or k in tasks)

    mine = [k for k in keys(stack) if is_mine(k)]
    assert {k.split("/")[0] for k in mine} >= {"callbacks", "call-logs", "analyses", "state"}

    dry, listing = erase(stack, user=USER, dry_run=True)
    assert dry["calls"] == [instance] and "would delete call_logs" in listing
    assert dry["total"] - dry["objects"].get("index_updates", 0) == len(mine)
    assert sorted(k for k in keys(stack) if is_mine(k)) == sorted(mine)  # nothing changed

    done, _ = erase(stack, user=USER)
    assert done["total"] - done["objects"].get("index_updates", 0) == len(mine)
    # its 3 ICE callbacks and the 3 of Live's recording of it (created, starting, running)
    assert done["objects"]["callbacks"] == 3 + sum("-rtc_" in k for k in mine if k.startswith(layout.CALLBACKS))
    left = [k for k in keys(stack) if is_mine(k) and not k.startswith(layout.ERASURES)]
    assert left == []
    receipt = sb.object(done["receipt"])
    assert receipt["user_sha256"] == hashlib.sha256(USER.encode()).hexdigest()
    assert USER not in json.dumps(receipt) and receipt["deleted"] == done["objects"]
    # The other user's call is untouched.
    assert any(other["ai_agent_instance_id"] in k for k in keys(stack, layout.CALL_LOGS))
    # A late callback for the erased call is acknowledged and not stored; erasing again is a no-op.
    r = httpx.post(stack.url + "/api/v2/aiagent/callback", json=event(instance, "chat_record", 3, {"text": "late"}),
                   headers={"Authorization": f"Bearer {os.environ['CALLBACK_TOKEN'].split(',')[0].strip()}"})
    assert r.status_code == 200 and r.json()["erased"] is True
    assert [k for k in keys(stack, layout.CALLBACKS) if instance in k] == []
    again, _ = erase(stack, user=USER)
    assert again["total"] == 0
    # The call index: the compaction drops the erased call's row (its day's file is rewritten).
    from devkit.defaults import DEV_JWT_SECRET
    from devkit.tokens import mint_token

    admin = {"Authorization": f"Bearer {mint_token('ops', os.environ.get('AUTH_JWT_SECRET') or DEV_JWT_SECRET, role='admin')}"}
    listed: list[str] = []
    for _ in range(60):
        listed = [c["instance_id"] for c in httpx.get(stack.url + "/api/v2/archive/calls", headers=admin).json()["calls"]]
        if instance not in listed and other["ai_agent_instance_id"] in listed:
            break
        time.sleep(0.5)
    assert instance not in listed and other["ai_agent_instance_id"] in listed, listed
