import io
import json
import logging

from devkit.tokens import mint_token
from shared import log


def capture(fn):
    stream = io.StringIO()
    handler = log.logger.registered_handler
    old = handler.stream
    handler.setStream(stream)
    try:
        fn()
    finally:
        handler.setStream(old)
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_sensitive_keys_and_shapes_are_masked():
    jwt = mint_token("alice", "x" * 40)
    log.register_secret("my-registered-app-key-123")
    lines = capture(lambda: log.logger.info(
        f"got header Bearer abc.def.ghi and {jwt} and my-registered-app-key-123",
        extra={"authorization": "Bearer zzz", "AccessKeySecret": "v", "nested": {"rtc_auth_token": "eyJxxx"},
               "url": "https://h/?Signature=abcdef0123&x=1", "user_id": "alice"},
    ))
    text = json.dumps(lines)
    for leaked in ("abc.def.ghi", jwt, "my-registered-app-key-123", "zzz", "abcdef0123", "eyJxxx"):
        assert leaked not in text
    assert lines[0]["user_id"] == "alice"  # ordinary fields survive
    assert lines[0]["authorization"] == "***"


def test_exception_text_is_redacted():
    def boom():
        try:
            raise RuntimeError("failed with Authorization: Bearer secret-token-xyz")
        except RuntimeError:
            log.logger.exception("oops")

    text = json.dumps(capture(boom))
    assert "secret-token-xyz" not in text and "oops" in text


def test_correlation_id_is_the_request_id():
    def go():
        log.start_request("req-123", "fn-a")
        log.logger.info("hello")

    line = capture(go)[0]
    assert line["correlation_id"] == "req-123" and line["function"] == "fn-a"


def test_redact_handles_lists_and_depth():
    deep: dict = {}
    node = deep
    for _ in range(50):
        node["a"] = {}
        node = node["a"]
    assert log.redact(deep) is not None
    assert log.redact([{"token": "t0123456"}]) == [{"token": "***"}]
    assert logging.getLevelName(log.logger.log_level) in ("INFO", "DEBUG", "WARNING", "ERROR")


def test_records_never_reach_the_root_logger():
    # FC's runtime logs the root logger's records itself, unredacted: ours must not get there.
    seen = []

    class Grab(logging.Handler):
        def emit(self, record):
            seen.append(record)

    grab = Grab()
    logging.getLogger().addHandler(grab)
    try:
        capture(lambda: log.logger.info("Bearer secret-token-abc"))
    finally:
        logging.getLogger().removeHandler(grab)
    assert seen == []
