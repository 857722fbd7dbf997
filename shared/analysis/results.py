"""CCAI answers -> one analysis result: text, parsed JSON, token usage, parts of a split call."""
from __future__ import annotations

import json
from typing import Any

from shared.analysis.dialog import Plan


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
    total = {k: (sum(u[k] or 0 for u in usages) if all(u[k] is not None for u in usages) else None)
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
