"""ASGI middleware: refuse text no store or parser can take, before any route sees it.

Every string a caller controls reaches a route through three doors — the path, the query
string and a JSON body — so one gate in front of all routes covers every field, including
ones added later. It answers 400 in the envelope of the path's API (``api/envelopes.py``) when:

- the path or a query value holds NUL, another control character or a lone surrogate, or its
  percent-encoding is not UTF-8;
- a query parameter is repeated: the request signature sorts its parameters, so
  ``limit=1&limit=1000`` and ``limit=1000&limit=1`` carry the same signature while the route
  would read different values; no route takes a list in the query;
- a JSON body holds a NUL or a lone surrogate in any key or value (only the ``\\u`` escape can
  put them there: raw control characters already make the JSON invalid, which the route's body
  parser reports).

It runs after ``AuthGuard`` (which caps and buffers the body), so the body arrives in one
message and is handed on unchanged.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from ecslite.api.asgi_body import no_receive, replay
from ecslite.api.envelopes import refusal
from ecslite.domain import errors
from ecslite.domain.text import id_problem, json_strings, text_problem

# Names a location in a message without echoing more than this much of what the caller sent.
_MAX_ECHO = 64


class InputGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        problem = _path_problem(scope) or _query_problem(scope.get("query_string", b""))
        body: bytes | None = None
        if problem is None and _is_json(scope):
            body = await _read_all(receive)
            problem = _body_problem(body)
        if problem is not None:
            request_id = scope.get("state", {}).get("request_id")
            exc = errors.EcsError(errors.INVALID_PARAMETER, problem)
            await refusal(path, exc, request_id=request_id)(scope, no_receive, send)
            return
        await self.app(scope, receive if body is None else replay(body, receive), send)


def _path_problem(scope: Scope) -> str | None:
    raw = scope.get("raw_path")
    if raw is not None:
        try:
            unquote_to_bytes(raw.split(b"?", 1)[0]).decode("utf-8")
        except UnicodeDecodeError:
            return "The URL path is not UTF-8 text."
    why = id_problem(scope["path"])
    return f"The URL path contains {why}." if why else None


def _query_problem(query: bytes) -> str | None:
    if not query:
        return None
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return "The query string is not UTF-8 text."
    seen: set[str] = set()
    for key, value in pairs:
        why = id_problem(key) or id_problem(value)
        if why:
            return f"A query parameter contains {why}."
        if key in seen:
            return f"The query parameter '{_echo(key)}' is repeated; send it once."
        seen.add(key)
    return None


def _body_problem(body: bytes) -> str | None:
    if b"\\u" not in body:
        return None  # without an escape, JSON text cannot carry NUL or a lone surrogate
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None  # not JSON: the route's body parser gives its own 400
    for where, text in json_strings(doc):
        why = text_problem(text)
        if why:
            return f"{_echo(where)} contains {why}."
    return None


def _echo(text: str) -> str:
    """A caller's text fit to quote in a message: short, and escaped where not printable ASCII
    (a key may itself hold the surrogate being reported, which JSON cannot encode)."""
    return text[:_MAX_ECHO].encode("ascii", "backslashreplace").decode("ascii")


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name.lower() == b"content-type":
            ctype: bytes = value.split(b";")[0].strip().lower()
            return ctype == b"application/json" or ctype.endswith(b"+json")
    # parse_body treats a body without a Content-Type as JSON, so the gate does too.
    return scope["method"] in ("POST", "PUT", "PATCH")


async def _read_all(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
