"""POST /api/v2/aiagent/setAIAgentVoiceprint: register the caller's voiceprint from audio they
uploaded under their own prefix (docs/protocols.md#client-api)."""
from shared.api import ownership, policy, uploads
from shared.api.models import SetAIAgentVoiceprintRequest
from shared.auth import authorize_client
from shared.clients import ice, object_store
from shared.http import endpoint
from shared.settings import (
    AgentPolicySettings,
    ClientUploadSettings,
    CloudCredentials,
    CoreSettings,
    IceSettings,
    OssSettings,
    load,
)

SETTINGS = (CloudCredentials, IceSettings, CoreSettings, OssSettings, ClientUploadSettings, AgentPolicySettings)


@endpoint(authorize=authorize_client, body=SetAIAgentVoiceprintRequest, settings=SETTINGS,
          require_json_content_type=True, check=policy.check_at_cold_start)
def handler(req: SetAIAgentVoiceprintRequest, principal, request) -> dict:
    policy.get_policy().check_region(req.region)
    ice.endpoint_for(load(IceSettings), req.region)  # an unknown region: 400 before anything is read
    user = principal.acting_user(req.user_id)
    audio = uploads.voiceprint_input(req.input, user, load(ClientUploadSettings))
    ownership.claim_voiceprint(object_store.get_store(), principal, req.voiceprint_id, req.user_id)
    answer = ice.get_client().set_ai_agent_voiceprint(voiceprint_id=req.voiceprint_id, input=audio,
                                                      region=req.region)
    return {"message": "success", "voiceprint_id": answer.get("VoiceprintId") or req.voiceprint_id,
            "request_id": answer.get("RequestId")}
