"""Helpers for ASGI middleware that reads a request body before the app does.

A middleware that inspects the body (signature checks, the input gate) consumes ``receive``;
the app downstream must still see the same body once, so it is replayed from memory.
"""

from __future__ import annotations

from starlette.types import Message, Receive


async def no_receive() -> Message:
    """A ``receive`` for a response sent without reading the request (a refusal)."""
    return {"type": "http.disconnect"}


def replay(body: bytes, receive: Receive) -> Receive:
    """Return a ``receive`` that yields ``body`` once, then defers to the real one."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
