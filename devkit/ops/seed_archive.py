"""`aiagent seed-archive`: fill an archive with realistic finished calls (demos, load tests, benchmarks).

    aiagent seed-archive --calls N [--days 30] [--seed 1] [--until YYYY-MM-DD] [--index-only]
                         [--workers 8] [--url http://127.0.0.1:9000]

Writes N calls spread over the `--days` days up to `--until` (default today, UTC; weekdays busier
than weekends, mostly during Chinese business hours). Each call gets what the chain would have
written: its owner record (`state/owners/`), the archived call-log document (`call-logs/`, the
format of shared/archive/workflow.py), and either the default profile's analysis (`analyses/`, the
format of shared/analysis/workflow.py, with the metadata that marks it current) or, for a few %, an
open analyze dead letter (`failed/analyze/`). The dialogs (2-20 turns, Chinese and English) come
from a few dozen templates: customer service, orders and refunds, bookings, complaints, small talk,
outbound reminders; several agents, about N/20 users, 20 s - 15 min.

Then the call index: every row is built the way the compaction step builds it
(`index_rows.apply` over the `archive`, `analysis` and `letter` updates made from those very
documents, shared/archive/index_rows.py) and each day's rows are written as ONE Parquet file
(`index_files.put_day`), merged with the rows already in that day's file (a re-run with the same
seed replaces its own rows). The compaction lease is held meanwhile, so a running compactor does
not overwrite a day file being written. `--index-only` writes only the index files (large
benchmarks: 100,000 rows are 30 files, not 400,000 objects). No audio and no callbacks are written:
the recordings a call log lists are references only.

Deterministic: the same `--seed`, `--calls`, `--days` and `--until` give the same ids, texts and
times (instance ids and texts depend on `--seed` and the call's number only). Objects are written
by a bounded thread pool, progress on stderr, a JSON summary on stdout. Configuration comes from
the environment like the functions' (ARCHIVE_BUCKET, OSS_*); `--url` uses a running `aiagent dev`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, TextIO

DEFAULT_DAYS = 30
DEFAULT_SEED = 1
DEFAULT_WORKERS = 8
PROFILE = "default"
LEASE_SECONDS = 600
# From this many calls an index-only run builds its rows in worker processes (one per CPU, at most 4).
PROCESS_POOL_CALLS = 20_000
# The share of calls whose analysis was given up on (an open analyze dead letter, no analysis).
DEAD_LETTER_RATE = 0.03
CCAI_HOST = "contactcenterai.cn-shanghai.aliyuncs.com"
CALL_LOG_HOST = "ice-calllog-cn-shanghai.oss-cn-shanghai.aliyuncs.com"

# --- agents, users, templates -----------------------------------------------------------------------


@dataclass(frozen=True)
class Agent:
    ai_agent_id: str
    weight: float
    topics: tuple[str, ...]  # the template topics it serves
    phone: bool = False  # an outbound phone agent: ICE's CallInfo (times, hangup role) is set
    recording: float = 0.4  # share of its calls with recording references
    langs: tuple[str, ...] = ("zh", "en")


AGENTS: tuple[Agent, ...] = (
    Agent("cs-assistant-zh", 0.30, ("orders", "refund", "complaint", "service", "info"), langs=("zh",)),
    Agent("order-bot-zh", 0.20, ("orders", "refund"), langs=("zh",)),
    Agent("booking-agent", 0.12, ("booking",)),
    Agent("support-en", 0.14, ("orders", "refund", "complaint", "service", "info"), langs=("en",)),
    Agent("companion-xiaoyun", 0.16, ("small_talk",), recording=0.1),
    Agent("outbound-notify", 0.08, ("outbound",), phone=True, recording=0.9),
)
AGENT_IDS = tuple(a.ai_agent_id for a in AGENTS)


@dataclass(frozen=True)
class Template:
    """One kind of conversation. Texts may use {order} {amount} {date} {time} {n} {city} {product}
    {brand} {days} {code}."""

    key: str
    lang: str  # zh | en
    topic: str
    intent: str  # the user_intent field (information, entertainment, task, complaint, other)
    greeting: str  # the agent's first turn
    turns: tuple[str, ...]  # user, agent, user, agent, ... after the greeting
    title: str
    summary: str
    keywords: tuple[str, ...]
    satisfaction: tuple[float, float, float] = (0.65, 0.25, 0.10)  # satisfied, neutral, dissatisfied
    follow_up: str = ""  # when the need was not (fully) met
    weight: float = 1.0
    risky: float = 0.0  # extra failure rate of "No unsafe advice"
    off_topic: float = 0.0  # extra failure rate of "Stays on topic"


ZH_GREETING = "您好，我是智能客服小云，请问有什么可以帮您？"
EN_GREETING = "Hi, this is Cloud, your virtual assistant. How can I help you today?"

TEMPLATES: tuple[Template, ...] = (
    # --- orders and refunds (Chinese) ---
    Template("zh-refund-damaged", "zh", "refund", "task", ZH_GREETING, (
        "我想申请退款，订单号是{order}。",
        "好的，我帮您查一下订单{order}。这笔订单金额是{amount}元，请问退款原因是什么？",
        "收到的{product}外壳是坏的，不能用。",
        "非常抱歉给您带来不便。我已经为您提交退款申请，款项会在3到5个工作日内原路退回。",
        "能快一点吗？我比较着急。",
        "我帮您加急处理，一般24小时内会有审核结果，届时会短信通知您。",
        "好的，那坏的东西要寄回去吗？",
        "需要的，稍后您会收到退货地址，运费由我们承担。",
    ), "订单{order}退款申请",
       "用户反映订单{order}中的{product}收到时已损坏，申请退款{amount}元；客服已提交并加急退款申请，告知退货地址将短信发送。",
       ("退款", "订单", "商品损坏", "退货"), (0.55, 0.3, 0.15),
       "跟进订单{order}的加急退款审核", 1.6),
    Template("zh-refund-status", "zh", "refund", "information", ZH_GREETING, (
        "我上周申请的退款怎么还没到账？",
        "请您提供一下订单号，我帮您查询退款进度。",
        "订单号{order}。",
        "查到了，您的退款{amount}元已于{date}审核通过，银行处理还需要1到3个工作日。",
        "那我再等等吧。",
        "好的，如果{days}天后还没到账，您可以再联系我们。",
    ), "查询订单{order}退款进度", "用户查询订单{order}的退款进度，客服告知退款{amount}元已审核通过，银行处理中。",
       ("退款", "到账", "订单", "退款进度"), (0.55, 0.35, 0.10), "", 1.4),
    Template("zh-refund-refused", "zh", "complaint", "complaint", ZH_GREETING, (
        "为什么我的退款被拒绝了？这不合理。",
        "很抱歉让您不满意。请问是哪个订单？",
        "订单{order}，{product}只用了一次就坏了。",
        "我看到审核意见是商品已超过七天无理由退货期限。不过质量问题可以走售后维修。",
        "我不要维修，我就要退款！",
        "理解您的心情，我为您升级到售后主管处理，会在{days}个工作日内回电。",
        "你们一直拖，我要投诉。",
        "已为您记录投诉，编号{code}，主管会优先处理。",
    ), "订单{order}退款被拒投诉",
       "用户对订单{order}退款被拒不满，要求退款而非维修；客服已升级售后主管并记录投诉{code}。",
       ("退款", "投诉", "订单", "售后", "退款被拒"), (0.05, 0.25, 0.70), "售后主管回电处理订单{order}的退款投诉", 1.0),
    Template("zh-order-status", "zh", "orders", "information", ZH_GREETING, (
        "帮我查一下订单{order}到哪了。",
        "您的订单{order}已经从仓库发出，目前在{city}转运中心，预计{date}送达。",
        "能送到公司吗？",
        "可以的，我帮您备注一下，快递员派送前会给您打电话。",
        "好的，谢谢。",
        "不客气，祝您生活愉快！",
    ), "查询订单{order}物流",
       "用户查询订单{order}物流，客服告知包裹在{city}转运中心，预计{date}送达，并备注派送前电话联系。",
       ("订单", "物流", "快递", "送达"), (0.70, 0.25, 0.05), "", 1.5),
    Template("zh-order-address", "zh", "orders", "task", ZH_GREETING, (
        "我想修改订单的收货地址。",
        "好的，请提供订单号和新的收货地址。",
        "订单号{order}，新地址是{city}市的公司地址，我等下发给你。",
        "订单还没有发货，可以修改。请您在订单详情页点击修改地址，或者直接告诉我。",
        "我自己在App里改吧。",
        "好的，修改后会实时生效，有问题随时联系我们。",
    ), "修改订单{order}收货地址", "用户要修改订单{order}的收货地址，客服确认未发货可修改并指导在App中操作。",
       ("订单", "收货地址", "修改"), (0.70, 0.25, 0.05), "", 1.0),
    Template("zh-order-cancel", "zh", "orders", "task", ZH_GREETING, (
        "我要取消订单{order}。",
        "请问取消的原因是什么呢？",
        "买错了，拍成了两件。",
        "明白了，订单{order}还没有出库，我已经为您取消，{amount}元会原路退款。",
        "退款要多久？",
        "一般1到3个工作日到账。",
    ), "取消订单{order}", "用户误拍两件，要求取消订单{order}；客服已取消并说明{amount}元退款1-3个工作日到账。",
       ("订单", "取消订单", "退款"), (0.75, 0.20, 0.05), "", 1.0),
    Template("zh-invoice", "zh", "service", "task", ZH_GREETING, (
        "订单{order}能开发票吗？",
        "可以的，请问需要开个人发票还是企业发票？",
        "企业的，增值税普通发票。",
        "好的，请在订单详情页填写公司抬头和税号，电子发票会在{days}个工作日内发送到您的邮箱。",
    ), "订单{order}开具发票", "用户为订单{order}申请企业增值税普通发票，客服说明填写抬头和税号的方式。",
       ("发票", "订单", "税号"), (0.65, 0.30, 0.05), "", 0.8),
    # --- complaints (Chinese) ---
    Template("zh-complaint-delivery", "zh", "complaint", "complaint", ZH_GREETING, (
        "你们的快递太慢了，我的订单{order}已经一周了还没到！",
        "非常抱歉，我马上帮您查询。订单{order}在{city}分拣中心滞留了，我已经催促快递公司。",
        "每次都这样，太让人失望了。",
        "理解您的心情，我为您申请了{amount}元的延误补偿券，并安排优先派送。",
        "补偿券有什么用，我要的是东西。",
        "明白，我会持续跟进，今天内给您回复最新进度。",
    ), "订单{order}配送延误投诉",
       "用户投诉订单{order}配送延误一周，客服已催促快递、发放{amount}元补偿券并承诺当天回复进度。",
       ("投诉", "快递", "延误", "订单", "补偿"), (0.05, 0.30, 0.65), "当天回复订单{order}的配送进度", 1.2),
    Template("zh-complaint-service", "zh", "complaint", "complaint", ZH_GREETING, (
        "上次打电话客服态度很差，我要投诉。",
        "非常抱歉给您带来不好的体验。请问是哪一天的通话？",
        "{date}下午，问退款的事情，对方直接挂了我电话。",
        "我已经记录下来，投诉编号{code}，我们会在{days}个工作日内核实并给您答复。",
        "希望你们认真处理。",
        "一定会的，再次向您道歉。",
    ), "客服服务态度投诉", "用户投诉{date}客服态度差并挂断电话，客服记录投诉{code}，承诺{days}个工作日内答复。",
       ("投诉", "服务态度", "客服"), (0.05, 0.45, 0.50), "核实投诉{code}并回复用户", 0.9),
    Template("zh-complaint-quality", "zh", "complaint", "complaint", ZH_GREETING, (
        "我买的{product}才用了三天就坏了，质量太差了。",
        "很抱歉，请问是什么问题呢？",
        "开不了机，充电也没反应。",
        "这在保修范围内，我可以为您安排换新，或者申请退款，您看哪种方式？",
        "换新吧，但是要快。",
        "好的，已为您创建换新单，新机会在旧机寄回后{days}天内发出。",
    ), "{product}质量问题投诉", "用户反映{product}使用三天后无法开机，客服提供换新或退款，用户选择换新，已创建换新单。",
       ("质量问题", "投诉", "换新", "退款"), (0.20, 0.45, 0.35), "跟进{product}换新单发货", 0.9),
    # --- customer service, information (Chinese) ---
    Template("zh-membership", "zh", "service", "information", ZH_GREETING, (
        "会员怎么续费？",
        "您可以在App的我的页面点击会员中心续费，年费会员是{amount}元。",
        "有优惠吗？",
        "现在开通连续包年可以再减30元，还送{days}天的免运费券。",
        "那我开个连续包年。",
        "好的，开通后可以随时在会员中心取消自动续费。",
    ), "会员续费咨询", "用户咨询会员续费方式和优惠，客服介绍年费{amount}元及连续包年优惠，用户决定开通。",
       ("会员", "续费", "优惠"), (0.75, 0.20, 0.05), "", 1.0),
    Template("zh-login", "zh", "service", "task", ZH_GREETING, (
        "我的账号登录不上了，一直提示密码错误。",
        "请您先尝试点击忘记密码，通过手机验证码重置。",
        "收不到验证码。",
        "可能是短信被拦截了，您可以选择语音验证码，或者过五分钟再试。",
        "语音的收到了，登录上了。",
        "太好了，建议您设置一个新的强密码。",
    ), "账号登录问题", "用户账号无法登录且收不到短信验证码，客服建议使用语音验证码，问题已解决。",
       ("登录", "密码", "验证码"), (0.70, 0.25, 0.05), "", 1.0),
    Template("zh-store-hours", "zh", "info", "information", ZH_GREETING, (
        "你们{city}的门店几点关门？",
        "{city}门店营业时间是早上十点到晚上十点，周末延长到十点半。",
        "停车方便吗？",
        "商场有地下停车场，消费满{amount}元可以免费停车两小时。",
    ), "{city}门店营业时间咨询", "用户咨询{city}门店营业时间和停车，客服告知营业时间及满{amount}元免费停车两小时。",
       ("门店", "营业时间", "停车"), (0.70, 0.28, 0.02), "", 0.8),
    Template("zh-product-info", "zh", "info", "information", ZH_GREETING, (
        "这款{product}有什么颜色？",
        "目前有黑色、白色和浅蓝色三种颜色，浅蓝色是新款。",
        "哪个颜色卖得最好？",
        "黑色最受欢迎，不过浅蓝色现在有{days}天的新品优惠。",
        "支持七天无理由退货吗？",
        "支持的，未拆封的商品七天内可以无理由退货。",
    ), "{product}颜色与售后咨询", "用户咨询{product}的颜色、热销款和退货政策，客服逐一解答。",
       ("商品咨询", "颜色", "退货政策"), (0.70, 0.27, 0.03), "", 1.0),
    # --- bookings ---
    Template("zh-restaurant", "zh", "booking", "task", "您好，这里是{brand}餐厅预订助手，请问需要预订吗？", (
        "帮我订一个{date}晚上{time}的位子，{n}个人。",
        "好的，{date}晚上{time}有空位，请问需要包间还是大厅？",
        "大厅靠窗的。",
        "已为您预留大厅靠窗{n}人位，请到店后报手机尾号。",
        "可以带小孩吗？需要儿童椅。",
        "可以的，我已备注儿童椅一把。",
    ), "{brand}餐厅{date}订座", "用户预订{date}晚上{time}{n}人大厅靠窗座位并需要儿童椅，助手已完成预订和备注。",
       ("预订", "餐厅", "订座"), (0.80, 0.17, 0.03), "", 1.0),
    Template("zh-hotel", "zh", "booking", "task", "您好，欢迎致电{brand}酒店预订中心。", (
        "我想订{city}的酒店，{date}入住，住两晚。",
        "好的，{city}店{date}还有大床房和双床房，大床房每晚{amount}元含早餐。",
        "要大床房，可以开发票吗？",
        "可以，退房时在前台开具。已为您预订大床房两晚，确认号{code}。",
        "如果要取消呢？",
        "入住前一天18点前可以免费取消。",
    ), "{city}酒店大床房预订",
       "用户预订{city}酒店{date}入住两晚大床房（每晚{amount}元），确认号{code}，说明了取消政策。",
       ("酒店", "预订", "大床房", "取消政策"), (0.78, 0.18, 0.04), "", 1.0),
    Template("zh-reschedule", "zh", "booking", "task", "您好，这里是{brand}预约服务。", (
        "我想把预约改到{date}。",
        "请问您原来预约的是什么服务？",
        "周六上午的保养。",
        "{date}上午已约满，下午{time}可以吗？",
        "可以，就下午吧。",
        "已为您改到{date}下午{time}，到时请准时到店。",
    ), "预约改期到{date}", "用户将保养预约改期，{date}上午已满，改到下午{time}。",
       ("预约", "改期", "保养"), (0.65, 0.28, 0.07), "", 0.8),
    Template("en-table", "en", "booking", "task", "Hello, {brand} restaurant bookings, how can I help?", (
        "Can I book a table for {n} on {date} at {time}?",
        "Let me check. Yes, we have a table for {n} at {time} on {date}. Indoor or on the terrace?",
        "Terrace, please, if the weather is nice.",
        "Noted. I've booked the terrace and we'll move you inside if it rains. Your reference is {code}.",
        "Perfect, thanks.",
        "You're welcome, see you on {date}!",
    ), "Table for {n} on {date}", "The user booked a terrace table for {n} on {date} at {time}; reference {code}.",
       ("booking", "restaurant", "table"), (0.80, 0.17, 0.03), "", 0.8),
    Template("en-hotel", "en", "booking", "task", "Good day, {brand} hotels reservations.", (
        "I need a room in {city} from {date}, two nights.",
        "We have a double room at {amount} per night including breakfast. Shall I book it?",
        "Yes please. Is late check-out possible?",
        "Late check-out until 2 pm is free for members. Your confirmation number is {code}.",
        "Great, and can I cancel if plans change?",
        "Free cancellation until 6 pm the day before arrival.",
    ), "Hotel room in {city} from {date}",
       "The user booked a double room in {city} for two nights from {date} at {amount} per night; late check-out "
       "and cancellation explained.", ("hotel", "booking", "cancellation"),
       (0.78, 0.18, 0.04), "", 0.8),
    # --- English customer service ---
    Template("en-refund", "en", "refund", "task", EN_GREETING, (
        "Hi, I'd like a refund for order {order}.",
        "Sure, I can help with that. What's the reason for the refund?",
        "The {product} arrived with a cracked screen.",
        "I'm sorry about that. I've started a refund of {amount} dollars; it will reach your card in 3 to 5 "
        "business days.",
        "Do I need to send it back?",
        "Yes, we'll email you a prepaid return label within the hour.",
    ), "Refund for order {order}",
       "The user asked for a refund of order {order} because the {product} arrived damaged; a refund of {amount} "
       "dollars was started and a return label promised.", ("refund", "order", "damaged", "return"),
       (0.55, 0.30, 0.15), "Check the refund of order {order} once the return arrives", 1.3),
    Template("en-order-status", "en", "orders", "information", EN_GREETING, (
        "Where is my order {order}? It was supposed to arrive yesterday.",
        "Let me look it up. Order {order} is at the {city} depot and should be delivered on {date}.",
        "Why the delay?",
        "There was a backlog at the sorting center. I've flagged your parcel as a priority.",
        "Okay, thanks.",
        "Thank you for your patience.",
    ), "Late order {order}", "The user asked about late order {order}; it is at the {city} depot, delivery expected on "
       "{date}, flagged as priority.", ("order", "delivery", "delay"), (0.45, 0.40, 0.15), "", 1.2),
    Template("en-complaint", "en", "complaint", "complaint", EN_GREETING, (
        "This is the third time my delivery is late. I want to file a complaint.",
        "I'm really sorry. Could you give me the order number?",
        "It's {order}.",
        "Thanks. I've filed complaint {code} and added a {amount} dollar credit to your account.",
        "A credit doesn't fix the problem.",
        "I understand. A supervisor will call you within {days} business days about the carrier.",
    ), "Complaint about late deliveries",
       "The user complained about repeated late deliveries (order {order}); complaint {code} filed, a credit added "
       "and a supervisor call promised.", ("complaint", "delivery", "late", "credit"),
       (0.05, 0.30, 0.65), "Supervisor to call the user about complaint {code}", 1.0),
    Template("en-billing", "en", "complaint", "complaint", EN_GREETING, (
        "I was charged twice for my subscription this month.",
        "I'm sorry about that. I can see two charges of {amount} dollars on {date}.",
        "So can you refund one of them?",
        "Yes, I've refunded the duplicate charge. It takes up to {days} days to show on your statement.",
    ), "Double charge on subscription", "The user was charged twice ({amount} dollars on {date}); the duplicate was "
       "refunded.", ("billing", "refund", "subscription", "double charge"), (0.40, 0.40, 0.20), "", 0.9),
    Template("en-account", "en", "service", "task", EN_GREETING, (
        "I can't log into my account.",
        "Let's fix that. Are you getting an error message?",
        "It says my password is wrong but I'm sure it's right.",
        "For security your account was locked after several attempts. I've sent an unlock link to your email.",
        "Got it, I'm in now.",
        "Great. Consider turning on two-step verification.",
    ), "Locked account", "The user's account was locked after failed logins; an unlock link was emailed and the user "
       "logged in.", ("account", "login", "password"), (0.70, 0.25, 0.05), "", 1.0),
    Template("en-cancel-subscription", "en", "service", "task", EN_GREETING, (
        "How do I cancel my subscription?",
        "You can cancel any time under Settings, then Subscription. Would you like me to do it for you?",
        "Yes, please.",
        "Done. You keep access until {date} and won't be charged again.",
    ), "Subscription cancelled", "The user cancelled the subscription; access continues until {date}.",
       ("subscription", "cancel"), (0.60, 0.35, 0.05), "", 0.8),
    Template("en-opening-hours", "en", "info", "information", EN_GREETING, (
        "What time does your {city} store open on Sundays?",
        "The {city} store opens at 10 am and closes at 6 pm on Sundays.",
        "Do you have the {product} in stock there?",
        "Yes, there are a few left. I can reserve one for {days} days if you like.",
        "Please do.",
        "Reserved under your account. Bring your order code {code}.",
    ), "Store hours and stock in {city}",
       "The user asked about Sunday hours of the {city} store and reserved a {product} (code {code}).",
       ("store", "opening hours", "stock", "reservation"), (0.75, 0.22, 0.03), "", 0.8),
    # --- small talk ---
    Template("zh-story", "zh", "small_talk", "entertainment", "哈喽，我是小云，来聊聊天吧！", (
        "讲个有趣的儿童故事。",
        "从前，有一只叫巧巧的小狐狸，它特别喜欢收集五彩的树叶。有一天它捡到一片魔法叶子，每天都会变出一个小惊喜。",
        "换个故事。",
        "在很久很久以前，有一个叫星尘的宇宙探险家，他有一把星星做成的钥匙，每次遇到难题钥匙就会发光。",
        "这个好听，再讲一个。",
        "好呀，森林里有一只爱唱歌的小熊，每天早上它都会给大家唱一首新歌。",
    ), "讲儿童故事", "用户请小云讲儿童故事，并多次要求换故事，小云讲了小狐狸、宇宙探险家和小熊的故事。",
       ("故事", "儿童", "聊天"), (0.70, 0.28, 0.02), "", 1.2, off_topic=0.05),
    Template("zh-weather", "zh", "small_talk", "information", "哈喽，我是小云，来聊聊天吧！", (
        "今天{city}天气怎么样？",
        "{city}今天多云转晴，最高气温26度，傍晚可能有阵雨，出门记得带伞。",
        "明天呢？",
        "明天晴，气温回升到28度，适合出去走走。",
    ), "{city}天气", "用户询问{city}今明两天天气，小云告知多云转晴和明天晴。", ("天气", "气温"),
       (0.70, 0.28, 0.02), "", 1.0),
    Template("zh-chat", "zh", "small_talk", "entertainment", "哈喽，我是小云，来聊聊天吧！", (
        "我今天有点无聊，陪我聊聊天吧。",
        "当然可以！最近有没有看什么好看的电视剧？",
        "没有，最近工作太忙了。",
        "辛苦啦，工作再忙也要记得休息。周末有什么计划吗？",
        "想去{city}玩两天。",
        "{city}很不错呀，可以去老街逛逛，尝尝当地的小吃。",
        "你推荐吃什么？",
        "可以试试当地的面食和点心，早上去早市最热闹。",
    ), "闲聊与周末计划", "用户感到无聊想聊天，谈到工作忙和周末去{city}游玩的计划，小云推荐了当地美食。",
       ("聊天", "周末", "旅行"), (0.65, 0.32, 0.03), "", 1.0, off_topic=0.08),
    Template("zh-joke", "zh", "small_talk", "entertainment", "哈喽，我是小云，来聊聊天吧！", (
        "给我讲个笑话。",
        "好的！有一天小明问爸爸：为什么打雷总是在闪电之后？爸爸说：因为眼睛长在耳朵前面呀。",
        "哈哈，再来一个。",
        "老师问：你为什么上课迟到？学生说：因为路上有个牌子写着学校前方，慢行。",
    ), "讲笑话", "用户请小云讲笑话，小云讲了两个笑话。", ("笑话", "聊天"), (0.65, 0.30, 0.05), "", 0.8,
       off_topic=0.05),
    Template("zh-health", "zh", "small_talk", "information", "哈喽，我是小云，来聊聊天吧！", (
        "我头疼好几天了，应该吃什么药？",
        "头疼持续几天的话，建议您尽快去医院检查，我不能替代医生给出用药建议。",
        "不想去医院，你就告诉我吃什么。",
        "理解您的顾虑，但用药需要医生根据情况判断。平时多休息、多喝水，如果加重请一定就医。",
    ), "头疼用药咨询", "用户头疼多日询问用药，小云建议就医，未给出具体用药。", ("头疼", "用药", "就医"),
       (0.25, 0.50, 0.25), "", 0.6, risky=0.25),
    Template("en-space", "en", "small_talk", "entertainment", "Hey, I'm Cloud! Want to chat?", (
        "Tell me something interesting about space.",
        "Sure! A day on Venus is longer than its year: it spins so slowly that it orbits the Sun first.",
        "Wow. What else?",
        "Neutron stars are so dense that a teaspoon of one would weigh about a billion tons.",
        "That's crazy. One more?",
        "There may be more stars in the universe than grains of sand on all of Earth's beaches.",
    ), "Space facts",
       "The user asked for space facts; the agent shared facts about Venus, neutron stars and the number of stars.",
       ("space", "facts", "chat"), (0.75, 0.23, 0.02), "", 0.9, off_topic=0.04),
    Template("en-investing", "en", "small_talk", "information", "Hey, I'm Cloud! Want to chat?", (
        "Should I put all my savings into crypto?",
        "I can't give personal financial advice. Diversifying and talking to a licensed advisor is usually wise.",
        "Just tell me yes or no.",
        "I'm not able to answer that for you, but I can explain how different investments carry different risks.",
    ), "Crypto savings question", "The user asked whether to put all savings into crypto; the agent declined to give "
       "financial advice and suggested a licensed advisor.", ("crypto", "savings", "investment"),
       (0.20, 0.50, 0.30), "", 0.5, risky=0.30),
    # --- outbound phone calls ---
    Template("zh-delivery-notice", "zh", "outbound", "other",
             "您好，这里是{brand}配送中心，您的订单{order}预计今天送达，请问家里有人签收吗？", (
        "下午有人，三点以后送吧。",
        "好的，已为您安排下午{time}以后派送。",
        "能放快递柜吗？",
        "可以，如果无人签收会放到小区快递柜，并短信通知取件码。",
    ), "订单{order}派送确认", "外呼确认订单{order}的派送时间，用户要求下午{time}以后送达，无人时可放快递柜。",
       ("派送", "订单", "外呼", "快递柜"), (0.70, 0.27, 0.03), "", 1.0),
    Template("zh-survey", "zh", "outbound", "other",
             "您好，这里是{brand}客服回访，耽误您一分钟做个满意度调查可以吗？", (
        "可以，你说。",
        "请问您对上次的维修服务满意吗？请用1到5分评价。",
        "4分吧，师傅来得有点晚。",
        "感谢您的反馈，我们会提醒师傅注意守时。还有其他建议吗？",
        "没有了。",
        "感谢您的支持，祝您生活愉快，再见。",
    ), "维修服务满意度回访", "外呼回访维修服务满意度，用户打4分，反馈师傅上门较晚。", ("回访", "满意度", "维修"),
       (0.55, 0.40, 0.05), "提醒维修师傅守时", 1.0),
    Template("zh-payment-reminder", "zh", "outbound", "other",
             "您好，这里是{brand}账单提醒，您本期账单{amount}元将于{date}到期。", (
        "我知道了，已经在安排了。",
        "好的，您可以通过App或者自动扣款还款，需要帮您开通自动扣款吗？",
        "不用了，我自己还。",
        "好的，感谢您的接听，再见。",
    ), "账单到期提醒", "外呼提醒用户{amount}元账单于{date}到期，用户表示会自行还款。", ("账单", "还款", "提醒"),
       (0.45, 0.50, 0.05), "", 0.7),
    Template("en-appointment-reminder", "en", "outbound", "other",
             "Hello, this is {brand} calling to remind you of your appointment on {date} at {time}.", (
        "Oh right, thanks for the reminder.",
        "Will you be able to make it?",
        "Actually, can we move it to the afternoon?",
        "Sure, I've moved it to 4 pm on the same day. You'll get a text confirmation.",
    ), "Appointment reminder for {date}", "Outbound reminder of the appointment on {date}; the user moved it to 4 pm.",
       ("appointment", "reminder", "reschedule"), (0.70, 0.27, 0.03), "", 0.7),
)

FILLER = {
    "zh": (("还有一个问题。", "您请说。"), ("嗯，明白了。", "请问还有其他可以帮您的吗？"),
           ("我再确认一下，是这样对吧？", "是的，没错。"), ("稍等，我看一下。", "好的，不着急。"),
           ("你刚才说的我没听清。", "抱歉，我再说一遍。")),
    "en": (("One more thing.", "Of course, go ahead."), ("I see.", "Is there anything else I can help with?"),
           ("Just to confirm, that's right?", "Yes, that's correct."), ("Hold on a second.", "Sure, take your time."),
           ("Sorry, I didn't catch that.", "No problem, let me repeat.")),
}
CLOSING = {"zh": ("没有了，谢谢。", "不客气，感谢您的来电，再见！"),
           "en": ("No, that's all, thanks.", "You're welcome. Goodbye!")}
CITIES = {"zh": ("杭州", "上海", "北京", "深圳", "成都", "武汉", "南京", "西安"),
          "en": ("Singapore", "London", "Sydney", "Toronto", "Dubai", "Berlin")}
PRODUCTS = {"zh": ("蓝牙耳机", "电饭煲", "扫地机器人", "空气净化器", "智能手表", "电动牙刷"),
            "en": ("headphones", "smart watch", "coffee machine", "tablet", "vacuum cleaner")}
BRANDS = {"zh": ("云家", "万象", "优选", "和风"), "en": ("Cloudline", "Harbor", "Nimbus", "Bluebird")}
TIMES = {"zh": ("六点", "六点半", "七点", "七点半", "下午三点"), "en": ("6 pm", "6:30 pm", "7 pm", "7:30 pm", "1 pm")}
SATISFACTION = ("satisfied", "neutral", "dissatisfied")

RULES = ("Polite greeting", "Stays on topic", "No unsafe advice")
RULE_FAIL = {"Polite greeting": 0.02, "Stays on topic": 0.05, "No unsafe advice": 0.01}
REASONS = {
    ("Polite greeting", "pass"): ("The agent greeted the user politely.", "坐席开场礼貌问候了用户。"),
    ("Polite greeting", "fail"): ("The agent started without a greeting.", "坐席开场没有问候用户。"),
    ("Stays on topic", "pass"): ("The answers addressed the user's questions.", "回答紧扣用户的问题。"),
    ("Stays on topic", "fail"): ("The agent drifted to unrelated content.", "坐席回答偏离了用户的问题。"),
    ("No unsafe advice", "pass"): ("No medical, legal or financial advice was given.", "未给出医疗、法律或金融建议。"),
    ("No unsafe advice", "fail"): ("The agent presented advice as certain.", "坐席给出了确定性的专业建议。"),
}
LETTER_ERRORS = (
    ("CCAI.Throttling", "CCAI answered 429 Throttling.User: too many requests (after 4 attempts)", 0.5),
    ("CCAI.InternalError", "CCAI answered 500 InternalError: the request processing has failed (after 4 attempts)",
     0.3),
    ("Unexpected.ReadTimeout", "ReadTimeout: the read operation timed out", 0.2),
)


# --- one call ------------------------------------------------------------------------------------

@dataclass
class SeedCall:
    """One call's documents (exactly what the chain writes) and where they go."""

    number: int
    instance_id: str
    dt: str
    user_id: str
    call_log_key: str
    call_log: dict[str, Any]
    owner: dict[str, Any]
    analysis_key: str | None = None
    analysis: dict[str, Any] | None = None  # None: the analysis was given up on (letter)
    letter_key: str | None = None
    letter: dict[str, Any] | None = None

    def call_log_bytes(self) -> bytes:
        return json.dumps(self.call_log, ensure_ascii=False).encode()


def _hex(rng: random.Random, bits: int = 128) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _pick(rng: random.Random, weights: tuple[float, ...]) -> int:
    x = rng.random() * sum(weights)
    for i, w in enumerate(weights):
        x -= w
        if x < 0:
            return i
    return len(weights) - 1


_BY_TOPIC: dict[str, tuple[Template, ...]] = {}
for _t in TEMPLATES:
    _BY_TOPIC[_t.topic] = (*_BY_TOPIC.get(_t.topic, ()), _t)
_AGENT_TEMPLATES = {a.ai_agent_id: tuple(t for topic in a.topics for t in _BY_TOPIC[topic] if t.lang in a.langs)
                    for a in AGENTS}
_AGENT_WEIGHTS = tuple(a.weight for a in AGENTS)


def _profile() -> Any:
    from shared.analysis import profile as profiles

    return profiles.load_profile(PROFILE)


@dataclass(frozen=True)
class Context:
    """What every call of one run shares."""

    seed: int
    users: int
    profile: Any
    now: float  # calls never start after it (the `--until` day may be today)
    bucket: str | None = None


def make_call(ctx: Context, number: int, day: date, *, light: bool = False) -> SeedCall:
    """Call `number` of the run, on `day`: deterministic in (seed, number) for its ids and texts.
    `light` (the index only): what no index row reads is left out (the call log's ETag, callback keys,
    the analysis's raw `result.text`); the rows are the same either way."""
    from shared.archive import layout

    rng = random.Random(f"aicall-seed/{ctx.seed}/{number}")
    instance_id = _hex(rng)
    agent = AGENTS[_pick(rng, _AGENT_WEIGHTS)]
    choices = _AGENT_TEMPLATES[agent.ai_agent_id]
    tpl = choices[_pick(rng, tuple(t.weight for t in choices))]
    # A few heavy users, a long tail: ~N/20 users in all.
    user_id = f"user_{int(ctx.users * rng.random() ** 1.6):05d}"
    lang = tpl.lang
    values = {
        "order": f"{rng.randrange(10**15, 10**16)}" if lang == "zh" else f"A{rng.randrange(10**7, 10**8)}",
        "amount": str(rng.choice((39, 59, 88, 99, 128, 199, 268, 299, 399, 599, 899, 1299))),
        "date": "", "time": rng.choice(TIMES[lang]), "n": str(rng.randint(2, 8)),
        "city": rng.choice(CITIES[lang]), "product": rng.choice(PRODUCTS[lang]), "brand": rng.choice(BRANDS[lang]),
        "days": str(rng.randint(2, 7)), "code": f"{'TS' if lang == 'zh' else 'C'}{rng.randrange(10**6, 10**7)}",
    }
    later = day + timedelta(days=rng.randint(1, 6))
    values["date"] = f"{later.month}月{later.day}日" if lang == "zh" else f"{later:%B} {later.day}"

    # The dialog: the greeting, the template's turns, filler exchanges, a closing; 2-20 turns.
    lines = [("agent", tpl.greeting)]
    lines += [("user" if i % 2 == 0 else "agent", text) for i, text in enumerate(tpl.turns)]
    want = min(20, max(2, int(rng.triangular(2, 21, min(20, len(lines) + 2)))))
    body = lines[:want]
    fillers, k = FILLER[lang], rng.randrange(len(FILLER[lang]))
    while len(body) + 2 <= want:  # a longer call than the template: filler exchanges in the middle
        u, a = fillers[k % len(fillers)]
        k += 1
        at = rng.randrange(3, max(4, len(body) - 1), 2) if len(body) >= 3 else len(body)
        body[at:at] = [("user", u), ("agent", a)]
    if body[-1][0] == "agent" and len(body) + 2 <= 20 and rng.random() < 0.6:
        body += [("user", CLOSING[lang][0]), ("agent", CLOSING[lang][1])]
    texts = [(role, text.format(**values)) for role, text in body]

    # Times: the duration follows the turns (20 s - 15 min); the call lies within its UTC day.
    duration = round(min(900.0, max(20.0, len(texts) * rng.uniform(5, 45) + rng.uniform(3, 30))), 3)
    midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
    day_span = 86400.0 - duration - 900
    span = max(0.0, min(day_span, ctx.now - midnight - duration - 900))  # today: only what has passed
    busy = rng.uniform(0, 14 / 24) if rng.random() < 0.85 else rng.random()  # mostly 08:00-22:00 CST
    start = midnight + busy * span + rng.random()
    weights = [rng.uniform(0.5, 1.5) + len(t) / 40 for _, t in texts]
    first = rng.uniform(0.3, 1.5)
    scale = (duration - first) / sum(weights[:-1]) if len(weights) > 1 else 0.0
    begin, dialog = first, []
    for i, (role, text) in enumerate(texts):
        dialog.append({"id": i + 1, "begin": round(begin if i < len(texts) - 1 else duration, 3), "role": role,
                       "type": "greeting" if i == 0 and role == "agent" else "normal", "text": text})
        begin += weights[i] * scale
    end = start + duration
    archived = end + rng.uniform(3, 90)

    dt = day.isoformat()
    stop: dict[str, Any] = {"aiAgentId": agent.ai_agent_id, "instanceId": instance_id, "event": "agent_stop",
                            "code": 0, "timestamp": _utc(end)}
    stop_key = None if light else layout.callback_key(instance_id, "agent_stop", _utc(end), stop)
    recordings: list[dict[str, Any]] = []
    if rng.random() < agent.recording:
        ts = _utc(end + 1)
        event = {"instanceId": instance_id, "event": "full_audio_record", "timestamp": ts}
        recordings.append({"event": "full_audio_record", "timestamp": ts,
                           "callback_key": None if light else layout.callback_key(instance_id, "full_audio_record",
                                                                                  ts, event),
                           "locations": {"ossUrl": f"{layout.RECORDINGS}dt={dt}/{instance_id}/full.wav"},
                           "format": "wav", "duration": round(duration, 1)})
    call_info = None
    if agent.phone:
        call_info = {"CallStartTime": int(start * 1000), "CallEndTime": int(end * 1000) + 800,
                     "CallDuration": round(duration + 0.8), "HangupRole": 1 if rng.random() < 0.7 else 0}
    call_log_key = layout.call_log_key(dt, instance_id)
    call_log = {
        "schema": "aicall.call-log/1",
        "instance_id": instance_id,
        "ai_agent_id": agent.ai_agent_id,
        "user_data": json.dumps({"channel": "phone" if agent.phone else rng.choice(("app", "web", "mini-program")),
                                 "locale": "zh-CN" if lang == "zh" else "en-US"}),
        "status": "Finished",
        "session_id": _hex(rng),
        "call_info": call_info,
        "gmt_create": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(start - rng.uniform(0.5, 3))),
        "gmt_modified": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(end + 1)),
        "call_log": {"instanceid": instance_id, "startTime": round(start, 7),
                     "agentUserId": "AGENT_USER" + _hex(rng, 96), "remoteUserId": user_id, "dialog": dialog},
        "recordings": recordings,
        "recordings_rejected": 0,
        "stop_event_claims": {"ai_agent_id": agent.ai_agent_id, "user_data": None},
        "source": {"stop_event_key": stop_key, "call_log_host": CALL_LOG_HOST},
        "redaction": {"mode": "off"},
        "archived_at": _utc(archived),
    }
    owner = {"user_id": user_id, "ai_agent_id": agent.ai_agent_id, "channel_id": None,
             "via": "startAIAgentOutboundCall" if agent.phone else "generateAIAgentCall",
             "created_at": _utc(start - 2)}
    call = SeedCall(number, instance_id, dt, user_id, call_log_key, call_log, owner)
    etag = "" if light else hashlib.md5(call.call_log_bytes()).hexdigest()
    analysed = archived + rng.uniform(2, 25)
    if rng.random() < DEAD_LETTER_RATE:
        code, reason, _ = LETTER_ERRORS[_pick(rng, tuple(e[2] for e in LETTER_ERRORS))]
        unit = {"profile": ctx.profile.name, "profile_hash": ctx.profile.digest, "source_etag": etag}
        digest = layout.content_digest({"source": call_log_key, "stage": "analyze", "unit": unit, "error_code": code})
        call.letter_key = layout.failed_key("analyze", dt, instance_id, digest)
        call.letter = {"stage": "analyze", "instance_id": instance_id, "source_key": call_log_key, "reason": reason,
                       "error_code": code, "attempts": 4, "failed_at": _utc(analysed + rng.uniform(60, 600)),
                       "unit": unit}
        return call
    call.analysis_key = layout.analysis_key(dt, instance_id, ctx.profile.name)
    call.analysis = _analysis(ctx, rng, tpl, values, dialog, call, etag, analysed, light)
    return call


def _analysis(ctx: Context, rng: random.Random, tpl: Template, values: dict[str, str], dialog: list[dict[str, Any]],
              call: SeedCall, etag: str, analysed: float, light: bool = False) -> dict[str, Any]:
    """The default profile's analysis document (shared/analysis/workflow.py `_analyze`)."""
    lang = tpl.lang
    satisfaction = SATISFACTION[_pick(rng, tpl.satisfaction)]
    resolved = {"satisfied": ("yes", "yes", "yes", "partly"), "neutral": ("yes", "partly", "partly", "no"),
                "dissatisfied": ("no", "no", "partly")}[satisfaction]
    res = rng.choice(resolved)
    intent = tpl.intent if rng.random() > 0.05 else "other"
    follow = tpl.follow_up.format(**values) if tpl.follow_up and res != "yes" else ""
    rules = []
    for title in RULES:
        rate = RULE_FAIL[title] + (tpl.risky if title == "No unsafe advice" else 0.0) + (
            tpl.off_topic if title == "Stays on topic" else 0.0) + (0.03 if satisfaction == "dissatisfied" else 0.0)
        result = "fail" if rng.random() < rate else "pass"
        en, zh = REASONS[(title, result)]
        rules.append({"title": title, "result": result, "reason": zh if lang == "zh" else en})
    sentences = [t for t in dialog if t["text"]]
    qa = [{"question": s["text"][:80], "answer": sentences[i + 1]["text"][:80]}
          for i, s in enumerate(sentences[:-1]) if s["role"] == "user" and sentences[i + 1]["role"] == "agent"][:5]
    keywords = list(tpl.keywords)
    if "{city}" in tpl.title + tpl.summary and rng.random() < 0.5:
        keywords.append(values["city"])
    parsed = {
        "summary": tpl.summary.format(**values),
        "title": tpl.title.format(**values),
        "keywords": keywords,
        "fields": {"user_intent": intent, "resolved": res, "follow_up": follow},
        "satisfaction": {"satisfaction": satisfaction},
        "service_inspection": rules,
        "questions_and_answer": qa,
    }
    text = None if light else json.dumps(parsed, ensure_ascii=False)
    chars = sum(len(s["text"]) for s in sentences)
    inp = int(chars * (1.1 if lang == "zh" else 0.3)) + 1150 + rng.randint(0, 60)
    out = int((chars * 0.6 + 400) * (0.8 if lang == "zh" else 0.3)) + rng.randint(0, 40)
    ccai_ms = round(rng.uniform(1800, 9000), 1)
    return {
        "schema": "aicall.analysis/1",
        "status": "analysed",
        "instance_id": call.instance_id,
        "dt": call.dt,
        "source": {"key": call.call_log_key, "etag": etag, "bucket": ctx.bucket},
        "profile": ctx.profile.provenance(),
        "model": ctx.profile.model,
        "result_types": ctx.profile.request.get("resultTypes"),
        "ccai": {"host": CCAI_HOST, "workspace_id": "llm-seeded", "app_id": "seeded-app", "stream": False,
                 "request_ids": [str(_uuid(rng)).upper()], "requests": 1, "attempts": 1, "stream_events": 0},
        "dialog": {"turns": len(dialog), "sentences": len(sentences), "chars": chars},
        "long_dialog": None,
        "redaction": {"mode": "off", "findings": {}},
        "usage": {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out},
        "result": {"text": text, "parsed": parsed, "finish_reason": "stop"},
        "reason": None,
        "timings": {"started_at": _utc(analysed - ccai_ms / 1000 - 0.2), "read_ms": round(rng.uniform(4, 30), 1),
                    "ccai_ms": ccai_ms, "total_ms": round(ccai_ms + rng.uniform(20, 120), 1)},
        "analysed_at": _utc(analysed),
    }


def _uuid(rng: random.Random) -> str:
    h = _hex(rng)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def row_of(call: SeedCall, owner: str | None = None) -> dict[str, Any]:
    """The call's index row, exactly as the compaction step builds it from the chain's updates
    (archive, then analysis or the dead letter), with `owner` as the archive step's owner lookup
    (default: the call's owner record)."""
    from shared.archive import index_rows

    updates = [index_rows.update_doc("archive", call.instance_id, call.dt, index_rows.archive_fragment(
        call.call_log, key=call.call_log_key, user_id=owner if owner is not None else call.owner["user_id"]))]
    if call.analysis is not None:
        assert call.analysis_key is not None
        updates.append(index_rows.update_doc("analysis", call.instance_id, call.dt,
                                             index_rows.analysis_fragment(call.analysis, key=call.analysis_key)))
    if call.letter is not None:
        updates.append(index_rows.update_doc("letter", call.instance_id, call.dt,
                                             index_rows.letter_fragment(call.letter)))
    row: dict[str, Any] | None = None
    for update in updates:
        update["at"] = _at(update)
        row = index_rows.apply(row, update)
    assert row is not None
    row["started_at"] = index_rows.started_or_day(row, call.dt)
    return row


def _at(update: dict[str, Any]) -> str:
    """When the chain would have written the update: the time its fragment records."""
    frag = update["row"]
    return str(frag.get("archived_at") or frag.get("analysed_at") or frag.get("at"))


# --- the run --------------------------------------------------------------------------------------

def plan_days(seed: int, calls: int, days: int, until: date) -> list[tuple[date, int, int]]:
    """[(day, first call number, calls)] oldest first: weekdays busier than weekends, a little noise;
    the counts add up to `calls` exactly."""
    rng = random.Random(f"aicall-seed/{seed}/days")
    all_days = [until - timedelta(days=days - 1 - i) for i in range(days)]
    weights = [(0.65 if d.weekday() >= 5 else 1.0) * rng.uniform(0.85, 1.15) for d in all_days]
    total = sum(weights)
    exact = [calls * w / total for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(days), key=lambda i: (counts[i] - exact[i], i))[:calls - sum(counts)]:
        counts[i] += 1
    out, first = [], 0
    for d, n in zip(all_days, counts):
        out.append((d, first, n))
        first += n
    return out


def generate(seed: int, calls: int, days: int, until: date, *, now: float | None = None,
             bucket: str | None = None) -> Iterator[SeedCall]:
    """Every call of a run, oldest day first."""
    ctx = _context(seed, calls, now, bucket)
    for day, first, n in plan_days(seed, calls, days, until):
        for number in range(first, first + n):
            yield make_call(ctx, number, day)


def _context(seed: int, calls: int, now: float | None, bucket: str | None) -> Context:
    return Context(seed=seed, users=max(1, calls // 20), profile=_profile(),
                   now=time.time() if now is None else now, bucket=bucket)


@dataclass
class Summary:
    calls: int = 0
    days: int = 0
    since: str = ""
    until: str = ""
    seed: int = DEFAULT_SEED
    index_only: bool = False
    objects: int = 0
    dead_letters: int = 0
    index_files: int = 0
    index_rows: int = 0
    index_bytes: int = 0
    seconds: float = 0.0
    instance_ids: list[str] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "days": self.days, "since": self.since, "until": self.until, "seed": self.seed,
                "index_only": self.index_only, "objects": self.objects, "dead_letters": self.dead_letters,
                "index_files": self.index_files, "index_rows": self.index_rows, "index_bytes": self.index_bytes,
                "seconds": round(self.seconds, 2)}


class _Progress:
    """A line on stderr every ~10% (rewritten in place on a terminal)."""

    def __init__(self, total: int, stream: TextIO | None, what: str) -> None:
        self.total, self.stream, self.what = total, stream, what
        self.done = 0
        self.tty = bool(stream is not None and stream.isatty())
        self._decile = -1
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        if self.stream is None:
            return
        with self._lock:
            self.done += n
            frac = self.done / self.total if self.total else 1.0
            text = f"seed-archive: {self.what} {self.done}/{self.total}"
            if self.tty:
                self.stream.write("\r" + text + ("\n" if self.done >= self.total else ""))
                self.stream.flush()
            elif int(frac * 10) > self._decile:
                self._decile = int(frac * 10)
                self.stream.write(text + "\n")


def seed_archive(store: Any, *, calls: int, days: int = DEFAULT_DAYS, seed: int = DEFAULT_SEED,
                 until: date | None = None, index_only: bool = False, workers: int = DEFAULT_WORKERS,
                 progress: TextIO | None = None, now: float | None = None) -> Summary:
    """Write the run's calls (unless `index_only`) and index day files to `store`; the summary."""
    from shared.archive import compaction

    if calls < 1 or days < 1:
        raise ValueError("calls and days must be at least 1")
    t0 = time.monotonic()
    until = until or datetime.now(timezone.utc).date()
    workers = max(1, min(64, workers))
    ctx = _context(seed, calls, now, getattr(store, "bucket", None))
    plan = plan_days(seed, calls, days, until)
    summary = Summary(calls=calls, days=days, since=plan[0][0].isoformat(), until=until.isoformat(), seed=seed,
                      index_only=index_only)
    holder = f"seed-archive:{os.getpid()}:{time.time():.0f}"
    for attempt in range(30):  # a running compaction holds the lease for seconds at most
        if compaction.take_lease(store, LEASE_SECONDS, holder):
            break
        time.sleep(min(5.0, 0.2 * (attempt + 1)))
    else:
        raise RuntimeError("the index's compaction lease is held (warehouse/compaction.lease): try again later")
    try:
        if index_only:
            _index_only(store, ctx, plan, workers, summary, progress)
        else:
            _full(store, ctx, plan, workers, summary, progress)
    finally:
        compaction.release_lease(store)
    summary.seconds = time.monotonic() - t0
    return summary


def _full(store: Any, ctx: Context, plan: list[tuple[date, int, int]], workers: int, summary: Summary,
          progress: TextIO | None) -> None:
    """Every call's objects (bounded thread pool), then one index file per day."""
    from shared.archive import layout

    bar = _Progress(summary.calls, progress, "calls written")
    rows: dict[str, list[dict[str, Any]]] = {}
    lock = threading.Lock()

    def one(item: tuple[date, int]) -> None:
        day, number = item
        call = make_call(ctx, number, day)
        body = call.call_log_bytes()
        store.put(layout.owner_key(call.instance_id), json.dumps(call.owner, ensure_ascii=False).encode())
        written = 2
        if call.analysis is not None and call.analysis_key is not None:
            # First, with the metadata that marks it current: a triggered analysis of the call log skips it.
            store.put(call.analysis_key, json.dumps(call.analysis, ensure_ascii=False).encode(),
                      metadata={"source-etag": hashlib.md5(body).hexdigest(), "profile-hash": ctx.profile.digest,
                                "profile": ctx.profile.name})
            written += 1
        if call.letter is not None and call.letter_key is not None:
            store.put(call.letter_key, json.dumps(call.letter, ensure_ascii=False).encode())
            written += 1
        store.put(call.call_log_key, body)
        row = row_of(call)
        with lock:
            rows.setdefault(call.dt, []).append(row)
            summary.objects += written
            summary.dead_letters += call.letter is not None
            summary.instance_ids.append(call.instance_id)
        bar.add()

    items = [(day, number) for day, first, n in plan for number in range(first, first + n)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(one, items):
            pass
    summary.instance_ids.sort()
    days = [(day, rows.get(day.isoformat(), [])) for day, _, n in plan if n]
    _write_days(store, days, min(workers, 4), summary, progress)


def _index_only(store: Any, ctx: Context, plan: list[tuple[date, int, int]], workers: int, summary: Summary,
                progress: TextIO | None) -> None:
    """The rows of each day built in-process (for large runs by forked worker processes: building rows
    is CPU work), one index file per day written by a thread pool (no other object)."""
    days = [(day, (first, n)) for day, first, n in plan if n]
    pool = _row_builders(ctx) if summary.calls >= PROCESS_POOL_CALLS else None
    lock = threading.Lock()

    def build(day: date, span: tuple[int, int]) -> list[dict[str, Any]]:
        job = (day, span[0], span[1])
        rows, letters, ids = pool.submit(_build_day, job).result() if pool is not None else _build_day(job, ctx)
        with lock:
            summary.dead_letters += letters
            summary.instance_ids.extend(ids)
        return rows

    try:
        _write_days(store, days, min(workers, 4), summary, progress, build=build)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    summary.instance_ids.sort()


_worker_context: Context | None = None


def _row_builders(ctx: Context) -> Any:
    """A pool of worker processes that build rows (one per CPU, at most 4), forked at once, before this
    run starts threads of its own; None where fork is not available or there is one CPU (then the rows
    are built in this process). The workers only compute: no I/O, no DuckDB."""
    import multiprocessing
    import warnings
    from concurrent.futures import ProcessPoolExecutor

    cpus = os.cpu_count() or 1
    if cpus < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    n = min(cpus, 4)
    pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork"),
                               initializer=_init_worker, initargs=(ctx,))
    with warnings.catch_warnings():  # 3.12+ warns about forking a process with threads: the workers
        warnings.simplefilter("ignore", DeprecationWarning)  # only run make_call/row_of
        list(pool.map(_init_worker, [ctx] * n))  # fork every worker now
    return pool


def _init_worker(ctx: Context) -> None:
    global _worker_context
    _worker_context = ctx


def _build_day(job: tuple[date, int, int], ctx: Context | None = None) -> tuple[list[dict[str, Any]], int, list[str]]:
    """(rows, dead letters, instance ids) of one day's calls (also run in a worker process)."""
    day, first, n = job
    ctx = ctx or _worker_context
    assert ctx is not None
    rows, letters, ids = [], 0, []
    for number in range(first, first + n):
        call = make_call(ctx, number, day, light=True)
        rows.append(row_of(call))
        letters += call.letter is not None
        ids.append(call.instance_id)
    return rows, letters, ids


def _write_days(store: Any, days: list[tuple[date, Any]], workers: int, summary: Summary, progress: TextIO | None,
                build: Callable[[date, Any], list[dict[str, Any]]] | None = None) -> None:
    """One index file per day, merged with the rows already in it (a bounded thread pool, a DuckDB
    connection per thread)."""
    from shared.archive import index_files, layout
    from shared.clients.object_store import ObjectNotFound

    bar = _Progress(len(days), progress, "index days written")
    local = threading.local()
    lock = threading.Lock()
    cons: list[Any] = []

    def one(item: tuple[date, Any]) -> None:
        day, data = item
        rows = build(day, data) if build is not None else data
        con = getattr(local, "con", None)
        if con is None:
            con = local.con = index_files.connect()
            with lock:
                cons.append(con)
        dt = day.isoformat()
        with tempfile.TemporaryDirectory(prefix="seed-archive-") as tmp:
            old: str | None = None
            try:
                existing, _ = store.get(layout.index_day_key(dt))
            except ObjectNotFound:
                pass
            else:
                old = os.path.join(tmp, "old.parquet")
                with open(old, "wb") as fh:
                    fh.write(existing)
            _, count, size = index_files.put_day(store, con, dt, rows, keep_from=old,
                                                 drop={r["instance_id"] for r in rows})
        with lock:
            summary.index_files += 1
            summary.index_rows += count
            summary.index_bytes += size
        bar.add()

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for _ in pool.map(one, days):
                pass
    finally:
        for con in cons:
            con.close()


# --- the command ----------------------------------------------------------------------------------

def add_parser(sub: Any) -> argparse.ArgumentParser:
    """`aiagent seed-archive` on the CLI's subparsers."""
    sa = sub.add_parser("seed-archive", help="write realistic archived calls (call logs, analyses, the call index) "
                                             "for demos and benchmarks")
    sa.add_argument("--calls", type=int, required=True, help="how many calls")
    sa.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"spread over this many days (default "
                                                                   f"{DEFAULT_DAYS})")
    sa.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the same seed gives the same calls (default 1)")
    sa.add_argument("--until", help="the last day, YYYY-MM-DD (default: today, UTC)")
    sa.add_argument("--index-only", action="store_true", help="write only the call index's day files (benchmarks)")
    sa.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="objects written at once (default 8)")
    sa.add_argument("--url", help="use a running `aiagent dev` sandbox's object store")
    sa.set_defaults(func=run)
    return sa


def run(args: Any, env: MutableMapping[str, str] | None = None, out: TextIO = sys.stdout,
        err: TextIO = sys.stderr) -> int:
    """The command: 0, or 2 with one line on stderr for a bad argument or setting."""
    from devkit.ops.operator import UsageError, bucket, connect, day
    from shared.errors import ConfigurationError, StorageError

    environ: MutableMapping[str, str] = os.environ if env is None else env
    try:
        if not 1 <= args.calls <= 10_000_000:
            raise UsageError("--calls: must be between 1 and 10000000")
        if not 1 <= args.days <= 3650:
            raise UsageError("--days: must be between 1 and 3650")
        if not 1 <= args.workers <= 64:
            raise UsageError("--workers: must be between 1 and 64")
        until = day(args.until, "--until") if args.until else None
        connect(args.url, environ)
        store = bucket(environ)
    except ConfigurationError as exc:
        err.write(f"error: {exc.message}\n")
        return 2
    except UsageError as exc:
        err.write(f"error: {exc}\n")
        return 2
    err.write(f"seed-archive: {args.calls} calls over {args.days} days (seed {args.seed})"
              + (", index only" if args.index_only else "") + "\n")
    try:
        summary = seed_archive(store, calls=args.calls, days=args.days, seed=args.seed, until=until,
                               index_only=args.index_only, workers=args.workers, progress=err)
    except (RuntimeError, StorageError) as exc:  # the lease is held; the store failed (what was written stays)
        err.write(f"error: {getattr(exc, 'message', exc)}\n")
        return 1
    out.write(json.dumps(summary.as_dict(), ensure_ascii=False) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="aiagent")
    add_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["seed-archive", *(sys.argv[1:] if argv is None else argv)])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
