"""`aiagent seed-archive` on moto's OSS over HTTP: 60 full calls over 3 days, in a bucket of their own.
The index day files hold exactly the calls written, each row is what `index_rows.apply` makes of the
documents read back from the store (the seeder invents no row), the same seed gives the same calls,
and the real archive API lists them. Also a tiny run of the archive benchmark's measuring function
(its figures' shape only: no timing is asserted anywhere)."""
import argparse
import dataclasses
import io
import json
from datetime import date

import pytest

from devkit.ops import seed_archive
from devkit.tokens import mint_token
from shared.archive import index_files, index_rows, layout
from shared.clients import object_store
from shared.clients.object_store import ObjectStore
from shared.settings import OssSettings, load
from tests.oss_server import _create_bucket
from tests.support import load_function, sample

BUCKET = "seed-archive-test"
DAYS = ("2025-03-01", "2025-03-02", "2025-03-03")
SEED = 8  # a seed whose 60 calls include open dead letters and phone calls (ICE CallInfo)
SECRET = "seed-archive-jwt-secret-" + "x" * 32


def args(**over):
    base = {"calls": 60, "days": 3, "seed": SEED, "until": DAYS[-1], "index_only": False, "workers": 8, "url": None}
    return argparse.Namespace(**{**base, **over})


@pytest.fixture(scope="module")
def seeded(moto_oss):
    """The bucket after `aiagent seed-archive --calls 60 --days 3` (through the command's `run`)."""
    own = dataclasses.replace(moto_oss, bucket=BUCKET)
    _create_bucket(own)
    out, err = io.StringIO(), io.StringIO()
    assert seed_archive.run(args(), env=dict(own.env()), out=out, err=err) == 0, err.getvalue()
    store = ObjectStore(load(OssSettings, own.env()))
    yield own, store, json.loads(out.getvalue())
    store.close()


def _json(store, key):
    return json.loads(store.get(key)[0])


def _index_rows(store, tmp_path):
    con = index_files.connect()
    rows = {}
    for dt in DAYS:
        path = tmp_path / f"{dt}.parquet"
        path.write_bytes(store.get(layout.index_day_key(dt))[0])
        day_rows = index_files.read_rows(con, str(path))
        assert all(layout.dt_of(r["call_log_key"]) == dt for r in day_rows.values())
        rows.update(day_rows)
    con.close()
    return rows


def _expected_row(store, key):
    """The row the chain's updates make of the call's objects as stored (the archive step's owner
    lookup, the analysis result or the open dead letter), each update at the time it records."""
    ref = layout.parse_call_log_key(key)
    doc = _json(store, key)
    owner = _json(store, layout.owner_key(ref.instance_id))["user_id"]
    frags = [("archive", index_rows.archive_fragment(doc, key=key, user_id=owner), "archived_at")]
    akey = layout.analysis_key(ref.dt, ref.instance_id, "default")
    if store.head(akey) is not None:
        frags.append(("analysis", index_rows.analysis_fragment(_json(store, akey), key=akey), "analysed_at"))
    for info in store.list(layout.dead_letter_prefix("analyze", ref.dt, ref.instance_id)):
        frags.append(("letter", index_rows.letter_fragment(_json(store, info.key)), "at"))
    row = None
    for kind, frag, when in frags:
        row = index_rows.apply(row, index_rows.update_doc(kind, ref.instance_id, ref.dt, frag, at=frag[when]))
    row["started_at"] = index_rows.started_or_day(row, ref.dt)
    return row


def test_the_index_holds_exactly_the_calls_written(seeded, tmp_path):
    _, store, summary = seeded
    assert (summary["calls"], summary["index_files"], summary["index_rows"]) == (60, 3, 60), summary
    keys = [i.key for dt in DAYS for i in store.list(layout.date_prefix(layout.CALL_LOGS, dt))]
    written = {layout.parse_call_log_key(k).instance_id for k in keys}
    rows = _index_rows(store, tmp_path)
    assert len(keys) == 60 and set(rows) == written
    letters = [i.key for dt in DAYS for i in store.list(layout.date_prefix(layout.FAILED + "analyze/", dt))]
    analyses = [i.key for dt in DAYS for i in store.list(layout.date_prefix(layout.ANALYSES, dt))]
    assert len(analyses) + len(letters) == 60 and summary["dead_letters"] == len(letters)
    assert summary["objects"] == 60 + 60 + 60  # owner record, call log, analysis or dead letter
    for key in keys:
        row = rows[layout.parse_call_log_key(key).instance_id]
        assert row == {c: v for c, v in _expected_row(store, key).items()}, key
    # Realistic enough to filter on: several agents and users, a mix of outcomes.
    assert len({r["ai_agent_id"] for r in rows.values()}) >= 4 and len({r["user_id"] for r in rows.values()}) >= 2
    assert {r["status"] for r in rows.values()} == {"analysed", "analysis_failed"} and letters
    assert {r["hangup_role"] for r in rows.values()} > {None}  # phone calls: ICE's CallInfo
    assert all(2 <= r["turns"] <= 20 and 20 <= r["duration_s"] <= 900 for r in rows.values())
    assert {r["satisfaction"] for r in rows.values() if r["status"] == "analysed"} <= {
        "satisfied", "neutral", "dissatisfied"}


def test_the_same_seed_gives_the_same_calls(seeded):
    _, store, _ = seeded
    until = date.fromisoformat(DAYS[-1])
    one = list(seed_archive.generate(SEED, 60, 3, until))
    two = list(seed_archive.generate(SEED, 60, 3, until))
    assert [c.instance_id for c in one] == [c.instance_id for c in two]
    assert [c.call_log for c in one] == [c.call_log for c in two] and [c.analysis for c in one] == [
        c.analysis for c in two]
    for call in one:  # what was written is what the seed gives
        stored = _json(store, call.call_log_key)
        assert stored == call.call_log
    other = {c.instance_id for c in seed_archive.generate(SEED + 1, 60, 3, until)}
    assert not other & {c.instance_id for c in one}
    # The index-only rows are the full run's rows.
    light = [seed_archive.row_of(seed_archive.make_call(seed_archive._context(SEED, 60, None, None), c.number,
                                                        date.fromisoformat(c.dt), light=True)) for c in one]
    assert light == [seed_archive.row_of(c) for c in one]


def test_the_archive_api_lists_them(seeded, monkeypatch, tmp_path):
    own, _, _ = seeded
    object_store.reset_store()
    api = load_function("archive_api", monkeypatch, {**own.env(), "AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET,
                                                     "INDEX_CACHE_DIR": str(tmp_path)})
    try:
        event = sample("fc_http_trigger_event.json")
        event.update(rawPath="/api/v2/archive/calls", body="", isBase64Encoded=False,
                     queryParameters={"since": DAYS[0], "until": DAYS[-1], "limit": "200"},
                     headers={"Authorization": f"Bearer {mint_token('ops', SECRET, role='admin')}"})
        event["requestContext"]["http"].update(method="GET", path="/api/v2/archive/calls")
        out = api(json.dumps(event).encode(), None)
        assert out["statusCode"] == 200, out
        calls = json.loads(out["body"])["calls"]
        assert len(calls) == 60 and {c["dt"] for c in calls} == set(DAYS)
        until = date.fromisoformat(DAYS[-1])
        assert {c["instance_id"] for c in calls} == {c.instance_id for c in seed_archive.generate(SEED, 60, 3, until)}
    finally:
        object_store.reset_store()


def test_seed_archive_refuses_bad_arguments():
    err = io.StringIO()
    assert seed_archive.run(args(calls=0), env={}, out=io.StringIO(), err=err) == 2
    assert err.getvalue().startswith("error: --calls")
    err = io.StringIO()
    assert seed_archive.run(args(), env={}, out=io.StringIO(), err=err) == 2  # no bucket configured
    assert "ARCHIVE_BUCKET" in err.getvalue()


def test_the_archive_bench_gives_its_figures():
    from devkit.bench import archive as bench

    fig = bench.measure(calls=2_000, days=5, queries=10, stats_runs=2, export_runs=1, full_calls=20,
                        compaction_calls=50, export_rows=500, progress=None)
    assert fig["calls"] == 2_000 and fig["seed"]["files"] == 5 and fig["cold_ms"] > 0
    q = fig["calls_query"]
    assert q["n"] == 10 and set(q["by_kind"]) <= set(bench.KINDS) and q["p50_ms"] <= q["p95_ms"] <= q["max_ms"]
    assert all(k["rows_per_page"] > 0 for name, k in q["by_kind"].items() if name != "user_id")
    assert fig["stats"]["n"] == 2 and fig["stats"]["calls"] == 2_020
    assert fig["export"]["csv"]["rows"] == fig["export"]["parquet"]["rows"] == 500
    assert fig["export"]["csv"]["bytes"] > 0 and fig["export"]["parquet"]["bytes"] > 0
    assert fig["size"]["files"] == 5 and fig["size"]["per_1000_calls_bytes"] > 0
    assert 0 < fig["size"]["transcript_share"] < 1
    c = fig["compaction"]
    assert c["updates"] == 100 and c["rows_changed"] == 50 and c["rows_after"] == c["expected_rows_after"] == 2_070
    assert set(fig["goals"]) == {"calls_p95_ms", "stats_p95_ms"} and all(
        isinstance(g["met"], bool) for g in fig["goals"].values())
    buf = io.StringIO()
    bench.report(fig, buf)
    assert "goal calls_p95_ms" in buf.getvalue()
