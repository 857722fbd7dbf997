"""CompactionSettings, one settings group of shared.settings (imported when first named)."""
from pydantic import Field

from shared.settings import EnvSettings


class CompactionSettings(EnvSettings):
    """The index's compaction step (shared/archive/compaction.py)."""

    # Row updates merged per run (the rest wait for the next run).
    INDEX_COMPACT_MAX_UPDATES: int = Field(default=20_000, ge=1, le=1_000_000)
    # How long a run holds the lease; keep it below the function's timeout.
    INDEX_LEASE_SECONDS: int = Field(default=240, ge=10, le=3600)
