"""RedactionSettings, one settings group of shared.settings (imported when first named)."""
from typing import Literal

from shared.settings import EnvSettings


class RedactionSettings(EnvSettings):
    """Where personal data in transcripts is masked (shared/privacy/redact.py; README "Privacy")."""

    # off: as received. analysis: CCAI gets redacted text, the archive keeps the raw transcript.
    # archive: the stored call log and the analysis (input and output) are redacted too.
    REDACTION_MODE: Literal["off", "analysis", "archive"] = "off"
    # archive mode: keep the raw call log under raw/ (no function reads it; its own retention).
    REDACTION_KEEP_RAW: bool = False
