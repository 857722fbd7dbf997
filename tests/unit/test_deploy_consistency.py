"""s.yaml <-> template.yaml <-> functions/ <-> shared (settings, archive_keys): drift fails here."""
import ast
from pathlib import Path

import pytest
import yaml

from devkit import syaml
from shared import settings
from shared.archive import layout

REPO = Path(__file__).resolve().parents[2]
STAGES = ("dev", "staging", "prod")
# Set by Function Compute itself from the function's role; never in s.yaml.
FC_PROVIDED = {"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"}


def declared_settings(spec) -> tuple[type, ...]:
    """The settings groups a function declares (`SETTINGS`, kept by its decorator on the handler)."""
    from devkit.sandbox.fc_context import load_handler

    groups = load_handler(spec, fresh=True).settings_groups
    assert groups, f"{spec.key}: declares no settings"
    return groups


def required_vars(cls) -> set[str]:
    return {name for name, field in cls.model_fields.items() if field.is_required()}


@pytest.mark.parametrize("stage", STAGES)
def test_every_required_setting_is_set_in_s_yaml_for_every_stage(stage):
    env = {"STAGE": stage}
    for spec in syaml.functions(env=env).values():
        declared = set(spec.env)
        for cls in declared_settings(spec):
            missing = required_vars(cls) - declared - FC_PROVIDED
            assert not missing, f"{spec.key} ({stage}): {cls.__name__} needs {sorted(missing)} in s.yaml"
        assert spec.env.get("STAGE") == stage


def test_every_function_declares_its_settings_in_one_place():
    specs = syaml.functions()
    assert declared_settings(specs["get_rtc_auth_token"]) == (settings.RtcSettings, settings.CoreSettings)
    assert settings.CallbackSettings in declared_settings(specs["ingest_callback"])
    assert settings.ArchiveSettings in declared_settings(specs["archive_call_log"])
    for spec in specs.values():
        groups = declared_settings(spec)
        assert all(issubclass(g, settings.EnvSettings) for g in groups)
        http = [g for g in groups if issubclass(g, settings.HttpSettings)]
        assert len(http) == (1 if spec.routes else 0), spec.key


def test_oss_triggers_match_the_archive_key_layout():
    specs = syaml.functions()
    declared = {k: (t.prefix, t.suffix) for k, s in specs.items() for t in s.oss_triggers}
    assert declared == {k: tuple(v) for k, v in layout.TRIGGERS.items() if k in specs}
    for spec in specs.values():
        for t in spec.oss_triggers:
            assert set(t.events) == {"oss:ObjectCreated:PutObject", "oss:ObjectCreated:PostObject",
                                     "oss:ObjectCreated:CopyObject", "oss:ObjectCreated:CompleteMultipartUpload"}
            assert spec.async_config.get("maxAsyncRetryAttempts") is not None


def test_no_function_writes_under_a_prefix_that_triggers_itself():
    for name, (prefix, _suffix) in layout.TRIGGERS.items():
        for written in layout.WRITES.get(name, ()):
            assert not (written.startswith(prefix) or prefix.startswith(written)), (name, written, prefix)


def test_archive_attempts_match_fc_retries():
    spec = syaml.functions()["archive_call_log"]
    assert int(spec.env["ARCHIVE_MAX_ATTEMPTS"]) == spec.async_config["maxAsyncRetryAttempts"] + 1


# --- template.yaml: the bucket, one least-privilege role per kind of function --------------

TEMPLATE = REPO / "template.yaml"
OSS_ACTIONS = ("oss:GetObject", "oss:PutObject", "oss:DeleteObject", "oss:ListObjects")
LOG_RESOURCE = "acs:log:*:*:project/aicall-${Stage}-${ALIYUN::AccountId}/logstore/functions"


class _EchoEnv(dict):
    """An environment in which `${env('NAME', ...)}` resolves to `<NAME>`: shows which
    variable an s.yaml value comes from."""

    def get(self, key, default=None):
        return f"<{key}>"


def template() -> dict:
    return yaml.safe_load(TEMPLATE.read_text())


def sub(value) -> str:
    """The text of a `{'Fn::Sub': ...}` or a plain string."""
    return value["Fn::Sub"] if isinstance(value, dict) else value


def role_of_each_function(tpl: dict) -> dict[str, str]:
    """s.yaml function -> the template resource of its role, through the env var and the Output."""
    by_var = {}
    for name, out in tpl["Outputs"].items():
        value = out.get("Value")
        att = value.get("Fn::GetAtt") if isinstance(value, dict) else None
        if att and att[1] == "Arn":
            var = out["Description"].split()[0]
            assert name == "".join(w.capitalize() for w in var.lower().split("_")[:-1]) + "Arn", (name, var)
            by_var[var] = att[0]
    out = {}
    for key, spec in syaml.functions(env=_EchoEnv()).items():
        var = spec.props["role"].strip("<>")
        assert var in by_var, f"{key}: role from {var}, which no template Output provides"
        out[key] = by_var[var]
    return out


def grants(role: dict) -> dict[str, set[str]]:
    """action -> resources (Fn::Sub texts) granted by a role's policies; `oss:` resources as
    the prefix after the bucket name (`""` for the bucket itself)."""
    out: dict[str, set[str]] = {}
    for policy in role["Properties"]["Policies"]:
        for st in policy["PolicyDocument"]["Statement"]:
            assert st["Effect"] == "Allow"
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            for action in st["Action"]:
                assert "*" not in action, f"wildcard action {action}"
                for r in map(sub, resources):
                    if action.startswith("oss:"):
                        assert r.startswith("acs:oss:*:*:${BucketName}"), r
                        r = r.removeprefix("acs:oss:*:*:${BucketName}").removeprefix("/").removesuffix("*")
                    out.setdefault(action, set()).add(r)
    return out


def ice_actions_used() -> set[str]:
    used = set()
    for f in (REPO / "shared" / "clients" / "ice.py", REPO / "shared" / "archive" / "workflow.py"):
        used |= {node.value for node in ast.walk(ast.parse(f.read_text()))
                 if isinstance(node, ast.Constant) and isinstance(node.value, str)
                 and node.value[:1].isupper() and node.value.isalpha() and "AIAgent" in node.value}
    return used | {"GenerateMessageChatToken"}


def test_template_parses_and_the_bucket_is_private_encrypted_and_not_versioned():
    res = template()["Resources"]
    bucket = res["ArchiveBucket"]["Properties"]
    assert res["ArchiveBucket"]["Type"] == "ALIYUN::OSS::Bucket"
    assert bucket["AccessControl"] == "private" and bucket["BlockPublicAccess"] is True
    assert bucket["ServerSideEncryptionConfiguration"]["SSEAlgorithm"]
    # OSS ignores x-oss-forbid-overwrite on a versioned bucket (write-if-absent would
    # overwrite and fire triggers again), and expiry would only hide data behind a
    # delete marker: the archive bucket must never be versioned.
    assert "VersioningConfiguration" not in bucket


def test_lifecycle_really_deletes_every_written_prefix():
    tpl = template()
    rules = tpl["Resources"]["ArchiveBucket"]["Properties"]["LifecycleConfiguration"]["Rule"]
    written = {p for prefixes in layout.WRITES.values() for p in prefixes}
    expiring = set()
    for rule in rules:
        assert rule["Status"] == "Enabled"
        assert set(rule["Expiration"]) == {"Days"} and "Ref" in rule["Expiration"]["Days"], rule["ID"]
        expiring.add(rule["Prefix"])
    # Every prefix a function writes is covered (failed/invocations/ by failed/).
    assert all(any(w.startswith(p) for p in expiring) for w in written), (expiring, written)
    assert layout.RECORDINGS not in expiring
    assert layout.FAILED_INVOCATIONS.startswith(layout.FAILED) and layout.FAILED in expiring


def test_each_function_has_a_role_of_its_own_kind_read_from_the_template_outputs():
    tpl = template()
    roles = role_of_each_function(tpl)
    res = tpl["Resources"]
    assert set(roles) == set(syaml.functions())
    assert "FunctionRole" not in res  # no shared all-powerful role any more
    function_roles = {k for k, r in res.items() if r["Type"] == "ALIYUN::RAM::Role" and k != "OssTriggerRole"}
    assert set(roles.values()) == function_roles  # no role left unused
    doc = (REPO / "s.yaml").read_text()
    for name, out in tpl["Outputs"].items():
        if name.endswith("RoleArn") or name == "ArchiveBucket":
            assert f"env('{out['Description'].split()[0]}'" in doc, name
    # Roles are shared only by functions with the same needs.
    token = roles["get_rtc_auth_token"]
    assert [k for k, r in roles.items() if r == token] == ["get_rtc_auth_token"]
    for key, role in roles.items():
        statement = res[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement == [{"Effect": "Allow", "Action": "sts:AssumeRole",
                              "Principal": {"Service": ["fc.aliyuncs.com"]}}], key


@pytest.mark.parametrize("key", sorted(syaml.functions()))
def test_each_role_grants_exactly_what_its_function_uses(key):
    tpl = template()
    res = tpl["Resources"]
    role = role_of_each_function(tpl)[key]
    granted = grants(res[role])
    spec = syaml.functions()[key]
    # Every role writes its function's logs, to the log store the template creates ...
    assert granted.pop("log:PostLogStoreLogs") == {LOG_RESOURCE}
    assert spec.props["logConfig"]["logstore"] == res["LogStore"]["Properties"]["LogstoreName"]
    # ... and in the bucket exactly what the function reads and writes (shared/archive/layout.py).
    assert granted.pop("oss:PutObject", set()) == set(layout.WRITES.get(key, ())), key
    assert granted.pop("oss:GetObject", set()) == set(layout.READS.get(key, ())), key
    deleted = granted.pop("oss:DeleteObject", set())
    assert deleted == ({layout.FAILED} if key in layout.TRIGGERS else set()), key  # retry counters
    listed = granted.pop("oss:ListObjects", set())
    if key in layout.LISTS:  # a call's callbacks; the open dead letters a success resolves
        assert listed == {""}
        st = next(s for p in res[role]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]
                  if "oss:ListObjects" in s["Action"])
        assert st["Condition"] == {"StringLike": {"oss:Prefix": [p + "*" for p in layout.LISTS[key]]}}
    else:
        assert listed == set(), key
    # The failure destination: the triggered functions' roles may invoke it, nothing else.
    destination = ((spec.async_config.get("destinationConfig") or {}).get("onFailure") or {}).get("destination")
    invoke = granted.pop("fc:InvokeFunction", set())
    if key in layout.TRIGGERS:
        target = syaml.functions()["record_failed_invocation"].function_name  # STAGE=dev
        assert destination and destination.endswith(f":functions/{target}")
        assert invoke == {"acs:fc:*:${ALIYUN::AccountId}:functions/"
                          + target.replace("aicall-dev-", "aicall-${Stage}-")}
    else:
        assert invoke == set() and destination is None, key
    # Upstream actions: only what the function calls.
    ice = {a.split(":", 1)[1] for a in list(granted) if a.startswith("ice:")}
    ccai = {a for a in list(granted) if a.startswith("contactcenterai:")}
    for a in [a for a in granted if a.startswith(("ice:", "contactcenterai:"))]:
        assert granted.pop(a) == {"*"}
    if spec.routes and any(s.__name__ == "IceSettings" for s in declared_settings(spec)):
        assert ice == {"GenerateMessageChatToken", "DescribeAIAgentInstance", "GenerateAIAgentCall"}
        assert ice <= ice_actions_used()
    elif key == "archive_call_log":
        assert ice == {"DescribeAIAgentInstance"}
    else:
        assert ice == set(), key
    assert ccai == ({"contactcenterai:AnalyzeConversation"} if key == "analyze_conversation" else set()), key
    assert granted == {}, f"{key}: unexpected grants {granted}"


def test_token_function_role_touches_neither_oss_nor_ice():
    tpl = template()
    role = tpl["Resources"][role_of_each_function(tpl)["get_rtc_auth_token"]]
    assert set(grants(role)) == {"log:PostLogStoreLogs"}


def test_oss_trigger_role_invokes_only_the_triggered_functions():
    tpl = template()
    trigger_role = tpl["Resources"]["OssTriggerRole"]["Properties"]
    assert trigger_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == ["oss.aliyuncs.com"]
    invoke = grants(tpl["Resources"]["OssTriggerRole"]).pop("fc:InvokeFunction")
    triggered = {s.function_name.replace("aicall-dev-", "aicall-${Stage}-")
                 for s in syaml.functions().values() if s.oss_triggers}
    assert invoke == {f"acs:fc:*:${{ALIYUN::AccountId}}:functions/{n}" for n in triggered}
    for output, var in (("OssTriggerRoleArn", "OSS_TRIGGER_ROLE_ARN"), ("ArchiveBucket", "ARCHIVE_BUCKET")):
        assert output in tpl["Outputs"] and f"env('{var}'" in (REPO / "s.yaml").read_text()


def test_failure_destination_is_an_event_function_that_never_triggers_or_loops():
    specs = syaml.functions()
    dest = specs["record_failed_invocation"]
    assert not dest.routes and not dest.oss_triggers
    assert "destinationConfig" not in dest.async_config  # no destination of its own: no loop
    assert dest.async_config["maxAsyncRetryAttempts"] >= specs["archive_call_log"].async_config["maxAsyncRetryAttempts"]
    for key in layout.TRIGGERS:
        target = specs[key].async_config["destinationConfig"]["onFailure"]["destination"]
        assert target.startswith("acs:fc:") and target.endswith(f":functions/{dest.function_name}")
    assert not layout.triggered_by(layout.FAILED_INVOCATIONS + "dt=2025-01-01/x-1.json")


def test_ci_deploy_passes_every_stack_output_s_yaml_reads():
    import re

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "deploy-stage.yml").read_text())
    env = workflow["jobs"]["deploy"]["env"]
    wanted = set(re.findall(r"env\('([A-Z_]+_ROLE_ARN)'", (REPO / "s.yaml").read_text())) | {"ARCHIVE_BUCKET"}
    assert len(wanted) == 8 and wanted <= set(env), sorted(wanted - set(env))
    assert "FUNCTION_ROLE_ARN" not in env


def test_http_functions_use_anonymous_triggers_and_have_routes():
    for spec in syaml.functions().values():
        http = [t for t in spec.props.get("triggers") or [] if t.get("triggerType") == "http"]
        if http:
            assert http[0]["triggerConfig"]["authType"] == "anonymous"  # our code authorises
            assert spec.routes, f"{spec.key} has an HTTP trigger but no route in api_domain"
