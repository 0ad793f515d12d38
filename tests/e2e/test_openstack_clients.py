"""The unchanged ``openstack`` CLI and openstacksdk against a real ``ecslite serve --demo``.

The clouds.yaml ``serve --demo`` writes (default ``password`` auth type) points at ``/v3``: login
(with keystoneauth's unauthenticated discovery first), the catalog, servers, key pairs, power
actions, images, console output and Nova's rebuild. Every CLI call runs with a timeout, so a
hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest
import yaml

from tests.support import Service, poll

pytestmark = pytest.mark.process

OPENSTACK = str(Path(sys.executable).with_name("openstack"))
CLI_TIMEOUT = 120


class Cli:
    def __init__(self, svc: Service, tmp_path: Path) -> None:
        self.demo = svc.demo
        d = self.demo
        self.auth = {
            "auth_url": f"{svc.endpoint}/v3",
            "username": d["user_name"],
            "password": d["password"],
            "user_domain_name": d["domain_name"],
            "project_name": d["project_name"],
            "project_domain_name": d["domain_name"],
        }
        # The clouds.yaml `serve --demo` writes next to demo.json, used as it is.
        clouds = svc.data_dir / "clouds.yaml"
        cloud = yaml.safe_load(clouds.read_text())["clouds"]["ecslite"]
        assert cloud["auth"] == self.auth and "auth_type" not in cloud
        # Only this clouds.yaml: no OS_* variable of the machine running the tests leaks in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env = {
            **env,
            "OS_CLIENT_CONFIG_FILE": str(clouds),
            "OS_CLOUD": "ecslite",
            "HOME": str(tmp_path),
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OPENSTACK, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )

    def ok(self, *args: str) -> Any:
        """Run a command that must succeed; parse its ``-f json`` output when it has one."""
        out = self.run(*args)
        assert out.returncode == 0, (args, out.stdout[-2000:], out.stderr[-4000:])
        return json.loads(out.stdout) if "json" in args else out.stdout

    def sdk(self) -> openstack.connection.Connection:
        return openstack.connect(
            load_yaml_config=False,
            load_envvars=False,
            auth=self.auth,
            region_name=self.demo["region"],
            api_timeout=30,
        )


@pytest.fixture
def cli(service: Service, tmp_path: Path) -> Iterator[Cli]:
    yield Cli(service, tmp_path)


def test_discovery_is_public_and_unknown_versions_are_404(service: Service) -> None:
    with httpx.Client(base_url=service.endpoint, timeout=10) as http:
        assert http.get("/v3").json()["version"]["id"].startswith("v3.")
        compute = http.get("/v2.1/").json()["version"]
        assert (compute["min_version"], compute["version"]) == ("2.1", "2.60")
        ids = {v["id"] for v in http.get("/").json()["versions"]["values"]}
        assert ids == {"v3.14"}  # compute lists its versions at its own root, /compute/
        assert [v["id"] for v in http.get("/compute/").json()["versions"]] == ["v2.1"]
        assert http.get("/image/").json()["versions"][0]["id"] == "v2.9"
        for unknown in ("/v2.0", "/v4/", "/v1"):
            assert http.get(unknown).status_code == 404, unknown
        # Everything else still needs credentials.
        assert http.get(f"/v2.1/{service.demo['project_id']}/servers").status_code == 401


def test_login_catalog_and_read_only_commands(cli: Cli) -> None:
    d = cli.demo
    token = cli.ok("token", "issue", "-f", "json")
    assert token["project_id"] == d["project_id"] and token["user_id"] == d["user_id"]
    catalog = {c["Type"]: c for c in cli.ok("catalog", "list", "-f", "json")}
    assert set(catalog) == {"identity", "compute", "image", "ecs"}
    assert f"/v2.1/{d['project_id']}" in json.dumps(catalog["compute"]["Endpoints"])

    servers = {s["ID"]: s for s in cli.ok("server", "list", "-f", "json")}
    assert servers[d["servers"]["stopped"]]["Status"] == "SHUTOFF"
    assert servers[d["servers"]["running"]]["Status"] == "ACTIVE"
    assert servers[d["servers"]["running"]]["Image"] == "Debian 12 (cloud-init)"
    assert d["other_project"]["servers"]["stopped"] not in servers

    shown = cli.ok("server", "show", d["servers"]["stopped"], "-f", "json")
    assert shown["status"] == "SHUTOFF" and shown["OS-EXT-STS:vm_state"] == "stopped"
    assert d["images"]["cloudinit"] in shown["image"]

    images = {i["ID"]: i for i in cli.ok("image", "list", "-f", "json")}
    assert images[d["images"]["cloudinit"]]["Status"] == "active"
    assert images[d["images"]["inactive"]]["Name"] == "Debian 12 (importing)"

    cli.ok("console", "log", "show", d["servers"]["running"])
    missing = cli.run("server", "show", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr


def test_flavors_limits_zones_and_list_filters(cli: Cli) -> None:
    d = cli.demo
    flavors = {f["ID"]: f for f in cli.ok("flavor", "list", "-f", "json")}
    assert flavors["s6.large.4"]["VCPUs"] == 2 and flavors["s6.large.4"]["RAM"] == 8192
    shown = cli.ok("flavor", "show", "s6.medium.2", "-f", "json")
    assert shown["vcpus"] == 1 and shown["ram"] == 2048
    limits = {r["Name"]: r["Value"] for r in cli.ok("limits", "show", "--absolute", "-f", "json")}
    assert limits["instances"] >= limits["instances_used"] > 0
    zones = cli.ok("availability", "zone", "list", "--compute", "-f", "json")
    assert [z["Zone Name"] for z in zones] == ["eu-de-01"]
    # Filters are answered, not ignored: the demo servers all run one image and flavor.
    by_image = cli.ok("server", "list", "--image", d["images"]["cloudinit"], "-f", "json")
    assert d["servers"]["stopped"] in {s["ID"] for s in by_image}
    assert cli.ok("server", "list", "--flavor", "s6.2xlarge.2", "-f", "json") == []


def test_keypair_create_list_show_delete(cli: Cli) -> None:
    created = cli.ok("keypair", "create", "cli-key")
    assert "PRIVATE KEY" in created
    names = [k["Name"] for k in cli.ok("keypair", "list", "-f", "json")]
    assert sorted(names) == sorted(["cli-key", cli.demo["keypair"]["name"]])
    assert cli.ok("keypair", "show", "cli-key", "-f", "json")["name"] == "cli-key"
    duplicate = cli.run("keypair", "create", "cli-key")
    assert duplicate.returncode == 1 and "409" in duplicate.stderr
    cli.ok("keypair", "delete", "cli-key")
    gone = cli.run("keypair", "show", "cli-key")
    assert gone.returncode == 1 and "Traceback" not in gone.stderr
    assert "No Keypair found" in gone.stderr


def test_server_stop_and_start(cli: Cli) -> None:
    sid = cli.demo["servers"]["running"]
    conn = cli.sdk()
    cli.ok("server", "stop", sid)
    poll(lambda: conn.compute.get_server(sid).status, until=lambda s: s == "SHUTOFF")
    again = cli.run("server", "stop", sid)
    assert again.returncode == 1 and "409" in again.stderr
    cli.ok("server", "start", sid)
    poll(lambda: conn.compute.get_server(sid).status, until=lambda s: s == "ACTIVE")


def test_rebuild_stopped_server_with_new_key_stays_shutoff(cli: Cli) -> None:
    d = cli.demo
    sid, key = d["servers"]["stopped"], d["keypair"]["name"]
    cli.ok(
        "server", "rebuild", "--image", "Debian 12 (cloud-init)", "--key-name", key, "--wait", sid
    )
    shown = cli.ok("server", "show", sid, "-f", "json")
    assert shown["status"] == "SHUTOFF" and shown["key_name"] == key
    assert shown["OS-EXT-STS:task_state"] is None


def test_rebuild_running_server_without_credentials_keeps_its_key(cli: Cli) -> None:
    d = cli.demo
    sid, key, image = d["servers"]["running"], d["keypair"]["name"], d["images"]["cloudinit"]
    cli.ok("server", "rebuild", "--image", image, "--key-name", key, "--wait", sid)
    before = cli.ok("server", "show", sid, "-f", "json")
    assert before["status"] == "ACTIVE" and before["key_name"] == key
    cli.ok("server", "rebuild", "--image", image, "--wait", sid)
    after = cli.ok("server", "show", sid, "-f", "json")
    assert after["status"] == "ACTIVE" and after["key_name"] == key
    # A new system disk each time: the rebuild really ran.
    assert after["volumes_attached"] != before["volumes_attached"]


def test_openstacksdk_lists_rebuilds_and_waits(cli: Cli) -> None:
    d = cli.demo
    conn = cli.sdk()
    servers = {s.id: s for s in conn.compute.servers()}
    assert servers[d["servers"]["stopped"]].status == "SHUTOFF"
    assert [s.name for s in conn.compute.servers(name="demo-running")] == ["demo-running"]
    assert {i.id for i in conn.image.images()} >= set(d["images"].values())
    # Small pages: the SDK follows Nova's servers_links and Glance's next to the end (islice
    # bounds a paging loop that would never end).
    paged = [s.id for s in itertools.islice(conn.compute.servers(limit=2), 50)]
    assert sorted(paged) == sorted(servers)
    assert len(list(itertools.islice(conn.image.images(limit=1), 50))) == len(d["images"])

    server = conn.compute.get_server(d["servers"]["stopped"])
    rebuilding = conn.compute.rebuild_server(
        server,
        image=d["images"]["cloudinit"],
        name="renamed-by-rebuild",
        admin_password="Rebuild-Pass-1",
        key_name=d["keypair"]["name"],
    )
    assert rebuilding.status == "REBUILD"
    done = conn.compute.wait_for_server(rebuilding, status="SHUTOFF", interval=0.2, wait=60)
    assert done.name == "renamed-by-rebuild" and done.key_name == d["keypair"]["name"]

    with pytest.raises(openstack.exceptions.NotFoundException):
        conn.compute.get_server("00000000-0000-0000-0000-000000000000")
    # reboot runs the reboot job; the server passes through REBOOT back to ACTIVE.
    conn.compute.reboot_server(d["servers"]["running"], "SOFT")
    running = conn.compute.get_server(d["servers"]["running"])
    assert running.status in ("REBOOT", "ACTIVE")
    assert conn.compute.wait_for_server(running, status="ACTIVE", interval=0.2, wait=60)


def test_server_create_list_rename_events_and_delete(cli: Cli, tmp_path: Path) -> None:
    d = cli.demo
    image, flavor, key = "Debian 12 (cloud-init)", "s3.small.1", d["keypair"]["name"]
    common = ("--image", image, "--flavor", flavor, "--nic", "none")
    created = cli.ok(
        "server", "create", *common, "--key-name", key, "--wait", "cli-vm", "-f", "json"
    )
    sid = created["id"]
    assert created["status"] == "ACTIVE" and created["key_name"] == key
    user_data = tmp_path / "user-data.yaml"
    user_data.write_text("#cloud-config\nhostname: cli-ud\n")
    with_ud = cli.ok(
        "server", "create", *common, "--user-data", str(user_data), "--wait", "cli-ud",
        "-f", "json",
    )  # fmt: skip
    assert with_ud["status"] == "ACTIVE"
    cli.ok("server", "create", *common, "--min", "2", "--max", "2", "cli-many")
    many = poll(
        lambda: {
            s["Name"]: s["Status"]
            for s in cli.ok("server", "list", "--name", "^cli-many", "-f", "json")
        },
        until=lambda m: sorted(m) == ["cli-many-1", "cli-many-2"] and set(m.values()) == {"ACTIVE"},
    )
    assert len(many) == 2

    # List filters answer (and do not ignore) the image and the flavor.
    by_flavor = {s["ID"] for s in cli.ok("server", "list", "--flavor", flavor, "-f", "json")}
    assert {sid, with_ud["id"]} <= by_flavor
    by_image = {s["ID"] for s in cli.ok("server", "list", "--image", image, "-f", "json")}
    assert sid in by_image
    other = {s["ID"] for s in cli.ok("server", "list", "--flavor", "s6.large.4", "-f", "json")}
    assert sid not in other

    cli.ok("server", "set", "--name", "cli-renamed", sid)
    assert cli.ok("server", "show", sid, "-f", "json")["name"] == "cli-renamed"
    cli.ok("server", "stop", sid)
    poll(lambda: cli.ok("server", "show", sid, "-f", "json")["status"], until="SHUTOFF".__eq__)
    events = cli.ok("server", "event", "list", sid, "-f", "json")
    assert [e["Action"] for e in events] == ["stop", "create"]
    request_id = events[-1]["Request ID"]
    shown = cli.ok("server", "event", "show", sid, request_id, "-f", "json")
    assert shown["action"] == "create"

    cli.ok("server", "delete", "--wait", sid)
    gone = cli.run("server", "show", sid)
    assert gone.returncode == 1 and "Traceback" not in gone.stderr


def test_openstacksdk_cloud_layer_creates_and_deletes(cli: Cli) -> None:
    d = cli.demo
    conn = cli.sdk()
    assert "s3.small.1" in {f.id for f in conn.list_flavors()}
    limits = conn.get_compute_limits()
    assert limits.max_total_instances >= limits.total_instances_used > 0
    server = conn.create_server(
        "sdk-vm",
        image=d["images"]["cloudinit"],
        flavor="s3.small.1",
        key_name=d["keypair"]["name"],
        wait=True,
        timeout=120,
        auto_ip=False,
    )
    assert server.status == "ACTIVE" and server.name == "sdk-vm"
    assert conn.get_compute_limits().total_instances_used == limits.total_instances_used + 1
    assert conn.delete_server(server.id, wait=True, timeout=120) is True
    assert conn.get_server(server.id) is None
