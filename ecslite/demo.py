"""The demo tenant: a ready-made account with servers in every interesting state.

Created once per data dir; ``demo.json`` (mode 0600, it holds keys) records every id by role so
scripts and tests can find them. Starting again reuses it.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from pathlib import Path
from typing import Any

import yaml

from ecslite.services.keypairs import generate_keypair
from ecslite.store.seeding import SeedDocument


def _hex() -> str:
    return uuid.uuid4().hex


def _id() -> str:
    return str(uuid.uuid4())


def _access_key() -> str:
    return secrets.token_hex(10).upper()


def _new_info() -> dict[str, Any]:
    public_key, private_key = generate_keypair()
    return {
        "region": "eu-de",
        "project_id": _hex(),
        "project_name": "eu-de_demo",
        "domain_id": _hex(),
        "domain_name": "demo-account",
        "user_id": _hex(),
        "user_name": "demo-user",
        "password": "Demo-" + secrets.token_urlsafe(12),
        "access_key": _access_key(),
        "secret_key": secrets.token_urlsafe(30),
        "images": {"cloudinit": _id(), "no_cloudinit": _id(), "inactive": _id(), "alt": _id()},
        "vpc_id": _id(),
        "subnet_id": _id(),
        "servers": {
            "stopped": _id(),
            "running": _id(),
            "no_system_disk": _id(),
            "no_cloudinit": _id(),
            "image_inactive": _id(),
        },
        "volumes": {"stopped_data": _id(), "running_data": _id()},
        "keypair": {"name": "demo-key", "public_key": public_key, "private_key": private_key},
        "reader": _reader(),
        "kms": {"enabled": _id(), "disabled": _id()},
        "other_project": {
            "project_id": _hex(),
            "domain_id": _hex(),
            "user_id": _hex(),
            **_other_login(),
            "access_key": _access_key(),
            "secret_key": secrets.token_urlsafe(30),
            "servers": {"stopped": _id()},
        },
    }


def _reader() -> dict[str, str]:
    """A second user of the demo account: OpenStack's test suite (Tempest) needs one user per
    persona in the project — its ``project_reader`` is this one (roles are not enforced)."""
    return {
        "user_id": _hex(),
        "user_name": "demo-reader",
        "password": "Reader-" + secrets.token_urlsafe(12),
    }


def _other_login() -> dict[str, str]:
    """The second tenant's Keystone login, so it can use the console and tokens too."""
    return {
        "user_name": "other-user",
        "domain_name": "other-account",
        "project_name": "eu-de_other",
        "password": "Other-" + secrets.token_urlsafe(12),
    }


def demo_seed(info: dict[str, Any]) -> SeedDocument:
    """Return the seed document that recreates the demo tenant described by ``info``."""
    o = info["other_project"]
    img = info["images"]
    srv = info["servers"]

    def server(
        sid: str,
        *,
        project: str,
        user: str,
        name: str,
        image: str,
        status: str,
        system: bool = True,
        data: str | None = None,
    ) -> dict[str, Any]:
        return {
            "id": sid,
            "project_id": project,
            "user_id": user,
            "name": name,
            "image_id": image,
            "status": status,
            "system_disk": {"id": _stable(sid, "sys"), "size_gb": 40, "volume_type": "SSD"}
            if system
            else None,
            "data_disks": [{"id": data, "size_gb": 100, "volume_type": "SAS"}] if data else [],
        }

    p, u = info["project_id"], info["user_id"]
    return SeedDocument.model_validate(
        {
            "domains": [
                {"id": info["domain_id"], "name": info["domain_name"]},
                {"id": o["domain_id"], "name": o["domain_name"]},
            ],
            "users": [
                {
                    "id": u,
                    "name": info["user_name"],
                    "domain_id": info["domain_id"],
                    "password": info["password"],
                },
                {
                    "id": o["user_id"],
                    "name": o["user_name"],
                    "domain_id": o["domain_id"],
                    "password": o["password"],
                },
                {
                    "id": info["reader"]["user_id"],
                    "name": info["reader"]["user_name"],
                    "domain_id": info["domain_id"],
                    "password": info["reader"]["password"],
                },
            ],
            "projects": [
                {
                    "id": p,
                    "name": info["project_name"],
                    "domain_id": info["domain_id"],
                    "region": info["region"],
                },
                {
                    "id": o["project_id"],
                    "name": o["project_name"],
                    "domain_id": o["domain_id"],
                    "region": info["region"],
                },
            ],
            "access_keys": [
                {"access_key": info["access_key"], "secret_key": info["secret_key"], "user_id": u},
                {
                    "access_key": o["access_key"],
                    "secret_key": o["secret_key"],
                    "user_id": o["user_id"],
                },
            ],
            "images": [
                {
                    "id": img["cloudinit"],
                    "name": "Debian 12 (cloud-init)",
                    "cloud_init": True,
                    "password_agent": True,
                },
                {
                    "id": img["no_cloudinit"],
                    "name": "Legacy Linux (no cloud-init)",
                    "cloud_init": False,
                    "password_agent": True,
                },
                {"id": img["inactive"], "name": "Debian 12 (importing)", "status": "queued"},
                {"id": img["alt"], "name": "Ubuntu 24.04 (cloud-init)", "cloud_init": True},
            ],
            "vpcs": [{"id": info["vpc_id"], "project_id": p, "name": "demo-vpc"}],
            "subnets": [
                {
                    "id": info["subnet_id"],
                    "project_id": p,
                    "vpc_id": info["vpc_id"],
                    "name": "demo-subnet",
                    "cidr": "192.168.0.0/24",
                }
            ],
            "keypairs": [
                {
                    "user_id": u,
                    "name": info["keypair"]["name"],
                    "public_key": info["keypair"]["public_key"],
                }
            ],
            "kms_keys": [
                {
                    "id": info["kms"]["enabled"],
                    "project_id": p,
                    "alias": "demo-cmk",
                    "state": "enabled",
                },
                {
                    "id": info["kms"]["disabled"],
                    "project_id": p,
                    "alias": "demo-cmk-disabled",
                    "state": "disabled",
                },
            ],
            "servers": [
                server(
                    srv["stopped"],
                    project=p,
                    user=u,
                    name="demo-stopped",
                    image=img["cloudinit"],
                    status="SHUTOFF",
                    data=info["volumes"]["stopped_data"],
                ),
                server(
                    srv["running"],
                    project=p,
                    user=u,
                    name="demo-running",
                    image=img["cloudinit"],
                    status="ACTIVE",
                    data=info["volumes"]["running_data"],
                ),
                server(
                    srv["no_system_disk"],
                    project=p,
                    user=u,
                    name="demo-no-system-disk",
                    image=img["cloudinit"],
                    status="SHUTOFF",
                    system=False,
                ),
                server(
                    srv["no_cloudinit"],
                    project=p,
                    user=u,
                    name="demo-no-cloudinit",
                    image=img["no_cloudinit"],
                    status="SHUTOFF",
                ),
                server(
                    srv["image_inactive"],
                    project=p,
                    user=u,
                    name="demo-image-inactive",
                    image=img["inactive"],
                    status="SHUTOFF",
                ),
                server(
                    o["servers"]["stopped"],
                    project=o["project_id"],
                    user=o["user_id"],
                    name="other-stopped",
                    image=img["cloudinit"],
                    status="SHUTOFF",
                ),
            ],
        }
    )


def _stable(server_id: str, suffix: str) -> str:
    return str(uuid.uuid5(uuid.UUID(server_id), suffix))


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def ensure_demo(data_dir: Path, endpoint: str) -> tuple[dict[str, Any], SeedDocument]:
    """Load or create the demo tenant description; (re)write demo.json with ``endpoint``."""
    path = data_dir / "demo.json"
    info = json.loads(path.read_text()) if path.exists() else _new_info()
    # demo.json files written before the second tenant could log in lack its login.
    info["other_project"] = {**_other_login(), **info["other_project"]}
    # A demo.json written by an older ecslite lacks the newer roles: add them, keep the rest.
    info["images"].setdefault("alt", _id())
    info.setdefault("vpc_id", _id())
    info.setdefault("subnet_id", _id())
    info.setdefault("reader", _reader())
    info["endpoint"] = endpoint
    write_private(path, json.dumps(info, indent=2) + "\n")
    write_private(data_dir / "demo-key.pem", info["keypair"]["private_key"])
    write_private(data_dir / "clouds.yaml", clouds_yaml(info))
    return info, demo_seed(info)


def clouds_yaml(info: dict[str, Any]) -> str:
    """A clouds.yaml for the ``openstack`` CLI and openstacksdk: cloud ``ecslite``, the default
    ``password`` auth type, the demo user in the demo project."""
    doc = {
        "clouds": {
            "ecslite": {
                "auth": {
                    "auth_url": f"{info['endpoint']}/v3",
                    "username": info["user_name"],
                    "password": info["password"],
                    "user_domain_name": info["domain_name"],
                    "project_name": info["project_name"],
                    "project_domain_name": info["domain_name"],
                },
                "region_name": info["region"],
            }
        }
    }
    return yaml.safe_dump(doc, sort_keys=False)
