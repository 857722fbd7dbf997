"""POST /api/v2/aiagent/generateAIAgentCall: start an agent call for a client, within the agent
policy and the caller's daily quota; the caller owns the instance (docs/protocols.md#client-api)."""
from shared.api import answers, cloud_recording, ownership, policy, quota
from shared.api.models import GenerateAIAgentCallRequest
from shared.auth import authorize_client
from shared.clients import ice, object_store
from shared.http import endpoint
from shared.settings import (
    AgentPolicySettings,
    CloudCredentials,
    CoreSettings,
    IceSettings,
    LiveSettings,
    OssSettings,
    QuotaSettings,
    RecordingSettings,
    load,
)

SETTINGS = (CloudCredentials, IceSettings, CoreSettings, OssSettings, QuotaSettings, AgentPolicySettings,
            RecordingSettings, LiveSettings)


@endpoint(authorize=authorize_client, body=GenerateAIAgentCallRequest, settings=SETTINGS,
          require_json_content_type=True, check=policy.check_at_cold_start)
def handler(req: GenerateAIAgentCallRequest, principal, request) -> dict:
    rules = policy.get_policy()
    rules.check_region(req.region)
    rule = rules.resolve(req.ai_agent_id, req.workflow_type)
    configs = {name: answers.config_param(name, getattr(req, name))
               for name in ("agent_config", "template_config", "chat_sync_config")}
    for name, config in configs.items():
        policy.check_overrides(name, config, rule)
    store = object_store.get_store()
    user = principal.acting_user(req.user_id)
    answer = quota.within_quota(store, user, "generateAIAgentCall", lambda: ice.get_client().generate_ai_agent_call(
        ai_agent_id=rule.ai_agent_id, user_id=req.user_id, expire=req.expire,
        user_data=answers.json_string(req.user_data), session_id=req.session_id,
        agent_config=configs["agent_config"], template_config=configs["template_config"],
        chat_sync_config=configs["chat_sync_config"], region=req.region))
    if isinstance(answer.get("InstanceId"), str):
        ownership.record_instance(store, answer["InstanceId"], user_id=user, ai_agent_id=rule.ai_agent_id,
                                  channel_id=answer.get("ChannelId") if isinstance(answer.get("ChannelId"), str)
                                  else None, via="generateAIAgentCall")
        record, video = cloud_recording.wanted(rule.recording, req.workflow_type)
        if record:  # the agent policy's `recording`: ARTC cloud recording of this call
            oss = load(OssSettings)
            cloud_recording.start(store, answer=answer, user_id=req.user_id, ai_agent_id=rule.ai_agent_id,
                                  video=video, settings=load(RecordingSettings), bucket=oss.ARCHIVE_BUCKET,
                                  region=oss.OSS_REGION)
    return answers.agent_call_response(answer)
