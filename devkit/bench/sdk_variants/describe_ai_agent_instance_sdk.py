"""describe_ai_agent_instance built on the official SDK (`alibabacloud_ice20201109`):
same behaviour as functions/describe_ai_agent_instance, used only by `make bench` to
compare cold starts. Development only; never deployed."""
import os
from urllib.parse import urlsplit

from alibabacloud_ice20201109 import models as ice_models  # the point: import cost
from alibabacloud_ice20201109.client import Client
from alibabacloud_tea_openapi import models as api_models

from shared.api import answers
from shared.api.models import DescribeAIAgentInstanceRequest
from shared.auth import authorize_client
from shared.errors import UpstreamError
from shared.http import endpoint
from shared.settings import CloudCredentials, CoreSettings, IceSettings

_client = None


def _sdk():
    global _client
    if _client is None:
        url = urlsplit(os.environ["ICE_ENDPOINT"])
        _client = Client(api_models.Config(
            access_key_id=os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
            access_key_secret=os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
            endpoint=url.netloc, protocol=url.scheme))
    return _client


@endpoint(authorize=authorize_client, body=DescribeAIAgentInstanceRequest,
          settings=(CloudCredentials, IceSettings, CoreSettings))
def handler(req, principal, request):
    try:
        resp = _sdk().describe_aiagent_instance(ice_models.DescribeAIAgentInstanceRequest(
            instance_id=req.ai_agent_instance_id))
    except Exception as exc:
        raise UpstreamError(f"ICE failed ({type(exc).__name__})") from None
    return answers.instance_response(resp.body.to_map())
