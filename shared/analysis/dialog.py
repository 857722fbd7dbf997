"""An archived call's dialog as CCAI sentences, and the long-dialog policy.

- **Sentences**: the call log's dialog, ordered by `begin` (stable for equal times),
  roles mapped to agent/user (system kept, anything else: user), empty text dropped.
- **Long dialogs**: above ANALYSIS_MAX_REQUEST_CHARS characters of sentence text, the
  policy applies. `split`: consecutive parts that each fit, analyzed one by one and
  merged (`shared.analysis.results`). `truncate`: one request with the opening third
  and the closing two thirds of the budget (a call's end says how it went) and a system
  sentence saying how many turns were left out. Either way the result records what was done.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.analysis.profile import Profile

ROLES = {"agent": "agent", "assistant": "agent", "bot": "agent", "user": "user", "customer": "user",
         "system": "system"}


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


class Plan:
    """What will be sent: one list of sentences per request, and what the policy did."""

    __slots__ = ("parts", "total_turns", "total_chars", "limit", "policy", "details")

    def __init__(self, parts: list[list[dict[str, str]]], total_turns: int, total_chars: int, limit: int,
                 policy: str | None = None, details: dict[str, Any] | None = None) -> None:
        self.parts = parts
        self.total_turns = total_turns
        self.total_chars = total_chars
        self.limit = limit
        self.policy = policy  # None when the dialog fits in one request
        self.details: dict[str, Any] = {} if details is None else details

    def __repr__(self) -> str:
        return (f"Plan(parts={self.parts!r}, total_turns={self.total_turns!r}, total_chars={self.total_chars!r}, "
                f"limit={self.limit!r}, policy={self.policy!r}, details={self.details!r})")

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


