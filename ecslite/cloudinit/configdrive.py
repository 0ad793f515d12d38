"""Render a boot config as an OpenStack config drive (``config-2``): pure, no I/O.

Why ConfigDrive rather than NoCloud: it is the medium Huawei Cloud / OTC (OpenStack-based)
guests are built to read, so an image imported from those clouds finds its data without
changes; and it has a separate *vendor data* channel, which lets ecslite deliver its own
settings (the admin password, root login) while the tenant's user_data reaches the guest
byte-for-byte as ``user_data``. cloud-init merges vendor data under user data, so a tenant
whose user_data sets a password wins over ``adminpass`` (as the ECS documentation says for
Linux), and a tenant can switch vendor data off entirely (``vendor_data: {enabled: false}``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import yaml

from ecslite.domain.boot import BootConfig
from ecslite.domain.server import AVAILABILITY_ZONE

LABEL = "config-2"
META_DATA = "openstack/latest/meta_data.json"
USER_DATA = "openstack/latest/user_data"
VENDOR_DATA = "openstack/latest/vendor_data.json"
NETWORK_DATA = "openstack/latest/network_data.json"


@dataclass(frozen=True)
class StaticNetwork:
    """One NIC with a static IPv4 address: rendered as ``network_data.json``.

    A static address brings the interface up at once; DHCP under emulation cost tens of
    seconds of boot (dhclient's start-up, then its wait), and the host knows the address anyway.
    """

    mac: str
    address: str
    netmask: str
    gateway: str
    dns: str


def network_data(net: StaticNetwork) -> dict[str, Any]:
    """Return OpenStack's network_data.json for ``net`` (the NIC is matched by its MAC)."""
    return {
        "links": [{"id": "nic0", "type": "phy", "ethernet_mac_address": net.mac, "mtu": 1500}],
        "networks": [
            {
                "id": "net0",
                "type": "ipv4",
                "link": "nic0",
                "ip_address": net.address,
                "netmask": net.netmask,
                "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": net.gateway}],
            }
        ],
        "services": [{"type": "dns", "address": net.dns}],
    }


def vendor_cloud_config(boot_config: BootConfig) -> str:
    """Return ecslite's own ``#cloud-config``: root login, and the password when one was set."""
    cfg: dict[str, Any] = {"disable_root": False}
    password_hash = boot_config.password_hash
    if password_hash:
        cfg["ssh_pwauth"] = True
        # Only the SHA-512 crypt hash is ever rendered; the plaintext never reached us.
        cfg["users"] = ["default", {"name": "root", "lock_passwd": False}]
        cfg["chpasswd"] = {
            "expire": False,
            "users": [{"name": "root", "password": password_hash, "type": "hash"}],
        }
    return "#cloud-config\n" + yaml.safe_dump(cfg, sort_keys=True)


def render_config_drive(
    boot_config: BootConfig, *, hostname: str, network: StaticNetwork | None = None
) -> dict[str, bytes]:
    """Return the config drive's files (path -> bytes) for ``boot_config``.

    ``boot_config`` comes from ``ecslite.cloudinit.payload.build_boot_config``; its
    ``instance_id`` becomes the drive's ``uuid``, so each reinstall is a new instance to
    cloud-init and every per-instance module (keys, password, user scripts) runs again.
    """
    keys = boot_config.public_keys
    key_name = boot_config.key_name or "key"
    meta: dict[str, Any] = {
        "uuid": boot_config.instance_id,
        "name": hostname,
        "hostname": hostname,
        "availability_zone": AVAILABILITY_ZONE,
        "launch_index": 0,
        "meta": {},
        "public_keys": {(key_name if i == 0 else f"{key_name}-{i}"): k for i, k in enumerate(keys)},
    }
    files = {
        META_DATA: _json(meta),
        VENDOR_DATA: _json({"cloud-init": vendor_cloud_config(boot_config)}),
    }
    if network is not None:
        files[NETWORK_DATA] = _json(network_data(network))
    user_data = boot_config.user_data_b64
    if user_data:
        files[USER_DATA] = base64.b64decode(user_data)
    return files


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()
