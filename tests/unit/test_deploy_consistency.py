"""s.yaml <-> template.yaml <-> functions/ <-> shared (settings, archive_keys): drift fails here."""
import ast
import re
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
    assert declared_settings(specs["get_rtc_auth_token"]) == (settings.RtcSettings, settings.CoreSettings,
                                                              settings.OssSettings, settings.QuotaSettings)
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
WORKFLOW = REPO / ".github" / "workflows" / "deploy-stage.yml"
OSS_ACTIONS = ("oss:GetObject", "oss:PutObject", "oss:DeleteObject", "oss:ListObjects")
LOG_RESOURCE = "acs:log:*:*:project/aicall-${Stage}-${ALIYUN::AccountId}/logstore/functions"
# The ICE actions each function calls (its role grants exactly these; a role shared by several
# functions grants their union). Checked against the calls in each function's code below.
ICE_ACTIONS: dict[str, set[str]] = {
    "generate_message_chat_token": {"GenerateMessageChatToken"},
    "describe_ai_agent_instance": {"DescribeAIAgentInstance"},
    "generate_ai_agent_call": {"GenerateAIAgentCall"},
    "start_ai_agent_outbound_call": {"StartAIAgentOutboundCall"},
    "set_ai_agent_voiceprint": {"SetAIAgentVoiceprint"},
    "clear_ai_agent_voiceprint": {"ClearAIAgentVoiceprint"},
    "archive_call_log": {"DescribeAIAgentInstance"},
}
# The Live actions (ARTC cloud recording) each function calls: the call start starts a recording,
# the archive step stops it when the call ends.
LIVE_ACTIONS: dict[str, set[str]] = {
    "generate_ai_agent_call": {"StartRtcCloudRecording"},
    "archive_call_log": {"StopRtcCloudRecording"},
}
# Functions that share one role (same bucket needs in layout.py; the role grants their ICE union).
SHARED_ROLES = {frozenset({"set_ai_agent_voiceprint", "clear_ai_agent_voiceprint"})}
# Roles no function runs with: OSS assumes the trigger role; getOssConfig assumes the client upload role.
NON_FUNCTION_ROLES = {"OssTriggerRole", "ClientUploadRole"}


class _EchoEnv(dict):
    """An environment in which `${env('NAME', ...)}` resolves to `<NAME>`: shows which
    variable an s.yaml value comes from."""

    def get(self, key, default=None):
        return f"<{key}>"


def template() -> dict:
    return yaml.safe_load(TEMPLATE.read_text())


def sub(value) -> str:
    """The text of a `{'Fn::Sub': ...}` or a plain string; `GetAtt:Res.Attr` for a
    `{'Fn::GetAtt': [Res, Attr]}`, `Ref:Name` for a `{'Ref': Name}`."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "GetAtt:" + ".".join(value["Fn::GetAtt"])
    if isinstance(value, dict) and "Ref" in value:
        return "Ref:" + value["Ref"]
    return value["Fn::Sub"] if isinstance(value, dict) else value


def param_default(tpl: dict, value):
    """A literal, or the Default of the template parameter a `{'Ref': ...}` names."""
    if isinstance(value, dict):
        assert set(value) == {"Ref"}, value
        return tpl["Parameters"][value["Ref"]]["Default"]
    return value


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


def roles_sharing(roles: dict[str, str]) -> dict[str, set[str]]:
    """template role -> the s.yaml functions that run with it."""
    out: dict[str, set[str]] = {}
    for key, role in roles.items():
        out.setdefault(role, set()).add(key)
    return out


def ice_client_methods() -> dict[str, str]:
    """IceClient method -> the ICE action it calls (`self.call("Action", ...)`)."""
    tree = ast.parse((REPO / "shared" / "clients" / "ice.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "IceClient")
    out = {}
    for fn in cls.body:
        if isinstance(fn, ast.FunctionDef) and fn.name != "call":
            for node in ast.walk(fn):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "call"
                        and node.args and isinstance(node.args[0], ast.Constant)):
                    out[fn.name] = node.args[0].value
    return out


def ice_actions_called(path: Path) -> set[str]:
    """The ICE actions the code in `path` calls through IceClient's methods."""
    methods = ice_client_methods()
    return {methods[n.func.attr] for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in methods}


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
    # erasures/ (receipts, markers of erased calls) is kept on purpose: see the exemption below.
    written = {p for prefixes in layout.WRITES.values() for p in prefixes} - {layout.ERASURES}
    expiring = {}
    for rule in rules:
        assert rule["Status"] == "Enabled"
        assert set(rule["Expiration"]) == {"Days"} and "Ref" in rule["Expiration"]["Days"], rule["ID"]
        days = tpl["Parameters"][rule["Expiration"]["Days"]["Ref"]]
        assert days["Type"] == "Number" and days["Default"] >= 1, rule["ID"]
        expiring[param_default(tpl, rule["Prefix"])] = rule
    assert len({r["ID"] for r in rules}) == len(rules)
    # Every prefix a function writes is covered (failed/invocations/ by failed/, state/quota/ by state/).
    assert all(any(w.startswith(p) for p in expiring) for w in written), (expiring, written)
    # Every archive prefix has a rule of its own, recordings/ (ICE's audio) included, except
    # erasures/: its receipts are the proof that data was deleted on request, and its markers must
    # outlive any late delivery for an erased call (they hold no personal data).
    kept = {layout.ERASURES}
    assert set(layout.ALL_PREFIXES) - kept <= set(expiring), sorted(set(layout.ALL_PREFIXES) - kept - set(expiring))
    assert not any(p.startswith(layout.ERASURES) for p in expiring)
    assert layout.FAILED_INVOCATIONS.startswith(layout.FAILED) and layout.FAILED in expiring
    # The client API's records (owners, channels, voiceprints, quota) and the client uploads.
    assert all(p.startswith(layout.STATE) for p in (layout.OWNERS, layout.CHANNELS, layout.VOICEPRINTS, layout.QUOTA))
    assert expiring[layout.STATE]["Expiration"]["Days"] == {"Ref": "StateRetentionDays"}
    uploads = expiring[tpl["Parameters"]["ClientUploadPrefix"]["Default"]]
    assert uploads["Prefix"] == {"Ref": "ClientUploadPrefix"}
    assert uploads["Expiration"]["Days"] == {"Ref": "ClientUploadRetentionDays"}


# Retention per prefix: the RETENTION_DAYS_* variables (a public contract) -> the template
# parameter each one sets -> the prefix whose lifecycle rule uses it.
RETENTION_PARAMETERS = {
    "RETENTION_DAYS_CALLBACKS": "CallbackRetentionDays",
    "RETENTION_DAYS_CALL_LOGS": "CallLogRetentionDays",
    "RETENTION_DAYS_ANALYSES": "AnalysisRetentionDays",
    "RETENTION_DAYS_RECORDINGS": "RecordingRetentionDays",
    "RETENTION_DAYS_RAW": "RawRetentionDays",
    "RETENTION_DAYS_INDEX": "IndexRetentionDays",
}
RETENTION_PREFIXES = {
    "RETENTION_DAYS_CALLBACKS": layout.CALLBACKS,
    "RETENTION_DAYS_CALL_LOGS": layout.CALL_LOGS,
    "RETENTION_DAYS_ANALYSES": layout.ANALYSES,
    "RETENTION_DAYS_RECORDINGS": layout.RECORDINGS,
    "RETENTION_DAYS_RAW": layout.RAW,
    "RETENTION_DAYS_INDEX": layout.WAREHOUSE,
}
# What ROS's ALIYUN::OSS::Bucket lifecycle rule accepts (RosBucket.RuleProperty of the ROS CDK,
# ros-cdk-oss 1.14.0): no NoncurrentVersionExpiration, and Expiration.ExpiredObjectDeleteMarker
# may not sit with Days. Previous versions cannot be expired from the template, so the bucket
# must stay unversioned for expiry to delete (test_template_parses_..._not_versioned).
ROS_LIFECYCLE_RULE_KEYS = {"ID", "Prefix", "Status", "Expiration", "AbortMultipartUpload", "Filter", "Transition"}


def lifecycle_rules(tpl: dict) -> list[dict]:
    return tpl["Resources"]["ArchiveBucket"]["Properties"]["LifecycleConfiguration"]["Rule"]


def test_each_retention_variable_sets_its_own_parameter_and_that_prefix_s_rule():
    tpl = template()
    assert set(RETENTION_PARAMETERS) == set(RETENTION_PREFIXES)
    assert len(set(RETENTION_PARAMETERS.values())) == len(RETENTION_PARAMETERS)  # one parameter per prefix
    rules = {param_default(tpl, r["Prefix"]): r for r in lifecycle_rules(tpl)}
    for var, name in RETENTION_PARAMETERS.items():
        param = tpl["Parameters"].get(name)
        assert param is not None, f"{var}: template has no parameter {name}"
        assert param["Type"] == "Number" and param["Default"] >= 1 and param["MinValue"] == 1, (var, param)
        assert var in param["Description"], f"{name}'s description names {var}"
        rule = rules[RETENTION_PREFIXES[var]]
        assert rule["Expiration"] == {"Days": {"Ref": name}}, (var, rule)
        # The parameter sets this prefix's retention and no other's.
        assert [r["ID"] for r in lifecycle_rules(tpl) if r["Expiration"] == {"Days": {"Ref": name}}] == [rule["ID"]]


def test_every_written_prefix_has_exactly_one_rule_that_deletes_everything_under_it():
    tpl = template()
    rules = lifecycle_rules(tpl)
    prefixes = [param_default(tpl, r["Prefix"]) for r in rules]
    written = ({p for ps in layout.WRITES.values() for p in ps} | {layout.RECORDINGS}) - {layout.ERASURES}  # ICE: recordings/
    for w in sorted(written):
        covering = [r for r, p in zip(rules, prefixes) if w.startswith(p)]
        assert len(covering) == 1, (w, [r["ID"] for r in covering])
    for rule in rules:
        assert set(rule) <= ROS_LIFECYCLE_RULE_KEYS, (rule["ID"], set(rule) - ROS_LIFECYCLE_RULE_KEYS)
        assert rule["Status"] == "Enabled" and "Filter" not in rule and "Transition" not in rule, rule["ID"]
        days = rule["Expiration"]["Days"]
        assert set(rule["Expiration"]) == {"Days"} and tpl["Parameters"][days["Ref"]]["MinValue"] == 1, rule["ID"]
        # Parts of multipart uploads never completed go too, on the same clock.
        assert rule["AbortMultipartUpload"] == {"Days": days}, rule["ID"]
    # OSS refuses two rules with AbortMultipartUpload on overlapping prefixes.
    for i, p in enumerate(prefixes):
        assert not any(q.startswith(p) or p.startswith(q) for q in prefixes[i + 1:]), p
    # Non-current versions and delete markers: ROS can expire neither alongside Days, so the
    # only thing that keeps an expired object from surviving as a previous version is that
    # the bucket is never versioned.
    assert "VersioningConfiguration" not in tpl["Resources"]["ArchiveBucket"]["Properties"]


def readme_deploy_section() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("## Deploy per environment")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def ci_deploys_the_template() -> bool:
    """Whether a step of any workflow applies template.yaml (its commands and actions, not comments)."""
    for path in WORKFLOW.parent.glob("*.y*ml"):
        for job in (yaml.safe_load(path.read_text()).get("jobs") or {}).values():
            for step in job.get("steps") or []:
                text = " ".join(str(step.get(k, "")) for k in ("run", "uses", "with"))
                if re.search(r"template\.yaml|\bros\b|CreateStack|UpdateStack", text, re.I):
                    return True
    return False


def test_the_retention_variables_reach_the_template_parameters_where_the_template_is_deployed():
    tpl = template()
    if ci_deploys_the_template():
        env, text = ci_env(), WORKFLOW.read_text()
        for var, name in RETENTION_PARAMETERS.items():
            assert env.get(var, "").startswith(f"${{{{ vars.{var}"), (var, env.get(var))
            assert re.search(rf"{name}\S*\s+\S*\$\{{?{var}\b", text), f"CI does not pass {var} into {name}"
        return
    # Deployed by hand: README gives the table and the exact command, with the template's defaults.
    section = readme_deploy_section()
    rows = {m[0]: m[1:] for m in re.findall(
        r"^\s*\| `(RETENTION_DAYS_[A-Z_]+)` \| `([A-Za-z]+)` \| `([a-z/-]+)` \| (\d+) \|", section, re.M)}
    assert set(rows) == set(RETENTION_PARAMETERS), sorted(set(rows) ^ set(RETENTION_PARAMETERS))
    keys = dict(re.findall(r"--Parameters\.(\d+)\.ParameterKey (\w+)", section))
    values = dict(re.findall(r"--Parameters\.(\d+)\.ParameterValue (\S+)", section))
    assert set(keys) == set(values) and len(set(keys.values())) == len(keys), (keys, values)
    passed = {keys[n]: values[n] for n in keys}
    assert "aliyun ros CreateStack" in section and '--TemplateBody "$(cat template.yaml)"' in section
    for var, name in RETENTION_PARAMETERS.items():
        default = tpl["Parameters"][name]["Default"]
        assert rows[var] == (name, RETENTION_PREFIXES[var], str(default)), (var, rows[var])
        assert passed.get(name) == f'"${{{var}:-{default}}}"', (var, name, passed.get(name))
    assert passed.get("Stage") == '"$STAGE"' and passed.get("BucketName") == '"$ARCHIVE_BUCKET"', passed


def test_each_function_has_a_role_of_its_own_kind_read_from_the_template_outputs():
    tpl = template()
    roles = role_of_each_function(tpl)
    res = tpl["Resources"]
    assert set(roles) == set(syaml.functions())
    assert "FunctionRole" not in res  # no shared all-powerful role any more
    function_roles = {k for k, r in res.items() if r["Type"] == "ALIYUN::RAM::Role" and k not in NON_FUNCTION_ROLES}
    assert set(roles.values()) == function_roles  # no role left unused
    doc = (REPO / "s.yaml").read_text()
    for name, out in tpl["Outputs"].items():
        if name.endswith("RoleArn") or name == "ArchiveBucket":
            assert f"env('{out['Description'].split()[0]}'" in doc, name
    # Roles are shared only by the functions SHARED_ROLES names, and those have the same bucket needs.
    shared = {frozenset(keys) for keys in roles_sharing(roles).values() if len(keys) > 1}
    assert shared == SHARED_ROLES
    for keys in shared:
        for name in ("READS", "WRITES", "LISTS", "DELETES"):
            table = getattr(layout, name)
            assert len({tuple(sorted(table.get(k, ()))) for k in keys}) == 1, (sorted(keys), name)
        assert not keys & set(layout.TRIGGERS)
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
    # Deletes: the steps' retry counters and resolved dead letters; a quota slot given back.
    assert granted.pop("oss:DeleteObject", set()) == set(layout.DELETES.get(key, ())), key
    if key in layout.TRIGGERS:
        assert layout.FAILED in layout.DELETES[key]
    listed = granted.pop("oss:ListObjects", set())
    if key in layout.LISTS:  # a call's callbacks; the open dead letters a success resolves; a day's quota
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
    # Upstream actions: only what the function calls (with a shared role: what its functions call).
    ice = {a.split(":", 1)[1] for a in list(granted) if a.startswith("ice:")}
    ccai = {a for a in list(granted) if a.startswith("contactcenterai:")}
    for a in [a for a in granted if a.startswith(("ice:", "contactcenterai:"))]:
        assert granted.pop(a) == {"*"}
    sharing = roles_sharing(role_of_each_function(tpl))[role]
    assert ice == set().union(*(ICE_ACTIONS.get(k, set()) for k in sharing)), key
    assert ICE_ACTIONS.get(key, set()) <= ice_actions_used()
    assert ccai == ({"contactcenterai:AnalyzeConversation"} if key == "analyze_conversation" else set()), key
    live = {a.split(":", 1)[1] for a in list(granted) if a.startswith("live:")}
    for a in [a for a in granted if a.startswith("live:")]:
        assert granted.pop(a) == {"*"}
    assert live == LIVE_ACTIONS.get(key, set()), key
    # STS: getOssConfig may assume the client upload role, and nothing else may assume anything.
    assumed = granted.pop("sts:AssumeRole", set())
    client_upload = "acs:ram::${ALIYUN::AccountId}:role/" + sub(res["ClientUploadRole"]["Properties"]["RoleName"])
    assert assumed == ({client_upload} if key == "get_oss_config" else set()), key
    assert granted == {}, f"{key}: unexpected grants {granted}"


@pytest.mark.parametrize("key", sorted(syaml.functions()))
def test_the_ice_actions_table_is_what_each_function_calls(key):
    called = ice_actions_called(REPO / "functions" / key / "index.py")
    if key == "archive_call_log":  # through the archive step
        called |= ice_actions_called(REPO / "shared" / "archive" / "workflow.py")
    assert called == ICE_ACTIONS.get(key, set()), key


def test_no_other_shared_module_calls_ice():
    """ICE is called from the functions' handlers and the archive step only (what the table checks)."""
    allowed = {REPO / "shared" / "clients" / "ice.py", REPO / "shared" / "archive" / "workflow.py"}
    for path in sorted((REPO / "shared").rglob("*.py")):
        if path not in allowed:
            assert ice_actions_called(path) == set(), path


def test_token_function_role_calls_no_ice_and_touches_only_its_state():
    tpl = template()
    role = tpl["Resources"][role_of_each_function(tpl)["get_rtc_auth_token"]]
    granted = grants(role)
    assert set(granted) == {"log:PostLogStoreLogs", "oss:GetObject", "oss:PutObject", "oss:ListObjects"}
    assert granted["oss:PutObject"] == {layout.CHANNELS, layout.QUOTA}


def test_client_api_roles_touch_only_state_in_the_bucket():
    """The client-facing functions never reach the archive chain's data (callbacks, call logs, ...)."""
    tpl = template()
    roles = role_of_each_function(tpl)
    for key, spec in syaml.functions().items():
        # ICE's callback is not a client; the erasure endpoint and the archive API are for admins
        # and reach every call.
        if not spec.routes or key in ("ingest_callback", "ingest_recording_callback", "erase_archive", "archive_api"):
            continue
        granted = grants(tpl["Resources"][roles[key]])
        for action in OSS_ACTIONS:
            for prefix in granted.get(action, set()):
                if action == "oss:ListObjects":
                    continue  # the bucket itself, narrowed by its oss:Prefix condition (checked above)
                assert prefix.startswith(layout.STATE), (key, action, prefix)
        for action in ("contactcenterai:AnalyzeConversation", "fc:InvokeFunction"):
            assert action not in granted, (key, action)


def test_upload_role_may_only_assume_the_client_upload_role():
    tpl = template()
    res = tpl["Resources"]
    upload = role_of_each_function(tpl)["get_oss_config"]
    assert [k for k, r in role_of_each_function(tpl).items() if r == upload] == ["get_oss_config"]
    granted = grants(res[upload])
    assert set(granted) == {"log:PostLogStoreLogs", "sts:AssumeRole"}
    # Named rather than Fn::GetAtt: ClientUploadRole's trust policy names UploadRole, a reference back is a cycle.
    assert granted["sts:AssumeRole"] == {"acs:ram::${ALIYUN::AccountId}:role/aicall-${Stage}-client-upload"}
    assert sub(res["ClientUploadRole"]["Properties"]["RoleName"]) == "aicall-${Stage}-client-upload"
    # getOssConfig is told that role's ARN: the stack output s.yaml passes it as CLIENT_UPLOAD_ROLE_ARN.
    spec = syaml.functions(env=_EchoEnv())["get_oss_config"]
    assert spec.env["CLIENT_UPLOAD_ROLE_ARN"] == "<CLIENT_UPLOAD_ROLE_ARN>"
    out = tpl["Outputs"]["ClientUploadRoleArn"]
    assert out["Value"] == {"Fn::GetAtt": ["ClientUploadRole", "Arn"]}
    assert out["Description"].split()[0] == "CLIENT_UPLOAD_ROLE_ARN"
    assert settings.ClientUploadSettings in declared_settings(syaml.functions()["get_oss_config"])


def test_client_upload_role_trusts_only_the_upload_role_and_puts_and_gets_its_prefix():
    tpl = template()
    res = tpl["Resources"]
    props = res["ClientUploadRole"]["Properties"]
    assert res["ClientUploadRole"]["Type"] == "ALIYUN::RAM::Role"
    upload = role_of_each_function(tpl)["get_oss_config"]
    # RAM: a trust policy may name one RAM role of the account as its principal.
    assert props["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [{"Fn::GetAtt": [upload, "Arn"]}]}}]
    # Sessions as long as getOssConfig may ask for (STS refuses a DurationSeconds above this).
    ttl = settings.ClientUploadSettings.model_fields["CLIENT_UPLOAD_TTL_SECONDS"]
    longest = next(m.le for m in ttl.metadata if getattr(m, "le", None) is not None)
    assert props["MaxSessionDuration"] >= max(3600, longest)
    # Put and get under the upload prefix of the bucket: nothing else (no list, no delete, no logs).
    statements = [s for p in props["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert all("Condition" not in s for s in statements)
    assert grants(res["ClientUploadRole"]) == {"oss:PutObject": {"${ClientUploadPrefix}"},
                                               "oss:GetObject": {"${ClientUploadPrefix}"}}
    # getOssConfig's session policy asks for no more than the role has: put/get under <prefix><user>/.
    from shared.api import uploads
    prefix = tpl["Parameters"]["ClientUploadPrefix"]["Default"]
    session = uploads.policy_document("bucket-x", prefix + "u1")["Statement"]
    assert {a for s in session for a in s["Action"]} <= {"oss:PutObject", "oss:GetObject"}
    assert all(r.startswith(f"acs:oss:*:*:bucket-x/{prefix}u1/") for s in session for r in s["Resource"])


def test_client_upload_prefix_is_the_one_s_yaml_and_the_settings_use_and_no_archive_prefix():
    tpl = template()
    param = tpl["Parameters"]["ClientUploadPrefix"]
    field = settings.ClientUploadSettings.model_fields["CLIENT_UPLOAD_PREFIX"]
    assert param["Default"] == field.default
    assert param["AllowedPattern"] == next(m.pattern for m in field.metadata if getattr(m, "pattern", None))
    for stage in STAGES:
        spec = syaml.functions(env={"STAGE": stage})["get_oss_config"]
        assert spec.env["CLIENT_UPLOAD_PREFIX"] == param["Default"]
        assert spec.env["CLIENT_UPLOAD_BUCKET"] == ""  # the archive bucket, the one the role's policy names
    prefix = param["Default"]
    assert not any(prefix.startswith(p) or p.startswith(prefix) for p in layout.ALL_PREFIXES)
    assert not any(prefix.startswith(t.prefix) or t.prefix.startswith(prefix) for t in layout.TRIGGERS.values())


def test_bucket_cors_allows_browser_uploads_from_the_configured_origins():
    tpl = template()
    cors = tpl["Resources"]["ArchiveBucket"]["Properties"]["CORSConfiguration"]
    assert set(cors) <= {"CORSRule", "ResponseVary"}
    (rule,) = cors["CORSRule"]
    assert set(rule) <= {"AllowedOrigin", "AllowedMethod", "AllowedHeader", "ExposeHeader", "MaxAgeSeconds"}
    assert rule["AllowedOrigin"] == {"Ref": "CorsAllowOrigins"}
    assert tpl["Parameters"]["CorsAllowOrigins"]["Type"] == "CommaDelimitedList"
    assert tpl["Parameters"]["CorsAllowOrigins"]["Default"] == "*"
    assert sorted(rule["AllowedMethod"]) == ["GET", "HEAD", "PUT"]  # no DELETE, no POST
    assert rule["AllowedHeader"] == ["*"] and rule["ExposeHeader"] == ["ETag"]
    assert isinstance(rule.get("MaxAgeSeconds", 0), int)


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


def ci_env() -> dict[str, str]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]["deploy"]["env"]


def s_yaml_defaults() -> dict[str, set[str]]:
    """Variable -> the defaults s.yaml gives it in `${env('NAME', 'default')}`."""
    out: dict[str, set[str]] = {}
    for name, default in re.findall(r"""env\('([A-Z0-9_]+)'(?:,\s*'([^']*)')?\)""", (REPO / "s.yaml").read_text()):
        out.setdefault(name, set()).add(default)
    return out


def test_ci_deploy_passes_every_stack_output_s_yaml_reads():
    tpl = template()
    env = ci_env()
    read = s_yaml_defaults()
    outputs = {out["Description"].split()[0] for out in tpl["Outputs"].values() if "Description" in out}
    roles = {v for v in read if v.endswith("_ROLE_ARN")}
    # Every *_ROLE_ARN s.yaml reads is a stack output, and every described output is read by s.yaml.
    assert roles | {"ARCHIVE_BUCKET"} == outputs, sorted(outputs ^ (roles | {"ARCHIVE_BUCKET"}))
    assert outputs <= set(env), sorted(outputs - set(env))
    for var in outputs:  # the stage's stack outputs, kept as variables of its GitHub environment
        assert env[var] == f"${{{{ vars.{var} }}}}", var
    assert "FUNCTION_ROLE_ARN" not in env


# What the client API needs outside dev, and where CI takes it from (secrets: never in vars).
CI_CLIENT_API = {
    "AGENT_POLICY": "secrets",
    "ICE_ALLOWED_REGIONS": "vars",
    "CALL_QUOTA_PER_USER_PER_DAY": "vars",
    "CLIENT_UPLOAD_BUCKET": "vars",
    "CLIENT_UPLOAD_PREFIX": "vars",
    "CLIENT_UPLOAD_TTL_SECONDS": "vars",
    "STS_ENDPOINT": "vars",
}


def test_ci_deploy_passes_the_client_api_settings_with_s_yaml_s_defaults():
    env = ci_env()
    read = s_yaml_defaults()
    for var, source in CI_CLIENT_API.items():
        assert var in read, f"s.yaml no longer reads {var}"
        assert var in env and env[var].startswith(f"${{{{ {source}.{var}"), (var, env.get(var))
    # A fallback in CI (`vars.X || 'd'`) is the default s.yaml gives X: one value per variable.
    for var, value in env.items():
        m = re.fullmatch(r"\$\{\{ (?:vars|secrets)\.([A-Z0-9_]+) \|\| '([^']*)' \}\}", str(value))
        if m and var in read:
            assert m.group(1) == var and read[var] == {m.group(2)}, (var, value, read[var])


def test_http_functions_use_anonymous_triggers_and_have_routes():
    for spec in syaml.functions().values():
        http = [t for t in spec.props.get("triggers") or [] if t.get("triggerType") == "http"]
        if http:
            assert http[0]["triggerConfig"]["authType"] == "anonymous"  # our code authorises
            assert spec.routes, f"{spec.key} has an HTTP trigger but no route in api_domain"


# Where users wait (issue 17): the token function the kits call before every call, the call start,
# and ICE's callback endpoint (3-second deadline).
WARM = {"get_rtc_auth_token", "generate_ai_agent_call", "ingest_callback"}


def test_latency_critical_functions_have_provisioned_instances_configured_per_environment():
    for env, want in (({}, "0"), ({"PROVISIONED_INSTANCES": "2"}, "2")):
        specs = syaml.functions(env={"STAGE": "prod", **env})
        warm = {k: s.props.get("provisionConfig") for k, s in specs.items() if s.props.get("provisionConfig")}
        assert set(warm) == WARM
        for config in warm.values():
            # Idle instances keep their memory, not a CPU: billed at FC's idle rate.
            assert config == {"defaultTarget": want, "alwaysAllocateCPU": False}
    assert "PROVISIONED_INSTANCES: ${{ vars.PROVISIONED_INSTANCES || '0' }}" in WORKFLOW.read_text()


def test_erase_role_reaches_every_copy_of_a_call_and_writes_only_receipts():
    tpl = template()
    granted = grants(tpl["Resources"][role_of_each_function(tpl)["erase_archive"]])
    # receipts and markers, and the index updates that drop the calls' rows
    assert granted["oss:PutObject"] == {layout.ERASURES, layout.INDEX_UPDATES}
    every_copy = {layout.CALLBACKS, layout.CALL_LOGS, layout.RAW, layout.ANALYSES, layout.FAILED, layout.STATE,
                  layout.RECORDINGS, layout.INDEX_UPDATES}
    assert granted["oss:DeleteObject"] == every_copy
    assert "ice:DescribeAIAgentInstance" not in granted and "sts:AssumeRole" not in granted
