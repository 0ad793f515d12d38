"""Networks, minimally: a project's VPCs and subnets, and the fixed IP a server gets in one.

No routing is simulated. A subnet hands out its host addresses in order, skipping the network
address, the gateway (the first host, as on the real cloud) and the broadcast address; an
address is free again once the port holding it is deleted with its server.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Vpc:
    id: str
    project_id: str
    name: str
    cidr: str


@dataclass(frozen=True)
class Subnet:
    id: str
    project_id: str
    vpc_id: str
    name: str
    cidr: str

    @property
    def gateway_ip(self) -> str:
        return str(next(ipaddress.ip_network(self.cidr, strict=False).hosts()))


@dataclass(frozen=True)
class Port:
    """A server's NIC in a subnet: one fixed IPv4 address."""

    id: str
    server_id: str
    subnet_id: str
    vpc_id: str
    ip_address: str

    @property
    def mac(self) -> str:
        # Stable per port, in the locally administered range OpenStack uses (fa:16:3e).
        digest = hashlib.sha256(self.id.encode()).digest()
        return "fa:16:3e:" + ":".join(f"{b:02x}" for b in digest[:3])


def valid_cidr(cidr: str) -> bool:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return net.version == 4 and net.num_addresses >= 4


def free_addresses(subnet: Subnet, used: Iterable[str], count: int) -> list[str]:
    """Return up to ``count`` unused host addresses of ``subnet``, lowest first."""
    taken = set(used) | {subnet.gateway_ip}
    out: list[str] = []
    for host in ipaddress.ip_network(subnet.cidr, strict=False).hosts():
        ip = str(host)
        if ip not in taken:
            out.append(ip)
            if len(out) == count:
                break
    return out
