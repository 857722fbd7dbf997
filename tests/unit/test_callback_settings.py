"""CallbackSettings and the callback checks of shared/archive/callbacks.py: a token list for
rotation (each entry compared in constant time, without early exit) and the event-time window."""
from datetime import datetime, timedelta, timezone

import pytest

from shared.archive import callbacks
from shared.errors import BadRequest, ConfigurationError
from shared.settings import CallbackSettings, load

A, B, C = "token-a-0123456789abcdef", "token-b-0123456789abcdef", "token-c-0123456789abcdef"


def settings(**env):
    return load(CallbackSettings, {"CALLBACK_TOKEN": A, **env})


def test_single_token_and_defaults():
    s = settings()
    assert [t.get_secret_value() for t in s.CALLBACK_TOKEN] == [A]
    assert (s.CALLBACK_MAX_EVENT_AGE_SECONDS, s.CALLBACK_MAX_EVENT_FUTURE_SECONDS) == (604800, 600)


def test_comma_separated_tokens_for_rotation():
    s = settings(CALLBACK_TOKEN=f" {A}, {B} ,{C},")
    assert [t.get_secret_value() for t in s.CALLBACK_TOKEN] == [A, B, C]
    assert A not in repr(s) and B not in str(s.CALLBACK_TOKEN)


@pytest.mark.parametrize("value", [f"{A},short", "short", ",", " , "])
def test_every_entry_must_be_long_enough(value):
    with pytest.raises(ConfigurationError, match="CALLBACK_TOKEN") as exc:
        settings(CALLBACK_TOKEN=value)
    assert A not in exc.value.message and "short" not in exc.value.message


@pytest.mark.parametrize("name, value", [("CALLBACK_MAX_EVENT_AGE_SECONDS", "59"),
                                         ("CALLBACK_MAX_EVENT_AGE_SECONDS", str(3650 * 86400 + 1)),
                                         ("CALLBACK_MAX_EVENT_AGE_SECONDS", "7d"),
                                         ("CALLBACK_MAX_EVENT_FUTURE_SECONDS", "-1"),
                                         ("CALLBACK_MAX_EVENT_FUTURE_SECONDS", "86401")])
def test_window_bounds(name, value):
    with pytest.raises(ConfigurationError, match=name):
        settings(**{name: value})


def test_every_entry_is_compared_without_early_exit(monkeypatch):
    import hmac

    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(callbacks.hmac, "compare_digest", spy)
    tokens = settings(CALLBACK_TOKEN=f"{A},{B},{C}").CALLBACK_TOKEN
    for presented, want in [(A, True), (B, True), (C, True), ("x" * 40, False), ("", False), (None, False),
                            (A + "x", False), (A[:-1], False)]:
        calls.clear()
        assert callbacks.token_matches(presented, tokens) is want
        # One comparison per entry whichever matched (or none), all of equal length (digests).
        assert calls == [(32, 32)] * 3, presented


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def _at(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def test_window_edges_are_exact():
    s = settings(CALLBACK_MAX_EVENT_AGE_SECONDS="3600", CALLBACK_MAX_EVENT_FUTURE_SECONDS="60")
    ms = timedelta(milliseconds=1)
    for when in (NOW - timedelta(hours=1), NOW + timedelta(seconds=60), NOW):
        assert callbacks.check_event_time(_at(when), s, now=NOW) == when
    for when, word in ((NOW - timedelta(hours=1) - ms, "past"), (NOW + timedelta(seconds=60) + ms, "future")):
        with pytest.raises(BadRequest, match=f"^timestamp: .*{word}") as exc:
            callbacks.check_event_time(_at(when), s, now=NOW)
        assert exc.value.status == 400


def test_window_check_names_timestamp_for_unparseable_values_too():
    with pytest.raises(BadRequest, match="^timestamp: "):
        callbacks.check_event_time("0999-12-31T23:59:59Z", settings(), now=NOW)


def test_window_uses_the_clock_by_default():
    s = settings()
    assert callbacks.check_event_time(_at(datetime.now(timezone.utc)), s)
    with pytest.raises(BadRequest, match="timestamp"):
        callbacks.check_event_time("2099-01-01T00:00:00Z", s)


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_the_development_callback_token_is_refused_outside_dev(stage):
    from devkit.defaults import DEV_CALLBACK_TOKEN

    for value in (DEV_CALLBACK_TOKEN, f"{A},{DEV_CALLBACK_TOKEN}"):
        with pytest.raises(ConfigurationError, match="CALLBACK_TOKEN") as exc:
            settings(CALLBACK_TOKEN=value, STAGE=stage)
        assert DEV_CALLBACK_TOKEN not in exc.value.message
    assert settings(CALLBACK_TOKEN=f"{A},{DEV_CALLBACK_TOKEN}", STAGE="dev").CALLBACK_TOKEN
