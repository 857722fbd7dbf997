"""Writes devkit/bench/redaction_corpus.jsonl: the labelled corpus of `python -m devkit.bench.redaction`.

    python -m devkit.bench.make_redaction_corpus [--seed 20241201] [--out devkit/bench/redaction_corpus.jsonl]

Customer-service turns (agent and user, mostly Chinese, some English) with personal
numbers in every form the redactor claims to handle: typed, grouped with spaces or
dashes, spoken digit by digit (幺 for 1, 两 for 2, 〇 for 0), full-width, mixed, with
+86 / 0086 / 86, parentheses around an area code; and hard negatives: order and tracking
numbers, amounts, dates, times, years, quantities, versions, Luhn-invalid card numbers,
IDs with a wrong check character, hotlines, codes. The labels come from how a line was
built, never from the redactor; every labelled number is checked here with rules of
its own (GB 11643 check character, Luhn, mobile and area-code shapes) and the file is
deterministic for a seed.

Label conventions: a span covers the number from its first to its last character,
including a +86 / 0086 / 86 prefix and the opening parenthesis of an area code, and not
surrounding context words or punctuation.
"""
from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

OUT = Path(__file__).with_name("redaction_corpus.jsonl")
PROVINCES = [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
             53, 54, 61, 62, 63, 64, 65]
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
SPOKEN = "零一二三四五六七八九"
FULLWIDTH = {str(i): chr(0xFF10 + i) for i in range(10)} | {"X": "Ｘ"}


# -- numbers, each checked by its own rule ----------------------------------------------

def id_check(first17: str) -> str:
    return CHECK[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


def luhn_ok(d: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(d)):
        n = int(c) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def luhn_complete(body: str) -> str:
    for c in "0123456789":
        if luhn_ok(body + c):
            return body + c
    raise AssertionError(body)


def birth(rng: random.Random, lo: int, hi: int) -> tuple[int, int, int]:
    y, m = rng.randint(lo, hi), rng.randint(1, 12)
    days = [31, 29 if y % 4 == 0 and (y % 100 or y % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return y, m, rng.randint(1, days[m - 1])


def id18(rng: random.Random, *, valid: bool = True) -> str:
    y, m, d = birth(rng, 1940, 2012)
    body = f"{rng.choice(PROVINCES)}{rng.randint(1, 99):02d}{rng.randint(1, 99):02d}{y:04d}{m:02d}{d:02d}" \
           f"{rng.randint(0, 999):03d}"
    check = id_check(body)
    if not valid:
        check = rng.choice([c for c in "0123456789X" if c != check])
    out = body + check
    assert len(out) == 18 and (id_check(out[:17]) == out[17]) == valid
    return out


def id15(rng: random.Random) -> str:
    y, m, d = birth(rng, 1930, 1999)
    out = f"{rng.choice(PROVINCES)}{rng.randint(1, 99):02d}{rng.randint(1, 99):02d}{y % 100:02d}{m:02d}{d:02d}" \
          f"{rng.randint(0, 999):03d}"
    assert len(out) == 15
    return out


CARD_BINS = ["622202", "622848", "621700", "622588", "622609", "621483", "625965", "628288", "955880", "436742",
             "518710", "524047", "601382", "356833", "622908", "621226"]


def bank_card(rng: random.Random, *, valid: bool = True) -> str:
    length = rng.choice([16, 16, 19, 19, 19, 17]) if valid else 16
    body = rng.choice(CARD_BINS) + "".join(rng.choice("0123456789") for _ in range(length - 7))
    out = luhn_complete(body)
    if not valid:
        out = out[:-1] + str((int(out[-1]) + rng.randint(1, 9)) % 10)
    assert len(out) == length and luhn_ok(out) == valid
    return out


def mobile(rng: random.Random) -> str:
    out = rng.choice(["13", "15", "17", "18", "19", "14", "16"]) + str(rng.randint(0, 9)) + \
        "".join(rng.choice("0123456789") for _ in range(8))
    assert re.fullmatch(r"1[3-9]\d{9}", out)
    return out


AREAS_2 = ["010", "021", "020", "022", "023", "024", "025", "027", "028", "029"]
AREAS_3 = ["0755", "0571", "0512", "0531", "0591", "0731", "0871", "0898", "0451", "0371", "0592", "0769"]


def landline(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.6:
        area, size = rng.choice(AREAS_2), 8
    else:
        area, size = rng.choice(AREAS_3), rng.choice([7, 8, 8])
    local = str(rng.randint(2, 8)) + "".join(rng.choice("0123456789") for _ in range(size - 1))
    assert re.fullmatch(r"0(10|2\d|[3-9]\d\d)", area) and re.fullmatch(r"[2-9]\d{6,7}", local)
    return area, local


NAMES = ["zhangsan", "li.ming", "wang_fang", "chenjing88", "liuyang", "zhao.lei", "sunli2019", "zhou.xin",
         "wuhao", "xu_min", "hu.jun", "service", "maggie.lin", "tom.wang", "huangwei1990"]
DOMAINS = ["qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com", "foxmail.com", "aliyun.com",
           "company.com.cn", "hotmail.com", "example.cn"]


def email(rng: random.Random) -> str:
    local = rng.choice(NAMES) if rng.random() < 0.75 else str(rng.randint(10000, 9999999999))
    return f"{local}@{rng.choice(DOMAINS)}"


# -- renderings -------------------------------------------------------------------------

def spoken_digit(rng: random.Random, c: str, *, phone: bool) -> str:
    if c == "X":
        return rng.choice(["叉", "X", "x"])
    if c == "1" and rng.random() < (0.6 if phone else 0.15):
        return "幺"
    if c == "0" and rng.random() < 0.15:
        return "〇"
    if c == "2" and rng.random() < 0.08:
        return "两"
    return SPOKEN[int(c)]


def split(digits: str, sizes: list[int]) -> list[str]:
    out, i = [], 0
    for size in sizes:
        out.append(digits[i:i + size])
        i += size
    if i < len(digits):
        out.append(digits[i:])
    return [g for g in out if g]


def render(rng: random.Random, digits: str, sizes: list[int], style: str, *, phone: bool = False) -> str:
    """One way of writing or saying `digits`."""
    if style == "typed":
        return digits if rng.random() < 0.8 else digits.replace("X", "x")
    if style == "grouped":
        sep = rng.choice([" ", " ", "-"])
        return sep.join(split(digits, sizes))
    if style == "fullwidth":
        text = "".join(FULLWIDTH[c] for c in digits)
        return text if rng.random() < 0.7 else " ".join(split(text, sizes))
    if style == "spoken":
        groups = ["".join(spoken_digit(rng, c, phone=phone) for c in g) for g in split(digits, sizes)]
        sep = rng.choice(["", "", "，", " ", "、"])
        if rng.random() < 0.1:  # digit by digit, spaced out
            return " ".join("".join(groups))
        return sep.join(groups)
    if style == "mixed":
        parts = []
        for g in split(digits, sizes):
            how = rng.choice(["typed", "spoken", "spoken", "fullwidth"])
            parts.append(g if how == "typed" else "".join(FULLWIDTH[c] for c in g) if how == "fullwidth"
                         else "".join(spoken_digit(rng, c, phone=phone) for c in g))
        if all(not any(ch in SPOKEN + "幺两〇叉" for ch in p) for p in parts):  # make it really mixed
            parts[-1] = "".join(spoken_digit(rng, c, phone=phone) for c in split(digits, sizes)[-1])
        return rng.choice([" ", " ", "", "，"]).join(parts)
    raise ValueError(style)


STYLES = ["typed", "typed", "grouped", "spoken", "spoken", "fullwidth", "mixed"]


def render_mobile(rng: random.Random) -> str:
    number = mobile(rng)
    style = rng.choice(STYLES)
    text = render(rng, number, [3, 4, 4], style, phone=True)
    if style in ("typed", "grouped") and rng.random() < 0.3:
        prefix = rng.choice(["+86 ", "+86-", "+86", "0086 ", "86 "])
        text = prefix + text
    return text


def render_landline(rng: random.Random) -> str:
    area, local = landline(rng)
    style = rng.choice(["typed", "typed", "spoken", "fullwidth", "mixed", "paren"])
    halves = [len(local) - 4, 4]
    if style == "paren":
        return rng.choice(["(", "（"]) + area + rng.choice([")", "）"]) + rng.choice(["", " "]) + \
            rng.choice([local, " ".join(split(local, halves))])
    if style == "typed":
        return area + rng.choice(["-", "-", " ", ""]) + rng.choice([local, local, " ".join(split(local, halves))])
    if style == "fullwidth":
        return "".join(FULLWIDTH[c] for c in area) + "－" + "".join(FULLWIDTH[c] for c in local)
    return render(rng, area + local, [len(area), *halves], style, phone=True)


def render_id(rng: random.Random) -> str:
    number = id15(rng) if rng.random() < 0.12 else id18(rng)
    sizes = [6, 8, 4] if len(number) == 18 else [6, 6, 3]
    return render(rng, number, sizes if rng.random() < 0.6 else [3, 3, 4, 4, 4], rng.choice(STYLES))


def render_card(rng: random.Random) -> str:
    number = bank_card(rng)
    return render(rng, number, [4] * 5, rng.choice(STYLES))


def render_email(rng: random.Random) -> str:
    address = email(rng)
    if rng.random() < 0.15:  # typed with a full-width IME
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in address)
    return address


RENDER = {"mobile": render_mobile, "landline": render_landline, "id_card": render_id, "bank_card": render_card,
          "email": render_email}

# -- turns ------------------------------------------------------------------------------

POSITIVE = {
    "mobile": [
        "我的手机号是{mobile}。", "手机号码{mobile}，我姓王。", "你打这个{mobile}就行，白天都在。",
        "好的，跟您核对一下，手机号{mobile}对吗？", "号码是{mobile}，微信同号。",
        "您登记的手机是{mobile}，需要修改吗？", "打{mobile}找李经理。", "嗯，{mobile}，这个是我爱人的。",
        "联系方式留{mobile}吧。", "我换号了，新号{mobile}。", "快递员电话{mobile}，他一直没接。",
        "请拨打{mobile}，谢谢。", "我刚才说的是{mobile}，不是之前那个。", "{mobile}一直打不通，你们帮我看看。",
        "收货人张先生，电话{mobile}。", "You can reach me at {mobile}.",
        "My mobile is {mobile}, call me after 6pm.", "麻烦您把验证码发到{mobile}上。",
        "就是那个{mobile}啊，我上次登记过的。", "备用号码{mobile}，主号是{mobile}。", "回电请打{mobile}。",
        "嗯对，{mobile}，尾号没错。", "好的，{mobile}，对吧？", "我手机号{mobile}，您记一下。",
        "{mobile}/{mobile}都是我的。", "话费充错了，充到{mobile}了，一百块。", "您好，是{mobile}的机主吗？",
        "第一个号码是{mobile}，第二个不用了。", "老师电话{mobile}，三年二班的。", "手机号码是{mobile}一直没变过。",
    ],
    "landline": [
        "公司座机{landline}，上班时间打。", "您可以拨打{landline}转人工。", "我家里电话是{landline}。",
        "办公室的号码{landline}，找前台。", "固话{landline}，手机就不留了。", "传真号{landline}。",
        "Please call our office at {landline}.", "您留的固定电话是{landline}对吗？",
        "那你打{landline}吧，晚上有人。", "门店电话{landline}，地址在中山路。", "前台是{landline}，转八零一二。",
        "Our hotline in Shanghai is {landline}.", "医院的电话{landline}，挂号处。",
        "{landline}，这是我们物业的电话。",
    ],
    "id_card": [
        "我的身份证号是{id_card}。", "身份证号码{id_card}，姓名刘洋。", "证件号{id_card}，您核对一下。",
        "好的，身份证{id_card}，已经帮您登记了。", "嗯，{id_card}，这是我的身份证。", "My ID number is {id_card}.",
        "我爸的身份证是{id_card}，他不会用手机。", "请报一下身份证号。{id_card}。", "身份证后面是叉，{id_card}。",
        "开户用的证件是{id_card}。", "身份证号{id_card}一直用的这个。", "我再说一遍，{id_card}，对。",
        "{id_card}，张伟，男。",
    ],
    "bank_card": [
        "我的银行卡号是{bank_card}。", "卡号{bank_card}，工商银行的。", "退款打到{bank_card}这张卡上。",
        "信用卡{bank_card}，被扣了两次费。", "您绑定的是{bank_card}对吗？", "储蓄卡号{bank_card}，开户行是招行。",
        "Card number {bank_card}, expiry 08/27.", "就用{bank_card}这张吧。", "请把钱退回原卡，{bank_card}。",
        "我念一下，{bank_card}。", "My card number is {bank_card}.", "扣款卡{bank_card}，扣了三千八百元。",
        "{bank_card}，户名李娜。",
    ],
    "email": [
        "我的邮箱是{email}。", "发票发到{email}就行。", "邮箱{email}，麻烦发一下电子合同。",
        "Please send the invoice to {email}.", "您的邮箱是{email}对吗？", "联系邮箱：{email}，工作日回复。",
        "抄送一下{email}，谢谢。", "Email me at {email} please.",
    ],
    "multi": [
        "姓名王芳，手机{mobile}，身份证{id_card}。", "卡号{bank_card}，预留手机号{mobile}。",
        "电话{landline}或者{mobile}都可以。", "邮箱{email}，手机{mobile}。",
        "身份证{id_card}，银行卡{bank_card}，麻烦帮我查一下。", "My phone is {mobile} and my email is {email}.",
        "我的手机{mobile}，家里座机{landline}。",
    ],
}


def negatives(rng: random.Random) -> list[str]:
    """Hard negatives: numbers that are not personal data, and personal-looking non-numbers."""
    def digits(n: int, first: str = "123456789") -> str:
        return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(n - 1))

    def cn_amount() -> str:
        return rng.choice(["一千二百", "三千八百", "两万五千", "一万两千三百", "五百六十", "八千零五十", "十二万",
                           "三百八十八", "一千零一", "九万九千九百九十九"])

    def day() -> str:
        return f"{rng.randint(2019, 2025)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日"

    def cn_date() -> str:
        return rng.choice(["二〇二四年十二月一日", "二零二三年五月二十日", "一九九零年三月七号", "二〇二五年一月十五日",
                           "二零一八年十月一日"])

    makers = [
        lambda: f"订单号 {rng.choice(['2024', '2023', '2025'])}{digits(11, '01')}，麻烦帮我查一下物流。",
        lambda: f"您的订单号是{digits(rng.choice([15, 16, 18, 19]))}，已经发货了。",
        lambda: f"单号{digits(rng.choice([12, 14, 16]))}，还没到。",
        lambda: f"工单号{digits(16, '6')}，我们会在24小时内处理。",
        lambda: f"交易流水号{digits(rng.choice([16, 19, 20]), '46')}，请保存好。",
        lambda: f"快递单号{rng.choice(['SF', 'YT', 'JD', 'ZTO', 'YD', 'JT'])}{digits(13)}，明天送到。",
        lambda: f"{rng.choice(['SF', 'YT', 'JD'])}{digits(rng.choice([12, 13, 15]))}这个单子是我的。",
        lambda: f"运单号{digits(rng.choice([12, 13, 15]), '7')}，中通的。",
        lambda: f"一共{rng.randint(2, 9)},{rng.randint(100, 999)}元，已经付过了。",
        lambda: f"退款金额{rng.randint(1, 99)},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}元。",
        lambda: f"¥{rng.randint(1, 99)},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}，已到账。",
        lambda: f"这个月扣了{cn_amount()}元，我没有消费啊。",
        lambda: f"套餐费{cn_amount()}块，太贵了。",
        lambda: f"我是{day()}下的单，{rng.randint(10, 23)}:{rng.randint(0, 59):02d}付的款。",
        lambda: f"{cn_date()}，我在你们门店办的卡。",
        lambda: f"约在{rng.choice(['下午三点半', '明天上午十点', '晚上八点一刻', '周三下午两点'])}，可以吗？",
        lambda: f"会议定在{rng.randint(8, 18)}:{rng.choice(['00', '15', '30', '45'])}，在三楼。",
        lambda: f"我{rng.randint(1950, 2005)}年出生的，今年{rng.randint(18, 70)}岁。",
        lambda: f"买了{rng.randint(2, 50)}个，{rng.randint(2, 9)}箱，一共{rng.randint(100, 9999)}件。",
        lambda: f"App版本是{rng.randint(1, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}，"
                f"系统iOS {rng.randint(14, 18)}.{rng.randint(0, 6)}。",
        lambda: f"我的卡号是{bank_card(rng, valid=False)}，为什么显示无效？",
        lambda: f"身份证{id18(rng, valid=False)}，系统说校验不通过。",
        lambda: f"这个编号{id18(rng, valid=False)}是不是有问题？",
        lambda: f"卡号{' '.join(split(bank_card(rng, valid=False), [4, 4, 4, 4]))}提示错误。",
        lambda: f"我的手机尾号是{digits(4, '0123456789')}。",
        lambda: f"身份证后四位{rng.choice(['一二三四', '5678', '二零一X', '0021'])}。",
        lambda: f"验证码是{digits(6)}，五分钟内有效。",
        lambda: f"客服热线400-{digits(3)}-{digits(4)}，全天服务。",
        lambda: f"有问题请拨打95{digits(3)}。",
        lambda: f"邮编{digits(6, '1')}，地址是海淀区中关村大街{rng.randint(1, 99)}号。",
        lambda: f"房间号{rng.randint(1001, 3999)}，{rng.randint(2, 30)}楼。",
        lambda: f"车牌号京A{digits(5)}，停在B2层。",
        lambda: f"我坐的是G{rng.randint(1, 9999)}次列车，{rng.randint(1, 16)}车{rng.randint(1, 20)}F。",
        lambda: f"航班CA{rng.randint(1000, 9999)}延误了{rng.choice(['两个小时', '三个半小时', '40分钟'])}。",
        lambda: f"IP是192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}，端口8080。",
        lambda: f"时间戳{digits(13, '1')}，日志里查得到。",
        lambda: f"会员积分{rng.randint(1000, 99999)}分，可以抵{rng.randint(10, 99)}元。",
        lambda: f"营收{rng.randint(10, 99)},{rng.randint(100, 999)},{rng.randint(100, 999)},"
                f"{rng.randint(100, 999)}元，同比增长{rng.randint(1, 40)}%。",
        lambda: f"数量{digits(5)}，单价{rng.randint(1, 99)}.{rng.randint(10, 99)}，合计{rng.randint(10000, 999999)}。",
        lambda: f"这个型号是{rng.choice(['SM-G', 'RX', 'iPhone '])}{rng.randint(10, 9999)}，"
                f"{rng.randint(64, 512)}G的。",
        lambda: "您好，请问有什么可以帮您？",
        lambda: "好的，请您提供一下手机号，我帮您查询。",
        lambda: "请问身份证号码方便提供一下吗？",
        lambda: "您稍等，我这边帮您看一下银行卡的绑定情况。",
        lambda: "I'd like to check my order status, please.",
        lambda: f"Order #{digits(rng.choice([10, 12, 16]))} was shipped yesterday.",
        lambda: f"Your tracking number is {rng.choice(['SF', 'YT', '1Z'])}{digits(14)}.",
        lambda: f"The total is ${rng.randint(1, 99)},{rng.randint(100, 999)}.{rng.randint(10, 99)}.",
        lambda: f"第{rng.choice(['一', '二', '三'])}个问题，我{rng.choice(['一直', '一下子', '统一'])}没搞明白。",
        lambda: f"一共{cn_amount()}，分{rng.choice(['三', '六', '十二'])}期。",
        lambda: f"合同号HT{digits(12)}，{day()}签的。",
        lambda: f"发票号码{digits(8, '0')}，发票代码{digits(12, '0')}。",
        lambda: f"保单号{digits(rng.choice([15, 18, 20]))}，明年到期。",
        lambda: f"序列号{digits(16, '6')}，保修还剩{rng.randint(1, 11)}个月。",
        lambda: "一二三四五六七八九十，数完了。",
        lambda: f"IMEI {luhn_complete('86' + digits(12, '0123456789'))}，换机的时候查的。",
        lambda: f"手机串号{luhn_complete('35' + digits(12, '0123456789'))}。",
        lambda: f"ISBN 978-7-{rng.randint(100, 999)}-{rng.randint(10000, 99999)}-{rng.randint(0, 9)}，这本书缺货吗？",
        lambda: f"{day()[:-1]}号 {rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}，系统记录的。",
        lambda: f"{rng.randint(2019, 2025)}-{rng.randint(10, 12)}-{rng.randint(10, 28)} "
                f"{rng.randint(10, 23)}:{rng.randint(10, 59)}下单的。",
        lambda: f"价格区间{rng.randint(100, 999)}-{rng.randint(1000, 9999)}元。",
        lambda: f"拨打{rng.choice(['10086', '10010', '12315', '95588', '12345', '110'])}问一下。",
        lambda: f"这个号码是{digits(11, '12')[0:1]}2{digits(9)}，不是手机号。",
        lambda: f"订单号是{''.join(SPOKEN[int(c)] for c in digits(16, '6'))}，您查一下。",
        lambda: f"{rng.choice(['一九九零', '一九八五', '二〇〇一'])}年出生，"
                f"{rng.choice(['二〇一五', '二零一二'])}年毕业。",
        lambda: f"兑换码{digits(16, '3456')}，在App里输入。",
        lambda: f"一共{rng.randint(10, 99)}万{rng.randint(1000, 9999)}元，分{rng.randint(2, 36)}期。",
        lambda: f"人数{rng.randint(1000, 9999)}，金额{rng.randint(1000000, 9999999)}，数量{rng.randint(1000, 9999)}。",
        lambda: f"这个数是{rng.choice(['一千三百八十万零一百三十八', '一亿三千八百万', '三十八万零一百三十八'])}。",
    ]
    return [maker() for maker in makers]


def fill(rng: random.Random, template: str) -> dict:
    text, spans, pos = "", [], 0
    for m in re.finditer(r"\{(\w+)\}", template):
        text += template[pos:m.start()]
        value = RENDER[m.group(1)](rng)
        spans.append({"kind": m.group(1), "start": len(text), "end": len(text) + len(value)})
        text += value
        pos = m.end()
    text += template[pos:]
    return {"text": text, "spans": spans}


def build(seed: int) -> list[dict]:
    rng = random.Random(seed)
    lines: list[dict] = []
    for _round in range(3):
        for templates in POSITIVE.values():
            lines.extend(fill(rng, t) for t in templates)
    for _round in range(3):
        lines.extend({"text": t, "spans": []} for t in negatives(rng))
    rng.shuffle(lines)
    seen, unique = set(), []
    for line in lines:
        if line["text"] not in seen:
            seen.add(line["text"])
            unique.append(line)
    return unique


NORMAL = {**{c: str(i) for i, c in enumerate(SPOKEN)}, "幺": "1", "两": "2", "〇": "0", "叉": "X", "x": "X", "X": "X",
          **{v: k for k, v in FULLWIDTH.items()}}


def form(span_text: str) -> str:
    """typed, spoken, fullwidth or mixed: how a labelled number is written."""
    if "@" in span_text or "＠" in span_text:
        return "fullwidth" if "＠" in span_text else "typed"
    kinds = {"spoken" if c in SPOKEN + "幺两〇叉" else "fullwidth" if "\uff10" <= c <= "\uff19" else "typed"
             for c in span_text if c in NORMAL or c.isdigit()}
    return kinds.pop() if len(kinds) == 1 else "mixed"


def verify(line: dict) -> None:
    """Every labelled span, read again from the final text, obeys its kind's rule."""
    text = line["text"]
    for span in line["spans"]:
        raw = text[span["start"]:span["end"]]
        assert raw == raw.strip(" ，、,") and raw, (raw, text)
        if span["kind"] == "email":
            ascii_ = "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in raw)
            assert re.fullmatch(r"[\w.+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}", ascii_), raw
            continue
        digits = "".join(NORMAL.get(c, c) for c in raw if c in NORMAL or c.isdigit())
        if span["kind"] == "id_card":
            assert (len(digits) == 18 and id_check(digits[:17]) == digits[17]) or \
                (len(digits) == 15 and digits.isdigit()), raw
        elif span["kind"] == "bank_card":
            assert 13 <= len(digits) <= 19 and luhn_ok(digits), raw
        elif span["kind"] == "mobile":
            assert re.fullmatch(r"(\+?86|0086)?1[3-9]\d{9}", raw[0] * (raw[0] == "+") + digits), raw
        elif span["kind"] == "landline":
            assert re.fullmatch(r"0(10|2\d)[2-9]\d{7}|0[3-9]\d\d[2-9]\d{6,7}", digits), raw
        else:
            raise AssertionError(span)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="make_redaction_corpus")
    p.add_argument("--seed", type=int, default=20241201)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    lines = build(args.seed)
    forms: dict[str, dict[str, int]] = {}
    for line in lines:
        verify(line)
        for span in line["spans"]:
            how = form(line["text"][span["start"]:span["end"]])
            forms.setdefault(span["kind"], {}).setdefault(how, 0)
            forms[span["kind"]][how] += 1
    args.out.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    negative = sum(1 for line in lines if not line["spans"])
    print(f"{args.out}: {len(lines)} lines, {negative} without personal data")
    for kind, counts in sorted(forms.items()):
        print(f"  {kind}: " + ", ".join(f"{how} {n}" for how, n in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
