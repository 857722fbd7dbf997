"""POST /api/v2/aiagent/describeAIAgentInstance: an agent instance's details (docs/protocols.md#client-api)."""
from shared.api import answers
from shared.api.models import DescribeAIAgentInstanceRequest
from shared.auth import authorize_client
from shared.clients import ice
from shared.http import endpoint
from shared.settings import CloudCredentials, CoreSettings, IceSettings

SETTINGS = (CloudCredentials, IceSettings, CoreSettings)


@endpoint(authorize=authorize_client, body=DescribeAIAgentInstanceRequest, settings=SETTINGS,
          require_json_content_type=True)
def handler(req: DescribeAIAgentInstanceRequest, principal, request) -> dict:
    answer = ice.get_client().describe_ai_agent_instance(req.ai_agent_instance_id, region=req.region)
    return answers.instance_response(answer)
