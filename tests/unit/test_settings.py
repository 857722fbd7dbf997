import pytest

from shared.errors import ConfigurationError
from shared.settings import CoreSettings, RtcSettings, load

SECRET = "k" * 40


def test_defaults():
    s = load(CoreSettings, {"AUTH_JWT_SECRET": SECRET})
    assert (s.STAGE, s.AUTH_MODE, s.HTTP_MAX_BODY_BYTES, s.CORS_ALLOW_ORIGINS) == ("dev", "jwt", 65536, ("*",))
    r = load(RtcSettings, {"LIVE_MIC_APP_ID": "a", "LIVE_MIC_APP_KEY": "b"})
    assert r.RTC_TOKEN_TTL_SECONDS == 86400 and r.RTC_GSLB == ("https://gw.rtn.aliyuncs.com",)


@pytest.mark.parametrize("env, names", [
    ({"AUTH_MODE": "jwt"}, ["AUTH_JWT_SECRET"]),
    ({"AUTH_MODE": "static"}, ["AUTH_STATIC_TOKENS"]),
    ({"AUTH_MODE": "magic"}, ["AUTH_MODE"]),
    ({"STAGE": "qa", "AUTH_MODE": "none"}, ["STAGE"]),
    ({"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": "short-secret-value"}, ["AUTH_JWT_SECRET"]),
    ({"AUTH_MODE": "none", "HTTP_MAX_BODY_BYTES": "lots"}, ["HTTP_MAX_BODY_BYTES"]),
])
def test_errors_name_the_variable(env, names):
    with pytest.raises(ConfigurationError) as exc:
        load(CoreSettings, env)
    for name in names:
        assert name in exc.value.message


@pytest.mark.parametrize("mode", ["none", "static"])
def test_prod_refuses_weak_auth(mode):
    with pytest.raises(ConfigurationError, match="STAGE=prod"):
        load(CoreSettings, {"STAGE": "prod", "AUTH_MODE": mode, "AUTH_STATIC_TOKENS": "abcdefgh"})


def test_prod_accepts_jwt():
    assert load(CoreSettings, {"STAGE": "prod", "AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET}).STAGE == "prod"


@pytest.mark.parametrize("env, name", [
    ({"LIVE_MIC_APP_KEY": "b"}, "LIVE_MIC_APP_ID"),
    ({"LIVE_MIC_APP_ID": "a"}, "LIVE_MIC_APP_KEY"),
    ({"LIVE_MIC_APP_ID": "a", "LIVE_MIC_APP_KEY": "b", "RTC_TOKEN_TTL_SECONDS": "86401"}, "RTC_TOKEN_TTL_SECONDS"),
    ({"LIVE_MIC_APP_ID": "a", "LIVE_MIC_APP_KEY": "b", "RTC_GSLB": "http://x"}, "RTC_GSLB"),
])
def test_rtc_errors_name_the_variable(env, name):
    with pytest.raises(ConfigurationError, match=name):
        load(RtcSettings, env)


def test_secret_values_never_in_error_messages():
    secret = "super-secret-value-that-is-long-enough-but-bad\x00"
    with pytest.raises(ConfigurationError) as exc:
        load(RtcSettings, {"LIVE_MIC_APP_KEY": secret, "RTC_TOKEN_TTL_SECONDS": secret})
    assert secret not in exc.value.message and "super-secret" not in exc.value.message


def test_cached_once_per_process(monkeypatch):
    monkeypatch.setenv("AUTH_MODE", "none")
    first = load(CoreSettings)
    monkeypatch.setenv("AUTH_MODE", "jwt")
    assert load(CoreSettings) is first
