"""How an archived call becomes CCAI AnalyzeConversation requests (SPEC 7): the
business rules, free of event formats and of HTTP.

- **Profiles** (`shared/analysis_profiles/<name>.json`) hold what to analyse and how:
  result types, fields with enum values, examples, service-inspection rules, scene,
  model. They are versioned in the repo, chosen per environment by ANALYSIS_PROFILE,
  and every result records the profile's name, version and content hash.
- **Sentences**: the call log's dialog, ordered by `begin` (stable for equal times),
  roles mapped to agent/user (anything else: user), empty text dropped.
- **Long dialogs**: above ANALYSIS_MAX_REQUEST_CHARS characters of sentence text, the
  policy applies. `split`: consecutive parts that each fit, analysed one by one and
  merged (texts joined in order with a part header, parsed JSON kept per part, token
  usage summed). `truncate`: one request with the opening third and the closing two
  thirds of the budget (a call's end says how it went) and a system sentence saying
  how many turns were left out. Either way the result records what was done.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

PROFILES_DIR = Path(__file__).resolve().parent / "analysis_profiles"

# Result types CCAI documents (SPEC 7); a profile may name others only if it says so.
KNOWN_RESULT_TYPES = frozenset({
    "summary", "title", "fields", "keywords", "service_inspection", "question_solution", "questions_and_answer",
    "user_profile", "category_tag", "emotion_detection", "satisfaction", "actions", "service_finish",
    "label_classification", "custom_prompt",
})
MODELS = ("tyxmTurbo", "tyxmPlus")
# Keys of a profile file that travel in the request body as they are.
REQUEST_KEYS = ("resultTypes", "modelCode", "sceneName", "fields", "examples", "serviceInspection",
                "customPrompt", "categoryTags", "userProfiles", "responseFormatType")
PROFILE_META_KEYS = ("name", "version", "description", "allowUnknownResultTypes")
ROLES = {"agent": "agent", "assistant": "agent", "bot": "agent", "user": "user", "customer": "user",
         "system": "system"}


class ProfileError(ValueError):
    """A profile file is missing or invalid (the message names the file and the field)."""


@dataclass(frozen=True)
class Profile:
    name: str
    version: int
    digest: str  # sha256 of the canonical JSON of the whole file: changes with any edit
    request: dict[str, Any]  # the body keys (REQUEST_KEYS present in the file)

    @property
    def model(self) -> str:
        return self.request.get("modelCode", "tyxmTurbo")

    def provenance(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "hash": self.digest}


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _check_str(where: str, value: Any, *, max_len: int = 2000, required: bool = True) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise ProfileError(f"{where}: must be a non-empty string of at most {max_len} characters")


def validate_profile(doc: Any, source: str) -> Profile:
    """A Profile from a parsed profile file, or ProfileError naming the field."""
    if not isinstance(doc, dict):
        raise ProfileError(f"{source}: must be a JSON object")
    unknown = sorted(set(doc) - set(REQUEST_KEYS) - set(PROFILE_META_KEYS))
    if unknown:
        raise ProfileError(f"{source}: unknown key {unknown[0]!r} (allowed: {', '.join(PROFILE_META_KEYS + REQUEST_KEYS)})")
    name = doc.get("name")
    from shared.archive_keys import validate_profile as valid_name

    try:
        valid_name(name)
    except ValueError as exc:
        raise ProfileError(f"{source}: name: {exc}") from None
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProfileError(f"{source}: version: must be a positive integer")
    types = doc.get("resultTypes")
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        raise ProfileError(f"{source}: resultTypes: must be a non-empty list of strings")
    if len(set(types)) != len(types):
        raise ProfileError(f"{source}: resultTypes: duplicate entries")
    if not doc.get("allowUnknownResultTypes"):
        bad = [t for t in types if t not in KNOWN_RESULT_TYPES]
        if bad:
            raise ProfileError(f"{source}: resultTypes: unknown type {bad[0]!r} (set allowUnknownResultTypes "
                               "to true to send it anyway)")
    if doc.get("modelCode", "tyxmTurbo") not in MODELS:
        raise ProfileError(f"{source}: modelCode: must be one of {', '.join(MODELS)}")
    _check_str(f"{source}: sceneName", doc.get("sceneName"), max_len=200, required=False)
    fields = doc.get("fields")
    if "fields" in types and not fields:
        raise ProfileError(f"{source}: fields: required (non-empty) when resultTypes has 'fields'")
    for i, f in enumerate(fields or []):
        where = f"{source}: fields[{i}]"
        if not isinstance(f, dict):
            raise ProfileError(f"{where}: must be an object")
        for k in ("code", "name"):
            _check_str(f"{where}.{k}", f.get(k), max_len=100)
        _check_str(f"{where}.desc", f.get("desc"), required=False)
        for j, e in enumerate(f.get("enumValues") or []):
            if not isinstance(e, dict):
                raise ProfileError(f"{where}.enumValues[{j}]: must be an object")
            _check_str(f"{where}.enumValues[{j}].enumValue", e.get("enumValue"), max_len=100)
            _check_str(f"{where}.enumValues[{j}].desc", e.get("desc"), required=False)
    if fields is not None and len({f["code"] for f in fields}) != len(fields):
        raise ProfileError(f"{source}: fields: duplicate code")
    for i, ex in enumerate(doc.get("examples") or []):
        where = f"{source}: examples[{i}]"
        if not isinstance(ex, dict) or not isinstance(ex.get("sentences"), list) or not ex["sentences"]:
            raise ProfileError(f"{where}: must be an object with a non-empty sentences list")
        _check_str(f"{where}.output", ex.get("output"), max_len=20000)
        for j, s in enumerate(ex["sentences"]):
            if not isinstance(s, dict) or s.get("role") not in ("user", "agent", "system"):
                raise ProfileError(f"{where}.sentences[{j}].role: must be user, agent or system")
            _check_str(f"{where}.sentences[{j}].text", s.get("text"), max_len=20000)
    si = doc.get("serviceInspection")
    if "service_inspection" in types and not si:
        raise ProfileError(f"{source}: serviceInspection: required when resultTypes has 'service_inspection'")
    if si is not None:
        if not isinstance(si, dict):
            raise ProfileError(f"{source}: serviceInspection: must be an object")
        for k in ("sceneIntroduction", "inspectionIntroduction"):
            _check_str(f"{source}: serviceInspection.{k}", si.get(k))
        contents = si.get("inspectionContents")
        if not isinstance(contents, list) or not contents:
            raise ProfileError(f"{source}: serviceInspection.inspectionContents: must be a non-empty list")
        for i, c in enumerate(contents):
            if not isinstance(c, dict):
                raise ProfileError(f"{source}: serviceInspection.inspectionContents[{i}]: must be an object")
            for k in ("title", "content"):
                _check_str(f"{source}: serviceInspection.inspectionContents[{i}].{k}", c.get(k))
    if "custom_prompt" in types:
        _check_str(f"{source}: customPrompt", doc.get("customPrompt"), max_len=20000)
    request = {k: doc[k] for k in REQUEST_KEYS if doc.get(k) is not None}
    if fields:
        # As the official SDK serializes a field: `enumValues` always present ([] for free text).
        request["fields"] = [{**f, "enumValues": f.get("enumValues") or []} for f in fields]
    digest = hashlib.sha256(canonical_json(doc).encode()).hexdigest()
    return Profile(name, version, digest, request)


@lru_cache(maxsize=32)
def load_profile(name: str, directory: str | None = None) -> Profile:
    """The profile `name` from the repo's profile files (cached per warm instance)."""
    from shared.archive_keys import validate_profile as valid_name

    try:
        valid_name(name)
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
    profile = validate_profile(doc, path.name)
    if profile.name != name:
        raise ProfileError(f"{path.name}: name: must be {name!r} (the file's name)")
    return profile


def available_profiles(directory: str | None = None) -> list[str]:
    base = Path(directory) if directory else PROFILES_DIR
    return sorted(p.stem for p in base.glob("*.json"))


# --- dialog -> sentences --------------------------------------------------------------

def sentences(dialog: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """CCAI sentences from call-log turns: ordered by `begin` (ties keep their order),
    role agent/user (system kept; anything else counts as the user), empty text dropped."""
    indexed = []
    for pos, turn in enumerate(dialog):
        text = turn.get("text")
        if not isinstance(text, str) or not text.strip():
            continue
        begin = turn.get("begin")
        begin = float(begin) if isinstance(begin, (int, float)) and not isinstance(begin, bool) else float("inf")
        role = ROLES.get(str(turn.get("role", "")).lower(), "user")
        indexed.append((begin, pos, {"role": role, "text": text.strip()}))
    indexed.sort(key=lambda t: (t[0], t[1]))
    return [s for _, _, s in indexed]


def dialog_chars(items: Iterable[dict[str, str]]) -> int:
    return sum(len(s["text"]) for s in items)


@dataclass
class Plan:
    """What will be sent: one list of sentences per request, and what the policy did."""

    parts: list[list[dict[str, str]]]
    total_turns: int
    total_chars: int
    limit: int
    policy: str | None = None  # None when the dialog fits in one request
    details: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any] | None:
        if self.policy is None:
            return None
        return {"policy": self.policy, "limit_chars": self.limit, "total_chars": self.total_chars,
                "total_turns": self.total_turns, "requests": len(self.parts), **self.details}


def _clip(sentence: dict[str, str], limit: int) -> dict[str, str]:
    if len(sentence["text"]) <= limit:
        return sentence
    return {**sentence, "text": sentence["text"][: max(1, limit - 1)] + "…"}


def plan(items: list[dict[str, str]], limit: int, policy: str) -> Plan:
    """Fit `items` into requests of at most `limit` characters of text (see the module doc)."""
    total = dialog_chars(items)
    if total <= limit:
        return Plan([items], len(items), total, limit)
    clipped = sum(1 for s in items if len(s["text"]) > limit)
    items = [_clip(s, limit) for s in items]
    if policy == "split":
        parts: list[list[dict[str, str]]] = [[]]
        size = 0
        for s in items:
            n = len(s["text"])
            if parts[-1] and size + n > limit:
                parts.append([])
                size = 0
            parts[-1].append(s)
            size += n
        ranges, start = [], 0
        for p in parts:
            ranges.append([start, start + len(p) - 1])
            start += len(p)
        return Plan(parts, len(items), total, limit, "split",
                    {"part_turns": ranges, "clipped_turns": clipped})
    if policy != "truncate":
        raise ValueError(f"ANALYSIS_LONG_DIALOG_POLICY: unknown policy {policy!r}")
    def marker_text(omitted: int) -> str:
        return f"[{omitted} turns of the middle of this call were left out: it exceeded the analysis size limit]"

    budget = max(1, limit - len(marker_text(len(items))))
    head_budget = budget // 3
    head, size = [], 0
    for s in items:
        if size + len(s["text"]) > head_budget:
            break
        head.append(s)
        size += len(s["text"])
    tail, size = [], 0
    tail_budget = budget - dialog_chars(head)
    for s in reversed(items[len(head):]):
        if size + len(s["text"]) > tail_budget:
            break
        tail.append(s)
        size += len(s["text"])
    tail.reverse()
    omitted = len(items) - len(head) - len(tail)
    marker = {"role": "system", "text": marker_text(omitted)}
    return Plan([head + [marker] + tail], len(items), total, limit, "truncate",
                {"kept_head_turns": len(head), "kept_tail_turns": len(tail), "omitted_turns": omitted,
                 "clipped_turns": clipped})


def request_body(profile: Profile, part: list[dict[str, str]], session_id: str, stream: bool) -> dict[str, Any]:
    """The AnalyzeConversation JSON body for one request."""
    return {**profile.request, "dialogue": {"sentences": part, "sessionId": session_id}, "stream": bool(stream)}


# --- results ------------------------------------------------------------------------

def parse_text(text: Any) -> Any:
    """`text` parsed when it is JSON (an object or a list, possibly in a ```json fence), else None."""
    if not isinstance(text, str):
        return None
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        t = t.rsplit("```", 1)[0].strip()
    if not t or t[0] not in "[{":
        return None
    try:
        return json.loads(t)
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def usage(answer: dict[str, Any]) -> dict[str, int | None]:
    """Token usage of one answer (CCAI sends the counts as strings)."""
    return {"input_tokens": _int(answer.get("inputTokens")), "output_tokens": _int(answer.get("outputTokens")),
            "total_tokens": _int(answer.get("totalTokens"))}


def merge(answers: list[dict[str, Any]], p: Plan) -> dict[str, Any]:
    """One result from the answers of every request of a plan."""
    texts = [a.get("text") if isinstance(a.get("text"), str) else "" for a in answers]
    usages = [usage(a) for a in answers]
    total = {k: (sum(u[k] for u in usages) if all(u[k] is not None for u in usages) else None)
             for k in ("input_tokens", "output_tokens", "total_tokens")}
    if len(answers) == 1:
        text = texts[0]
        return {"text": text, "parsed": parse_text(text), "finish_reason": answers[0].get("finishReason"),
                "usage": total}
    ranges = p.details.get("part_turns") or [[None, None]] * len(answers)
    joined = "\n\n".join(f"[part {i + 1}/{len(answers)}, turns {r[0]}-{r[1]}]\n{t}"
                         for i, (t, r) in enumerate(zip(texts, ranges)))
    return {
        "text": joined,
        "parsed": None,
        "finish_reason": answers[-1].get("finishReason"),
        "usage": total,
        "parts": [{"turns": r, "text": t, "parsed": parse_text(t), "finish_reason": a.get("finishReason"),
                   "request_id": a.get("requestId"), "usage": u}
                  for t, r, a, u in zip(texts, ranges, answers, usages)],
    }
