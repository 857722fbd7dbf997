"""REDACTION_MODE=archive through the sandbox: a call in which the user speaks an ID number and a
mobile number in words ends with neither in the archived call log, the analysis, the call index or
what the archive API answers, and CCAI (the simulator) never receives them; the raw call log is
kept under raw/ only when asked."""
import json
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone

import duckdb
import httpx
import pytest

from devkit.defaults import DEV_JWT_SECRET
from devkit.tokens import mint_token

pytestmark = pytest.mark.e2e

ID_NUMBER = "11010519900307777X"
SPOKEN_ID = "幺幺零幺零五幺九九零零三零七七七七叉"  # the same number, read out digit by digit
MOBILE = "13800138000"
SPOKEN_MOBILE = "幺三八 零零幺三 八零零零"
SECRETS = (ID_NUMBER, SPOKEN_ID, MOBILE, SPOKEN_MOBILE, "13800138000", "幺三八")


@pytest.fixture
def stack():
    from tests.support import in_process_sandbox

    with in_process_sandbox({"REDACTION_MODE": "archive", "REDACTION_KEEP_RAW": "true"}) as st:
        yield st


def test_spoken_id_and_mobile_never_reach_ccai_or_the_archive(stack):
    from devkit.sandbox.simulate_call import Sandbox
    from shared.archive import layout
    from shared.clients import object_store

    instance = "redact" + os.urandom(6).hex()
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=2)
    lines = [("agent", "您好，请提供您的身份证号码。"), ("user", f"我的身份证号是{SPOKEN_ID}。"),
             ("agent", "好的，请再留一个联系电话。"), ("user", f"手机{SPOKEN_MOBILE}，也可以打{MOBILE}。"),
             ("agent", "已记录，订单号 202412010001234，金额 3,800元。")]

    def event(kind, t, data=None):
        ts = start + timedelta(seconds=t)
        return {"aiAgentId": "redaction-agent", "instanceId": instance, "event": kind, "code": 1000,
                "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data or {}, "extendData": {}}

    events = [event("agent_start", 0)] + [
        event("chat_record", 1 + 2 * i, {"role": role, "text": text, "sentenceId": i + 1})
        for i, (role, text) in enumerate(lines)] + [event("agent_stop", 20)]
    sb = Sandbox(stack.url, os.environ["CALLBACK_TOKEN"].split(",")[0].strip(), os.environ["SANDBOX_TOKEN"])
    for ev in events:
        sb.post_callback(ev)
    dt = start.date().isoformat()
    found = sb.wait_for([layout.date_prefix(layout.ANALYSES, dt) + instance + "/"], 30)
    assert found is not None, "no analysis"
    store_objects = {}
    for prefix in (layout.CALL_LOGS, layout.ANALYSES):
        for o in httpx.get(stack.url + "/_sandbox/objects", params={"prefix": prefix},
                           headers={"Authorization": f"Bearer {os.environ['SANDBOX_TOKEN']}"}).json()["objects"]:
            if instance in o["key"]:
                store_objects[o["key"]] = sb.object(o["key"])
    call_log = store_objects[layout.call_log_key(dt, instance)]
    analysis = next(v for k, v in store_objects.items() if k.startswith(layout.ANALYSES))
    text = json.dumps(store_objects, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text, secret
    assert "[身份证号]" in json.dumps(call_log, ensure_ascii=False) and "[手机号]" in text
    assert "202412010001234" in text and "3,800元" in text  # an order number and an amount stay
    assert call_log["redaction"]["findings"] == {"id_card": 1, "mobile": 2}
    assert analysis["redaction"]["mode"] == "archive"
    # CCAI (the simulator) never received them.
    sent = json.dumps([c.get("body") for c in stack.ups.ccai.calls], ensure_ascii=False)
    assert "[手机号]" in sent
    for secret in SECRETS:
        assert secret not in sent, secret
    # The raw call log is kept under raw/ (REDACTION_KEEP_RAW), for a separate role only.
    raw = sb.object(layout.raw_call_log_key(dt, instance))
    assert SPOKEN_ID in json.dumps(raw, ensure_ascii=False)
    assert call_log["redaction"]["raw_key"] == layout.raw_call_log_key(dt, instance)
    # The index (its Parquet day file, read with DuckDB) and the archive API — even for an admin
    # whose token carries "pii": true: in archive mode the raw copy is never served.
    pii = {"Authorization": f"Bearer {mint_token('dpo', DEV_JWT_SECRET, role='admin', pii=True)}"}
    listed = []
    for _ in range(60):
        listed = httpx.get(stack.url + "/api/v2/archive/calls", headers=pii).json()["calls"]
        if any(c["instance_id"] == instance and c["status"] == "analysed" for c in listed):
            break
        time.sleep(0.5)
    detail = httpx.get(f"{stack.url}/api/v2/archive/calls/{instance}", headers=pii).json()
    export = httpx.get(stack.url + "/api/v2/archive/export", params={"format": "jsonl"}, headers=pii).text
    data, _ = object_store.get_store().get(layout.index_day_key(dt))
    with tempfile.NamedTemporaryFile(suffix=".parquet") as f:
        f.write(data)
        f.flush()
        rows = duckdb.sql(f"SELECT * FROM read_parquet('{f.name}') WHERE instance_id = '{instance}'").fetchall()
    assert rows and detail["view"] == "redacted" and len(detail["transcript"]) == len(lines)
    readable = json.dumps([listed, detail, export, [str(r) for r in rows]], ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in readable, secret
    assert "[身份证号]" in readable and "[手机号]" in readable
