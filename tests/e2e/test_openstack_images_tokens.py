"""The unchanged ``openstack`` CLI for what OpenStack users do beside servers: upload and delete
an image, issue and revoke a token, list each service's versions — against a real
``ecslite serve --demo``. Also an upload whose connection is cut half-way, with a real socket."""

from __future__ import annotations

import hashlib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_openstack_clients import Cli
from tests.support import Service, poll

pytestmark = pytest.mark.process


@pytest.fixture
def cli(service: Service, tmp_path: Path) -> Iterator[Cli]:
    yield Cli(service, tmp_path)


def _qcow2(path: Path) -> Path:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    return path


def test_versions_show_lists_each_service_under_its_own_type(cli: Cli) -> None:
    rows = cli.ok("versions", "show", "-f", "json")
    by_service: dict[str, set[str]] = {}
    for row in rows:
        by_service.setdefault(row["Service Type"], set()).add(row["Version"])
    assert by_service["identity"] == {"3.14"}, rows
    assert by_service["compute"] == {"2.1"}, rows
    assert "2.1" not in by_service.get("image", set())
    compute = next(r for r in rows if r["Service Type"] == "compute")
    assert (compute["Min Microversion"], compute["Max Microversion"]) == ("2.1", "2.60")


def test_token_issue_and_revoke(cli: Cli, service: Service) -> None:
    token = cli.ok("token", "issue", "-f", "json")["id"]
    servers = f"{service.endpoint}/compute/v2.1/{cli.demo['project_id']}/servers"
    with httpx.Client(timeout=10) as http:
        assert http.get(servers, headers={"X-Auth-Token": token}).status_code == 200
        cli.ok("token", "revoke", token)
        refused = http.get(servers, headers={"X-Auth-Token": token})
        assert refused.status_code == 401 and refused.headers["x-openstack-request-id"]
        ecs = f"{service.endpoint}/v1/{cli.demo['project_id']}/cloudservers/detail"
        assert http.get(ecs, headers={"X-Auth-Token": token}).status_code == 401
    # The CLI's own next token still works.
    assert cli.ok("server", "list", "-f", "json")


def test_image_create_from_a_qcow2_file_and_delete(
    cli: Cli, service: Service, tmp_path: Path
) -> None:
    disk = _qcow2(tmp_path / "x.qcow2")
    data = disk.read_bytes()
    created = cli.ok(
        "image",
        "create",
        "--file",
        str(disk),
        "--disk-format",
        "qcow2",
        "--container-format",
        "bare",
        "--property",
        "__support_cloudinit=true",
        "--min-disk",
        "1",
        "uploaded-x",
        "-f",
        "json",
    )
    assert created["status"] == "active", created
    shown = cli.ok("image", "show", "uploaded-x", "-f", "json")
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["size"] == len(data) and shown["disk_format"] == "qcow2"
    image_id = shown["id"]
    stored = service.data_dir / "images" / image_id / "disk.qcow2"
    assert stored.read_bytes() == data
    # The ECS image list shows it, as the official SDK reads it.
    names = {i["Name"] for i in cli.ok("image", "list", "-f", "json")}
    assert "uploaded-x" in names
    with httpx.Client(base_url=service.endpoint, timeout=10) as http:
        token = cli.ok("token", "issue", "-f", "json")["id"]
        ims = http.get("/v2/cloudimages", headers={"X-Auth-Token": token}).json()["images"]
        assert image_id in {i["id"] for i in ims}
    # A file claiming the wrong format is refused: the CLI fails (and deletes the queued
    # image it made); no image of that name is ever active.
    bad = tmp_path / "bad.qcow2"
    bad.write_bytes(b"not a qcow2 at all" * 100)
    out = cli.run("image", "create", "--file", str(bad), "--disk-format", "qcow2", "bad-x")
    assert out.returncode != 0 and "qcow2" in out.stderr, out.stderr[-2000:]
    listed = cli.ok("image", "list", "--long", "-f", "json")
    assert all(i["Status"] != "active" for i in listed if i["Name"] == "bad-x")
    cli.ok("image", "delete", "uploaded-x")
    assert not stored.exists()
    assert cli.run("image", "show", "uploaded-x").returncode != 0


def test_an_upload_cut_off_half_way_leaves_no_active_image_and_no_file(
    cli: Cli, service: Service, tmp_path: Path
) -> None:
    token = cli.ok("token", "issue", "-f", "json")["id"]
    with httpx.Client(base_url=service.endpoint, timeout=10) as http:
        created = http.post(
            "/image/v2/images",
            headers={"X-Auth-Token": token},
            json={"name": "cut", "disk_format": "qcow2", "container_format": "bare"},
        )
        assert created.status_code == 201, created.text
        image_id = created.json()["id"]
        head = (
            f"PUT /image/v2/images/{image_id}/file HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"X-Auth-Token: {token}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {4 * 1024 * 1024}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", service.port)) as sock:
            sock.sendall(head + b"QFI\xfb" + b"\0" * (1024 * 1024))
        # The route sees the disconnect and puts the image back; poll until it has: queued
        # again, and changed since its creation (the upload may not have begun at the first look).
        shown = poll(
            lambda: http.get(f"/image/v2/images/{image_id}", headers={"X-Auth-Token": token}),
            until=lambda r: (
                r.json()["status"] == "queued"
                and r.json()["updated_at"] != created.json()["updated_at"]
            ),
        )
        assert shown.json()["checksum"] is None
        staging = service.data_dir / "images" / ".staging"
        poll(lambda: list(staging.iterdir()) if staging.exists() else [], until=lambda f: f == [])
        assert not (service.data_dir / "images" / image_id).exists()
        # And a whole upload afterwards makes it active.
        done = http.put(
            f"/image/v2/images/{image_id}/file",
            headers={"X-Auth-Token": token, "Content-Type": "application/octet-stream"},
            content=_qcow2(tmp_path / "whole.qcow2").read_bytes(),
        )
        assert done.status_code == 204, done.text
        got = http.get(f"/image/v2/images/{image_id}", headers={"X-Auth-Token": token}).json()
        assert got["status"] == "active"
