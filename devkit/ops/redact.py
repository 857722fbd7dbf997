"""`aiagent redact [--json]`: personal data out of text, line by line (a filter).

    aiagent redact < transcript.txt > redacted.txt
    aiagent redact --json < transcript.txt

Every line of standard input gives one line of output: the line with ID, bank card,
mobile and landline numbers and e-mail addresses replaced by placeholders
(`shared.privacy.redact`, e.g. `[手机号]`), or with `--json` one object
`{"text": <redacted line>, "findings": [{"kind", "start", "end"}]}` whose offsets are
characters of the input line (without its line ending). The original personal data
never appears in the output. Line endings (\\n, \\r\\n) are written as \\n.
"""
from __future__ import annotations

import argparse
import json
from typing import TextIO


def main(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from shared.privacy.redact import Redactor

    redactor = Redactor()
    as_json = bool(getattr(args, "json", False))
    isatty = getattr(stdin, "isatty", None)
    interactive = bool(isatty()) if callable(isatty) else False
    for line in stdin:
        text = line.rstrip("\n")
        if text.endswith("\r"):
            text = text[:-1]
        redacted, findings = redactor.redact(text)
        if as_json:
            doc = {"text": redacted, "findings": [{"kind": f.kind, "start": f.start, "end": f.end} for f in findings]}
            stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        else:
            stdout.write(redacted + "\n")
        if interactive:
            stdout.flush()
    stdout.flush()
    return 0
