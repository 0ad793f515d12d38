"""Render servers and images in the shapes Nova (compute v2.1) and Glance (image v2) answer.

Only what a microversion up to 2.60 shows a project member: no ``OS-EXT-SRV-ATTR:*`` (admin
only), the flavor as a link before 2.47 and embedded (with ``original_name``) from 2.47 on.
"""

from __future__ import annotations

from typing import Any

from ecslite.api.nova.microversion import Microversion
from ecslite.api.views import GUEST_NETWORK_ID
from ecslite.domain.resources import Image
from ecslite.domain.server import Server, VmState
from ecslite.services.read_model import ServerRecord

# Nova's power_state codes: RUNNING = 1, SHUTDOWN = 4, NOSTATE = 0.
_POWER_STATE = {VmState.ACTIVE: 1, VmState.STOPPED: 4, VmState.ERROR: 0}


# Nova shows ``progress`` only while a server is in one of these (not SHUTOFF, ERROR, ...).
_PROGRESS_STATUSES = frozenset(
    {"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}
)


def _links(base: str, project_id: str, kind: str, item_id: str) -> list[dict[str, str]]:
    root = base.rsplit("/v2.1", 1)[0]
    return [
        {"rel": "self", "href": f"{base}/{project_id}/{kind}/{item_id}"},
        {"rel": "bookmark", "href": f"{root}/{project_id}/{kind}/{item_id}"},
    ]


def server_summary(server: Server, base: str) -> dict[str, Any]:
    return {
        "id": server.id,
        "name": server.name,
        "links": _links(base, server.project_id, "servers", server.id),
    }


def _flavor(record: ServerRecord, base: str, v: Microversion) -> dict[str, Any]:
    server, flavor = record.server, record.flavor
    if not v.at_least(47):
        return {
            "id": server.flavor_id,
            "links": [
                {
                    "rel": "bookmark",
                    "href": f"{base.rsplit('/v2.1', 1)[0]}/{server.project_id}/flavors/"
                    f"{server.flavor_id}",
                }
            ],
        }
    # The flavor's own sizes, as ShowServer reports them (an unknown flavor shows zeros).
    return {
        "original_name": server.flavor_id,
        "vcpus": flavor.vcpus if flavor else 0,
        "ram": flavor.ram_mb if flavor else 0,
        "disk": flavor.disk_gb if flavor else 0,
        "ephemeral": 0,
        "swap": 0,
        "extra_specs": {},
    }


def server_detail(record: ServerRecord, base: str, v: Microversion) -> dict[str, Any]:
    """Nova's server document, rendered from the same read model as ECS ShowServer."""
    server, volumes = record.server, record.volumes
    out: dict[str, Any] = {
        **server_summary(server, base),
        "status": server.status,
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "metadata": dict(server.metadata),
        "hostId": server.host_id,
        "image": {
            "id": server.image_id,
            "links": [
                {
                    "rel": "bookmark",
                    "href": f"{base.rsplit('/v2.1', 1)[0]}/{server.project_id}/images/"
                    f"{server.image_id}",
                }
            ],
        },
        "flavor": _flavor(record, base, v),
        "created": server.created,
        "updated": server.updated,
        "addresses": addresses_of(record),
        "accessIPv4": server.access_ipv4 or "",
        "accessIPv6": server.access_ipv6 or "",
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": server.availability_zone,
        "config_drive": "True",
        "key_name": server.key_name,
        "OS-SRV-USG:launched_at": server.created,
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-STS:task_state": server.task_state.value if server.task_state else None,
        "OS-EXT-STS:vm_state": server.vm_state.value,
        "OS-EXT-STS:power_state": _POWER_STATE.get(server.vm_state, 0),
        "os-extended-volumes:volumes_attached": [
            {"id": vol.id, "delete_on_termination": vol.is_system_disk}
            if v.at_least(3)
            else {"id": vol.id}
            for vol in volumes
        ],
    }
    # Nova leaves the member out when the server is in no group.
    if server.default_security_group:
        out["security_groups"] = [{"name": "default"}]
    if server.status in _PROGRESS_STATUSES:
        out["progress"] = 0
    if v.at_least(9):
        out["locked"] = server.locked
    if v.at_least(16):
        # Nova's default policy shows it to administrators; every ecslite caller is its
        # operator's own project member, and one whose server's host died should see why.
        out["host_status"] = record.host_status.value
    if v.at_least(19):
        out["description"] = server.description
    if v.at_least(26):
        out["tags"] = list(server.tags)
    if server.fault:
        out["fault"] = {
            "code": 500,
            "message": server.fault.get("message", ""),
            "created": server.fault.get("created", server.updated),
        }
    return out


# What Nova's rebuild and update answers leave out of the server below 2.75 (from 2.75 they
# are show's).
# The highest version served is below 2.75, so a rebuild never shows them.
_NOT_IN_REBUILD = (
    "OS-EXT-AZ:availability_zone",
    "config_drive",
    "key_name",
    "OS-SRV-USG:launched_at",
    "OS-SRV-USG:terminated_at",
    "OS-EXT-STS:task_state",
    "OS-EXT-STS:vm_state",
    "OS-EXT-STS:power_state",
    "os-extended-volumes:volumes_attached",
    "security_groups",
    "host_status",
)


def rebuild_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """The server as Nova's rebuild and update answer it below 2.75: no status extensions, no AZ, key,
    volumes or security groups, and addresses without their ``OS-EXT-IPS`` attributes."""
    out = {k: val for k, val in detail.items() if k not in _NOT_IN_REBUILD}
    out["addresses"] = plain_addresses(detail.get("addresses", {}))
    return out


def plain_addresses(addresses: dict[str, Any]) -> dict[str, Any]:
    """``addresses`` without the ``OS-EXT-IPS`` attributes, as Nova's ``ips`` routes and its
    rebuild and update answers (below 2.75) show them."""
    return {
        net: [{"version": a["version"], "addr": a["addr"]} for a in addrs]
        for net, addrs in addresses.items()
    }


# The recorded time of an image stored before images had one.
EPOCH = "1970-01-01T00:00:00Z"


def image_view(image: Image) -> dict[str, Any]:
    """Glance v2's image document. Built images have no recorded file (size, checksum null);
    uploaded ones show what was measured of theirs. Free-form properties are top-level keys,
    as in Glance."""
    props = dict(image.properties)
    virtual = props.pop("virtual_size", None)
    out: dict[str, Any] = {
        **props,
        "id": image.id,
        "name": image.name or None,
        "status": image.status,
        "visibility": "public" if image.project_id is None else "private",
        "protected": False,
        "os_hidden": False,
        "owner": image.project_id,
        "container_format": "bare",
        "disk_format": image.disk_format or ("qcow2" if image.size is None else None),
        "min_disk": image.min_disk_gb,
        "min_ram": image.min_ram_mb,
        "size": image.size,
        "virtual_size": int(virtual) if virtual and virtual.isdigit() else None,
        "checksum": image.checksum,
        "os_hash_algo": "sha512" if image.os_hash_value else None,
        "os_hash_value": image.os_hash_value,
        "os_type": image.os_type,
        "__support_cloudinit": "true" if image.cloud_init else "false",
        "tags": list(image.tags),
        "created_at": image.created_at or EPOCH,
        "updated_at": image.updated_at or EPOCH,
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
    }
    return out


def addresses_of(record: ServerRecord) -> dict[str, Any]:
    """Nova's ``addresses``: network -> the server's fixed IPs. The same networks and
    addresses ECS ShowServer lists: each VPC's ports under the VPC id, a driver's guest network
    (the qemu guest's user-mode NIC) under its own id."""
    out: dict[str, Any] = {}
    for p in record.ports:
        out.setdefault(p.vpc_id, []).append(
            {
                "version": 4,
                "addr": p.ip_address,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": p.mac,
            }
        )
    network = record.network
    if network is not None:
        out[GUEST_NETWORK_ID] = [
            {
                "version": 4,
                "addr": network.fixed_ip,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": network.mac,
            }
        ]
    return out
