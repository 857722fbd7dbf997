"""POST /api/v2/aiagent/generateMessageChatToken: an interactive-message token (SPEC 3.2)."""
from shared.api import answers
from shared.clients import ice
from shared.api.models import GenerateMessageChatTokenRequest
from shared.auth import authorize_client
from shared.http import endpoint


@endpoint(authorize=authorize_client, body=GenerateMessageChatTokenRequest, settings=ice.load_settings)
def handler(req: GenerateMessageChatTokenRequest, principal, request) -> dict:
    answer = ice.get_client().generate_message_chat_token(
        ai_agent_id=req.ai_agent_id, user_id=req.user_id, role=req.role,
        expire=req.expire if req.expire is not None else 3600, region=req.region)
    return answers.message_chat_token_response(answer)
