"""One server with its image, flavor, host and boot user data, read in one joined statement.

A server's body (GET, the event stream) shows its image, flavor and host status beside the
record; reading them with the server instead of one statement each is most of what a server
body costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select

from ecslite.domain.boot import BootConfig
from ecslite.domain.codec import decode
from ecslite.domain.flavor import BUILTIN_FLAVORS, Flavor
from ecslite.domain.host import Host
from ecslite.domain.resources import Image
from ecslite.domain.server import Server
from ecslite.store import tables as t
from ecslite.store.catalog import _image
from ecslite.store.hosts import _host

_IMG = [c.label(f"img_{c.name}") for c in t.images.c]
_FLV = [c.label(f"flv_{c.name}") for c in t.flavors.c]
_HST = [c.label(f"hst_{c.name}") for c in t.hosts.c]
# Built once (see servers.py) with the server id as a bound parameter.
_IN_CONTEXT = (
    select(t.servers, *_IMG, *_FLV, *_HST)
    .select_from(
        t.servers.outerjoin(t.images, t.images.c.id == t.servers.c.image_id)
        .outerjoin(t.flavors, t.flavors.c.id == t.servers.c.flavor_id)
        .outerjoin(t.hosts, t.hosts.c.id == t.servers.c.host_id)
    )
    .where(t.servers.c.id == bindparam("id"))
)
_IN_CONTEXT_OF_PROJECT = _IN_CONTEXT.where(t.servers.c.project_id == bindparam("project_id"))


@dataclass(frozen=True)
class ServerContext:
    server: Server
    image: Image | None
    flavor: Flavor | None
    user_data: str | None  # base64, what the current boot applies
    host: Host | None = None  # None: the server's host has no record


class _Prefixed:
    """A row's columns of one joined table under their own names."""

    def __init__(self, row: Any, prefix: str) -> None:
        self._row = row
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, self._prefix + name)


def read(
    conn: Connection, server_id: str, project_id: str | None, parse: Any
) -> ServerContext | None:
    """The server (``parse`` turns its row into a ``Server``) with its context, or None."""
    if project_id is None:
        row = conn.execute(_IN_CONTEXT, {"id": server_id}).first()
    else:
        row = conn.execute(
            _IN_CONTEXT_OF_PROJECT, {"id": server_id, "project_id": project_id}
        ).first()
    if row is None:
        return None
    image = _image(_Prefixed(row, "img_")) if row.img_id is not None else None
    if row.flv_id is not None:
        flavor: Flavor | None = Flavor(
            id=row.flv_id, vcpus=row.flv_vcpus, ram_mb=row.flv_ram_mb, disk_gb=row.flv_disk_gb
        )
    else:
        flavor = next((f for f in BUILTIN_FLAVORS if f.id == row.flavor_id), None)
    boot = decode(BootConfig, row.boot_config) if row.boot_config else None
    return ServerContext(
        server=parse(row),
        image=image,
        flavor=flavor,
        user_data=(boot.user_data_b64 or None) if boot is not None else None,
        host=_host(_Prefixed(row, "hst_")) if row.hst_id is not None else None,
    )
