"""The client kits' rules through `aiagent dev` on real sockets (JWT mode, an agent policy, a
quota): ownership between two users, the policy, and the quota under concurrent requests."""
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from devkit.defaults import DEV_JWT_SECRET
from devkit.tokens import mint_token
from tests.support import SandboxProcess

pytestmark = pytest.mark.e2e
POLICY = {"agents": {"voice-1": {"inbound_numbers": ["057100001111"], "outbound_caller_numbers": ["02100003333"],
                                 "client_overridable": ["Greeting"]}},
          "workflow_agents": {"VoiceChat": "voice-1"}}
API = "/api/v2/aiagent/"


def headers(user, **claims):
    # The kits send the token raw (no "Bearer").
    return {"Authorization": mint_token(user, DEV_JWT_SECRET, **claims), "Content-Type": "application/json"}


def test_ownership_policy_and_quota_through_the_sandbox():
    env = {"AUTH_MODE": "jwt", "AGENT_POLICY": json.dumps(POLICY), "CALL_QUOTA_PER_USER_PER_DAY": "3"}
    with SandboxProcess(env) as sb, httpx.Client(base_url=sb.url + API, timeout=20) as c:
        r = c.post("generateAIAgentCall", headers=headers("alice"), json={"user_id": "alice", "workflow_type": "VoiceChat"})
        assert r.status_code == 200, r.text
        instance, channel = r.json()["ai_agent_instance_id"], r.json()["channel_id"]
        # Bob cannot read Alice's instance or join her channel; an admin can describe it.
        r = c.post("describeAIAgentInstance", headers=headers("bob"), json={"user_id": "bob", "ai_agent_instance_id": instance})
        assert (r.status_code, r.json()["error_code"]) == (404, "InstanceNotFound")
        r = c.post("getRtcAuthToken", headers=headers("bob"), json={"user_id": "bob", "channel_id": channel})
        assert (r.status_code, r.json()["error_code"]) == (404, "ChannelNotFound")
        r = c.post("describeAIAgentInstance", headers=headers("ops", role="admin"),
                   json={"user_id": "ops", "ai_agent_instance_id": instance})
        assert r.status_code == 200
        # The policy: unknown agents and keys not overridable never reach ICE.
        r = c.post("generateAIAgentCall", headers=headers("alice"), json={"user_id": "alice", "ai_agent_id": "other"})
        assert (r.status_code, r.json()["error_code"]) == (404, "AgentNotFound")
        r = c.post("generateAIAgentCall", headers=headers("alice"),
                   json={"user_id": "alice", "ai_agent_id": "voice-1",
                         "agent_config": json.dumps({"LlmConfig": {"SystemPrompt": "x"}})})
        assert r.status_code == 400 and r.json()["message"].startswith("agent_config.LlmConfig.SystemPrompt")
        r = c.post("describeAIAgent", headers=headers("alice"), json={"user_id": "alice", "ai_agent_id": "voice-1"})
        assert json.loads(r.json()["ai_agent"])["InboundPhoneNumbers"][0] == "057100001111"
        # The quota: Alice used 1 of 3; ten concurrent starts give exactly two more.
        with ThreadPoolExecutor(10) as pool:
            codes = list(pool.map(lambda _: c.post("getRtcAuthToken", headers=headers("alice"),
                                                   json={"user_id": "alice"}).status_code, range(10)))
        assert sorted(codes) == [200, 200] + [429] * 8
        # getOssConfig through the sandbox's STS simulator, scoped to Alice's prefix.
        r = c.post("getOssConfig", headers=headers("alice"), json={"user_id": "alice"})
        assert r.status_code == 200 and r.json()["base_path"] == "client-uploads/alice"
        # An empty Authorization header (the Web kit without setServerAuth) is a 403.
        r = c.post("getOssConfig", headers={"Authorization": "", "Content-Type": "application/json"},
                   json={"user_id": "alice"})
        assert r.status_code == 403
        assert "STS: local simulator" in sb.output()
