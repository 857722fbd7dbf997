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
    assert load(CoreSettings, {"STAGE": "prod", "AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET,
                               "CORS_ALLOW_ORIGINS": "https://app.example.com"}).STAGE == "prod"


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


# --- Security review: stage rules of CoreSettings.

PROD_ORIGINS = {"CORS_ALLOW_ORIGINS": "https://app.example.com"}


@pytest.mark.parametrize("stage", ["staging", "prod"])
@pytest.mark.parametrize("mode", ["none", "static"])
def test_weak_auth_only_when_stage_is_dev(stage, mode):
    env = {"AUTH_MODE": mode, "AUTH_STATIC_TOKENS": "abcdefgh-token", **PROD_ORIGINS}
    with pytest.raises(ConfigurationError, match=f"AUTH_MODE={mode} is refused when STAGE={stage}"):
        load(CoreSettings, {**env, "STAGE": stage})
    assert load(CoreSettings, {**env, "STAGE": "dev"}).AUTH_MODE == mode


@pytest.mark.parametrize("stage", ["staging", "prod"])
@pytest.mark.parametrize("variant", ["{}", " {} ", "{}\n"])
def test_dev_jwt_secret_refused_outside_dev(stage, variant):
    from devkit.defaults import DEV_JWT_SECRET

    secret = variant.format(DEV_JWT_SECRET)
    with pytest.raises(ConfigurationError, match="AUTH_JWT_SECRET") as exc:
        load(CoreSettings, {"STAGE": stage, "AUTH_JWT_SECRET": secret, **PROD_ORIGINS})
    assert f"STAGE={stage}" in exc.value.message and DEV_JWT_SECRET not in exc.value.message
    assert load(CoreSettings, {"STAGE": "dev", "AUTH_JWT_SECRET": secret}).STAGE == "dev"


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_dev_static_token_refused_outside_dev(stage):
    from devkit.defaults import DEV_TOKEN

    with pytest.raises(ConfigurationError, match="AUTH_STATIC_TOKENS") as exc:
        load(CoreSettings, {"STAGE": stage, "AUTH_JWT_SECRET": SECRET, **PROD_ORIGINS,
                            "AUTH_STATIC_TOKENS": f"another-token-1234,{DEV_TOKEN}"})
    assert DEV_TOKEN not in exc.value.message


@pytest.mark.parametrize("origins", [None, "*", "https://app.example.com,*", " * "])
def test_prod_refuses_wildcard_cors(origins):
    env = {"STAGE": "prod", "AUTH_JWT_SECRET": SECRET}
    if origins is not None:
        env["CORS_ALLOW_ORIGINS"] = origins
    with pytest.raises(ConfigurationError, match="CORS_ALLOW_ORIGINS") as exc:
        load(CoreSettings, env)
    assert "STAGE=prod" in exc.value.message


def test_explicit_cors_origins_in_prod_and_wildcard_elsewhere():
    s = load(CoreSettings, {"STAGE": "prod", "AUTH_JWT_SECRET": SECRET,
                            "CORS_ALLOW_ORIGINS": "https://app.example.com, https://admin.example.com"})
    assert s.CORS_ALLOW_ORIGINS == ("https://app.example.com", "https://admin.example.com")
    for stage in ("dev", "staging"):
        assert load(CoreSettings, {"STAGE": stage, "AUTH_JWT_SECRET": SECRET}).CORS_ALLOW_ORIGINS == ("*",)


def test_jwt_claim_settings_defaults_and_bounds():
    s = load(CoreSettings, {"AUTH_JWT_SECRET": SECRET})
    assert (s.AUTH_JWT_MAX_TTL_SECONDS, s.AUTH_JWT_AUDIENCE, s.AUTH_JWT_ISSUER) == (86400, None, None)
    s = load(CoreSettings, {"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_MAX_TTL_SECONDS": "600",
                            "AUTH_JWT_AUDIENCE": "aicall", "AUTH_JWT_ISSUER": "https://login.example"})
    assert (s.AUTH_JWT_MAX_TTL_SECONDS, s.AUTH_JWT_AUDIENCE, s.AUTH_JWT_ISSUER) == (600, "aicall",
                                                                                    "https://login.example")
    for bad in ("59", "2592001", "ten", "-1"):
        with pytest.raises(ConfigurationError, match="AUTH_JWT_MAX_TTL_SECONDS"):
            load(CoreSettings, {"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_MAX_TTL_SECONDS": bad})
    for name in ("AUTH_JWT_AUDIENCE", "AUTH_JWT_ISSUER"):
        with pytest.raises(ConfigurationError, match=name):
            load(CoreSettings, {"AUTH_JWT_SECRET": SECRET, name: "x" * 257})
