import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Shared fixtures, available to every test without importing them:
# moto_oss / oss_env (moto's S3 server), ice_sim / ccai_sim / chain_env / analysis_env /
# verified_requests (the simulators and the chain's environment).
pytest_plugins = ["tests.oss_server", "tests.chain"]

# Tests never inherit a developer's real configuration or cloud credentials.
for _name in list(os.environ):
    if _name.startswith(("AUTH_", "LIVE_", "RECORDING_", "RTC_", "ALIBABA_CLOUD_", "ICE_", "OSS_", "CCAI_", "ARCHIVE_",
                         "CALLBACK_", "STS_", "CLIENT_UPLOAD_", "AGENT_POLICY", "CALL_QUOTA_")) \
            or _name in ("STAGE", "CORS_ALLOW_ORIGINS", "HTTP_MAX_BODY_BYTES", "SANDBOX_TOKEN"):
        del os.environ[_name]


@pytest.fixture(autouse=True)
def _fresh_settings():
    from shared.settings import reset_cache

    reset_cache()
    yield
    reset_cache()


@pytest.fixture
def logs():
    """Everything the shared logger writes during the test, as one string."""
    import io

    from shared.log import logger

    stream = io.StringIO()
    handler = logger.registered_handler
    old = handler.setStream(stream)
    yield stream
    handler.setStream(old)
