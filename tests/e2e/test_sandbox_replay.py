"""`aiagent replay --url` against a running sandbox: a call whose analysis CCAI refuses is an
open dead letter in /_sandbox/status; once CCAI answers again, the replay analyses it and the
status shows no open dead letter."""
import argparse
import io
import os

import httpx
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack():
    from tests.support import in_process_sandbox

    with in_process_sandbox() as st:
        yield st


def status(stack):
    token = os.environ["SANDBOX_TOKEN"]
    return httpx.get(stack.url + "/_sandbox/status", headers={"Authorization": f"Bearer {token}"}).json()


def test_replay_through_the_sandbox_resolves_the_open_dead_letter(stack):
    from devkit.ops import replay
    from devkit.sandbox import simulate_call

    stack.ups.ccai.inject(status=403, code="CCAI.IllegalPermission.NoAuth", times=1)
    lines: list[str] = []
    token = os.environ["CALLBACK_TOKEN"].split(",")[0].strip()
    assert simulate_call.run(stack.url, 4, token, timeout=20, out=lines.append,
                             sandbox_token=os.environ["SANDBOX_TOKEN"]) == 1
    assert any("analysis: dead letter" in line for line in lines), lines
    assert status(stack)["open_dead_letters"] == {"archive": 0, "analyze": 1}

    args = argparse.Namespace(stage="analyze", since=None, until=None, dry_run=False, concurrency=2,
                              retry_delay=0.01, url=stack.url, report=None)
    out, err = io.StringIO(), io.StringIO()
    assert replay.main(args, env=dict(os.environ), err=err, out=out) == 0, out.getvalue() + err.getvalue()
    assert "done 1, skipped 0, still failing 0 of 1" in out.getvalue()
    assert status(stack)["open_dead_letters"] == {"archive": 0, "analyze": 0}
