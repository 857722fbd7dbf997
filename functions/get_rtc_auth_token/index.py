"""POST /api/v2/aiagent/getRtcAuthToken: an ARTC token for the caller, for a channel that is new
or already theirs, within their daily quota (in the kits' default mode this token is what starts
the agent) (docs/protocols.md#client-api)."""
import time

from shared.api import ownership, quota, rtc_token
from shared.api.models import GetRtcAuthTokenRequest
from shared.auth import authorize_client
from shared.clients import object_store
from shared.http import endpoint
from shared.settings import CoreSettings, OssSettings, QuotaSettings, RtcSettings, load

SETTINGS = (RtcSettings, CoreSettings, OssSettings, QuotaSettings)


@endpoint(authorize=authorize_client, body=GetRtcAuthTokenRequest, settings=SETTINGS,
          require_json_content_type=True)
def handler(req: GetRtcAuthTokenRequest, principal, request) -> dict:
    rtc = load(RtcSettings)
    store = object_store.get_store()
    channel_id = req.channel_id or rtc_token.new_channel_id()
    ownership.claim_channel(store, principal, channel_id, req.user_id)
    quota.claim(store, principal.acting_user(req.user_id), load(QuotaSettings).CALL_QUOTA_PER_USER_PER_DAY,
                what="getRtcAuthToken")
    expires = int(time.time()) + rtc.RTC_TOKEN_TTL_SECONDS
    token = rtc_token.build(
        app_id=rtc.LIVE_MIC_APP_ID,
        app_key=rtc.LIVE_MIC_APP_KEY.get_secret_value(),
        channel_id=channel_id,
        user_id=req.user_id,
        timestamp=expires,
        gslb=rtc.RTC_GSLB,
    )
    return {"rtc_auth_token": token, "channel_id": channel_id, "timestamp": expires}
