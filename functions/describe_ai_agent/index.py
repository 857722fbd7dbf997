"""POST /api/v2/aiagent/describeAIAgent: what a client may know of an agent (its inbound numbers),
served from the agent policy: no public ICE action maps numbers to agents (docs/protocols.md#client-api)."""
from shared.api import answers, policy
from shared.api.models import DescribeAIAgentRequest
from shared.auth import authorize_client
from shared.http import endpoint
from shared.settings import AgentPolicySettings, CoreSettings

SETTINGS = (CoreSettings, AgentPolicySettings)


@endpoint(authorize=authorize_client, body=DescribeAIAgentRequest, settings=SETTINGS,
          require_json_content_type=True, check=policy.check_at_cold_start)
def handler(req: DescribeAIAgentRequest, principal, request) -> dict:
    rules = policy.get_policy()
    rules.check_region(req.region)
    return {"message": "success", "ai_agent": answers.json_string(policy.describe_agent(rules.agent(req.ai_agent_id)))}
