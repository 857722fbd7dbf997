"""POST /api/v2/aiagent/getRtcAuthToken: an ARTC token for the caller (docs/protocols.md#client-api)."""
import time

from shared.api import rtc_token
from shared.api.models import GetRtcAuthTokenRequest
from shared.auth import authorize_client
from shared.http import endpoint
from shared.settings import CoreSettings, RtcSettings, load

SETTINGS = (RtcSettings, CoreSettings)


@endpoint(authorize=authorize_client, body=GetRtcAuthTokenRequest, settings=SETTINGS,
          require_json_content_type=True)
def handler(req: GetRtcAuthTokenRequest, principal, request) -> dict:
    rtc = load(RtcSettings)
    channel_id = req.channel_id or rtc_token.new_channel_id()
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
