"""Development secrets stay on the laptop, and prod's CORS is an explicit list (security review).

shared/ cannot import devkit, so shared/settings/__init__.py keeps SHA-256 fingerprints of devkit's
public development values; these tests fail when the two drift apart.
"""
import hashlib

import pytest

from devkit import defaults, syaml
from shared.errors import ConfigurationError
from shared.settings import DEV_SECRET_FINGERPRINTS, CoreSettings, HttpSettings, is_dev_secret, load


@pytest.mark.parametrize("name", sorted(DEV_SECRET_FINGERPRINTS))
def test_fingerprints_are_those_of_devkits_current_values(name):
    value = getattr(defaults, name)
    assert hashlib.sha256(value.encode()).hexdigest() == DEV_SECRET_FINGERPRINTS[name], (
        f"devkit/defaults.py {name} changed: update its fingerprint in shared/settings/__init__.py")
    assert is_dev_secret(value) and is_dev_secret(f" {value}\n")


def test_every_secret_devkit_fills_in_is_recognised():
    env = defaults.DEV_ENV
    values = [env["AUTH_JWT_SECRET"], env["CALLBACK_TOKEN"],
              *(t.strip() for t in env["AUTH_STATIC_TOKENS"].split(","))]
    assert all(is_dev_secret(v) for v in values)
    assert {"DEV_JWT_SECRET", "DEV_CALLBACK_TOKEN", "DEV_TOKEN"} <= set(DEV_SECRET_FINGERPRINTS)


@pytest.mark.parametrize("value", ["", "x" * 40, defaults.DEV_JWT_SECRET[:-1], defaults.DEV_TOKEN.upper(),
                                   defaults.DEV_BUCKET])
def test_other_values_are_not_dev_secrets(value):
    assert not is_dev_secret(value)


# --- s.yaml: what each stage deploys, resolved as CI resolves it.

CI_ENV = {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": "c" * 48, "LIVE_MIC_APP_ID": "app", "LIVE_MIC_APP_KEY": "key",
          "CALLBACK_TOKEN": "callback-token-of-ci-0123456789"}


def client_functions(env):
    """(key, resolved environment) of every function whose HTTP settings are CoreSettings."""
    from devkit.sandbox.fc_context import load_handler

    out = []
    for key, spec in syaml.functions(env=env).items():
        groups = load_handler(spec, fresh=True).settings_groups
        if CoreSettings in groups:
            out.append((key, {k: str(v) for k, v in spec.env.items()}))
    assert len(out) >= 4
    return out


def test_prod_needs_explicit_cors_origins_from_the_environment():
    env = {**CI_ENV, "STAGE": "prod"}
    for key, fn_env in client_functions(env):
        with pytest.raises(ConfigurationError, match="CORS_ALLOW_ORIGINS") as exc:
            load(CoreSettings, fn_env)
        assert "STAGE=prod" in exc.value.message, key
    env["CORS_ALLOW_ORIGINS"] = "https://app.example.com,https://admin.example.com"
    for key, fn_env in client_functions(env):
        assert fn_env["CORS_ALLOW_ORIGINS"] == env["CORS_ALLOW_ORIGINS"], f"{key}: s.yaml must read it from the env"
        assert load(CoreSettings, fn_env).CORS_ALLOW_ORIGINS == ("https://app.example.com",
                                                                 "https://admin.example.com")


@pytest.mark.parametrize("stage", ["dev", "staging"])
def test_other_stages_keep_the_wildcard_default(stage):
    for _key, fn_env in client_functions({**CI_ENV, "STAGE": stage}):
        assert load(CoreSettings, fn_env).CORS_ALLOW_ORIGINS == ("*",)


def test_prod_cors_rule_does_not_touch_the_callback_endpoint():
    # ICE calls it server to server; s.yaml gives it no CORS_ALLOW_ORIGINS.
    spec = syaml.functions(env={**CI_ENV, "STAGE": "prod"})["ingest_callback"]
    assert "CORS_ALLOW_ORIGINS" not in spec.env
    http = load(HttpSettings, {k: str(v) for k, v in spec.env.items()})
    assert http.STAGE == "prod" and http.CORS_ALLOW_ORIGINS == ("*",)


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_deployed_stages_refuse_the_dev_jwt_secret(stage):
    env = {**CI_ENV, "STAGE": stage, "AUTH_JWT_SECRET": defaults.DEV_JWT_SECRET,
           "CORS_ALLOW_ORIGINS": "https://app.example.com"}
    for key, fn_env in client_functions(env):
        with pytest.raises(ConfigurationError, match="AUTH_JWT_SECRET") as exc:
            load(CoreSettings, fn_env)
        assert defaults.DEV_JWT_SECRET not in exc.value.message, key
