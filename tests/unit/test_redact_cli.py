"""devkit.ops.redact: `aiagent redact [--json]`, a line filter."""
import argparse
import io
import json

from devkit.ops.redact import main

ID_X = "11010519491231002X"
LINES = ["您好，请问有什么可以帮您？", f"我的手机是幺三八 0013 八零零零，身份证{ID_X}", "", "邮箱 li@163.com"]


def run(stdin_text: str, *, as_json: bool) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = main(argparse.Namespace(json=as_json), io.StringIO(stdin_text), out)
    return code, out.getvalue().split("\n")


def test_plain_output_has_one_redacted_line_per_input_line():
    code, lines = run("\n".join(LINES) + "\n", as_json=False)
    assert code == 0
    assert lines == ["您好，请问有什么可以帮您？", "我的手机是[手机号]，身份证[身份证号]", "", "邮箱 [邮箱]", ""]


def test_json_output_gives_kinds_and_spans_and_never_the_original_text():
    code, lines = run("\n".join(LINES), as_json=True)  # no newline after the last line
    assert code == 0 and lines[-1] == ""
    docs = [json.loads(line) for line in lines[:-1]]
    assert len(docs) == len(LINES)
    assert docs[0] == {"text": LINES[0], "findings": []}
    assert docs[1]["text"] == "我的手机是[手机号]，身份证[身份证号]"
    assert docs[1]["findings"] == [{"kind": "mobile", "start": 5, "end": 18},
                                   {"kind": "id_card", "start": 22, "end": 40}]
    assert LINES[1][5:18] == "幺三八 0013 八零零零" and LINES[1][22:40] == ID_X
    assert docs[2] == {"text": "", "findings": []}
    assert docs[3]["findings"] == [{"kind": "email", "start": 3, "end": 13}]
    raw = "\n".join(lines)
    for secret in ("0013", ID_X, "li@163.com"):
        assert secret not in raw


def test_crlf_line_endings_and_empty_input():
    code, lines = run("手机13800138000\r\n订单号 202412010001234\r\n", as_json=False)
    assert code == 0 and lines == ["手机[手机号]", "订单号 202412010001234", ""]
    assert run("", as_json=True) == (0, [""])


def test_the_option_defaults_to_plain_text():
    out = io.StringIO()
    assert main(argparse.Namespace(), io.StringIO("13800138000\n"), out) == 0
    assert out.getvalue() == "[手机号]\n"
