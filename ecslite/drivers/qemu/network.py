"""A guest's network: one user-mode NIC, its SSH port forwarded to a port on the host.

User-mode networking (QEMU's built-in slirp) needs no root, no bridge and no host network
change; each guest has its own private 10.0.2.0/24 with the guest at 10.0.2.15 (slirp's first
DHCP lease), so every guest shows the same fixed IP and is told apart by its forward.

The forward is recorded in ``servers/<id>/network.json`` the first time the guest starts and
reused afterwards, so it survives a reinstall (the server directory outlives its disks) and a
restart of the service. When the recorded port has been taken by another program meanwhile, the
next start moves the forward to a new free port and records that one.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

from ecslite.cloudinit.configdrive import StaticNetwork
from ecslite.drivers.base import GuestNetwork

GUEST_IP = "10.0.2.15"
# QEMU's user-mode network: the virtual gateway and DNS server every guest sees.
NETMASK = "255.255.255.0"
GATEWAY = "10.0.2.2"
DNS = "10.0.2.3"
_FILE = "network.json"


def mac_for(server_id: str) -> str:
    """Return a stable, locally administered MAC for the server (fa:16:3e is the cloud prefix)."""
    h = hashlib.sha256(server_id.encode()).digest()
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in h[:3])


def free_port(host: str) -> int:
    """Return a TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def load(workdir: Path) -> GuestNetwork | None:
    """Return the recorded network of the guest in ``workdir``, or None before its first start."""
    try:
        rec = json.loads((workdir / _FILE).read_text())
        return GuestNetwork(
            fixed_ip=str(rec["fixed_ip"]),
            mac=str(rec["mac"]),
            ssh_host=str(rec["ssh_host"]),
            ssh_port=int(rec["ssh_port"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def for_launch(workdir: Path, *, server_id: str, ssh_host: str) -> GuestNetwork:
    """Return the network to start the guest with, allocating or moving the forward if needed.

    Post: the result is recorded; its port was free on ``ssh_host`` a moment ago (the guest
    that is about to start is not running, so a busy recorded port belongs to someone else).
    """
    current = load(workdir)
    same_host = current is not None and current.ssh_host == ssh_host
    if current is not None and same_host and port_is_free(ssh_host, current.ssh_port):
        return current
    net = GuestNetwork(
        fixed_ip=GUEST_IP, mac=mac_for(server_id), ssh_host=ssh_host, ssh_port=free_port(ssh_host)
    )
    save(workdir, net)
    return net


def save(workdir: Path, net: GuestNetwork) -> None:
    tmp = workdir / f".{_FILE}.tmp"
    tmp.write_text(
        json.dumps(
            {
                "fixed_ip": net.fixed_ip,
                "mac": net.mac,
                "ssh_host": net.ssh_host,
                "ssh_port": net.ssh_port,
            }
        )
        + "\n"
    )
    os.replace(tmp, workdir / _FILE)


def nic_argument(net: GuestNetwork) -> str:
    """Return QEMU's ``-nic`` value: virtio NIC, user-mode network, SSH forwarded to the host."""
    return f"user,model=virtio-net-pci,mac={net.mac},hostfwd=tcp:{net.ssh_host}:{net.ssh_port}-:22"


def forward_refused(qemu_error: str) -> bool:
    """Tell whether QEMU failed because the host side of the forward could not be bound."""
    return "host forwarding rule" in qemu_error or "hostfwd" in qemu_error


def static_config(server_id: str) -> StaticNetwork:
    """Return the guest's static IPv4 configuration inside its user-mode network.

    Depends only on the server (not on the forward), so the seed can be written before the
    guest's first start allocates a port.
    """
    return StaticNetwork(
        mac=mac_for(server_id), address=GUEST_IP, netmask=NETMASK, gateway=GATEWAY, dns=DNS
    )
