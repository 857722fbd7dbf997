"""Redaction of personal data in call transcripts, Chinese first.

    Redactor().redact("我的手机是幺三八 0013 八零零零") -> ("我的手机是[手机号]", [Finding("mobile", 5, 19, ...)])

Kinds: `id_card` (18 characters with the GB 11643 check character, or the legacy 15
digits; province code and birth date must be valid), `bank_card` (13-19 digits, Luhn,
a card-network first digit), `mobile` (11 digits 1[3-9]..., optional +86 / 0086 / 86),
`landline` (0 + area code + 7-8 digit local number, optional +86 instead of the 0,
parentheses around the area code), `email`, and any custom (kind, regex) pairs.

How numbers are found. The text is mapped character for character to a *digit view*
(full-width forms to ASCII, 零〇○一幺二两三四五六七八九 to digits, x/Ｘ/叉 to X, the
separators space · 、 ， - — to a few canonical ones). As the mapping keeps the length,
a span in the view is the span in the original. A *run* is a stretch of at least 10
digits where consecutive digits are at most 3 separator characters apart. A run is cut
into groups: digits that touch and are of the same script (typed or spoken) form one
group. A number is a sequence of whole groups (a number never starts or ends inside
`13800138000` or inside `一三八零零`), checked by the rules of its kind. Precision comes from
the checks and from what surrounds the run:

- a positional numeral (十百千万亿) next to a run: the group that touches it belongs to an
  amount or a date (`一千二百`, `二十三`), not to a digit string; it is left out;
- a currency sign before it or a unit after it (元 块 年 月 日 % ...): the touching group
  is no phone or card number (an 18-character ID with a valid check character still is);
- ASCII letters glued to it (`SF1234567890123`, a tracking number), a decimal point with
  digits, an `@` (the e-mail rule takes it): the touching group is left out;
- thousands grouping with commas (`13,800,138,000`) is an amount;
- a reference word shortly before the run (订单 单号 快递 物流 编号 流水 ...), unless a
  word about personal numbers (手机 电话 身份证 卡号 ...) is closer: only an 18-character
  ID is still taken.

Overlapping candidates: the higher priority kind wins (id_card > bank_card > mobile >
landline > email > custom kinds), then the longer one; between custom kinds of the same
length, the one given first.

`Finding.text` is the original substring: it is the personal data itself. Never log a
Finding's text (its repr leaves it out); log kinds and spans.

The module imports only `shared.frozen` at import time; `re`, `bisect` and the tables are built on
first use (cold start of the functions that ship it).
"""
from __future__ import annotations

from shared.frozen import Frozen

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs milliseconds of cold start
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["DEFAULT_PLACEHOLDERS", "KINDS", "Finding", "Redactor", "redact_text"]

KINDS = ("id_card", "bank_card", "mobile", "landline", "email")  # built-in kinds, by priority
DEFAULT_PLACEHOLDERS = {"id_card": "[身份证号]", "mobile": "[手机号]", "landline": "[电话]",
                        "bank_card": "[银行卡号]", "email": "[邮箱]"}


class Finding(Frozen):
    """One piece of personal data: `text[start:end]` of the original text is of `kind`.

    `text` is that substring, i.e. the personal data itself: never log it (it is left
    out of the repr on purpose).

    Immutable, compared and hashed by value. Deliberately not a tuple (NamedTuple): a tuple
    would hand `text` to anything that iterates it, such as `json.dumps` or the log
    redaction (which turns tuples into lists).
    """

    __slots__ = ("kind", "start", "end", "text")
    kind: str
    start: int
    end: int
    text: str

    def __init__(self, kind: str, start: int, end: int, text: str) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "kind", kind)
        setattr_(self, "start", start)
        setattr_(self, "end", end)
        setattr_(self, "text", text)

    def __repr__(self) -> str:
        return f"Finding(kind={self.kind!r}, start={self.start!r}, end={self.end!r})"


_RANK = {kind: rank for rank, kind in enumerate(KINDS)}
_DIGITS = "0123456789"
_SPOKEN = frozenset("零〇○一幺二两兩三四五六七八九")
_POSITIONAL = frozenset("十百千万亿拾佰仟萬億兆")
_CURRENCY = frozenset("¥￥$€£")
_UNITS = frozenset("元块塊圆角毛分年月日号號点點岁歲倍%‰")
# 一/两 at the edge of a spoken run that are a word of their own (一直, 一下, 统一, 两个).
_YI_AFTER = frozenset("直下起样定般些共个次致切律再边半旦向天位种份遍周会")
_YI_BEFORE = frozenset("统唯第万之同逐专均单")
# Letters glued before a number that still label it (`Tel13800138000`); other glued
# letters make it a code (`SF1234567890123`).
_LABELS = frozenset({"id", "tel", "phone", "mobile", "mob", "no", "card", "cell", "fax", "call", "number",
                     "num", "nr", "qq"})
# Words before a run: a reference number (negative) or a personal one (positive).
_CONTEXT_WINDOW = 10
_NEGATIVE_WORDS = ("订单", "单号", "运单", "快递", "物流", "工单", "编号", "流水", "交易号", "批次", "型号",
                   "版本", "发票", "合同号", "序列号", "券码", "兑换码", "条码", "保单", "串号", "设备号",
                   "order", "tracking", "invoice", "serial", "ticket", "imei", "meid", "isbn")
_POSITIVE_WORDS = ("身份证", "证件", "手机", "电话", "联系", "座机", "固话", "卡号", "银行卡", "信用卡",
                   "储蓄卡", "借记卡", "账号", "帐号", "拨打", "打给", "致电", "回电", "来电",
                   "mobile", "phone", "tel", "card", "identity")
# First two digits of a resident ID: the province (GB/T 2260), 81-83 Hong Kong, Macao, Taiwan.
_PROVINCES = frozenset("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
                       "61 62 63 64 65 71 81 82 83".split())
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_SHORT_CARD_PREFIXES = {13: ("4",), 14: ("30", "36", "38"), 15: ("34", "37")}
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class _Compiled:
    """Tables and patterns shared by every Redactor, built on first use."""

    def __init__(self) -> None:
        import re
        from bisect import bisect_right

        self.bisect_right = bisect_right
        fullwidth = {c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}  # ！..～ -> !..~
        fullwidth[0x3000] = " "
        self.fullwidth: dict[int, str] = fullwidth
        view = dict(fullwidth)
        for chars, digit in (("零〇○", "0"), ("一幺", "1"), ("二两兩", "2"), ("三", "3"), ("四", "4"),
                             ("五", "5"), ("六", "6"), ("七", "7"), ("八", "8"), ("九", "9"),
                             ("xｘＸ叉", "X"), ("\u3000\xa0\t、·•・", " "),
                             ("\u2010\u2011\u2012\u2013\u2014\u2212", "-")):
            for ch in chars:
                view[ord(ch)] = digit
        self.view: dict[int, str] = view
        # On the original text (the view is made only when there is a run): at least 10
        # digits, at most 3 separators between two; then maybe the ID's X.
        digit = "[0-9\uff10-\uff19零〇○一幺二两兩三四五六七八九]"
        sep = "[ ,()\\-\u3000\xa0\t、·•・，（）－\u2010-\u2014\u2212]"
        self.run = re.compile(f"{digit}(?:{sep}{{0,3}}{digit}){{9,}}(?:{sep}{{0,2}}[xXｘＸ叉])?")
        self.compile = re.compile
        self.error = re.error
        self._groups: re.Pattern[str] | None = None
        self._email: re.Pattern[str] | None = None

    def groups(self) -> re.Pattern[str]:
        """The groups of a run: typed digits, spoken digits, the X of an ID (compiled at the first run)."""
        if self._groups is None:
            self._groups = self.compile("([0-9\uff10-\uff19]+)|([零〇○一幺二两兩三四五六七八九]+)|([xXｘＸ叉])")
        return self._groups

    def email(self) -> re.Pattern[str]:
        """An e-mail address, ASCII after the full-width view (compiled at the first @)."""
        if self._email is None:
            self._email = self.compile(
                r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9_%+\-](?:[A-Za-z0-9._%+\-]*[A-Za-z0-9_%+\-])?"
                r"@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*"
                r"\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])")
        return self._email


_compiled: _Compiled | None = None


def _tables() -> _Compiled:
    global _compiled
    if _compiled is None:
        _compiled = _Compiled()
    return _compiled


# -- the checks of each kind (on a string of digits, maybe ending in X) ---------------

def _valid_date(year: int, month: int, day: int) -> bool:
    if not 1 <= month <= 12 or day < 1:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return day <= (29 if month == 2 and leap else _DAYS[month - 1])


def _id_shaped(d: str) -> bool:
    """18 characters with a province code and a valid birth date (check not verified)."""
    return (d[:2] in _PROVINCES and d[6:14].isdigit() and 1900 <= int(d[6:10]) <= 2099
            and _valid_date(int(d[6:10]), int(d[10:12]), int(d[12:14])))


def is_id18(d: str) -> bool:
    """An 18-character resident ID: province, birth date and GB 11643 check character."""
    if len(d) != 18 or not d[:17].isdigit() or not _id_shaped(d):
        return False
    total = sum(int(c) * w for c, w in zip(d, _ID_WEIGHTS))
    return d[17] == _ID_CHECK[total % 11]


def is_id15(d: str) -> bool:
    """A legacy 15-digit resident ID: province and birth date 19YYMMDD at positions 7-12."""
    return (len(d) == 15 and d.isdigit() and d[:2] in _PROVINCES
            and _valid_date(1900 + int(d[6:8]), int(d[8:10]), int(d[10:12])))


def luhn(d: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(d)):
        n = ord(c) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def is_bank_card(d: str) -> bool:
    """13-19 digits, Luhn, a card-network prefix for the length, and not an ID number with a
    wrong check character. 16-19 digits: 3 JCB, 4 Visa, 5 Mastercard, 6 UnionPay, 9 domestic
    (95588...), 2221-2720 Mastercard (16); shorter: Visa 13, Diners 14, Amex 15."""
    if not 13 <= len(d) <= 19 or not d.isdigit():
        return False
    if len(d) >= 16:
        if d[0] not in "34569" and not (len(d) == 16 and 2221 <= int(d[:4]) <= 2720):
            return False
    elif not d.startswith(_SHORT_CARD_PREFIXES[len(d)]):
        return False
    if len(d) == 18 and _id_shaped(d):
        return False
    return luhn(d)


def is_mobile(d: str) -> bool:
    """11 digits 1[3-9]..., optionally after 86 or 0086."""
    if len(d) == 13 and d.startswith("86"):
        d = d[2:]
    elif len(d) == 15 and d.startswith("0086"):
        d = d[4:]
    return len(d) == 11 and d[0] == "1" and d[1] in "3456789" and d.isdigit()


def _area_and_local(r: str) -> bool:
    """An area code without its 0 (10, 2x, or 3 digits from 3) and a 7-8 digit local number."""
    if not r or not r.isdigit():
        return False
    if r[0] == "1":
        if not r.startswith("10"):
            return False
        area = 2
    else:
        area = 2 if r[0] == "2" else 3
    local = r[area:]
    return 7 <= len(local) <= 8 and local[0] not in "01"


def is_landline(d: str) -> bool:
    """0 + area code + local number, or 86/0086 + the area code without its 0."""
    if d.startswith("0086"):
        return _area_and_local(d[4:]) and d[4] != "0"
    if d.startswith("86"):
        return _area_and_local(d[2:]) and d[2] != "0"
    return d[:1] == "0" and d[1:2] != "0" and _area_and_local(d[1:])


# -- the engine -------------------------------------------------------------------------

_Candidate = tuple[int, int, int, int, int, str]  # (rank, -length, order of a custom kind, start, end, kind)


class Redactor:
    """Finds personal data in text and replaces it by placeholders.

    `placeholders` overrides entries of DEFAULT_PLACEHOLDERS (and names those of custom
    kinds, default `[<kind>]`). `custom` is (kind, regex) pairs, matched on the original
    text and ranked after the built-in kinds (the longer match first, then the order
    given); a regex that does not compile, or a kind that is empty or a built-in one, is
    a ValueError naming the kind. A Redactor is immutable after construction and safe to
    share between threads.
    """

    def __init__(self, *, placeholders: Mapping[str, str] | None = None,
                 custom: Sequence[tuple[str, str]] = ()) -> None:
        tables = _tables()
        self._tables = tables
        self._custom: list[tuple[int, str, re.Pattern[str]]] = []
        names = dict(DEFAULT_PLACEHOLDERS)
        for index, item in enumerate(custom):
            try:
                kind, pattern = item
            except (TypeError, ValueError):
                raise ValueError(f"custom pattern #{index}: expected a (kind, regex) pair") from None
            if not isinstance(kind, str) or not kind.strip():
                raise ValueError(f"custom pattern #{index}: the kind must be a non-empty string")
            if kind in _RANK:
                raise ValueError(f"custom pattern for kind {kind!r}: {kind!r} is a built-in kind")
            if not isinstance(pattern, str):
                raise ValueError(f"custom pattern for kind {kind!r}: the regex must be a string")
            try:
                compiled = tables.compile(pattern)
            except tables.error as exc:
                raise ValueError(f"custom pattern for kind {kind!r}: invalid regex: {exc}") from None
            self._custom.append((index, kind, compiled))
            names.setdefault(kind, f"[{kind}]")
        if placeholders:
            names.update(placeholders)
        self._placeholders = names

    @property
    def placeholders(self) -> dict[str, str]:
        """kind -> the text that replaces it (a copy)."""
        return dict(self._placeholders)

    def find(self, text: str) -> list[Finding]:
        """The personal data in `text`: non-overlapping findings, sorted by position."""
        tables = self._tables
        candidates: list[_Candidate] = []
        view = ""
        for match in tables.run.finditer(text):
            if not view:
                view = text.translate(tables.view)
            _numbers(text, view, match.start(), match.end(), tables, candidates)
        if "@" in text or "＠" in text:
            email_view = text.translate(tables.fullwidth)
            for match in tables.email().finditer(email_view):
                start, end = match.span()
                candidates.append((_RANK["email"], start - end, 0, start, end, "email"))
        for order, kind, pattern in self._custom:
            for match in pattern.finditer(text):
                start, end = match.span()
                if end > start:
                    candidates.append((len(KINDS), start - end, order, start, end, kind))
        if not candidates:
            return []
        return [Finding(kind, start, end, text[start:end])
                for start, end, kind in _resolve(candidates, tables.bisect_right)]

    def redact(self, text: str) -> tuple[str, list[Finding]]:
        """`text` with every finding replaced by its kind's placeholder, and the findings."""
        findings = self.find(text)
        if not findings:
            return text, findings
        parts: list[str] = []
        last = 0
        for f in findings:
            parts.append(text[last:f.start])
            parts.append(self._placeholders.get(f.kind, f"[{f.kind}]"))
            last = f.end
        parts.append(text[last:])
        return "".join(parts), findings


def _resolve(candidates: list[_Candidate], bisect_right: Callable[[list[int], int], int]) -> list[tuple[int, int, str]]:
    """Greedy by priority, then length, then position: keep what overlaps nothing kept."""
    candidates.sort()
    starts: list[int] = []
    kept: list[tuple[int, int, str]] = []
    for _rank, _neg, _order, start, end, kind in candidates:
        i = bisect_right(starts, start)
        if i and kept[i - 1][1] > start:
            continue
        if i < len(starts) and starts[i] < end:
            continue
        starts.insert(i, start)
        kept.insert(i, (start, end, kind))
    return kept


def _context_is_reference(text: str, start: int) -> bool:
    """A reference-number word (订单号, 快递, ...) is the closest context word before `start`."""
    window = text[max(0, start - _CONTEXT_WINDOW):start].lower()
    negative = max([window.rfind(w) + len(w) for w in _NEGATIVE_WORDS if w in window], default=-1)
    if negative < 0:
        return False
    return negative > max([window.rfind(w) + len(w) for w in _POSITIVE_WORDS if w in window], default=-1)


def _numbers(text: str, view: str, s: int, e: int, tables: _Compiled, out: list[_Candidate]) -> None:
    """The number candidates of the run view[s:e] (see the module docstring)."""
    g_start: list[int] = []
    g_end: list[int] = []
    g_digits: list[str] = []
    g_sep: list[str] = []  # the separators before each group ("" at a change of script)
    g_spoken: list[bool] = []
    last = s
    for m in tables.groups().finditer(text, s, e):
        a, b = m.span()
        g_start.append(a)
        g_end.append(b)
        g_digits.append(view[a:b])
        g_sep.append(view[last:a])
        g_spoken.append(m.lastindex == 2)
        last = b
    # 一/两 at an edge that is a word of its own (一直, 统一): split it off.
    n = len(g_digits)
    if g_spoken[-1] and len(g_digits[-1]) > 1 and text[e - 1] in "一两" and text[e:e + 1] in _YI_AFTER:
        g_digits[-1] = g_digits[-1][:-1]
        g_end[-1] -= 1
        g_start.append(e - 1)
        g_end.append(e)
        g_digits.append(view[e - 1])
        g_sep.append("")
        g_spoken.append(True)
        n += 1
    if g_spoken[0] and len(g_digits[0]) > 1 and text[s] in "一两" and s and text[s - 1] in _YI_BEFORE:
        g_digits[0:1] = [view[s], g_digits[0][1:]]
        g_start[0:1] = [s, s + 1]
        g_end[0:0] = [s + 1]
        g_sep[1:1] = [""]
        g_spoken[0:0] = [True]
        n += 1

    # What touches the run.
    lo, lo_weak, hi, hi_weak = 0, 0, n - 1, n - 1
    before = view[s - 1] if s else ""
    if before.isascii() and before.isalpha() and text[s - 1] != "叉":
        k = s - 1
        while k > 0 and view[k - 1].isascii() and view[k - 1].isalpha() and text[k - 1] != "叉":
            k -= 1
        if view[k:s].lower() not in _LABELS:
            lo = 1
    elif before == "." and s >= 2 and view[s - 2] in _DIGITS or before == "@":
        lo = 1
    k = s - 1
    while k >= 0 and view[k] == " ":
        k -= 1
    if k >= 0:
        if view[k] in _POSITIONAL:
            lo = 1
        elif view[k] in _CURRENCY:
            lo_weak = 1
    after = view[e] if e < len(view) else ""
    if (after.isascii() and after.isalpha() and text[e] != "叉" or after == "@"
            or after == "." and e + 1 < len(view) and view[e + 1] in _DIGITS):
        hi = n - 2
    k = e
    while k < len(view) and view[k] == " ":
        k += 1
    if k < len(view):
        if view[k] in _POSITIONAL:
            hi = n - 2
        elif view[k] in _UNITS:
            hi_weak = n - 2
    lo_weak = max(lo, lo_weak)
    hi_weak = min(hi, hi_weak)
    reference: bool | None = None  # computed when first needed
    commas = any("," in sep for sep in g_sep)

    offsets = [0]
    for d in g_digits:
        offsets.append(offsets[-1] + len(d))
    digits = "".join(g_digits)
    for i in range(lo, hi + 1):
        for j in range(i, hi + 1):
            length = offsets[j + 1] - offsets[i]
            if length < 10:
                continue
            if length > 19:
                break
            d = digits[offsets[i]:offsets[j + 1]]
            kinds: list[str] = []
            if length == 18 and is_id18(d):
                kinds.append("id_card")
            elif lo_weak <= i and j <= hi_weak and "X" not in d:
                if reference is None:
                    reference = _context_is_reference(text, g_start[0])
                if reference or commas and _thousands(g_digits, g_sep, g_spoken, i, j):
                    continue
                first = d[0]
                if length == 15 and is_id15(d):
                    kinds.append("id_card")
                if length >= 13 and first != "1" and first != "0" and is_bank_card(d):
                    kinds.append("bank_card")
                if (first == "1" or first == "8" or first == "0") and is_mobile(d):
                    kinds.append("mobile")
                if (first == "0" or first == "8") and length <= 14 and is_landline(d):
                    kinds.append("landline")
            if not kinds:
                continue
            start, end = g_start[i], g_end[j]
            for kind in kinds:
                a = start
                if kind in ("mobile", "landline") and i == 0 and s and view[s - 1] == "+" and d[:1] in "08":
                    a -= 1
                if (kind == "landline" and a and view[a - 1] == "("
                        and any(")" in g_sep[x] for x in range(i + 1, j + 1))):
                    a -= 1
                out.append((_RANK[kind], a - end, 0, a, end, kind))


def _thousands(g_digits: list[str], g_sep: list[str], g_spoken: list[bool], i: int, j: int) -> bool:
    """Typed groups i..j read like an amount with thousands separators: 13,800,138,000."""
    if j == i or len(g_digits[i]) > 3 or g_spoken[i]:
        return False
    return all(g_sep[x].strip() == "," and len(g_digits[x]) == 3 and not g_spoken[x] for x in range(i + 1, j + 1))


_default: Redactor | None = None


def _default_redactor() -> Redactor:
    global _default
    if _default is None:
        _default = Redactor()
    return _default


def redact_text(text: str) -> str:
    """`text` with its personal data replaced by the default placeholders."""
    return _default_redactor().redact(text)[0]


def redact_text_with_findings(text: str) -> tuple[str, list[str]]:
    """`text` redacted with the default placeholders, and the kind of each finding (no text)."""
    redacted, findings = _default_redactor().redact(text)
    return redacted, [f.kind for f in findings]
