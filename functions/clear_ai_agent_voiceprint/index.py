"""POST /api/v2/aiagent/clearAIAgentVoiceprint: remove one of the caller's voiceprints
(docs/protocols.md#client-api)."""
from shared.api import ownership, policy
from shared.api.models import ClearAIAgentVoiceprintRequest
from shared.auth import authorize_client
from shared.clients import ice, object_store
from shared.http import endpoint
from shared.settings import AgentPolicySettings, CloudCredentials, CoreSettings, IceSettings, OssSettings, load

SETTINGS = (CloudCredentials, IceSettings, CoreSettings, OssSettings, AgentPolicySettings)


@endpoint(authorize=authorize_client, body=ClearAIAgentVoiceprintRequest, settings=SETTINGS,
          require_json_content_type=True, check=policy.check_at_cold_start)
def handler(req: ClearAIAgentVoiceprintRequest, principal, request) -> dict:
    policy.get_policy().check_region(req.region)
    ice.endpoint_for(load(IceSettings), req.region)  # an unknown region: 400 before anything is read
    ownership.require_voiceprint(object_store.get_store(), principal, req.voiceprint_id, req.user_id)
    answer = ice.get_client().clear_ai_agent_voiceprint(voiceprint_id=req.voiceprint_id,
                                                        registration_mode=req.registration_mode, region=req.region)
    return {"message": "success", "request_id": answer.get("RequestId")}
