"""The QA console (/console/) in real headless Chromium against `aiagent dev` (a subprocess).

Three calls go through the whole chain (callbacks -> archive -> analysis -> call index): one made
by `aiagent simulate-call`, two posted as ICE would for calls two users started through
generateAIAgentCall (one in Chinese, so the Chinese search and rendering are covered). Then the
browser signs in with `#token=<admin jwt>`, lists, filters, exports, opens a call, draws the trends
and is refused with a user's token. The page is served with the console's Content-Security-Policy,
so any violation (inline script, eval, another origin) shows up as a console error: the test
collects console errors and page errors and requires that there are none (bar the expected 403).

Skipped when /usr/bin/chromium or the playwright package is missing (never downloads browsers).
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from devkit.defaults import DEV_CALLBACK_TOKEN, DEV_JWT_SECRET, DEV_SANDBOX_TOKEN
from devkit.tokens import mint_token
from tests.support import REPO, SandboxProcess

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip("the browser test needs the system Chromium at /usr/bin/chromium (Debian package chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs the playwright package "
                                                              "(pip install playwright; it drives /usr/bin/chromium)")

TOKEN_KEY = "aicall.console.token"
ARCHIVE = "/api/v2/archive"
AGENT = "qa-console-agent"
ZH_USER, EN_USER = "qa_zh_user", "qa_en_user"
ZH_LINES = [
    ("agent", "您好，我是智能客服，请问有什么可以帮您？"),
    ("user", "我上周买的耳机有问题，想申请退款。"),
    ("agent", "好的，已为您提交退款申请，预计三个工作日内到账。"),
    ("user", "谢谢，再见！"),
]
EN_LINES = [
    ("agent", "Hello, this is the booking assistant. How can I help?"),
    ("user", "Is <b>my</b> table for four still booked for Friday?"),  # markup must stay text
    ("agent", "Yes, your table for four is booked for Friday at seven."),
]
CHART_IDS = ("chart-calls-per-day", "chart-satisfaction", "chart-rule-failures", "chart-keywords")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _post_call(api: httpx.Client, url: str, user: str, lines: list[tuple[str, str]]) -> str:
    """A call started by `user` (generateAIAgentCall, with the user's own JWT), then its ICE
    callbacks: agent_start, one chat_record per line, agent_stop. Its instance id."""
    from devkit.sandbox.simulate_call import Sandbox

    user_token = mint_token(user, DEV_JWT_SECRET)
    started = api.post("/api/v2/aiagent/generateAIAgentCall", json={"user_id": user, "ai_agent_id": AGENT},
                       headers=_auth(user_token))
    assert started.status_code == 200, started.text
    instance = started.json()["ai_agent_instance_id"]
    sb = Sandbox(url, DEV_CALLBACK_TOKEN, DEV_SANDBOX_TOKEN)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=2)

    def event(kind: str, t: float, data: dict | None = None) -> dict:
        return {"aiAgentId": AGENT, "instanceId": instance, "event": kind, "code": 1000, "message": kind,
                "timestamp": (start + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "data": data or {}, "extendData": {}}

    sb.post_callback(event("agent_start", 0))
    for i, (role, text) in enumerate(lines):
        sb.post_callback(event("chat_record", 1 + 3 * i, {"role": role, "text": text, "sentenceId": i + 1}))
    sb.post_callback(event("agent_stop", 2 + 3 * len(lines)))
    return instance


def _wait_listed(sb: SandboxProcess, api: httpx.Client, admin: str, instances: set[str],
                 timeout: float = 30.0) -> list[dict]:
    """GET /api/v2/archive/calls until every call of `instances` is listed and analysed."""
    end = time.monotonic() + timeout
    last = None
    while True:
        r = api.get(f"{ARCHIVE}/calls", params={"limit": 200}, headers=_auth(admin))
        last = f"{r.status_code} {r.text[:600]}"
        if r.status_code == 200:
            calls = {c["instance_id"]: c for c in r.json()["calls"]}
            if instances <= set(calls) and all(calls[i].get("status") == "analysed" for i in instances):
                return list(calls.values())
        if time.monotonic() > end:
            pytest.fail(f"the calls were not listed as analysed within {timeout:.0f} s; last answer: {last}\n"
                        f"sandbox log:\n{sb.output()[-4000:]}")
        time.sleep(0.3)


def test_the_console_lists_filters_opens_and_charts_calls(tmp_path):
    env = {"SANDBOX_DATA_DIR": str(tmp_path), "SANDBOX_TRIGGER_RETRY_SECONDS": "0.2",
           "AUTH_MODE": "jwt", "AUTH_JWT_SECRET": DEV_JWT_SECRET}
    admin = mint_token("qa-lead", DEV_JWT_SECRET, role="admin")
    user_token = mint_token(EN_USER, DEV_JWT_SECRET)  # no admin role: the archive API refuses it
    with SandboxProcess(env) as sb, httpx.Client(base_url=sb.url, timeout=20, trust_env=False) as api:
        # 1. Three calls through the chain.
        sim = subprocess.run([sys.executable, "-m", "devkit.cli", "simulate-call", "--url", sb.url, "--turns", "3"],
                             cwd=REPO, capture_output=True, text=True, timeout=60)
        assert sim.returncode == 0, sim.stdout + sim.stderr + sb.output()[-3000:]
        simulated = re.search(r"simulated call (\S+):", sim.stdout).group(1)
        zh = _post_call(api, sb.url, ZH_USER, ZH_LINES)
        en = _post_call(api, sb.url, EN_USER, EN_LINES)
        listed = _wait_listed(sb, api, admin, {simulated, zh, en})
        assert {c["instance_id"] for c in listed} == {simulated, zh, en}
        detail = api.get(f"{ARCHIVE}/calls/{quote(zh)}", headers=_auth(admin))
        assert detail.status_code == 200, detail.text
        detail = detail.json()
        stats = api.get(f"{ARCHIVE}/stats", headers=_auth(admin)).json()
        refused = api.get(f"{ARCHIVE}/calls", headers=_auth(user_token))
        assert refused.status_code == 403, refused.text
        refusal = refused.json()["message"]

        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            try:
                _drive_console(browser, sb.url, admin, user_token, refusal, ids={"simulated": simulated, "zh": zh,
                               "en": en}, listed=listed, detail=detail, stats=stats)
            finally:
                browser.close()


def _drive_console(browser, url, admin, user_token, refusal, *, ids, listed, detail, stats):
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True,
                                  locale="en-US", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []  # console errors (CSP violations among them) and uncaught exceptions
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    rows = page.locator('[data-testid="call-row"]')

    def row_ids() -> set[str]:
        return set(rows.evaluate_all("rs => rs.map(r => r.dataset.instanceId)"))

    # Sign-in through the URL fragment: the token is stored, then gone from the URL.
    page.goto(f"{url}/console/#token={admin}")
    expect(rows).to_have_count(3)
    assert row_ids() == set(ids.values())
    assert admin not in page.url and page.evaluate("location.hash") == "#/calls"
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") == admin
    assert "qa-lead" in page.get_by_test_id("whoami-name").inner_text()

    # A filter typed into the form narrows the list and goes into the hash.
    page.get_by_test_id("filter-user_id").fill(ZH_USER)
    page.get_by_test_id("apply-filters").click()
    expect(rows).to_have_count(1)
    assert row_ids() == {ids["zh"]} and f"user_id={ZH_USER}" in page.evaluate("location.hash")

    # One extracted field (code = value, two inputs): the calls the API lists with it.
    code, value = sorted(detail["call"]["fields"].items())[0]
    page.get_by_test_id("filter-user_id").fill("")
    page.get_by_test_id("filter-field-code").fill(code)
    page.get_by_test_id("filter-field-value").fill(value)
    page.get_by_test_id("apply-filters").click()
    expected = {c["instance_id"] for c in listed if (c.get("fields") or {}).get(code) == value}
    expect(rows).to_have_count(len(expected))
    assert row_ids() == expected and ids["zh"] in expected

    # Pages of two: "load more" follows next_cursor.
    page.goto(f"{url}/console/#/calls?limit=2")
    expect(rows).to_have_count(2)
    page.get_by_test_id("load-more").click()
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("load-more")).to_be_hidden()
    assert row_ids() == set(ids.values())

    # A linked view with Chinese search words: the form shows them, the list is narrowed.
    page.goto(f"{url}/console/#/calls?q={quote('退款')}")
    expect(rows).to_have_count(1)
    assert row_ids() == {ids["zh"]}
    assert page.get_by_test_id("filter-q").input_value() == "退款"
    page.goto(f"{url}/console/#/calls?q=booked")
    expect(rows).to_have_count(1)
    assert row_ids() == {ids["en"]}

    # Export: fetched with the token, saved through <a download>.
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    saved = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert ids["en"] in saved and ids["zh"] not in saved, saved[:500]

    # The Chinese call's page: transcript turns equal the API's, the analysis summary is shown.
    page.goto(f"{url}/console/#/calls")
    expect(rows).to_have_count(3)
    page.locator(f'[data-testid="call-row"][data-instance-id="{ids["zh"]}"]').click()
    expect(page.get_by_test_id("call-id")).to_have_text(ids["zh"])
    turns = page.get_by_test_id("transcript-turn")
    expect(turns).to_have_count(len(detail["transcript"]))
    assert page.get_by_test_id("turn-text").all_text_contents() == [t["text"] for t in detail["transcript"]]
    assert [t for _, t in ZH_LINES] == [t["text"] for t in detail["transcript"]]
    speakers = page.get_by_test_id("turn-speaker").all_text_contents()
    assert speakers == [{"user": "User", "agent": "Agent"}[t["role"]] for t in detail["transcript"]]
    profile = detail["call"].get("profile") or "default"
    parsed = detail["analyses"][profile]["result"]["parsed"]
    expect(page.get_by_test_id("analysis-summary")).to_have_text(parsed["summary"])
    expect(page.get_by_test_id("rule")).to_have_count(len(detail["rules"]) or len(parsed.get("service_inspection") or []))
    expect(page.get_by_test_id("callback-event")).to_have_count(len(detail["callbacks"]))
    if parsed.get("questions_and_answer"):
        expect(page.get_by_test_id("qa-pair")).to_have_count(len(parsed["questions_and_answer"]))
    assert "null" not in page.get_by_test_id("call-page").inner_text()  # absent parts are left out
    # The page says which view of the text it shows (this admin token has no "pii": true).
    expect(page.get_by_test_id("view-note")).to_have_attribute("data-view", detail["view"])
    assert detail["view"] == "redacted"

    # The English call: markup in a transcript is shown as text, never parsed as HTML.
    page.goto(f"{url}/console/#/calls/{quote(ids['en'])}")
    expect(page.get_by_test_id("turn-text")).to_have_count(len(EN_LINES))
    assert page.get_by_test_id("turn-text").all_text_contents() == [t for _, t in EN_LINES]
    assert page.locator('[data-testid="transcript"] b').count() == 0

    # Trends: the figures and four ECharts charts (each draws a <canvas> in its container).
    page.get_by_test_id("nav-trends").click()
    for chart in CHART_IDS:
        expect(page.locator(f'[data-testid="{chart}"] canvas').first).to_be_visible()
    expect(page.get_by_test_id("tile-calls-value")).to_have_text(str(stats["calls"]))
    assert stats["calls"] == 3

    # Sign out, then sign in with a user's token: the API's 403 message, back to sign-in.
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("token-input")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None
    assert problems == [], problems
    page.get_by_test_id("token-input").fill(user_token)
    page.get_by_test_id("sign-in").click()
    banner = page.get_by_test_id("error-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(refusal)
    expect(page.get_by_test_id("token-input")).to_be_visible()
    assert page.evaluate("location.hash") == "#/signin"
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None
    # Chromium logs the refused request itself; nothing else may have been logged.
    unexpected = [p for p in problems if "status of 403" not in p]
    assert unexpected == [], unexpected
    context.close()
