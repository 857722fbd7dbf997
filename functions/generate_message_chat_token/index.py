"""POST /api/v2/aiagent/generateMessageChatToken: an interactive-message token (docs/protocols.md#client-api)."""
from shared.api import answers
from shared.api.models import GenerateMessageChatTokenRequest
from shared.auth import authorize_client
from shared.clients import ice
from shared.http import endpoint
from shared.settings import CloudCredentials, CoreSettings, IceSettings

SETTINGS = (CloudCredentials, IceSettings, CoreSettings)


@endpoint(authorize=authorize_client, body=GenerateMessageChatTokenRequest, settings=SETTINGS,
          require_json_content_type=True)
def handler(req: GenerateMessageChatTokenRequest, principal, request) -> dict:
    answer = ice.get_client().generate_message_chat_token(
        ai_agent_id=req.ai_agent_id, user_id=req.user_id, role=req.role,
        expire=req.expire if req.expire is not None else 3600, region=req.region)
    return answers.message_chat_token_response(answer)
