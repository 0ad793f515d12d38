"""The config drive ecslite renders for a boot config: exact files, checked against goldens.

Regenerate after a deliberate change with ``ECSLITE_UPDATE_GOLDEN=1 pytest tests/unit``.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
from pathlib import Path
from typing import Any

import pycdlib
import yaml

from ecslite.cloudinit.configdrive import (
    META_DATA,
    NETWORK_DATA,
    USER_DATA,
    VENDOR_DATA,
    StaticNetwork,
    render_config_drive,
)
from ecslite.cloudinit.iso import write_iso
from ecslite.domain.boot import BootConfig

GOLDEN = Path(__file__).parent / "golden"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGolden0000000000000000000000000000000000000 golden"
HASH = "$6$rounds=5000$goldensalt$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
USER_DATA_BYTES = b"#!/bin/sh\r\necho 'bytes \xc3\xa9\xff kept'\n"


def _config(**overrides: Any) -> BootConfig:
    base = BootConfig(
        instance_id="i-0123456789abcdef",
        key_name="my-key",
        public_keys=(KEY,),
        password_hash=None,
        user_data_b64=base64.b64encode(USER_DATA_BYTES).decode(),
        byol=False,
    )
    return dataclasses.replace(base, **overrides)


def _check_golden(name: str, files: dict[str, bytes]) -> None:
    def show(v: bytes) -> str:
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(v).decode()

    rendered = {k: show(v) for k, v in sorted(files.items())}
    path = GOLDEN / f"{name}.json"
    if os.environ.get("ECSLITE_UPDATE_GOLDEN"):
        path.write_text(json.dumps(rendered, indent=2, ensure_ascii=False) + "\n")
    assert rendered == json.loads(path.read_text())


def test_key_pair_and_user_data() -> None:
    files = render_config_drive(_config(), hostname="web-1")
    _check_golden("key_and_user_data", files)
    assert files[USER_DATA] == USER_DATA_BYTES  # byte-for-byte, CRLF and non-UTF-8 included
    meta = json.loads(files[META_DATA])
    assert meta["uuid"] == "i-0123456789abcdef" and meta["public_keys"] == {"my-key": KEY}


def test_password_reaches_the_guest_only_as_its_hash() -> None:
    files = render_config_drive(
        _config(public_keys=(), key_name=None, password_hash=HASH, user_data_b64=None),
        hostname="db",
    )
    _check_golden("password_only", files)
    assert USER_DATA not in files
    vendor = yaml.safe_load(json.loads(files[VENDOR_DATA])["cloud-init"])
    assert vendor["chpasswd"]["users"] == [{"name": "root", "password": HASH, "type": "hash"}]
    assert vendor["disable_root"] is False


def test_each_reinstall_is_a_new_instance() -> None:
    a = render_config_drive(_config(instance_id="i-a"), hostname="h")
    b = render_config_drive(_config(instance_id="i-b"), hostname="h")
    assert json.loads(a[META_DATA])["uuid"] != json.loads(b[META_DATA])["uuid"]


def test_iso_carries_the_files_under_their_real_names(tmp_path: Path) -> None:
    files = render_config_drive(_config(), hostname="web-1")
    iso_path = tmp_path / "seed.iso"
    write_iso(files, label="config-2", path=iso_path)
    iso = pycdlib.PyCdlib()
    iso.open(str(iso_path))
    try:
        assert iso.pvd.volume_identifier.decode().strip() == "config-2"
        for rel, data in files.items():
            out = io.BytesIO()
            iso.get_file_from_iso_fp(out, rr_path="/" + rel)
            assert out.getvalue() == data, rel
    finally:
        iso.close()


def test_a_static_network_is_rendered_as_network_data_matched_by_mac() -> None:
    net = StaticNetwork(
        mac="fa:16:3e:00:00:01",
        address="10.0.2.15",
        netmask="255.255.255.0",
        gateway="10.0.2.2",
        dns="10.0.2.3",
    )
    files = render_config_drive(BootConfig(instance_id="i-1"), hostname="web", network=net)
    data = json.loads(files[NETWORK_DATA])
    assert data["links"][0]["ethernet_mac_address"] == "fa:16:3e:00:00:01"
    (network,) = data["networks"]
    assert (network["type"], network["ip_address"], network["link"]) == (
        "ipv4",
        "10.0.2.15",
        data["links"][0]["id"],
    )
    assert network["routes"][0]["gateway"] == "10.0.2.2"
    assert data["services"] == [{"type": "dns", "address": "10.0.2.3"}]
    # Without a network the drive has no network_data (cloud-init then falls back to DHCP).
    assert NETWORK_DATA not in render_config_drive(BootConfig(instance_id="i-1"), hostname="web")
