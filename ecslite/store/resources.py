"""Repositories for the resources around servers: networks and ports, flavors, quotas."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select

from ecslite.domain.boot import BootConfig
from ecslite.domain.codec import decode
from ecslite.domain.flavor import BUILTIN_FLAVORS, Flavor
from ecslite.domain.network import Port, Subnet, Vpc
from ecslite.domain.quota import Quotas
from ecslite.store import tables as t

# Built once (see servers.py): read for every server body the API or the event stream shows.
_PORTS_OF = (
    select(t.ports)
    .where(t.ports.c.server_id.in_(bindparam("ids", expanding=True)))
    .order_by(t.ports.c.id)
)
_BOOT_CONFIGS_OF = select(t.servers.c.id, t.servers.c.boot_config).where(
    t.servers.c.id.in_(bindparam("ids", expanding=True))
)
_FLAVOR = select(t.flavors).where(t.flavors.c.id == bindparam("id"))


def _port(row: Any) -> Port:
    return Port(
        id=row.id,
        server_id=row.server_id,
        subnet_id=row.subnet_id,
        vpc_id=row.vpc_id,
        ip_address=row.ip_address,
    )


class NetworkRepo:
    """VPCs and subnets (project-scoped) and the ports servers hold in them."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def vpc(self, vpc_id: str, project_id: str) -> Vpc | None:
        row = self._c.execute(
            select(t.vpcs).where(t.vpcs.c.id == vpc_id, t.vpcs.c.project_id == project_id)
        ).first()
        return Vpc(row.id, row.project_id, row.name, row.cidr) if row else None

    def subnet(self, subnet_id: str, project_id: str) -> Subnet | None:
        row = self._c.execute(
            select(t.subnets).where(
                t.subnets.c.id == subnet_id, t.subnets.c.project_id == project_id
            )
        ).first()
        if row is None:
            return None
        return Subnet(row.id, row.project_id, row.vpc_id, row.name, row.cidr)

    def subnets(self, project_id: str) -> list[Subnet]:
        """The project's subnets, by name."""
        c = t.subnets.c
        rows = self._c.execute(
            select(t.subnets).where(c.project_id == project_id).order_by(c.name, c.id)
        ).all()
        return [Subnet(r.id, r.project_id, r.vpc_id, r.name, r.cidr) for r in rows]

    def vpcs(self, project_id: str) -> list[Vpc]:
        c = t.vpcs.c
        rows = self._c.execute(
            select(t.vpcs).where(c.project_id == project_id).order_by(c.name, c.id)
        ).all()
        return [Vpc(r.id, r.project_id, r.name, r.cidr) for r in rows]

    def add_vpc(self, vpc: Vpc) -> bool:
        """Insert the VPC unless its id exists; return whether it was inserted."""
        if self._c.execute(select(t.vpcs.c.id).where(t.vpcs.c.id == vpc.id)).first() is not None:
            return False
        self._c.execute(
            insert(t.vpcs).values(
                id=vpc.id, project_id=vpc.project_id, name=vpc.name, cidr=vpc.cidr
            )
        )
        return True

    def add_subnet(self, subnet: Subnet) -> bool:
        """Insert the subnet unless its id exists; return whether it was inserted."""
        c = t.subnets.c
        if self._c.execute(select(c.id).where(c.id == subnet.id)).first() is not None:
            return False
        self._c.execute(
            insert(t.subnets).values(
                id=subnet.id,
                project_id=subnet.project_id,
                vpc_id=subnet.vpc_id,
                name=subnet.name,
                cidr=subnet.cidr,
            )
        )
        return True

    def lock_subnet(self, subnet_id: str) -> None:
        """Hold the subnet's row until commit, so address allocation in it is serialised.

        PostgreSQL: a row lock (concurrent creates in one subnet queue here). SQLite: the
        store's single writer already serialises every write transaction.
        """
        q = select(t.subnets.c.id).where(t.subnets.c.id == subnet_id)
        if self._c.dialect.name == "postgresql":
            q = q.with_for_update()
        self._c.execute(q)

    def used_addresses(self, subnet_id: str) -> set[str]:
        rows = self._c.execute(
            select(t.ports.c.ip_address).where(t.ports.c.subnet_id == subnet_id)
        ).all()
        return {r.ip_address for r in rows}

    def add_port(self, port: Port) -> None:
        self._c.execute(
            insert(t.ports).values(
                id=port.id,
                server_id=port.server_id,
                subnet_id=port.subnet_id,
                vpc_id=port.vpc_id,
                ip_address=port.ip_address,
            )
        )

    def ports_of(self, server_ids: Sequence[str]) -> dict[str, list[Port]]:
        out: dict[str, list[Port]] = {sid: [] for sid in server_ids}
        if not server_ids:
            return out
        rows = self._c.execute(_PORTS_OF, {"ids": list(server_ids)}).all()
        for r in rows:
            out[r.server_id].append(_port(r))
        return out

    def user_data_of(self, server_ids: Sequence[str]) -> dict[str, str]:
        """The base64 user data each server's current boot applies (servers without: absent)."""
        if not server_ids:
            return {}
        rows = self._c.execute(_BOOT_CONFIGS_OF, {"ids": list(server_ids)}).all()
        boots = {r.id: decode(BootConfig, r.boot_config) for r in rows if r.boot_config}
        return {sid: b.user_data_b64 for sid, b in boots.items() if b.user_data_b64}

    def delete_ports_of(self, server_id: str) -> None:
        self._c.execute(delete(t.ports).where(t.ports.c.server_id == server_id))


class FlavorRepo:
    """The built-in flavors plus those a seed added (a seeded id overrides a built-in one)."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def all(self) -> list[Flavor]:
        flavors = {f.id: f for f in BUILTIN_FLAVORS}
        for r in self._c.execute(select(t.flavors)).all():
            flavors[r.id] = Flavor(id=r.id, vcpus=r.vcpus, ram_mb=r.ram_mb, disk_gb=r.disk_gb)
        return sorted(flavors.values(), key=lambda f: (f.vcpus, f.ram_mb, f.id))

    def get(self, flavor_id: str) -> Flavor | None:
        row = self._c.execute(_FLAVOR, {"id": flavor_id}).first()
        if row is not None:
            return Flavor(id=row.id, vcpus=row.vcpus, ram_mb=row.ram_mb, disk_gb=row.disk_gb)
        return next((f for f in BUILTIN_FLAVORS if f.id == flavor_id), None)

    def add(self, flavor: Flavor) -> bool:
        """Store the flavor (overriding a built-in one of its id) unless a stored one has its
        id; return whether it was stored."""
        if self._c.execute(_FLAVOR, {"id": flavor.id}).first() is not None:
            return False
        self._c.execute(
            insert(t.flavors).values(
                id=flavor.id, vcpus=flavor.vcpus, ram_mb=flavor.ram_mb, disk_gb=flavor.disk_gb
            )
        )
        return True


# The first key of the two-key advisory locks that serialise quota checks, one per project.
_PG_QUOTA_LOCK_SPACE = 0x0EC5_0A07


class QuotaRepo:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def quotas(self, project_id: str) -> Quotas:
        raw = self._c.execute(
            select(t.projects.c.quotas).where(t.projects.c.id == project_id)
        ).scalar_one_or_none()
        return Quotas().with_overrides(dict(raw) if raw else None)

    def lock_usage(self, project_id: str) -> None:
        """Hold the project's quota until commit, so concurrent creates cannot both fit.

        Usage is counted, then servers and volumes are inserted, in one transaction; without
        this two creates (in different subnets, so not serialised by their subnets' row locks)
        could each count the other's servers absent. PostgreSQL: a transaction-scoped advisory
        lock keyed by the project (in its own key space, apart from the events lock). SQLite:
        the store's single writer already serialises every write transaction.
        """
        if self._c.dialect.name == "postgresql":
            self._c.execute(
                select(func.pg_advisory_xact_lock(_PG_QUOTA_LOCK_SPACE, func.hashtext(project_id)))
            )

    def flavor_counts(self, project_id: str) -> dict[str, int]:
        """How many servers of each flavor the project has."""
        rows = self._c.execute(
            select(t.servers.c.flavor_id, func.count())
            .where(t.servers.c.project_id == project_id)
            .group_by(t.servers.c.flavor_id)
        ).all()
        return {r[0]: int(r[1]) for r in rows}

    def volume_count(self, project_id: str) -> int:
        return int(
            self._c.execute(
                select(func.count())
                .select_from(t.volumes)
                .where(t.volumes.c.project_id == project_id)
            ).scalar_one()
        )
