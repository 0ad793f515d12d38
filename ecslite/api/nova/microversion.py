"""Compute microversions: which one a request asked for, and the headers that echo it.

The range is 2.1..2.60: 2.47 embeds the flavor in a server, 2.54 lets rebuild set ``key_name``,
2.57 ``user_data``; nothing past 2.60 changes a shape ecslite serves. A request names its
version with ``OpenStack-API-Version: compute X.Y`` or the older
``X-OpenStack-Nova-API-Version: X.Y``; ``latest`` means 2.60; none means 2.1. A malformed value
is 400 and one outside the range 406, as in Nova.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request, Response

from ecslite.api.nova.faults import NovaFault

MIN_VERSION = (2, 1)
MAX_VERSION = (2, 60)
_VERSION = re.compile(r"^([1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$")


@dataclass(frozen=True, order=True)
class Microversion:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, minor: int) -> bool:
        return (self.major, self.minor) >= (2, minor)


def text(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


def _requested(request: Request) -> str | None:
    header = request.headers.get("openstack-api-version")
    if header is not None:
        # "compute 2.60", possibly listed with other services: "compute 2.60, image 2.1"
        for part in header.split(","):
            service, _, value = part.strip().partition(" ")
            if service.lower() == "compute":
                return value.strip()
    return request.headers.get("x-openstack-nova-api-version")


def parse(raw: str | None) -> Microversion:
    if raw is None:
        return Microversion(*MIN_VERSION)
    if raw.strip().lower() == "latest":
        return Microversion(*MAX_VERSION)
    m = _VERSION.match(raw.strip())
    if m is None:
        raise NovaFault(400, f"Version {raw[:32]!r} is not a valid microversion.")
    v = Microversion(int(m.group(1)), int(m.group(2)))
    if not Microversion(*MIN_VERSION) <= v <= Microversion(*MAX_VERSION):
        raise NovaFault(
            406,
            f"Version {v} is not supported by the API. Minimum is {text(MIN_VERSION)} "
            f"and maximum is {text(MAX_VERSION)}.",
        )
    return v


def echo_headers(v: Microversion) -> dict[str, str]:
    return {
        "OpenStack-API-Version": f"compute {v}",
        "X-OpenStack-Nova-API-Version": str(v),
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    }


def microversion(request: Request, response: Response) -> Microversion:
    """Dependency: the request's microversion, echoed on the response."""
    v = parse(_requested(request))
    request.state.microversion = v
    response.headers.update(echo_headers(v))
    return v
