"""Redaction applied to what the chain stores and sends (REDACTION_MODE; README "Privacy"):
transcripts (turns with a `text`) and any JSON value's strings. Findings are reported as counts per
kind only: never the text found, which is the personal data itself.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from shared.privacy.redact import redact_text_with_findings


def redact_turns(turns: Any) -> tuple[Any, dict[str, int]]:
    """A copy of a call log's dialog with every turn's `text` redacted, and the findings per kind.
    Anything that is not a list of objects is returned as it is."""
    counts: Counter[str] = Counter()
    if not isinstance(turns, list):
        return turns, {}
    out = []
    for turn in turns:
        if isinstance(turn, dict) and isinstance(turn.get("text"), str):
            text, kinds = redact_text_with_findings(turn["text"])
            counts.update(kinds)
            turn = {**turn, "text": text}
        out.append(turn)
    return out, dict(counts)


def redact_strings(value: Any) -> tuple[Any, dict[str, int]]:
    """`value` with every string (keys excepted) redacted, at any depth; findings per kind."""
    counts: Counter[str] = Counter()

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            text, kinds = redact_text_with_findings(v)
            counts.update(kinds)
            return text
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value), dict(counts)
