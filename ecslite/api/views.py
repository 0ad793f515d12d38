"""Render domain records in the wire shapes the official SDK models read."""

from __future__ import annotations

from typing import Any

from ecslite.api.views_catalog import server_flavor
from ecslite.domain.job import Job, JobType
from ecslite.domain.resources import Keypair
from ecslite.domain.server import VmState
from ecslite.services.read_model import ServerRecord
from ecslite.services.security_groups import DEFAULT_GROUP, default_group_id

# The id under which a guest's user-mode network is listed in ``addresses``.
GUEST_NETWORK_ID = "ecslite-user-net"

_POWER_STATE = {VmState.ACTIVE: 1, VmState.STOPPED: 4, VmState.ERROR: 0}


def server_detail(record: ServerRecord) -> dict[str, Any]:
    """ShowServer's ``server`` (and each ListServersDetails item), from the read model."""
    server = record.server
    volumes, image, network = record.volumes, record.image, record.network
    fault = None
    if server.fault:
        fault = {
            "code": 500,
            "message": server.fault.get("message", ""),
            "details": "A new reinstall is accepted from this state.",
            "created": server.fault.get("created", server.updated),
        }
    metadata = {"charging_mode": "0", "metering.image_id": server.image_id, **server.metadata}
    if image is not None:
        metadata.setdefault("image_name", image.name)
        metadata.setdefault("os_type", image.os_type)
    if network is not None:
        metadata["ssh_forward"] = network.ssh_forward
    return {
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "OS-EXT-STS:vm_state": server.vm_state.value,
        "OS-EXT-STS:task_state": server.task_state.value if server.task_state else None,
        "OS-EXT-STS:power_state": _POWER_STATE.get(server.vm_state, 0),
        "image": {"id": server.image_id},
        "flavor": server_flavor(record.flavor, server.flavor_id),
        "os-extended-volumes:volumes_attached": [
            {
                "id": v.id,
                "device": v.device or "",
                "bootIndex": str(v.boot_index) if v.boot_index is not None else "-1",
                "delete_on_termination": "true" if v.is_system_disk else "false",
            }
            for v in volumes
        ],
        "metadata": metadata,
        "key_name": server.key_name,
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "created": server.created,
        "updated": server.updated,
        "hostId": server.host_id,
        "host_status": record.host_status.value,
        "OS-EXT-SRV-ATTR:host": server.host_id,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": server.host_id,
        "OS-EXT-SRV-ATTR:instance_name": f"instance-{server.id[:8]}",
        "OS-EXT-SRV-ATTR:hostname": server.name,
        "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
        "OS-EXT-SRV-ATTR:launch_index": 0,
        "OS-EXT-SRV-ATTR:kernel_id": "",
        "OS-EXT-SRV-ATTR:reservation_id": f"r-{server.id[:8]}",
        "OS-EXT-SRV-ATTR:user_data": record.user_data,
        "OS-EXT-SRV-ATTR:ramdisk_id": "",
        "OS-EXT-AZ:availability_zone": server.availability_zone,
        "OS-DCF:diskConfig": "MANUAL",
        "OS-SRV-USG:launched_at": server.created,
        "OS-SRV-USG:terminated_at": "",
        "addresses": _addresses(record),
        "security_groups": [{"name": DEFAULT_GROUP, "id": default_group_id(server.project_id)}]
        if server.default_security_group
        else [],
        "accessIPv4": server.access_ipv4 or "",
        "accessIPv6": server.access_ipv6 or "",
        "config_drive": "",
        "progress": 0,
        "locked": server.locked,
        "fault": fault,
        "description": "",
        "tags": [],
        "sys_tags": [],
        "enterprise_project_id": "0",
        # Pay-per-use servers are never scheduled for deletion here.
        "auto_terminate_time": "",
        "capacity_reservation_id": "",
        "capacity_reservation_specification": None,
        "spod_id": "",
        "enclave_options": None,
        "cpu_options": {"hw:cpu_threads": None},
        "security_options": None,
        "os:scheduler_hints": {},
        "hypervisor": {"hypervisor_type": "kvm", "csd_hypervisor": ""},
        "network_interfaces": [
            {
                "subnet_id": p.subnet_id,
                "port_id": p.id,
                "ip_addresses": [p.ip_address],
                "ipv6_addresses": [],
                "primary": i == 0,
                "association": None,
            }
            for i, p in enumerate(record.ports)
        ],
    }


def _addresses(record: ServerRecord) -> dict[str, Any]:
    """Huawei's shape: VPC id -> the server's ports there (one fixed IPv4 each); a driver's
    guest network (the qemu guest's user-mode NIC) is listed under its own id."""
    server, network = record.server, record.network
    out: dict[str, Any] = {}
    for p in record.ports:
        out.setdefault(p.vpc_id, []).append(
            {
                "version": "4",
                "addr": p.ip_address,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": p.mac,
                "OS-EXT-IPS:port_id": p.id,
            }
        )
    if network is None:
        return out
    return out | {
        GUEST_NETWORK_ID: [
            {
                "version": "4",
                "addr": network.fixed_ip,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": network.mac,
                "OS-EXT-IPS:port_id": f"port-{server.id[:8]}",
            }
        ]
    }


def job_view(job: Job) -> dict[str, Any]:
    entities: dict[str, Any] = {}
    if job.server_id:
        entities["server_id"] = job.server_id
    if job.job_type is JobType.DELETE_VOLUME:
        # EVS's job entities name the volume (the job acts on no server).
        entities.update({k: job.params.get(k) for k in ("volume_id", "size", "volume_type")})
    entities["sub_jobs_total"] = len(job.sub_jobs)
    entities["sub_jobs"] = [
        {
            "status": s.status.value,
            "entities": {"server_id": s.server_id}
            | ({"errorcode_message": s.fail_reason} if s.fail_reason else {}),
            "job_id": s.id,
            "job_type": s.job_type,
            "begin_time": s.begin_time,
            "end_time": s.end_time,
            "error_code": s.error_code,
            "fail_reason": s.fail_reason,
        }
        for s in job.sub_jobs
    ]
    return {
        "status": job.status.value,
        "entities": entities,
        "job_id": job.id,
        "job_type": job.job_type.value,
        "begin_time": job.begin_time or job.created,
        "end_time": job.end_time,
        "error_code": job.error_code,
        "fail_reason": job.fail_reason,
    }


def keypair_summary(kp: Keypair) -> dict[str, Any]:
    return {
        "fingerprint": kp.fingerprint,
        "name": kp.name,
        "public_key": kp.public_key,
        "type": kp.type,
    }


def keypair_detail(kp: Keypair) -> dict[str, Any]:
    return {
        **keypair_summary(kp),
        "id": kp.id,
        "user_id": kp.user_id,
        "created_at": kp.created,
        "updated_at": None,
        "deleted": False,
        "deleted_at": None,
    }
