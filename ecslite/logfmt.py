"""Log values that cannot forge a line or a field.

The service writes one ``key=value`` line per event, and many values come from callers (paths,
user names, ``X-Request-Id``, error messages). A value with a newline would start a line of its
own (a fake ``token issued``), one with a space or ``=`` would add fake fields. So every
argument of a log call is passed through ``value``: text made only of safe characters is
written as it is, anything else is double-quoted with backslash escapes for quotes,
backslashes and every non-printable character (control characters, NUL, lone surrogates,
Unicode line separators), and long values are cut. ``EscapeArgs`` applies it to every record
the service's handler writes, so no call site can forget it.
"""

from __future__ import annotations

import logging
import re
import uuid

MAX_VALUE_CHARS = 256
_BARE = re.compile(r"[A-Za-z0-9._:/@+,%#-]+")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class Preformatted(str):
    """Text already escaped field by field (see ``fields``); ``EscapeArgs`` leaves it alone."""

    __slots__ = ()


def value(v: object, limit: int = MAX_VALUE_CHARS) -> str:
    """``v`` as one log field value: bare when safe, else quoted and escaped; at most ``limit``
    characters of the original, with the number cut off noted."""
    text = v if isinstance(v, str) else str(v)
    cut = len(text) - limit
    if cut > 0:
        text = text[:limit]
    if _BARE.fullmatch(text) and cut <= 0:
        return text
    more = f"...(+{cut})" if cut > 0 else ""
    return '"' + _escaped(text, '"\\') + more + '"'


def _escaped(text: str, specials: str) -> str:
    out = []
    for ch in text:
        if ch in specials:
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    return "".join(out)


def fields(**kv: object) -> Preformatted:
    """``k1=v1 k2=v2`` with every value escaped, for a log call that builds fields itself."""
    return Preformatted(" ".join(f"{k}={value(v)}" for k, v in kv.items()))


def request_id(header: str | None) -> str:
    """The caller's ``X-Request-Id`` when it is a plain token, else a fresh one: it is echoed
    in a response header and written to every log line of the request."""
    if header is not None and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


# A remote console URL's one-time token is a credential for its ten minutes: whoever logs the
# path (the access log, the ASGI server's WebSocket lines) logs it without the token.
_CONSOLE_TOKEN = re.compile(r"(/console/remote/)[^/\s\"']+")


def _redacted(arg: object) -> object:
    if isinstance(arg, str) and "/console/remote/" in arg:
        return _CONSOLE_TOKEN.sub(r"\1<token>", arg)
    return arg


class EscapeArgs(logging.Filter):
    """Escape every argument of a record (numbers and preformatted fields excepted); remove
    remote console tokens from them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(_escape(a) for a in args)
        elif isinstance(args, dict) and args:
            record.args = {k: _escape(a) for k, a in args.items()}
        return True


def _escape(arg: object) -> object:
    if arg is None or isinstance(arg, int | float | Preformatted):
        return arg
    return value(arg)


class LineFormatter(logging.Formatter):
    """Indent every line of a traceback, so text inside an exception message (which may come
    from a caller) can never pass for a log line of its own."""

    def formatException(self, ei: object) -> str:
        return _indent(super().formatException(ei))  # type: ignore[arg-type]

    def formatStack(self, stack_info: str) -> str:
        return _indent(super().formatStack(stack_info))


def _indent(text: str) -> str:
    return "\n".join("  | " + _escaped(line, "") for line in text.splitlines())
