"""Log values: safe text bare, anything else quoted and escaped on one line, long text cut."""

from __future__ import annotations

import logging

import pytest

from ecslite.logfmt import EscapeArgs, LineFormatter, fields, request_id, value


@pytest.mark.parametrize(
    ("raw", "logged"),
    [
        ("abc-123", "abc-123"),
        ("/v1/p/cloudservers/x", "/v1/p/cloudservers/x"),
        ("", '""'),
        ("a b", '"a b"'),
        ("k=v", '"k=v"'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
        ("a\nts=1 level=INFO", '"a\\x0ats=1 level=INFO"'),
        ("nul\x00cr\r", '"nul\\x00cr\\x0d"'),
        ("sur\ud800ls\u2028", '"sur\\ud800ls\\u2028"'),
        ("héllo", '"héllo"'),
    ],
)
def test_values(raw: str, logged: str) -> None:
    assert value(raw) == logged
    assert "\n" not in value(raw) and "\r" not in value(raw)


def test_long_values_are_cut() -> None:
    assert value("x" * 300) == '"' + "x" * 256 + '...(+44)"'


def test_request_ids() -> None:
    assert request_id("req-1.a:b_c") == "req-1.a:b_c"
    for bad in (None, "", "a b", "a=b", "x" * 129, "a\tb"):
        got = request_id(bad)
        assert got != bad and len(got) == 32


def test_a_record_is_escaped_and_tracebacks_are_indented() -> None:
    fmt = LineFormatter("%(message)s")
    try:
        raise ValueError("boom\nts=forged")
    except ValueError:
        import sys

        rec = logging.LogRecord(
            "t",
            logging.INFO,
            __file__,
            1,
            "x user=%s n=%d %s",
            ("a\nb", 3, fields(k="v w")),
            sys.exc_info(),
        )
    assert EscapeArgs().filter(rec)
    lines = fmt.format(rec).splitlines()
    assert lines[0] == 'x user="a\\x0ab" n=3 k="v w"'
    assert all(line.startswith("  | ") for line in lines[1:]) and len(lines) > 2


def test_remote_console_tokens_are_never_logged() -> None:
    rec = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/console/remote/SeCrEt-token_1/ws"),
        None,
    )
    assert EscapeArgs().filter(rec)
    line = LineFormatter("%(message)s").format(rec)
    assert "SeCrEt" not in line and "/console/remote/<token>/ws" in line
