"""The unchanged ``openstack`` CLI and openstacksdk on Nova's per-server routes: metadata
(``server set/unset --property``), tags (``--tag``, 2.26+), ips, ``os-server-password``
(``server set --no-password``), and a create and rebuild with a Tempest-style password (Nova's
door takes any usable ``adminPass``) — against a real ``ecslite serve --demo``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openstack
import pytest

from tests.e2e.test_openstack_clients import Cli
from tests.support import Service

pytestmark = pytest.mark.process

# As Tempest's rand_password makes them: characters the ECS rule refuses (~ # & *).
NOVA_ONLY_PASSWORD = "G2*ac8&lKFFgh~2#"


@pytest.fixture
def cli(service: Service, tmp_path: Path) -> Iterator[Cli]:
    yield Cli(service, tmp_path)


def test_cli_sets_and_unsets_properties_and_tags(cli: Cli) -> None:
    sid = cli.demo["servers"]["running"]
    cli.ok("server", "set", "--property", "team=blue", "--property", "tier=web", sid)
    cli.ok("server", "unset", "--property", "tier", sid)
    shown = cli.ok("server", "show", sid, "-f", "json")
    assert shown["properties"] == {"team": "blue"}

    v226 = ("--os-compute-api-version", "2.26")
    cli.ok(*v226, "server", "set", "--tag", "prod", "--tag", "eu", sid)
    assert sorted(cli.ok(*v226, "server", "show", sid, "-f", "json")["tags"]) == ["eu", "prod"]
    cli.ok(*v226, "server", "unset", "--tag", "prod", sid)
    assert cli.ok(*v226, "server", "show", sid, "-f", "json")["tags"] == ["eu"]
    # Before 2.26 there are no tags: the CLI says so instead of sending the request.
    refused = cli.run("--os-compute-api-version", "2.25", "server", "set", "--tag", "x", sid)
    assert refused.returncode != 0

    # os-server-password: clearing it is accepted (there is never one to show here).
    cli.ok("server", "set", "--no-password", sid)


def test_cli_create_and_rebuild_take_a_password_nova_accepts(cli: Cli) -> None:
    image = "Debian 12 (cloud-init)"
    created = cli.ok(
        "server", "create", "--image", image, "--flavor", "s3.small.1", "--nic", "none",
        "--password", NOVA_ONLY_PASSWORD, "--wait", "pw-vm", "-f", "json",
    )  # fmt: skip
    assert created["status"] == "ACTIVE" and created["adminPass"] == NOVA_ONLY_PASSWORD
    cli.ok(
        "server",
        "rebuild",
        "--image",
        image,
        "--password",
        "plainpassword",
        "--wait",
        created["id"],
    )
    assert cli.ok("server", "show", created["id"], "-f", "json")["status"] == "ACTIVE"


def test_openstacksdk_metadata_tags_ips_and_password(cli: Cli) -> None:
    conn = cli.sdk()
    created = conn.create_server(
        "sdk-extras", image=cli.demo["images"]["cloudinit"], flavor="s3.small.1", wait=True,
        timeout=120, admin_pass=NOVA_ONLY_PASSWORD, auto_ip=False,
    )  # fmt: skip
    server = conn.compute.get_server(created.id)

    conn.compute.set_server_metadata(server, env="test", owner="qa")
    assert conn.compute.get_server_metadata(server).metadata == {"env": "test", "owner": "qa"}
    conn.compute.delete_server_metadata(server, ["owner"])
    assert conn.compute.get_server_metadata(server).metadata == {"env": "test"}

    ips = list(conn.compute.server_ips(server))
    assert ips and {ip.address for ip in ips} == {
        a["addr"] for addrs in conn.compute.get_server(server).addresses.values() for a in addrs
    }
    assert conn.compute.get_server_password(server) == ""
    conn.compute.clear_server_password(server)

    tagged = openstack.connect(
        load_yaml_config=False, load_envvars=False, auth=cli.auth,
        region_name=cli.demo["region"], compute_api_version="2.26",
    )  # fmt: skip
    tagged.compute.add_tag_to_server(server, "alpha")
    assert tagged.compute.get_server(server).tags == ["alpha"]
    tagged.compute.remove_tag_from_server(server, "alpha")
    assert tagged.compute.get_server(server).tags == []

    assert conn.delete_server(created.id, wait=True, timeout=120)


def test_cli_creates_with_tags_and_lists_by_them(cli: Cli) -> None:
    """``server create --tag`` (2.52) and ``server list --tags``/``--not-tags`` (2.26): the
    filters select the right servers rather than being ignored."""
    v252 = ("--os-compute-api-version", "2.52")
    created = cli.ok(
        *v252, "server", "create", "--image", "Debian 12 (cloud-init)", "--flavor", "s3.small.1",
        "--nic", "none", "--tag", "web", "--tag", "eu", "--wait", "tagged-vm", "-f", "json",
    )  # fmt: skip
    sid = created["id"]
    assert sorted(cli.ok(*v252, "server", "show", sid, "-f", "json")["tags"]) == ["eu", "web"]
    running = cli.demo["servers"]["running"]
    cli.ok(*v252, "server", "set", "--tag", "web", running)

    def listed(*args: str) -> set[str]:
        return {s["ID"] for s in cli.ok(*v252, "server", "list", *args, "-f", "json")}

    every = listed()
    assert {sid, running} <= every
    assert listed("--tags", "web") == {sid, running}
    assert listed("--tags", "web", "--tags", "eu") == {sid}
    assert listed("--not-tags", "eu") == every - {sid}
    # Before 2.52 a create cannot carry tags: the CLI refuses before sending it.
    refused = cli.run(
        "--os-compute-api-version", "2.51", "server", "create", "--image",
        "Debian 12 (cloud-init)", "--flavor", "s3.small.1", "--nic", "none", "--tag", "x", "no",
    )  # fmt: skip
    assert refused.returncode != 0
