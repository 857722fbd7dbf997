"""The schema of an analysis profile file, as pydantic models (`check` gives the first problems).

Imported only when a profile has to be validated (see `shared.analysis.profile`): building
these models is the most expensive import of the analyze function.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from shared.analysis.profile import KNOWN_RESULT_TYPES


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


def check(doc: dict[str, Any]) -> str | None:
    """None when `doc` is a valid profile, else `field: what is wrong` (at most three)."""
    from shared.validation import describe

    try:
        ProfileFile.model_validate(doc)
    except ValidationError as exc:
        return describe(exc, limit=3)
    return None
