"""Redaction benchmark: quality and speed of `shared.privacy.redact` on a labelled corpus.

    python -m devkit.bench.redaction [--corpus devkit/bench/redaction_corpus.jsonl] [--passes 7]

Quality, per kind: precision, recall and F1, strict (a finding is a true positive when
its kind and span equal a label's) and relaxed (same kind, spans overlap; each label
matched at most once). Speed: the median of `--passes` passes of `Redactor.redact` over
every line of the corpus, in turns/s and characters/s (one process, one thread).
The corpus is written by `python -m devkit.bench.make_redaction_corpus`.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).with_name("redaction_corpus.jsonl")

Span = tuple[str, int, int]


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load(path: Path) -> list[tuple[str, list[Span]]]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        doc = json.loads(line)
        spans = [(s["kind"], s["start"], s["end"]) for s in doc["spans"]]
        for kind, start, end in spans:
            if not 0 <= start < end <= len(doc["text"]):
                raise ValueError(f"{path}:{number}: span {kind} {start}-{end} outside the text")
        out.append((doc["text"], spans))
    return out


def score(found: list[Span], expected: list[Span], strict: dict[str, Score], relaxed: dict[str, Score]) -> None:
    """Adds one line's outcome to the strict and relaxed scores."""
    for kind in {k for k, _, _ in found} | {k for k, _, _ in expected}:
        got = [(s, e) for k, s, e in found if k == kind]
        want = [(s, e) for k, s, e in expected if k == kind]
        exact = len(set(got) & set(want))
        st = strict.setdefault(kind, Score())
        st.tp += exact
        st.fp += len(got) - exact
        st.fn += len(want) - exact
        unmatched = list(want)
        overlap = 0
        for s, e in got:
            hit = next((w for w in unmatched if w[0] < e and s < w[1]), None)
            if hit is not None:
                unmatched.remove(hit)
                overlap += 1
        rl = relaxed.setdefault(kind, Score())
        rl.tp += overlap
        rl.fp += len(got) - overlap
        rl.fn += len(want) - overlap


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_redaction")
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--passes", type=int, default=7)
    p.add_argument("--show-errors", action="store_true", help="print the lines with a wrong or missed finding")
    args = p.parse_args(argv)

    from shared.privacy.redact import KINDS, Redactor

    lines = load(args.corpus)
    redactor = Redactor()
    strict: dict[str, Score] = {}
    relaxed: dict[str, Score] = {}
    for text, expected in lines:
        found = [(f.kind, f.start, f.end) for f in redactor.find(text)]
        score(found, expected, strict, relaxed)
        if args.show_errors and sorted(found) != sorted(expected):
            print(f"  expected {sorted(expected)} found {sorted(found)}: {text}")

    texts = [text for text, _ in lines]
    chars = sum(len(t) for t in texts)
    seconds = []
    for _ in range(max(1, args.passes)):
        t0 = time.perf_counter()
        for text in texts:
            redactor.redact(text)
        seconds.append(time.perf_counter() - t0)
    median = statistics.median(seconds)

    negatives = sum(1 for _, spans in lines if not spans)
    print(f"corpus: {args.corpus.name}: {len(lines)} lines ({negatives} without personal data), "
          f"{chars} characters, mean {chars / len(lines):.1f} per line")
    print(f"{'kind':<10} {'labels':>6} {'found':>6} | {'strict P':>8} {'R':>6} {'F1':>6} | "
          f"{'overlap P':>9} {'R':>6} {'F1':>6}")
    kinds = [k for k in KINDS if k in strict] + sorted(k for k in strict if k not in KINDS)
    total_s, total_r = Score(), Score()
    for kind in kinds:
        st, rl = strict[kind], relaxed[kind]
        for total, part in ((total_s, st), (total_r, rl)):
            total.tp, total.fp, total.fn = total.tp + part.tp, total.fp + part.fp, total.fn + part.fn
        print(f"{kind:<10} {st.tp + st.fn:>6} {st.tp + st.fp:>6} | {st.precision:>8.3f} {st.recall:>6.3f} "
              f"{st.f1:>6.3f} | {rl.precision:>9.3f} {rl.recall:>6.3f} {rl.f1:>6.3f}")
    print(f"{'all':<10} {total_s.tp + total_s.fn:>6} {total_s.tp + total_s.fp:>6} | {total_s.precision:>8.3f} "
          f"{total_s.recall:>6.3f} {total_s.f1:>6.3f} | {total_r.precision:>9.3f} {total_r.recall:>6.3f} "
          f"{total_r.f1:>6.3f}")
    print(f"speed: {len(texts) / median:,.0f} turns/s, {chars / median:,.0f} chars/s "
          f"(median of {len(seconds)} passes, {median * 1e3:.1f} ms per pass)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
