"""What text the service accepts from a caller: the one rule behind the input gate.

Both stores refuse some strings deep inside their drivers (PostgreSQL text cannot hold NUL;
no UTF-8 encoder takes a lone surrogate such as ``"\\ud800"``, which JSON's ``\\ud800`` escape
produces), so such a string must be turned away at the edge with a 400, never reach a store
or a parser and come back as a 500. Ids and query values have no use for any control
character, so those are refused there too. Pure functions; no web framework.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Anywhere (bodies too): NUL and the UTF-16 surrogate range, which no store can encode.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# In a path or a query value: also every other C0 control character and DEL.
_NOT_AN_ID = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _describe(ch: str) -> str:
    if ch == "\x00":
        return "a NUL character"
    if "\ud800" <= ch <= "\udfff":
        return "an unpaired surrogate (invalid Unicode)"
    return f"a control character (U+{ord(ch):04X})"


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored (from a JSON body), or None when it can."""
    m = _UNSTORABLE.search(value)
    return _describe(m.group()) if m else None


def id_problem(value: str) -> str | None:
    """Why ``value`` is unacceptable in a URL path or a query value, or None."""
    m = _NOT_AN_ID.search(value)
    return _describe(m.group()) if m else None


def json_strings(doc: object) -> Iterator[tuple[str, str]]:
    """Every string (keys and values) in a parsed JSON document, with a dotted location.

    Iterative, so a deeply nested document cannot exhaust the interpreter's stack.
    """
    stack: list[tuple[str, object]] = [("", doc)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            yield where or "body", node
        elif isinstance(node, dict):
            for key, value in node.items():
                here = f"{where}.{key}" if where else str(key)
                yield here, str(key)
                stack.append((here, value))
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(node))
