"""The value types of the cold path (plain classes and NamedTuples, no dataclasses): what their
callers rely on - defaults, equality, immutability, reprs that keep secrets out, copies."""
import copy
import json
import pickle

import pytest

from shared import oss_trigger
from shared.analysis.dialog import Plan
from shared.archive import dead_letters, layout
from shared.archive.compaction import Report
from shared.archive.dead_letters import Failure, Unit
from shared.clients.ccai import Answer
from shared.clients.object_store import ObjectInfo, PutResult
from shared.clients.sts import TemporaryCredentials
from shared.http import Headers, RawResponse, Request
from shared.privacy.redact import Finding
from tests.fakes import MemoryStore

SECRET, TOKEN = "sk-very-secret-value", "CAIS-security-token-value"


def creds() -> TemporaryCredentials:
    return TemporaryCredentials("STS.id", SECRET, TOKEN, "2026-12-01T12:52:19Z", 1796129539.0)


def test_temporary_credentials_keep_the_secret_and_the_token_out_of_every_rendering():
    c = creds()
    assert c.access_key_secret == SECRET and c.security_token == TOKEN and c.expires_at == 1796129539.0
    for text in (repr(c), str(c), repr([c]), str({"c": c})):
        assert SECRET not in text and TOKEN not in text and "STS.id" in text
    assert not isinstance(c, tuple)  # nothing iterates the secret out (json, log redaction)
    with pytest.raises(TypeError):
        json.dumps(c)
    from shared.log import redact

    assert redact({"value": c}) == {"value": c}  # left as it is: the formatter logs its repr


def test_temporary_credentials_are_immutable_values():
    c = creds()
    with pytest.raises(AttributeError):
        c.access_key_secret = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del c.security_token  # type: ignore[misc]
    assert c == creds() and hash(c) == hash(creds()) and c != TemporaryCredentials("STS.other", SECRET, TOKEN,
                                                                                   c.expiration, c.expires_at)
    assert c != ("STS.id", SECRET, TOKEN, c.expiration, c.expires_at)
    assert copy.copy(c) == c and copy.deepcopy(c) == c and pickle.loads(pickle.dumps(c)) == c


def test_finding_is_an_immutable_value_that_never_shows_its_text():
    f = Finding("mobile", 0, 11, "13800138000")
    assert (f.kind, f.start, f.end, f.text) == ("mobile", 0, 11, "13800138000")
    assert repr(f) == "Finding(kind='mobile', start=0, end=11)"
    assert f == Finding("mobile", 0, 11, "13800138000") != Finding("mobile", 0, 11, "13800138001")
    assert len({f, Finding("mobile", 0, 11, "13800138000")}) == 1
    assert not isinstance(f, tuple)
    with pytest.raises(AttributeError):
        f.text = "x"  # type: ignore[misc]
    assert copy.copy(f) == f and pickle.loads(pickle.dumps(f)) == f


def test_object_info_compares_and_hashes_without_its_metadata():
    listed = ObjectInfo("k", 3, "e", "2025-08-14T02:00:00Z")
    headed = ObjectInfo("k", 3, "e", "2025-08-14T02:00:00Z", {"profile-hash": "abc"})
    assert listed == headed and not listed != headed and hash(listed) == hash(headed)
    assert listed != ObjectInfo("k", 4, "e", "2025-08-14T02:00:00Z")
    assert ObjectInfo("k", 3, "e") == ObjectInfo(key="k", size=3, etag="e", last_modified=None, metadata=None)
    assert headed.metadata == {"profile-hash": "abc"} and listed.metadata is None
    assert PutResult("k", "e", True) == PutResult(key="k", etag="e", created=True)
    with pytest.raises(AttributeError):
        listed.size = 4  # type: ignore[misc]


def test_request_keeps_its_parameters_and_keeps_the_parsed_body_out_of_the_repr():
    req = Request("POST", "/x", Headers({"A": "b"}), {}, b'{"secret_body": 1}')
    assert (req.source_ip, req.request_id) == ("", "")
    assert req.json() == {"secret_body": 1} and req.json() is req.json()  # parsed once
    assert "secret_body" in repr(req) and "_json" not in repr(req)  # the body is shown, the cache not
    kw = Request(method="GET", path="/", headers=Headers(), query={"q": "1"}, body=b"", source_ip="1.2.3.4",
                 request_id="r", _json={"preset": True})
    assert kw.json() == {"preset": True} and kw.query == {"q": "1"} and kw.source_ip == "1.2.3.4"


def test_mutable_defaults_are_fresh_per_instance():
    a, b = RawResponse(b"", "text/plain"), RawResponse(b"x", "text/plain", status=404)
    a.headers["ETag"] = "1"
    assert b.headers == {} and b.status == 404 and a.status == 200
    r1, r2 = Report(), Report()
    r1.days.append("2025-08-14")
    r1.updates += 2
    assert r2.days == [] and r1.as_dict()["days"] == ["2025-08-14"] and r1.as_dict()["updates"] == 2
    assert "days=['2025-08-14']" in repr(r1)
    p1, p2 = Plan([[]], 0, 0, 10), Plan([[]], 0, 0, 10)
    p1.details["x"] = 1
    assert p2.details == {} and p2.record() is None
    ans = Answer({"text": "t"}, "rid", 1, 2.5)
    assert ans.events == 0 and "rid" in repr(ans)


def test_a_unit_without_fields_has_the_digests_it_had():
    unit = Unit("archive", "2025-08-14", "inst1", "callbacks/x.json")
    assert unit == Unit("archive", "2025-08-14", "inst1", "callbacks/x.json", {}, ())
    assert unit.digest == Unit("archive", "2025-08-14", "inst1", "callbacks/x.json", {}).digest \
        == layout.content_digest({"step": "archive", "source": "callbacks/x.json"})
    with pytest.raises(TypeError):
        unit.fields["x"] = 1  # type: ignore[index]  # the shared default cannot be changed
    store = MemoryStore()
    key = dead_letters.dead_letter(store, unit, "why", "Code")
    digest = layout.content_digest({"source": "callbacks/x.json", "stage": "archive", "unit": {},
                                    "error_code": "Code"})
    assert key == layout.failed_key("archive", "2025-08-14", "inst1", digest)
    assert "unit" not in json.loads(store.get(key)[0])


def test_a_failure_with_extra_is_recorded_with_it():
    failure = dead_letters.unexpected(ValueError("boom"))._replace(extra={"profile": {"name": "p"}})
    assert failure == Failure("Unexpected.ValueError", "ValueError: boom", True, None, {"profile": {"name": "p"}})
    assert dict(dead_letters.unexpected(ValueError("x")).extra) == {}
    unit = Unit("analyze", "2025-08-14", "inst1", "call-logs/x.json", {"profile": "p"}, scope=("profile",))
    store = MemoryStore()
    key = dead_letters.settle(store, unit, failure._replace(retryable=False), 3)
    assert key is not None
    doc = json.loads(store.get(key)[0])
    assert doc["profile"] == {"name": "p"} and doc["unit"] == {"profile": "p"}


def test_outcome_fields_of_a_named_tuple_and_of_a_plain_object():
    from shared.archive.workflow import Outcome

    assert oss_trigger.outcome_fields(Outcome("archived", "k")) == {"status": "archived", "key": "k"}
    assert oss_trigger.outcome_fields(None) == {}

    class Plain:
        def __init__(self) -> None:
            self.status, self.key, self.reason = "done", None, "r"

    assert oss_trigger.outcome_fields(Plain()) == {"status": "done", "reason": "r"}
