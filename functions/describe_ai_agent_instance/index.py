"""POST /api/v2/aiagent/describeAIAgentInstance: an agent instance's details, for the user who
started it (admins: any) (docs/protocols.md#client-api)."""
from shared.api import answers, ownership, policy
from shared.api.models import DescribeAIAgentInstanceRequest
from shared.auth import authorize_client
from shared.clients import ice, object_store
from shared.http import endpoint
from shared.settings import AgentPolicySettings, CloudCredentials, CoreSettings, IceSettings, OssSettings, load

SETTINGS = (CloudCredentials, IceSettings, CoreSettings, OssSettings, AgentPolicySettings)


@endpoint(authorize=authorize_client, body=DescribeAIAgentInstanceRequest, settings=SETTINGS,
          require_json_content_type=True, check=policy.check_at_cold_start)
def handler(req: DescribeAIAgentInstanceRequest, principal, request) -> dict:
    policy.get_policy().check_region(req.region)
    ice.endpoint_for(load(IceSettings), req.region)  # an unknown region: 400 before anything is read
    ownership.require_instance(object_store.get_store(), principal, req.ai_agent_instance_id, req.user_id)
    answer = ice.get_client().describe_ai_agent_instance(req.ai_agent_instance_id, region=req.region)
    return answers.instance_response(answer)
