"""POST /api/v2/aiagent/startAIAgentOutboundCall: the agent phones `called_number` from the caller
number the agent policy gives it, within the caller's daily quota; the caller owns the instance
(docs/protocols.md#client-api)."""
from shared.api import answers, ownership, policy, quota
from shared.api.models import StartAIAgentOutboundCallRequest
from shared.auth import authorize_client
from shared.clients import ice, object_store
from shared.http import endpoint
from shared.settings import (
    AgentPolicySettings,
    CloudCredentials,
    CoreSettings,
    IceSettings,
    OssSettings,
    QuotaSettings,
)

SETTINGS = (CloudCredentials, IceSettings, CoreSettings, OssSettings, QuotaSettings, AgentPolicySettings)


@endpoint(authorize=authorize_client, body=StartAIAgentOutboundCallRequest, settings=SETTINGS,
          require_json_content_type=True, check=policy.check_at_cold_start)
def handler(req: StartAIAgentOutboundCallRequest, principal, request) -> dict:
    rules = policy.get_policy()
    rules.check_region(req.region)
    rule = rules.agent(req.ai_agent_id)
    config = answers.config_param("config", req.config)
    policy.check_overrides("config", config, rule)
    caller = policy.caller_number(rule)
    store = object_store.get_store()
    user = principal.acting_user(req.user_id)
    answer = quota.within_quota(store, user, "startAIAgentOutboundCall", lambda: ice.get_client()
                                .start_ai_agent_outbound_call(ai_agent_id=rule.ai_agent_id, caller_number=caller,
                                                              called_number=req.called_number, config=config,
                                                              user_data=answers.json_string(req.user_data),
                                                              session_id=req.session_id, region=req.region))
    instance_id = answer.get("InstanceId")
    if isinstance(instance_id, str):
        ownership.record_instance(store, instance_id, user_id=user, ai_agent_id=rule.ai_agent_id,
                                  via="startAIAgentOutboundCall")
    return {"message": "success", "instance_id": instance_id, "request_id": answer.get("RequestId")}
