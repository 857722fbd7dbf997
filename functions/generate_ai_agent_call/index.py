"""POST /api/v2/aiagent/generateAIAgentCall: start an agent call for a client (docs/protocols.md#client-api)."""
from shared.api import answers
from shared.api.models import GenerateAIAgentCallRequest
from shared.auth import authorize_client
from shared.clients import ice
from shared.http import endpoint
from shared.settings import CloudCredentials, CoreSettings, IceSettings

SETTINGS = (CloudCredentials, IceSettings, CoreSettings)


@endpoint(authorize=authorize_client, body=GenerateAIAgentCallRequest, settings=SETTINGS,
          require_json_content_type=True)
def handler(req: GenerateAIAgentCallRequest, principal, request) -> dict:
    answer = ice.get_client().generate_ai_agent_call(
        ai_agent_id=req.ai_agent_id, user_id=req.user_id, expire=req.expire,
        user_data=answers.json_string(req.user_data), session_id=req.session_id,
        agent_config=answers.config_param("agent_config", req.agent_config),
        template_config=answers.config_param("template_config", req.template_config),
        region=req.region)
    return answers.agent_call_response(answer)
