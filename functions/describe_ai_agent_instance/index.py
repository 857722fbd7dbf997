"""POST /api/v2/aiagent/describeAIAgentInstance: an agent instance's details (SPEC 3.3)."""
from shared.api import answers
from shared.clients import ice
from shared.api.models import DescribeAIAgentInstanceRequest
from shared.auth import authorize_client
from shared.http import endpoint


@endpoint(authorize=authorize_client, body=DescribeAIAgentInstanceRequest, settings=ice.load_settings)
def handler(req: DescribeAIAgentInstanceRequest, principal, request) -> dict:
    answer = ice.get_client().describe_ai_agent_instance(req.ai_agent_instance_id, region=req.region)
    return answers.instance_response(answer)
