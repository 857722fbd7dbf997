"""ICE-backed endpoints through `aiagent dev` on real sockets (client -> gateway ->
handler -> signed HTTP -> ICE simulator)."""
import json

import httpx
import pytest

from devkit.defaults import DEV_TOKEN
from devkit.sandbox.upstreams import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from devkit.sims.ice import IceSimulator
from tests.support import SandboxProcess

pytestmark = pytest.mark.e2e
AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}


def test_endpoints_through_the_default_sandbox():
    with SandboxProcess() as sb, httpx.Client(base_url=sb.url, timeout=10, headers=AUTH) as c:
        r = c.post("/api/v2/aiagent/generateMessageChatToken", json={"user_id": "u1", "ai_agent_id": "a1"})
        assert r.status_code == 200 and r.json()["token"] and r.json()["message"] == "success"
        r = c.post("/api/v2/aiagent/generateAIAgentCall", json={"user_id": "u1", "ai_agent_id": "a1",
                                                                 "agent_config": json.dumps({"Greeting": "hi"})})
        assert r.status_code == 200
        instance = r.json()["ai_agent_instance_id"]
        r = c.post("/api/v2/aiagent/describeAIAgentInstance", json={"user_id": "u1", "ai_agent_instance_id": instance})
        assert r.status_code == 200 and json.loads(r.json()["agent_config"]) == {"Greeting": "hi"}
        r = c.post("/api/v2/aiagent/describeAIAgentInstance", json={"user_id": "u1", "ai_agent_instance_id": "nope"})
        assert r.status_code == 404 and r.json()["error_code"] == "InstanceNotFound"  # not theirs: ICE not asked
        r = c.post("/api/v2/aiagent/describeAIAgentInstance", json={"user_id": "u2", "ai_agent_instance_id": instance})
        assert r.status_code == 404 and r.json()["error_code"] == "InstanceNotFound"
        r = c.post("/api/v2/aiagent/generateMessageChatToken", json={"user_id": "u1", "ai_agent_id": "a1",
                                                                      "region": "xx-nowhere-1"})
        assert r.status_code == 400 and r.json()["message"].startswith("region")
        assert "ICE: local simulator" in sb.output()


def test_ice_endpoint_override_and_bounded_retries():
    sim = IceSimulator({DEV_ACCESS_KEY_ID: DEV_ACCESS_KEY_SECRET}).start()
    try:
        env = {"ICE_ENDPOINT": sim.endpoint, "ALIBABA_CLOUD_ACCESS_KEY_ID": DEV_ACCESS_KEY_ID,
               "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEV_ACCESS_KEY_SECRET, "ICE_MAX_RETRIES": "2"}
        with SandboxProcess(env) as sb:
            started = httpx.post(sb.url + "/api/v2/aiagent/generateAIAgentCall", headers=AUTH, timeout=20,
                                 json={"user_id": "u1", "ai_agent_id": "a1"})
            assert started.status_code == 200, started.text
            sim.inject(action="DescribeAIAgentInstance", status=500, code="InternalError", times=10)
            r = httpx.post(sb.url + "/api/v2/aiagent/describeAIAgentInstance", headers=AUTH, timeout=20,
                           json={"user_id": "u1", "ai_agent_instance_id": started.json()["ai_agent_instance_id"]})
            assert r.status_code == 502 and r.json()["error_code"] == "InternalError"
            assert sim.count("DescribeAIAgentInstance") == 3
            assert f"ICE: {sim.endpoint} (ICE_ENDPOINT)" in sb.output()
    finally:
        sim.stop()
