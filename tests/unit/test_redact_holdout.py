"""Held-out cases for the redaction engine, written independently of the generated corpus
(devkit/bench/redaction_corpus.jsonl) and of the engine's own tests: other phrasings, groupings,
a fullwidth ID, an English sentence, and hard negatives the corpus does not use."""
import pytest

from shared.privacy.redact import Redactor, luhn

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def card(prefix: str) -> str:
    return next(prefix + d for d in "0123456789" if luhn(prefix + d))


ID1, ID2 = resident_id("44030619851224123"), resident_id("32010219770101002")
CARD1, CARD2 = card("621700001234567890"), card("436742012345678")
FULLWIDTH_ID1 = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in ID1)

CASES = [
    (f"嗯我身份证是{ID1}对", ["id_card"]),
    (f"证件号码 {ID2[:6]} {ID2[6:14]} {ID2[14:]}", ["id_card"]),
    ("您好，我的电话是一三九一二三四五六七八", ["mobile"]),
    ("号码是一三九，一二三四，五六七八", ["mobile"]),
    ("My number is +86 139 1234 5678, thanks", ["mobile"]),
    ("打我座机 0755-8888 6666 就行", ["landline"]),
    ("联系方式 021-6888-8888 转 203", ["landline"]),
    (f"退款到尾号那张卡，卡号是{CARD1}", ["bank_card"]),
    (f"信用卡 {CARD2[:4]} {CARD2[4:8]} {CARD2[8:12]} {CARD2[12:]}", ["bank_card"]),
    ("邮件发到 li.si+test@corp.example.cn 吧", ["email"]),
    (f"ＩＤ：{FULLWIDTH_ID1}", ["id_card"]),
    ("手机号码 壹叁玖", []),  # three financial numerals: not a number
    ("你的快递单号是 YT7364528190234", []),
    ("会议定在二〇二五年三月十二日下午三点", []),
    ("总共是一万两千三百元", []),
    ("验证一下订单 20241201123456789", []),
    ("温度是三十七度五", []),
    ("工号 100245，分机 8021", []),
    ("我家门牌号是幺零幺室", []),
    ("他说两两三四五六七八九零一", []),  # 11 spoken digits that are not a mobile (no 1[3-9] start)
]


@pytest.mark.parametrize("text, kinds", CASES, ids=range(len(CASES)))
def test_held_out_case(text, kinds):
    assert [f.kind for f in Redactor().find(text)] == kinds
