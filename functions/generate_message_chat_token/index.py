"""POST /api/v2/aiagent/generateMessageChatToken: an interactive-message token (docs/protocols.md#client-api)."""
from shared.api import answers, policy
from shared.api.models import GenerateMessageChatTokenRequest
from shared.auth import ADMIN_ROLE, authorize_client
from shared.clients import ice
from shared.errors import Forbidden
from shared.http import endpoint
from shared.settings import AgentPolicySettings, CloudCredentials, CoreSettings, IceSettings

SETTINGS = (CloudCredentials, IceSettings, CoreSettings, AgentPolicySettings)


@endpoint(authorize=authorize_client, body=GenerateMessageChatTokenRequest, settings=SETTINGS,
          require_json_content_type=True, check=policy.check_at_cold_start)
def handler(req: GenerateMessageChatTokenRequest, principal, request) -> dict:
    rules = policy.get_policy()
    rules.check_region(req.region)
    rule = rules.agent(req.ai_agent_id)
    if req.role == ADMIN_ROLE and not principal.admin:
        raise Forbidden("role: admin needs an authorization token whose role is admin",
                        error_code="AdminRoleRequired")
    answer = ice.get_client().generate_message_chat_token(
        ai_agent_id=rule.ai_agent_id, user_id=req.user_id, role=req.role,
        expire=req.expire if req.expire is not None else 3600, region=req.region)
    return answers.message_chat_token_response(answer)
