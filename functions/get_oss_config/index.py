"""POST /api/v2/aiagent/getOssConfig: temporary OSS credentials for the caller's own upload prefix
(voiceprint recordings), from STS AssumeRole, cached per user (docs/protocols.md#client-api)."""
from shared.api import uploads
from shared.api.models import GetOssConfigRequest
from shared.auth import authorize_client
from shared.clients import sts
from shared.http import endpoint
from shared.settings import ClientUploadSettings, CloudCredentials, CoreSettings, StsSettings, load

SETTINGS = (CloudCredentials, StsSettings, CoreSettings, ClientUploadSettings)


@endpoint(authorize=authorize_client, body=GetOssConfigRequest, settings=SETTINGS,
          require_json_content_type=True, check=uploads.check_at_cold_start)
def handler(req: GetOssConfigRequest, principal, request) -> dict:
    settings = load(ClientUploadSettings)
    user = principal.acting_user(req.user_id)
    creds = uploads.credentials_for(user, settings, sts.get_client())
    return uploads.oss_config_response(user, settings, creds)
