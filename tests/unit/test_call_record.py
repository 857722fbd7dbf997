"""shared.archive.record: the call log reconciled with the chat_record callbacks, audio linked to
its turns, and the call's latency figures."""
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.archive import record as rec

SAMPLES = Path("/work/shared/spec/samples")
START = datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone.utc)
T0 = START.timestamp()
BUCKET = "aicall-archive"

# (role, text, begin in seconds from the start)
CONVERSATION = [
    ("agent", "您好，这里是小云客服，请问有什么可以帮您？", 0.5),
    ("user", "我的快递怎么还没到？", 4.0),
    ("agent", "请提供一下您的订单号。", 7.0),
    ("user", "订单号是12345。", 11.0),
    ("agent", "好的，已为您查询，预计明天送达，再见！", 15.0),
]


def stamp(seconds: float) -> str:
    t = START + timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def event(kind, at, data=None, extend=None, **extra):
    ev = {"aiAgentId": "agent-1", "instanceId": "inst-1", "event": kind, "code": 0, "message": "",
          "timestamp": stamp(at), "userData": "{}", "data": data if data is not None else {},
          "extendData": extend if extend is not None else {}}
    ev.update(extra)
    return ev


def call_log(turns=CONVERSATION, ids=None):
    ids = ids or range(1, len(turns) + 1)
    return {"instanceid": "inst-1", "startTime": T0, "agentUserId": "AGENT_1", "remoteUserId": "u-1",
            "dialog": [{"id": i, "begin": begin, "role": role, "type": "greeting" if i == 1 else "normal",
                        "text": text} for i, (role, text, begin) in zip(ids, turns)]}


def ice_chat(n, role, text, at, *, delay=1.5, sentence=True, dialogue=True):
    """ICE's shape: data.dialogues (time in epoch ms), extendData.sentenceId."""
    d = {"roundId": f"r{n}", "producer": role, "text": text, "reasoningText": "",
         "time": int((T0 + at + delay) * 1000), "source": "call", "type": "normal"}
    if dialogue:
        d["dialogueId"] = f"d-{n}"
    extend = {"channelId": "ch-1", **({"sentenceId": n} if sentence else {})}
    return event("chat_record", at + delay, {"dialogues": [d]}, extend)


def sim_chat(n, role, text, at, *, sentence=True):
    """The simulator's shape (devkit/sandbox/simulate_call.py): data {role, text, sentenceId}."""
    return event("chat_record", at, {"role": role, "text": text, **({"sentenceId": n} if sentence else {})})


def sources(result):
    return [t["source"] for t in result["turns"]]


# --- the call log lost the last turn at hang-up ------------------------------------------------------

def test_last_turn_lost_from_the_call_log_is_kept_and_the_call_is_complete():
    log = call_log(CONVERSATION[:4])  # the agent's goodbye never reached the call log
    events = [event("agent_start", 0.0)] + [ice_chat(i + 1, r, x, b) for i, (r, x, b) in enumerate(CONVERSATION)] \
        + [event("agent_stop", 17.5)]
    out = rec.reconcile(log, events, T0)
    assert sources(out) == ["both", "both", "both", "both", "chat_record"]
    last = out["turns"][-1]
    assert last["role"] == "agent" and last["text"] == CONVERSATION[4][1]
    assert last["id"] == "d-5" and last["sentence_id"] == 5 and last["begin"] == 16.5  # chat time - start
    assert [t["id"] for t in out["turns"][:4]] == [1, 2, 3, 4]
    assert [t.get("sentence_id") for t in out["turns"][:4]] == [1, 2, 3, 4]
    c = out["completeness"]
    assert c["verdict"] == "complete" and c["reason"] is None
    assert c["missing"] == [{"side": "call_log", "turn": 4, "role": "agent",
                             "reason": "lost from the call log at hang-up"}]
    assert (c["call_log_turns"], c["chat_record_turns"]) == (4, 5)


def test_a_turn_missing_in_the_middle_of_the_call_log_is_not_a_hang_up_loss():
    log = call_log([CONVERSATION[i] for i in (0, 1, 3, 4)])
    events = [sim_chat(i + 1, r, x, b, sentence=False) for i, (r, x, b) in enumerate(CONVERSATION)]
    out = rec.reconcile(log, events, T0)
    assert sources(out) == ["both", "both", "chat_record", "both", "both"]
    assert out["completeness"]["verdict"] == "complete"
    assert out["completeness"]["missing"] == [{"side": "call_log", "turn": 2, "role": "agent",
                                               "reason": "absent from the call log"}]


# --- lost on both sides -------------------------------------------------------------------------------

def conversation_without_the_answer():
    log = call_log(CONVERSATION[:4])
    chats = [ice_chat(i + 1, r, x, b) for i, (r, x, b) in enumerate(CONVERSATION[:4])]
    return log, chats


def test_an_answer_both_sides_lack_makes_the_call_incomplete():
    log, chats = conversation_without_the_answer()
    # The user's last turn was understood, the LLM and the TTS began the answer, the call went on
    # for ten more seconds: the answer was spoken, yet neither the call log nor a chat record has it.
    events = chats + [event("intent_recognized", 12.6), event("llm_data_received", 13.0),
                      event("tts_data_received", 13.4), event("agent_stop", 23.4)]
    out = rec.reconcile(log, events, T0)
    assert sources(out) == ["both"] * 4
    c = out["completeness"]
    assert c["verdict"] == "incomplete"
    assert c["missing"] == [{"side": "both", "turn": None, "after": 3, "role": "agent", "reason": c["reason"]}]
    assert "neither side recorded it" in c["reason"]


def test_no_answer_and_a_long_silence_before_the_stop_is_incomplete():
    log, chats = conversation_without_the_answer()
    out = rec.reconcile(log, chats + [event("intent_recognized", 12.6), event("agent_stop", 40.0)], T0)
    assert out["completeness"]["verdict"] == "incomplete"
    assert "no agent answer on either side" in out["completeness"]["reason"]


def test_a_user_who_hangs_up_right_after_speaking_leaves_a_complete_call():
    log, chats = conversation_without_the_answer()
    for tail in ([event("agent_stop", 14.0)],
                 # the answer began, but the call ended before it could be spoken
                 [event("llm_data_received", 13.0), event("tts_data_received", 13.4), event("agent_stop", 14.0)]):
        out = rec.reconcile(log, chats + tail, T0)
        assert out["completeness"]["verdict"] == "complete", tail
        assert out["completeness"]["missing"] == []


def test_a_sentence_id_no_turn_has_is_a_gap_on_both_sides():
    log, chats = conversation_without_the_answer()
    audio = event("audio_record", 60.0, {"role": "agent", "ossUrl": f"oss://{BUCKET}/recordings/inst-1/9.wav",
                                         "duration": 1800, "format": "wav"}, {"sentenceId": 9})
    out = rec.reconcile(log, chats + [audio], T0)
    c = out["completeness"]
    assert c["verdict"] == "incomplete"
    assert c["missing"] == [{"side": "both", "turn": None, "after": 3, "role": "agent", "sentence_id": 9,
                             "reason": "audio_record sentence 9 (agent) has no turn on either side"}]
    # the same audio with a sentence id a turn has is no gap
    audio["extendData"] = {"sentenceId": 3}
    assert rec.reconcile(log, chats + [audio], T0)["completeness"]["verdict"] == "complete"


def test_no_call_log_is_incomplete():
    chats = [ice_chat(i + 1, r, x, b) for i, (r, x, b) in enumerate(CONVERSATION)]
    out = rec.reconcile(None, chats, T0)
    assert sources(out) == ["chat_record"] * 5
    assert out["completeness"]["verdict"] == "incomplete"
    assert out["completeness"]["missing"] == [{"side": "call_log", "turn": None, "role": None,
                                               "reason": "no call log"}]


# --- sparse chat records ------------------------------------------------------------------------------

def test_turns_only_in_the_call_log_leave_the_call_complete():
    log = call_log()
    chats = [sim_chat(n, *CONVERSATION[n - 1][:2], CONVERSATION[n - 1][2] + 1.0) for n in (2, 4)]
    out = rec.reconcile(log, chats, T0)
    assert sources(out) == ["call_log", "both", "call_log", "both", "call_log"]
    assert [t["id"] for t in out["turns"]] == [1, 2, 3, 4, 5]
    c = out["completeness"]
    assert c["verdict"] == "complete"
    assert [(m["side"], m["turn"], m["reason"]) for m in c["missing"]] == [
        ("chat_records", 0, "no chat record for this turn"),
        ("chat_records", 2, "no chat record for this turn"),
        ("chat_records", 4, "lost from the chat records at hang-up"),
    ]
    # no chat records at all: nothing to compare, nothing listed
    out = rec.reconcile(log, [event("agent_start", 0), event("agent_stop", 20)], None)  # start: the log's
    assert sources(out) == ["call_log"] * 5 and out["completeness"]["missing"] == []
    assert out["completeness"]["verdict"] == "complete"
    assert out["turns"][1]["time"] == stamp(4.0)


# --- duplicates -----------------------------------------------------------------------------------------

def test_duplicates_never_appear_twice():
    log = call_log()
    chats = [ice_chat(i + 1, r, x, b) for i, (r, x, b) in enumerate(CONVERSATION)]
    redelivered = [dict(c) for c in chats]  # ICE retried every callback: the same content again
    streamed = ice_chat(5, "agent", "好的，已为您查询", 14.0)  # a partial version of the same dialogue d-5
    events = chats + redelivered + [streamed] + chats[::-1]
    assert len(rec.chat_turns(events)) == 5
    # the final (longest) text of d-5 is the one kept
    assert [t["text"] for t in rec.chat_turns(events) if t["dialogue_id"] == "d-5"] == [CONVERSATION[4][1]]
    out = rec.reconcile(log, events, T0)
    assert sources(out) == ["both"] * 5 and out["completeness"]["missing"] == []
    # the same again with the call log missing its last turn: the chat-only turn appears once too
    out = rec.reconcile(call_log(CONVERSATION[:4]), events, T0)
    assert sources(out) == ["both"] * 4 + ["chat_record"]


def test_redelivered_records_without_ids_appear_once():
    # the simulator's shape without ids, every record sent twice: once more one second later, with
    # different punctuation (a re-sent record is one record when role and text agree within 2 s)
    chats = [sim_chat(None, r, x, b + 0.5, sentence=False) for r, x, b in CONVERSATION]
    again = [sim_chat(None, r, x.replace("，", ",").rstrip("。！？"), b + 1.5, sentence=False)
             for r, x, b in CONVERSATION]
    events = chats + again + chats
    assert len(rec.chat_turns(events)) == 5
    assert sources(rec.reconcile(call_log(), events, T0)) == ["both"] * 5
    out = rec.reconcile(call_log(CONVERSATION[:3]), events, T0)
    assert sources(out) == ["both"] * 3 + ["chat_record"] * 2
    assert [m["reason"] for m in out["completeness"]["missing"]] == ["lost from the call log at hang-up"] * 2
    # a user who really says the same thing twice, 10 s apart, said it twice
    twice = [sim_chat(None, "user", "喂？", 1.0, sentence=False), sim_chat(None, "user", "喂？", 11.0, sentence=False)]
    assert len(rec.chat_turns(twice)) == 2


def test_a_duplicated_call_log_entry_appears_once():
    log = call_log()
    log["dialog"].insert(2, dict(log["dialog"][1]))
    out = rec.reconcile(log, [], T0)
    assert [t["id"] for t in out["turns"]] == [1, 2, 3, 4, 5]


# --- Chinese text ------------------------------------------------------------------------------------

def test_normalised_text_ignores_width_case_whitespace_and_punctuation():
    assert rec.normalise_text("您好，这里是小云客服！") == rec.normalise_text("您好,这里是小云客服!") == "您好这里是小云客服"
    assert rec.normalise_text("订单号：ＡＢＣ１２３。") == "订单号abc123"
    assert rec.normalise_text(" 「好的」…… 再见～ ") == "好的再见"
    assert rec.normalise_text(None) == ""


def test_chinese_turns_match_by_text_despite_punctuation_and_interruptions():
    log = call_log()
    # No ids, and chat times 20 s away from the call log's (outside the time window): only text can match.
    variants = ["您好,这里是小云客服 请问有什么可以帮您?", "我的快递怎么还没到", "请提供一下您的订单号.",
                "订单号是 12345", "好的，已为您查询"]  # the last one interrupted: a prefix of the log's turn
    chats = [sim_chat(None, r, v, b + 20.0, sentence=False) for (r, _, b), v in zip(CONVERSATION, variants)]
    out = rec.reconcile(log, chats, T0)
    assert sources(out) == ["both"] * 5
    assert [t["text"] for t in out["turns"]] == [x for _, x, _ in CONVERSATION]  # the call log's texts
    assert out["completeness"]["missing"] == []
    # a different sentence of the same role does not match on text
    other = [sim_chat(None, "user", "我要投诉", 24.0, sentence=False)]
    assert sources(rec.reconcile(log, other, T0)).count("chat_record") == 1


def test_turns_match_by_time_when_ids_and_texts_differ():
    log = call_log()
    # the chat records' texts differ from the call log's (different ASR results), times are close
    chats = [sim_chat(None, "user", "我的快递怎么还么到", 4.8, sentence=False),
             sim_chat(None, "user", "订单好是一二三四五", 11.5, sentence=False)]
    out = rec.reconcile(log, chats, T0)
    assert sources(out) == ["call_log", "both", "call_log", "both", "call_log"]


def test_the_simulators_chat_records_match_the_call_log_by_id():
    from devkit.sandbox.simulate_call import call_events

    events = call_events("inst-1", 4, start=START)
    chats = [e for e in events if e["event"] == "chat_record"]
    # the simulator's call log: sorted chat records, begin = time - start, ids 1..n
    log = {"instanceid": "inst-1", "startTime": T0, "dialog": [
        {"id": i + 1, "begin": rec._epoch(e["timestamp"]) - T0, "role": e["data"]["role"], "type": "normal",
         "text": e["data"]["text"]} for i, e in enumerate(chats[:3])]}  # the last one lost at hang-up
    out = rec.reconcile(log, events, None)
    assert sources(out) == ["both", "both", "both", "chat_record"]
    assert out["turns"][-1]["id"] == 4 and out["turns"][-1]["sentence_id"] == 4
    assert out["completeness"]["missing"][0]["reason"] == "lost from the call log at hang-up"


# --- audio --------------------------------------------------------------------------------------------

def test_audio_is_linked_by_sentence_id():
    log = call_log(CONVERSATION[:4])
    chats = [ice_chat(i + 1, r, x, b) for i, (r, x, b) in enumerate(CONVERSATION)]
    turns = rec.reconcile(log, chats, T0)["turns"]
    audio = [
        # far from its turn in time, and with another role's turn nearer: the sentence id decides
        event("audio_record", 9.0, {"role": "user", "text": "订单号是12345。", "ossUrl":
              f"https://{BUCKET}.oss-cn-shanghai.aliyuncs.com/recordings/inst-1/sentence_4_user.wav",
              "duration": 2310, "format": "wav"}, {"channelId": "ch-1", "sentenceId": 4}),
        event("audio_record", 17.0, {"role": "agent", "recordPath": "recordings/inst-1/sentence_5_agent.mp3",
                                     "duration": 3000}, json.dumps({"sentenceId": 5})),
        event("full_audio_record", 18.0, {"ossUrl": f"oss://{BUCKET}/recordings/inst-1/full.wav",
                                          "duration": 18000, "format": "wav"}),
    ]
    links = rec.link_audio(turns, audio, bucket=BUCKET)
    assert [(a["event"], a["turn_id"], a["kind"], a["linked_by"]) for a in links] == [
        ("audio_record", 4, "sentence", "sentence_id"),
        ("audio_record", "d-5", "sentence", "sentence_id"),  # the turn only the chat records had
        ("full_audio_record", None, "call", None),
    ]
    assert links[0] == {"event": "audio_record", "role": "user", "turn_id": 4, "kind": "sentence",
                        "location": audio[0]["data"]["ossUrl"], "key": "recordings/inst-1/sentence_4_user.wav",
                        "duration_ms": 2310, "format": "wav", "timestamp": stamp(9.0), "sentence_id": 4,
                        "linked_by": "sentence_id"}
    assert (links[1]["location"], links[1]["key"], links[1]["format"]) == \
        ("recordings/inst-1/sentence_5_agent.mp3", "recordings/inst-1/sentence_5_agent.mp3", "mp3")
    assert links[2]["key"] == "recordings/inst-1/full.wav" and links[2]["duration_ms"] == 18000
    # another bucket's URL is kept as a location, without a key
    other = event("audio_record", 9.0, {"role": "user", "url": "https://elsewhere.example.com/a.wav"},
                  {"sentenceId": 4})
    assert rec.link_audio(turns, [other], bucket=BUCKET)[0]["key"] is None


def test_audio_without_ids_is_linked_by_role_and_time():
    turns = rec.reconcile(call_log(), [], T0)["turns"]  # the call log alone: no sentence ids
    audio = [
        event("audio_record", 12.4, {"role": "user", "ossUrl": f"oss://{BUCKET}/recordings/a.wav"}),   # -> 4 (11.0)
        event("audio_record", 6.0, {"role": "agent", "ossUrl": f"oss://{BUCKET}/recordings/b.wav"}),   # -> 3 (7.0)
        event("audio_record", 300.0, {"role": "user", "ossUrl": f"oss://{BUCKET}/recordings/c.wav"}),  # too far
        event("audio_record", 5.0, {"role": "user", "text": "订单号是12345", "ossUrl":
                                    f"oss://{BUCKET}/recordings/d.wav"}),  # its text names turn 4
    ]
    links = {a["location"].rsplit("/", 1)[-1]: (a["turn_id"], a["linked_by"])
             for a in rec.link_audio(turns, audio, bucket=BUCKET)}
    assert links == {"a.wav": (4, "time"), "b.wav": (3, "time"), "c.wav": (None, None), "d.wav": (4, "text")}


# --- timings ----------------------------------------------------------------------------------------

# Seconds from START. Per intent_recognized (a user turn understood), the first llm_data_received and
# tts_data_received after it and before the next intent:
#   intent 1 @ 4.000:  llm 4.620 ->  620 ms, tts  5.000 -> 1000 ms
#   intent 2 @ 11.000: llm 11.450 -> 450 ms, tts 11.800 ->  800 ms
#   intent 3 @ 20.000: llm 21.300 -> 1300 ms, tts 21.900 -> 1900 ms
#   intent 4 @ 30.000: llm 30.380 -> 380 ms, no tts -> None
#   intent 5 @ 40.000: tts 40.500 before llm 40.700: llm 700 ms, tts out of order -> None
#   intent 6 @ 50.000: nothing -> None, None
# llm_ms: [620, 450, 1300, 380, 700] sorted [380, 450, 620, 700, 1300], n = 5
#   nearest rank: p50 -> rank ceil(0.50 * 5) = 3 -> 620; p95 -> rank ceil(0.95 * 5) = 5 -> 1300; max 1300
# tts_ms: [1000, 800, 1900] sorted [800, 1000, 1900], n = 3
#   p50 -> rank ceil(0.50 * 3) = 2 -> 1000; p95 -> rank ceil(0.95 * 3) = 3 -> 1900; max 1900
# duration: agent_stop 60.500 - agent_start 0.000 = 60.5 s
LATENCY_EVENTS = [
    event("agent_start", 0.0),
    event("intent_recognized", 4.0), event("llm_data_received", 4.62), event("tts_data_received", 5.0),
    event("intent_recognized", 11.0), event("llm_data_received", 11.45), event("tts_data_received", 11.8),
    event("intent_recognized", 20.0), event("llm_data_received", 21.3), event("tts_data_received", 21.9),
    event("intent_recognized", 30.0), event("llm_data_received", 30.38),
    event("intent_recognized", 40.0), event("tts_data_received", 40.5), event("llm_data_received", 40.7),
    event("intent_recognized", 50.0),
    event("agent_stop", 60.5),
]


def test_latency_figures_equal_those_computed_by_hand():
    out = rec.timings(LATENCY_EVENTS, None, [])
    assert [(t["after"], t["llm_ms"], t["tts_ms"]) for t in out["turns"]] == [
        (stamp(4.0), 620, 1000), (stamp(11.0), 450, 800), (stamp(20.0), 1300, 1900),
        (stamp(30.0), 380, None), (stamp(40.0), 700, None), (stamp(50.0), None, None)]
    assert out["llm_ms"] == {"p50": 620, "p95": 1300, "max": 1300, "count": 5}
    assert out["tts_ms"] == {"p50": 1000, "p95": 1900, "max": 1900, "count": 3}
    assert (out["duration_s"], out["duration_source"], out["hangup_role"]) == (60.5, "events", None)
    shuffled = LATENCY_EVENTS[:]
    random.Random(7).shuffle(shuffled)
    assert rec.timings(shuffled + LATENCY_EVENTS[:3], None, []) == out  # order and re-deliveries do not matter


def test_latency_turns_point_at_the_user_turns():
    turns = rec.reconcile(call_log(), [], T0)["turns"]
    out = rec.timings([event("intent_recognized", 5.5), event("llm_data_received", 6.0),
                       event("intent_recognized", 12.0), event("llm_data_received", 12.5)], None, turns)
    assert [t["turn_id"] for t in out["turns"]] == [2, 4]


def test_latency_with_sentence_ids_out_of_order_is_none():
    events = [event("intent_recognized", 10.0, {}, {"sentenceId": 7}),
              event("llm_data_received", 9.5, {}, {"sentenceId": 7}),   # before its intent
              event("tts_data_received", 10.9, {}, {"sentenceId": 7}),
              event("intent_recognized", 20.0, {}, {"sentenceId": 8}),
              event("llm_data_received", 20.2, {}, {"sentenceId": 9}),  # another sentence's
              event("llm_data_received", 20.4, {}, {"sentenceId": 8})]
    out = rec.timings(events, None, [])
    assert [(t["llm_ms"], t["tts_ms"]) for t in out["turns"]] == [(None, 900), (400, None)]
    assert out["llm_ms"] == {"p50": 400, "p95": 400, "max": 400, "count": 1}


def test_duration_and_hangup_role_from_call_info():
    assert rec.timings(LATENCY_EVENTS, {"CallDuration": 61, "HangupRole": 1}, [])["duration_s"] == 61
    out = rec.timings([], json.dumps({"CallDuration": 612000, "HangupRole": "0"}), [])
    assert (out["duration_s"], out["duration_source"], out["hangup_role"]) == (612.0, "call_info", "agent")
    assert rec.timings([], {"HangupRole": 2}, [])["hangup_role"] == "transfer"
    assert rec.timings([], {"HangupRole": True, "CallDuration": "x"}, [])["hangup_role"] is None
    empty = rec.timings([], None, [])
    assert empty["duration_s"] is None and empty["llm_ms"] == {"p50": None, "p95": None, "max": None, "count": 0}


# --- samples, malformed events ------------------------------------------------------------------------

def test_the_documented_samples():
    chat = json.loads((SAMPLES / "ice_agent_callback_chat_record.json").read_text())
    audio = json.loads((SAMPLES / "ice_agent_callback_audio_record.json").read_text())
    assert rec.chat_turns([chat]) == [{"role": "user", "text": "我的快递怎么还没到?", "time": "2025-12-01T12:00:05.000Z",
                                       "dialogue_id": "d-0002", "sentence_id": 2, "source": "chat_record"}]
    log = json.loads((SAMPLES / "call_log.json").read_text())
    out = rec.reconcile(log, [chat, audio], None)
    assert len(out["turns"]) == 8  # a different call's record: nothing in common, nothing dropped
    link = rec.link_audio(out["turns"], [audio], bucket="my-recordings")[0]
    assert (link["turn_id"], link["key"]) == ("d-0002", "aicall/39f8e0bc005e4f309379****/sentence_2_user.wav")


MALFORMED = [
    None, 1, "chat_record", [], {}, {"event": 5}, {"event": None, "timestamp": 3},
    {"event": "chat_record", "timestamp": "yesterday", "data": "not json"},
    {"event": "chat_record", "timestamp": stamp(1), "data": json.dumps({"role": "user", "text": "你好"}),
     "extendData": json.dumps({"sentenceId": "1"})},
    {"event": "chat_record", "timestamp": 1e30, "data": {"dialogues": "oops"}},
    {"event": "chat_record", "timestamp": True, "data": {"dialogues": [1, None, {"producer": 3, "text": ["a"]},
                                                                       {"time": "soon", "text": "嗯", "dialogueId": {}}]}},
    {"event": "chat_record", "timestamp": stamp(2), "data": {"role": ["x"], "text": None}, "extendData": "[1, 2]"},
    {"event": "audio_record", "timestamp": stamp(3), "data": {"ossUrl": 5, "duration": "abc", "format": 7},
     "extendData": "{broken"},
    {"event": "audio_record", "timestamp": "2026-02-30T00:00:00Z", "data": {"x": "oss://other/a.wav"},
     "extendData": {"sentenceId": [1]}},
    {"event": "full_audio_record", "data": None},
    {"event": "intent_recognized", "timestamp": None, "extendData": {"sentenceId": 1.5}},
    {"event": "llm_data_received", "timestamp": "2026-03-01T10:00:01+08:00"},
    {"event": "tts_data_received", "timestamp": float("nan")},
    {"event": "agent_stop", "timestamp": "2026-03-01T10:00:30Z", 1: "int key"},
    {"callback_key": "callbacks/dt=2026-03-01/inst-1/20260301T100000Z-0123456789abcdef-agent_start.json"},
    {"key": "not a key", "event": "agent_start"},
]


def test_malformed_events_never_raise():
    logs = [None, {}, {"dialog": "x"}, {"dialog": [None, 1, {"id": [], "begin": "soon", "role": 5, "text": 3}]},
            {"startTime": "yesterday", "dialog": [{"id": 1, "begin": float("inf"), "role": "user", "text": "你好"}]},
            call_log()]
    for log in logs:
        for start in (None, T0, T0 * 1000, float("nan")):
            out = rec.reconcile(log, MALFORMED, start)
            assert out["completeness"]["verdict"] in ("complete", "incomplete")
            rec.link_audio(out["turns"], MALFORMED, bucket=BUCKET)
            rec.timings(MALFORMED, "garbage", out["turns"])
            rec.timings(MALFORMED, {"CallDuration": float("inf")}, [None, 1, {"time": 5}])
    # what can be read is: JSON-string data, a non-JSON string (the text itself, its role unknown),
    # a dialogue without a usable time or id (untimed turns come last)
    assert [(t["role"], t["text"], t["time"], t["sentence_id"]) for t in rec.chat_turns(MALFORMED)] == [
        ("user", "你好", stamp(1), 1), (None, "not json", None, None), (None, "嗯", None, None)]
    assert rec.chat_turns("not a list") == [] and rec.chat_turns(None) == []
    assert rec.link_audio("x", MALFORMED, bucket="")  # turns of the wrong type: nothing linked, nothing raised


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
FIELD_VALUES = JSON | st.sampled_from([stamp(3), "2026-03-01T10:00:05+08:00", 1772359200000]) \
    | JSON.map(lambda v: json.dumps(v))
EVENT_NAMES = st.sampled_from(["chat_record", "audio_record", "full_audio_record", "intent_recognized",
                               "llm_data_received", "tts_data_received", "agent_start", "agent_stop"]) | st.text(max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({"event": EVENT_NAMES, "timestamp": FIELD_VALUES, "data": FIELD_VALUES,
                                       "extendData": FIELD_VALUES}), max_size=8), FIELD_VALUES)
def test_any_event_shape_never_raises(events, call_info):
    out = rec.reconcile(call_log(), events, T0)
    rec.link_audio(out["turns"], events, bucket=BUCKET)
    rec.timings(events, call_info, out["turns"])


# --- the order of events does not matter ---------------------------------------------------------------

PHRASES = ["你好", "请问有什么可以帮您？", "我的快递怎么还没到？", "订单号是12345。", "好的，请稍等。", "谢谢，再见！",
           "嗯", "Hello, how can I help?", "换个故事。"]


@st.composite
def calls(draw):
    """A conversation, the call log's part of it and the callbacks' part (ICE's or the simulator's
    shape, with or without ids, some re-delivered), plus audio and timing events."""
    n = draw(st.integers(1, 7))
    turns = []
    for i in range(n):
        role = "agent" if i % 2 == 0 else "user"
        turns.append((role, draw(st.sampled_from(PHRASES)), 1.0 + 3.0 * i + draw(st.floats(0, 1.5))))
    in_log = [draw(st.booleans()) or i == 0 for i in range(n)]
    in_chat = [draw(st.booleans()) for _ in range(n)]
    shape = draw(st.sampled_from(["ice", "sim"]))
    with_ids = draw(st.booleans())
    log = call_log([t for t, keep in zip(turns, in_log) if keep])
    events = []
    for i, ((role, text, begin), keep) in enumerate(zip(turns, in_chat)):
        if keep:
            at = begin + draw(st.floats(0, 3))
            if shape == "ice":
                events.append(ice_chat(i + 1, role, text, at, delay=0, sentence=with_ids, dialogue=with_ids))
            else:
                events.append(sim_chat(i + 1, role, text, at, sentence=with_ids))
        if draw(st.booleans()):
            events.append(event("audio_record", begin + 1, {"role": role, "ossUrl": f"oss://{BUCKET}/r/{i}.wav"},
                                {"sentenceId": i + 1} if with_ids else {}))
        if role == "user":
            events.append(event("intent_recognized", begin + 1.0))
            events.append(event("llm_data_received", begin + 1.5))
    events.append(event("agent_stop", 1.0 + 3.0 * n + draw(st.floats(0, 30))))
    events += draw(st.lists(st.sampled_from(events), max_size=3))  # re-deliveries
    return log, events


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls(), st.randoms(use_true_random=False))
def test_any_order_of_the_same_events_gives_the_same_record(call, rnd):
    log, events = call
    shuffled = events[:]
    rnd.shuffle(shuffled)
    out = rec.reconcile(log, events, T0)
    assert rec.reconcile(log, shuffled, T0) == out
    assert rec.link_audio(out["turns"], shuffled, bucket=BUCKET) == rec.link_audio(out["turns"], events, bucket=BUCKET)
    assert rec.timings(shuffled, None, out["turns"]) == rec.timings(events, None, out["turns"])
    # every call-log turn appears exactly once, in the call log's order
    log_ids = [t["id"] for t in out["turns"] if t["source"] != "chat_record"]
    assert log_ids == [d["id"] for d in log["dialog"]]
    assert len(out["turns"]) <= len(log["dialog"]) + len(rec.chat_turns(events))
