"""Analysis profiles: what CCAI is asked about a call, versioned in the repo.

A profile (`shared/analysis/profiles/<name>.json`) holds the result types, fields with
enum values, examples, service-inspection rules, scene and model; ANALYSIS_PROFILE
chooses one per environment, and every result records the profile's name, version and
content hash (docs/architecture.md#the-chain). The file is validated by pydantic models
at cold start; an error names the file and the field.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"

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


def _text(max_len: int) -> Any:
    """A string with something other than white space, at most `max_len` characters."""
    return Annotated[str, StringConstraints(min_length=1, max_length=max_len, pattern=r"\S")]


def _profile_name(value: str) -> str:
    from shared.archive.layout import check_profile_name

    return check_profile_name(value)


class _Part(BaseModel):
    # Nested parts may carry keys CCAI adds later: kept and sent as they are.
    model_config = ConfigDict(strict=True, extra="allow", hide_input_in_errors=True)


class EnumValue(_Part):
    enumValue: _text(100)  # type: ignore[valid-type]
    desc: _text(2000) | None = None  # type: ignore[valid-type]


class FieldSpec(_Part):
    code: _text(100)  # type: ignore[valid-type]
    name: _text(100)  # type: ignore[valid-type]
    desc: _text(2000) | None = None  # type: ignore[valid-type]
    enumValues: list[EnumValue] | None = None


class Sentence(_Part):
    role: Literal["user", "agent", "system"]
    text: _text(20000)  # type: ignore[valid-type]


class Example(_Part):
    sentences: Annotated[list[Sentence], Field(min_length=1)]
    output: _text(20000)  # type: ignore[valid-type]


class InspectionContent(_Part):
    title: _text(2000)  # type: ignore[valid-type]
    content: _text(2000)  # type: ignore[valid-type]


class ServiceInspection(_Part):
    sceneIntroduction: _text(2000)  # type: ignore[valid-type]
    inspectionIntroduction: _text(2000)  # type: ignore[valid-type]
    inspectionContents: Annotated[list[InspectionContent], Field(min_length=1)]


class ProfileFile(BaseModel):
    """The schema of a profile file. Unknown top-level keys are refused (a typo is loud)."""

    model_config = ConfigDict(strict=True, extra="forbid", hide_input_in_errors=True)

    name: Annotated[str, AfterValidator(_profile_name)]
    version: Annotated[int, Field(ge=1)]
    description: str | None = None
    allowUnknownResultTypes: bool = False
    resultTypes: Annotated[list[str], Field(min_length=1)]
    modelCode: Literal["tyxmTurbo", "tyxmPlus"] = "tyxmTurbo"
    sceneName: _text(200) | None = None  # type: ignore[valid-type]
    fields: list[FieldSpec] | None = None
    examples: list[Example] | None = None
    serviceInspection: ServiceInspection | None = None
    customPrompt: _text(20000) | None = None  # type: ignore[valid-type]
    categoryTags: Any = None
    userProfiles: Any = None
    responseFormatType: Any = None

    @model_validator(mode="after")
    def _consistent(self) -> ProfileFile:
        types = self.resultTypes
        if len(set(types)) != len(types):
            raise ValueError("resultTypes: duplicate entries")
        unknown = [t for t in types if t not in KNOWN_RESULT_TYPES]
        if unknown and not self.allowUnknownResultTypes:
            raise ValueError(f"resultTypes: unknown type {unknown[0]!r} (set allowUnknownResultTypes "
                             "to true to send it anyway)")
        if "fields" in types and not self.fields:
            raise ValueError("fields: required (non-empty) when resultTypes has 'fields'")
        if self.fields and len({f.code for f in self.fields}) != len(self.fields):
            raise ValueError("fields: duplicate code")
        if "service_inspection" in types and self.serviceInspection is None:
            raise ValueError("serviceInspection: required when resultTypes has 'service_inspection'")
        if "custom_prompt" in types and self.customPrompt is None:
            raise ValueError("customPrompt: required when resultTypes has 'custom_prompt'")
        return self


@dataclass(frozen=True)
class Profile:
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


def parse_profile(doc: Any, source: str) -> Profile:
    """A Profile from a parsed profile file, or ProfileError naming `source` and the field."""
    from shared.validation import describe

    if not isinstance(doc, dict):
        raise ProfileError(f"{source}: must be a JSON object")
    try:
        ProfileFile.model_validate(doc)
    except ValidationError as exc:
        raise ProfileError(f"{source}: {describe(exc, limit=3)}") from None
    # The body keeps the file's own values (bytes equal to what the official SDK sends).
    request = {k: doc[k] for k in REQUEST_KEYS if doc.get(k) is not None}
    if doc.get("fields"):
        # As the official SDK serializes a field: `enumValues` always present ([] for free text).
        request["fields"] = [{**f, "enumValues": f.get("enumValues") or []} for f in doc["fields"]]
    digest = hashlib.sha256(canonical_json(doc).encode()).hexdigest()
    return Profile(doc["name"], doc["version"], digest, request)


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
    profile = parse_profile(doc, path.name)
    if profile.name != name:
        raise ProfileError(f"{path.name}: name: must be {name!r} (the file's name)")
    return profile


def available_profiles(directory: str | None = None) -> list[str]:
    """The names of the profile files in `directory` (default: the repo's)."""
    base = Path(directory) if directory else PROFILES_DIR
    return sorted(p.stem for p in base.glob("*.json"))
