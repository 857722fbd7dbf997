"""ArchiveApiSettings, one settings group of shared.settings (imported when first named)."""
from pydantic import Field

from shared.settings import EnvSettings


class ArchiveApiSettings(EnvSettings):
    """The archive API (docs/archive-index.md): where the call index is mirrored, how fresh it is
    kept, how large an export may be, how long a recording's URL lives."""

    INDEX_CACHE_DIR: str = Field(default="/tmp/aicall-index", min_length=1, max_length=512)
    # At most this often a warm instance LISTs the index for changed day files (0: every request).
    INDEX_REFRESH_SECONDS: float = Field(default=5.0, ge=0, le=3600)
    # Rows of one export; more are cut off (X-Export-Truncated: true): narrow the filters.
    ARCHIVE_EXPORT_MAX_ROWS: int = Field(default=20_000, ge=1, le=1_000_000)
    RECORDING_URL_TTL_SECONDS: int = Field(default=900, ge=60, le=43_200)
