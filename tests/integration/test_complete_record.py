"""The complete record of a call (SPEC 12) through the real ingest and archive handlers, on moto's
OSS and the ICE simulator: the transcript reconciled from the call log and the chat records
(the last turn lost at hang-up is recovered; a turn lost on both sides makes the call incomplete),
every sentence's audio linked to its turn and checked in the bucket, audio elsewhere copied in,
and the agent's latencies equal to those computed by hand."""
import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devkit.sims.ice import wav_bytes
from shared.archive import index_rows, layout
from shared.clients import object_store
from tests.chain import CALLBACK_TOKEN, callback, raw, trigger
from tests.support import call, http_event, load_function

START = datetime(2025, 8, 14, 2, 0, 0, tzinfo=timezone.utc)
LINES = [("agent", "您好，请问有什么可以帮您？"), ("user", "我的快递怎么还没到？"),
         ("agent", "我查一下，包裹明天送达。"), ("user", "好的，另外帮我改一下地址。")]


@pytest.fixture
def functions(monkeypatch, chain_env):
    return load_function("ingest_callback", monkeypatch, {}), load_function("archive_call_log", monkeypatch, {})


def deliver(ingest, events):
    stop = None
    for ev in events:
        status, _, out = call(ingest, http_event(raw_body=raw(ev), path="/api/v2/aiagent/callback",
                                                 headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"}))
        assert status == 200, out
        stop = out["key"] if ev["event"] == "agent_stop" else stop
    return stop


def at(seconds):
    return START + timedelta(seconds=seconds)


def chat(instance, i, role, text, t):
    return callback(instance, "chat_record", at(t), data={"role": role, "text": text}, extendData={"sentenceId": i})


def call_log(instance, lines):
    return {"instanceid": instance, "startTime": START.timestamp(),
            "dialog": [{"id": i + 1, "begin": 1.0 + 3 * i, "role": r, "type": "normal", "text": x}
                       for i, (r, x) in enumerate(lines)]}


def archived(functions, ice_sim, instance, events, lines_in_log):
    ingest, archive = functions
    stop = deliver(ingest, events)
    ice_sim.add_instance(instance, call_log=call_log(instance, lines_in_log))
    assert trigger(archive, stop)["results"][0]["status"] == "archived"
    return json.loads(object_store.get_store().get(layout.call_log_key("2025-08-14", instance))[0])


def test_the_last_turn_lost_from_the_call_log_at_hang_up_is_recovered(functions, ice_sim):
    inst = "rec-lost-last"
    events = [callback(inst, "agent_start", at(0))] + [chat(inst, i + 1, r, x, 1 + 3 * i)
                                                       for i, (r, x) in enumerate(LINES)]
    events.append(callback(inst, "agent_stop", at(14)))
    doc = archived(functions, ice_sim, inst, events, LINES[:3])  # ICE's call log lacks the last turn
    full = doc["record"]
    assert [t["text"] for t in full["turns"]] == [x for _, x in LINES]
    assert [t["source"] for t in full["turns"]] == ["both", "both", "both", "chat_record"]
    assert full["completeness"]["verdict"] == "complete"
    missing = full["completeness"]["missing"]
    assert len(missing) == 1 and missing[0]["side"] == "call_log" and "hang-up" in missing[0]["reason"]
    # The analysis reads the reconciled transcript; the index row says complete.
    frag = index_rows.archive_fragment(doc, key="k", user_id=None)
    assert frag["turns"] == 4 and frag["completeness"] == "complete" and "改一下地址" in frag["transcript_text"]


def test_a_turn_lost_on_both_sides_makes_the_call_incomplete(functions, ice_sim):
    inst = "rec-lost-both"
    events = [callback(inst, "agent_start", at(0)), chat(inst, 1, "agent", LINES[0][1], 1),
              chat(inst, 2, "user", LINES[1][1], 4),
              # the agent answered (its first LLM and TTS packets came) but its turn is nowhere
              callback(inst, "intent_recognized", at(4.5)), callback(inst, "llm_data_received", at(5.0)),
              callback(inst, "tts_data_received", at(5.6)), callback(inst, "agent_stop", at(40))]
    doc = archived(functions, ice_sim, inst, events, LINES[:2])
    verdict = doc["record"]["completeness"]
    assert verdict["verdict"] == "incomplete" and any(m["side"] == "both" for m in verdict["missing"]), verdict


def test_sentence_audio_is_linked_checked_and_copied_into_the_archive(functions, ice_sim):
    inst = "rec-audio"
    bucket = object_store.get_store().bucket
    object_store.get_store().put(f"recordings/{inst}/sentence_2_user.wav", wav_bytes(300), content_type="audio/wav")

    class Audio(BaseHTTPRequestHandler):
        def do_GET(self):
            body = wav_bytes(200)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Audio)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    elsewhere = f"http://127.0.0.1:{server.server_address[1]}/agent-3.wav"
    events = [callback(inst, "agent_start", at(0))] + [chat(inst, i + 1, r, x, 1 + 3 * i)
                                                       for i, (r, x) in enumerate(LINES[:3])]
    events += [
        callback(inst, "audio_record", at(4.2), data={"role": "user", "ossUrl": f"oss://{bucket}/recordings/{inst}/"
                                                      "sentence_2_user.wav", "duration": 300, "format": "wav"},
                 extendData={"sentenceId": 2}),
        # no sentence id: linked by role and time; outside the bucket: copied in
        callback(inst, "audio_record", at(7.3), data={"role": "agent", "url": elsewhere, "format": "wav"}),
        callback(inst, "audio_record", at(1.2), data={"role": "agent", "ossUrl": f"oss://{bucket}/recordings/{inst}/"
                                                      "gone.wav"}, extendData={"sentenceId": 1}),
        callback(inst, "full_audio_record", at(12), data={"url": "https://evil.example.com/call.wav"}),
        callback(inst, "agent_stop", at(12))]
    try:
        doc = archived(functions, ice_sim, inst, events, LINES[:3])
    finally:
        server.shutdown()
    audio = {(a["event"], a.get("turn_id")): a for a in doc["record"]["audio"]}
    store = object_store.get_store()
    user = audio[("audio_record", 2)]
    assert user["present"] and user["key"] == f"recordings/{inst}/sentence_2_user.wav"
    copied = audio[("audio_record", 3)]
    assert copied["present"] and copied["copied_from"] == "127.0.0.1"
    assert copied["key"].startswith(layout.recording_prefix("2025-08-14", inst) + "audio/")
    assert store.get(copied["key"])[0] == wav_bytes(200)
    gone = audio[("audio_record", 1)]
    assert gone["present"] is False and gone["problem"] == "the audio object does not exist"
    call_audio = audio[("full_audio_record", None)]
    assert call_audio["key"] is None and "not allowed" in call_audio["problem"]
    assert index_rows.archive_fragment(doc, key="k", user_id=None)["audio_linked"] == 2


def test_the_agent_s_latencies_are_those_computed_by_hand(functions, ice_sim):
    inst = "rec-latency"
    events = [callback(inst, "agent_start", at(0))] + [chat(inst, i + 1, r, x, 1 + 3 * i)
                                                       for i, (r, x) in enumerate(LINES)]
    # intent -> LLM first packet, intent -> TTS first packet, per user turn (ms):
    #   turn 2: 600, 1400;  turn 4: 300, 900
    for intent, llm, tts in ((4.5, 5.1, 5.9), (10.2, 10.5, 11.1)):
        events += [callback(inst, "intent_recognized", at(intent)), callback(inst, "llm_data_received", at(llm)),
                   callback(inst, "tts_data_received", at(tts))]
    events.append(callback(inst, "agent_stop", at(14)))
    timings = archived(functions, ice_sim, inst, events, LINES)["record"]["timings"]
    # nearest rank over [300, 600]: p50 = the 1st value (ceil(0.5*2) = 1), p95 = the 2nd
    assert timings["llm_ms"] == {"p50": 300, "p95": 600, "max": 600, "count": 2}
    assert timings["tts_ms"] == {"p50": 900, "p95": 1400, "max": 1400, "count": 2}
    assert timings["duration_s"] == 14.0 and timings["duration_source"] == "events"
