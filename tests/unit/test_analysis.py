"""Analysis business rules: profiles, dialog -> sentences, the long-dialog policy,
result merging; and the CCAI client's SSE parsing and text assembly."""
import json

import pytest

from shared.analysis import dialog, results
from shared.analysis import profile as profiles
from shared.clients import ccai


def test_every_profile_in_the_repo_is_valid_and_named_after_its_file():
    names = profiles.available_profiles()
    assert "default" in names
    for name in names:
        p = profiles.load_profile(name)
        assert p.name == name and p.version >= 1 and len(p.digest) == 64
        assert p.request["resultTypes"]


def test_profile_hash_changes_with_any_edit(tmp_path):
    doc = json.loads((profiles.PROFILES_DIR / "default.json").read_text())
    a = profiles.parse_profile(doc, "a.json")
    doc["serviceInspection"]["inspectionContents"][0]["content"] += "!"
    b = profiles.parse_profile(doc, "b.json")
    assert a.digest != b.digest and a.version == b.version


@pytest.mark.parametrize("patch, where", [
    ({"resultTypes": []}, "resultTypes"),
    ({"resultTypes": ["summary", "summary"]}, "resultTypes: duplicate"),
    ({"resultTypes": ["sumary"]}, "unknown type 'sumary'"),
    ({"modelCode": "gpt"}, "modelCode"),
    ({"version": 0}, "version"),
    ({"name": "Bad Name"}, "name"),
    ({"surprise": 1}, "surprise: is not allowed"),
    ({"resultTypes": ["fields"], "fields": []}, "fields: required"),
    ({"resultTypes": ["fields"], "fields": [{"code": "a"}]}, "fields[0].name"),
    ({"resultTypes": ["fields"], "fields": [{"code": "a", "name": "A"}, {"code": "a", "name": "B"}]}, "duplicate code"),
    ({"resultTypes": ["fields"], "fields": [{"code": "a", "name": "A", "enumValues": [{"desc": "x"}]}]},
     "fields[0].enumValues[0].enumValue"),
    ({"resultTypes": ["service_inspection"]}, "serviceInspection: required"),
    ({"resultTypes": ["custom_prompt"]}, "customPrompt"),
    ({"examples": [{"output": "o", "sentences": [{"role": "bot", "text": "t"}]}]}, "examples[0].sentences[0].role"),
])
def test_invalid_profiles_are_refused_naming_the_field(patch, where):
    doc = {"name": "p", "version": 1, "resultTypes": ["summary"], **patch}
    with pytest.raises(profiles.ProfileError) as exc:
        profiles.parse_profile(doc, "p.json")
    assert "p.json" in str(exc.value) and where in str(exc.value)


def test_unknown_profile_names_the_variable_and_the_known_ones():
    with pytest.raises(profiles.ProfileError) as exc:
        profiles.load_profile("does-not-exist")
    assert "ANALYSIS_PROFILE" in str(exc.value) and "default" in str(exc.value)
    with pytest.raises(profiles.ProfileError):
        profiles.load_profile("../etc/passwd")


def test_sentences_are_ordered_by_begin_roles_mapped_empty_dropped():
    raw_turns = [
        {"begin": 5.0, "role": "user", "text": "second"},
        {"begin": 1.0, "role": "agent", "text": "  first  "},
        {"begin": 5.0, "role": "assistant", "text": "tie keeps order"},
        {"begin": 3.0, "role": "user", "text": ""},
        {"begin": 4.0, "role": "user", "text": "   "},
        {"begin": 2.0, "role": "caller", "text": "odd role is the user"},
        {"role": "user", "text": "no begin goes last"},
        {"begin": 0.5, "role": "user", "text": None},
    ]
    assert dialog.sentences(raw_turns) == [
        {"role": "agent", "text": "first"},
        {"role": "user", "text": "odd role is the user"},
        {"role": "user", "text": "second"},
        {"role": "agent", "text": "tie keeps order"},
        {"role": "user", "text": "no begin goes last"},
    ]


def turns(n, size=10):
    return [{"role": "user" if i % 2 else "agent", "text": f"{i:04d}".ljust(size, "x")} for i in range(n)]


def test_a_dialog_that_fits_is_one_request_and_no_policy():
    p = dialog.plan(turns(10), 1000, "split")
    assert len(p.parts) == 1 and p.policy is None and p.record() is None


def test_split_keeps_every_turn_in_order_in_parts_that_fit():
    items = turns(2000, 37)
    p = dialog.plan(items, 5000, "split")
    assert [s for part in p.parts for s in part] == items
    assert all(dialog.dialog_chars(part) <= 5000 for part in p.parts)
    assert len(p.parts) == -(-2000 * 37 // (5000 // 37 * 37))
    rec = p.record()
    assert rec["policy"] == "split" and rec["requests"] == len(p.parts) and rec["part_turns"][-1][1] == 1999


def test_a_single_turn_longer_than_the_limit_is_clipped_not_dropped():
    items = [{"role": "user", "text": "a" * 5000}, {"role": "agent", "text": "short"}]
    p = dialog.plan(items, 1000, "split")
    assert [len(s["text"]) for part in p.parts for s in part] == [1000, 5]
    assert p.record()["clipped_turns"] == 1


def test_truncate_keeps_the_start_and_the_end_and_says_what_was_left_out():
    items = turns(1000, 20)
    p = dialog.plan(items, 3000, "truncate")
    (part,) = p.parts
    rec = p.record()
    head, tail = rec["kept_head_turns"], rec["kept_tail_turns"]
    assert part[:head] == items[:head] and part[head + 1:] == items[-tail:]
    assert part[head]["role"] == "system" and str(rec["omitted_turns"]) in part[head]["text"]
    assert head + tail + rec["omitted_turns"] == 1000 and tail > head > 0
    assert dialog.dialog_chars(part) <= 3000


def test_request_body_has_the_profile_the_dialogue_and_stream():
    profile = profiles.load_profile("summary-only")
    body = dialog.request_body(profile, [{"role": "user", "text": "hi"}], "s1", True)
    assert body == {"resultTypes": ["title", "summary"], "modelCode": "tyxmTurbo",
                    "dialogue": {"sentences": [{"role": "user", "text": "hi"}], "sessionId": "s1"}, "stream": True}


@pytest.mark.parametrize("text, parsed", [
    ('{"a": 1}', {"a": 1}), ("[1, 2]", [1, 2]), ('```json\n{"a": [1]}\n```', {"a": [1]}),
    ("plain summary", None), ('{"broken": ', None), ("42", None), (None, None),
])
def test_text_is_parsed_only_when_it_is_json(text, parsed):
    assert results.parse_text(text) == parsed


def test_merge_of_parts_joins_texts_sums_usage_and_keeps_each_part():
    p = dialog.plan(turns(30, 10), 100, "split")
    answers = [{"text": f'{{"part": {i}}}', "finishReason": "stop", "requestId": f"r{i}", "inputTokens": "10",
                "outputTokens": "2", "totalTokens": "12"} for i in range(len(p.parts))]
    merged = results.merge(answers, p)
    assert merged["usage"] == {"input_tokens": 10 * len(answers), "output_tokens": 2 * len(answers),
                               "total_tokens": 12 * len(answers)}
    assert [x["parsed"] for x in merged["parts"]] == [{"part": i} for i in range(len(answers))]
    assert merged["text"].index('{"part": 0}') < merged["text"].index('{"part": 1}')
    answers[1].pop("inputTokens")
    assert results.merge(answers, p)["usage"]["input_tokens"] is None  # unknown, not undercounted


def test_sse_events_parse_data_lines_and_ignore_the_rest():
    lines = [": comment", "event: message", "id: 1", 'data: {"a":', 'data: 1}', "", "data:{\"b\":2}", "", "retry: 5",
             "data: tail"]
    assert list(ccai.sse_events(lines)) == ['{"a":\n1}', '{"b":2}', "tail"]


@pytest.mark.parametrize("pieces, whole", [
    (["Hel", "lo ", "world"], "Hello world"),  # increments
    (["Hel", "Hello ", "Hello world"], "Hello world"),  # the text so far
    (["same", "same"], "same"),
    (["only"], "only"),
    ([], ""),
])
def test_streamed_text_is_assembled_in_either_style(pieces, whole):
    assert ccai.assemble(pieces) == whole


def test_body_bytes_are_compact_sorted_utf8():
    assert ccai.encode_body({"b": 1, "a": "中 x"}) == '{"a":"中 x","b":1}'.encode()
    assert ccai.path_for("ws-1", "app_2") == "/ws-1/ccai/app/app_2/analyze_conversation"


def test_only_content_the_build_validated_skips_the_schema(tmp_path):
    doc = json.loads((profiles.PROFILES_DIR / "default.json").read_text())
    good = profiles.parse_profile(doc, "default.json")
    bad = {**doc, "version": 0}
    with pytest.raises(profiles.ProfileError, match="version"):
        profiles.parse_profile(bad, "default.json", trusted_digests=frozenset({good.digest}))
    # a digest the build recorded is trusted as is (the schema is not run again)
    digest = profiles.canonical_json(bad)
    import hashlib

    trusted = frozenset({hashlib.sha256(digest.encode()).hexdigest()})
    assert profiles.parse_profile(bad, "default.json", trusted_digests=trusted).version == 0


def test_load_profile_trusts_only_the_digests_file_beside_it(tmp_path):
    doc = json.loads((profiles.PROFILES_DIR / "default.json").read_text())
    (tmp_path / "default.json").write_text(json.dumps({**doc, "modelCode": "gpt"}))
    with pytest.raises(profiles.ProfileError, match="modelCode"):
        profiles.load_profile("default", str(tmp_path))
    (tmp_path / "default.json").write_text(json.dumps(doc))
    good = profiles.load_profile("default", str(tmp_path))
    (tmp_path / profiles.VALIDATED_DIGESTS).write_text(good.digest + "\n")
    profiles.load_profile.cache_clear()
    assert profiles.load_profile("default", str(tmp_path)).digest == good.digest
    assert profiles.validated_digests(tmp_path) == {good.digest}
