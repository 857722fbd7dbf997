"""QuotaSettings, one settings group of shared.settings (imported when first named)."""
from pydantic import Field

from shared.settings import EnvSettings


class QuotaSettings(EnvSettings):
    """Per-user cost limits of the client API: billed agent starts per user and UTC day."""

    # generateAIAgentCall, startAIAgentOutboundCall and getRtcAuthToken each count one; 0 = unlimited.
    CALL_QUOTA_PER_USER_PER_DAY: int = Field(default=100, ge=0, le=100_000)
