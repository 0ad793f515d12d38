"""Query parameters on Nova's routes: a parameter a route does not act on is refused (400),
never ignored, because an ignored filter returns what it was meant to exclude."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import QueryParams

from ecslite.api.nova.faults import NovaFault


def refuse_unknown(
    params: QueryParams,
    known: frozenset[str],
    neutral: Mapping[str, frozenset[str]] | None = None,
) -> None:
    """Refuse a parameter outside ``known``; one in ``neutral`` only at one of its values (what
    clients send by default and that asks for nothing this cloud lacks)."""
    for key in params:
        if key in known:
            continue
        allowed = (neutral or {}).get(key)
        if allowed is None:
            raise NovaFault(400, f"Invalid filter: {key} is not supported by this cloud.")
        if any(v.lower() not in allowed for v in params.getlist(key)):
            raise NovaFault(
                400, f"Invalid filter: {key} may only be {' or '.join(sorted(allowed))} here."
            )


def non_negative(params: QueryParams, name: str) -> int | None:
    """The parameter as a non-negative integer, None when absent; 400 otherwise."""
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise NovaFault(400, f"Invalid {name} value {raw!r}: a non-negative integer is needed.")
    return int(raw)
