"""Analysis profiles: what CCAI is asked about a call, versioned in the repo.

A profile (`shared/analysis/profiles/<name>.json`) holds the result types, fields with
enum values, examples, service-inspection rules, scene and model; ANALYSIS_PROFILE
chooses one per environment, and every result records the profile's name, version and
content hash (docs/architecture.md#the-chain).

Every profile is validated against the pydantic schema of `shared.analysis.profile_schema`
before it is used; an error names the file and the field. `make build` validates the
profiles it ships and lists their digests in `profiles/validated.digests`: a cold start
that finds its file's digest there skips the schema (building it costs ~40 ms), anything
else (the sandbox, the tests, a file edited after the build) is validated on load.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
# Written by `make build` into the artifact: sha256 digests of the profiles it validated.
VALIDATED_DIGESTS = "validated.digests"

# Result types CCAI documents (docs/protocols.md#ccai-analysis); others only with allowUnknownResultTypes.
KNOWN_RESULT_TYPES = frozenset({
    "summary", "title", "fields", "keywords", "service_inspection", "question_solution", "questions_and_answer",
    "user_profile", "category_tag", "emotion_detection", "satisfaction", "actions", "service_finish",
    "label_classification", "custom_prompt",
})
# Keys of a profile file that travel in the request body as they are.
REQUEST_KEYS = ("resultTypes", "modelCode", "sceneName", "fields", "examples", "serviceInspection",
                "customPrompt", "categoryTags", "userProfiles", "responseFormatType")


class ProfileError(ValueError):
    """A profile file is missing or invalid (the message names the file and the field)."""


class Profile(NamedTuple):
    """A validated profile: what to send, and how to say which profile a result came from."""

    name: str
    version: int
    digest: str  # sha256 of the canonical JSON of the whole file: changes with any edit
    request: dict[str, Any]  # the body keys (REQUEST_KEYS present in the file)

    @property
    def model(self) -> str:
        """The CCAI model the profile asks for."""
        return str(self.request.get("modelCode", "tyxmTurbo"))

    def provenance(self) -> dict[str, Any]:
        """What every result records about its profile."""
        return {"name": self.name, "version": self.version, "hash": self.digest}


def canonical_json(value: Any) -> str:
    """Sorted, compact JSON: the same document always gives the same bytes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def parse_profile(doc: Any, source: str, *, trusted_digests: frozenset[str] = frozenset()) -> Profile:
    """A Profile from a parsed profile file, or ProfileError naming `source` and the field.
    The schema check is skipped only for content whose digest is in `trusted_digests`."""
    if not isinstance(doc, dict):
        raise ProfileError(f"{source}: must be a JSON object")
    digest = hashlib.sha256(canonical_json(doc).encode()).hexdigest()
    if digest not in trusted_digests:
        from shared.analysis.profile_schema import check

        problem = check(doc)
        if problem:
            raise ProfileError(f"{source}: {problem}")
    # The body keeps the file's own values (bytes equal to what the official SDK sends).
    request = {k: doc[k] for k in REQUEST_KEYS if doc.get(k) is not None}
    if doc.get("fields"):
        # As the official SDK serializes a field: `enumValues` always present ([] for free text).
        request["fields"] = [{**f, "enumValues": f.get("enumValues") or []} for f in doc["fields"]]
    return Profile(doc["name"], doc["version"], digest, request)


def validated_digests(directory: Path) -> frozenset[str]:
    """The digests `make build` validated (empty outside a built artifact)."""
    try:
        text = (directory / VALIDATED_DIGESTS).read_text(encoding="ascii")
    except OSError:
        return frozenset()
    return frozenset(line.strip() for line in text.splitlines() if len(line.strip()) == 64)


@lru_cache(maxsize=32)
def load_profile(name: str, directory: str | None = None) -> Profile:
    """The profile `name` from the repo's profile files (cached per warm instance)."""
    from shared.archive.layout import check_profile_name

    try:
        check_profile_name(name)
    except ValueError as exc:
        raise ProfileError(f"ANALYSIS_PROFILE: {exc}") from None
    base = Path(directory) if directory else PROFILES_DIR
    path = base / f"{name}.json"
    if not path.is_file():
        known = ", ".join(available_profiles(directory)) or "none"
        raise ProfileError(f"ANALYSIS_PROFILE: no profile {name!r} (known: {known})")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ProfileError(f"{path.name}: not valid JSON ({exc})") from None
    profile = parse_profile(doc, path.name, trusted_digests=validated_digests(base))
    if profile.name != name:
        raise ProfileError(f"{path.name}: name: must be {name!r} (the file's name)")
    return profile


def available_profiles(directory: str | None = None) -> list[str]:
    """The names of the profile files in `directory` (default: the repo's)."""
    base = Path(directory) if directory else PROFILES_DIR
    return sorted(p.stem for p in base.glob("*.json"))
