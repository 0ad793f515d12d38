"""Two qemu hosts on one machine, as an operator runs them on PostgreSQL: one API process
(``serve --no-runner``) and one ``serve --driver qemu --host-id H`` per host, each with its own
data dir. A ``count=2`` create puts one real guest on each host. Restarting ``h2`` (its guest
died with it, as after a host reboot) boots ``h2``'s guest again and touches nothing of ``h1``:
no QEMU process for ``h1``'s server is started from ``h2``'s data dir, no disk of ``h1`` is
made there, ``h1``'s guest keeps its process. One batch delete naming both servers then leaves
no guest process and no disk file on either host.

Two first boots (in parallel) and one restart boot without waiting for cloud-init: each costs
tens of seconds under TCG, so nothing else boots.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ecslite.auth.httpx_auth import SdkHmacAuth
from tests.e2e.test_hosts import PG_SERVER, _postgres_available
from tests.e2e.test_qemu_guest import _cli, _tenant
from tests.support import Service, fresh_postgres_database, migrate, poll

pytestmark = [
    pytest.mark.process,
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-x86_64") is None or shutil.which("qemu-img") is None,
        reason="QEMU is not installed (apt-get install qemu-system-x86 qemu-utils)",
    ),
    pytest.mark.skipif(
        not _postgres_available(),
        reason="needs the PostgreSQL server named by ECSLITE_TEST_DATABASE_URL",
    ),
]

# A first boot to cloud-init "finished" takes about a minute under TCG on an idle 2-core
# machine; two at once on a loaded one take several.
JOB_TIMEOUT = 1200.0
HOSTS = ("h1", "h2")


def _seed(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "domains": [{"id": t["domain_id"], "name": "two-hosts"}],
        "users": [{"id": t["user_id"], "name": "two-hosts-user", "domain_id": t["domain_id"]}],
        "projects": [{"id": t["project_id"], "name": "eu-de_two", "domain_id": t["domain_id"]}],
        "access_keys": [
            {"access_key": t["access_key"], "secret_key": t["secret_key"], "user_id": t["user_id"]}
        ],
        "images": [{"id": t["image_id"], "name": "Debian 12 (cloud-init)"}],
        "keypairs": [{"user_id": t["user_id"], "name": "e2e-key", "public_key": t["public_key"]}],
        "vpcs": [
            {"id": t["vpc_id"], "project_id": t["project_id"], "name": "two", "cidr": "10.0.0.0/16"}
        ],
        "subnets": [
            {
                "id": t["subnet_id"],
                "project_id": t["project_id"],
                "vpc_id": t["vpc_id"],
                "name": "two",
                "cidr": "10.0.1.0/24",
            }
        ],
    }


def _qemu_processes(root: Path) -> dict[int, str]:
    """Every live QEMU process whose command line names a path under ``root`` (this test's
    data dirs): pid -> command line, arguments joined by spaces."""
    found: dict[int, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        line = b" ".join(args).decode(errors="replace")
        if args and b"qemu-system" in args[0] and str(root) in line:
            found[int(proc.name)] = line
    return found


def _guests_of(root: Path, server_id: str) -> dict[int, str]:
    """The QEMU processes of one server: its VM name and its workdir are in the command line."""
    return {pid: line for pid, line in _qemu_processes(root).items() if server_id in line}


def _kill_all(root: Path) -> None:
    for pid in _qemu_processes(root):
        with contextlib.suppress(OSError):  # ended meanwhile
            os.kill(pid, signal.SIGKILL)
    poll(lambda: _qemu_processes(root), until=lambda left: not left, timeout=30)


def _disk_files(data_dir: Path) -> set[str]:
    return {p.stem for p in (data_dir / "volumes").glob("*.qcow2")}


def _server_dirs(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "servers").iterdir() if p.is_dir()}


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_postgres_database(PG_SERVER) as url:
        migrate(url)
        yield url


def _host(root: Path, host_id: str, database: str) -> Service:
    return Service(
        root / host_id,
        "--driver",
        "qemu",
        "--host-id",
        host_id,
        database_url=database,
        demo=False,
        env={
            "ECSLITE_CLOUD_INIT_TIMEOUT": "900",
            # A loaded machine can leave a TCG guest's console quiet for a while.
            "ECSLITE_QEMU_SILENT_TIMEOUT": "300",
            # A guest still booting ignores the ACPI button: the delete forces it off after this.
            "ECSLITE_QEMU_POWERDOWN_TIMEOUT": "20",
        },
    )


def test_two_qemu_hosts_restart_and_cross_host_delete(tmp_path: Path, database: str) -> None:
    t = _tenant(tmp_path)
    t |= {"vpc_id": str(uuid.uuid4()), "subnet_id": str(uuid.uuid4())}
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump(_seed(t)))
    api = Service(
        tmp_path / "api",
        "--no-runner",
        "--seed",
        str(seed),
        database_url=database,
        demo=False,
        env={"ECSLITE_PLACEMENT_DRIVER": "qemu"},
    )
    hosts: dict[str, Service] = {}
    try:
        api.start()
        for hid in HOSTS:
            data_dir = tmp_path / hid
            # Each host reads base disks from its own data dir (hard links to the image cache).
            _cli("image", "build", "debian-12", "--id", t["image_id"], "--data-dir", str(data_dir))
            # One master key for the whole cluster, as docs/scale-out.md asks.
            shutil.copy(tmp_path / "api" / "master.key", data_dir / "master.key")
            hosts[hid] = _host(tmp_path, hid, database).start()
        http = httpx.Client(
            base_url=api.endpoint,
            auth=SdkHmacAuth(t["access_key"], t["secret_key"], t["project_id"]),
            timeout=30,
        )
        project = t["project_id"]

        def finished(job_id: str) -> dict[str, Any]:
            def show() -> dict[str, Any]:
                time.sleep(1)  # a guest boots for minutes: no need to ask 50 times a second
                return dict(http.get(f"/v1/{project}/jobs/{job_id}").json())

            return dict(
                poll(
                    show,
                    until=lambda j: j.get("status") in ("SUCCESS", "FAIL"),
                    timeout=JOB_TIMEOUT,
                )
            )

        # -- one create of two small servers: placement spreads them, one per host -----------
        resp = http.post(
            f"/v1/{project}/cloudservers",
            json={
                "server": {
                    "name": "pair",
                    "imageRef": t["image_id"],
                    "flavorRef": "s6.small.1",  # 1 vCPU, 1 GiB
                    "vpcid": t["vpc_id"],
                    "nics": [{"subnet_id": t["subnet_id"]}],
                    "key_name": "e2e-key",
                    "root_volume": {"volumetype": "SSD", "size": 10},
                    "count": 2,
                }
            },
        )
        assert resp.status_code == 200, resp.text
        job = finished(resp.json()["job_id"])
        assert job["status"] == "SUCCESS", job

        on: dict[str, str] = {}  # host -> its server
        system_disk: dict[str, str] = {}  # host -> its server's system disk
        for sid in resp.json()["serverIds"]:
            server = http.get(f"/v1/{project}/cloudservers/{sid}").json()["server"]
            assert server["status"] == "ACTIVE", server
            host = server["OS-EXT-SRV-ATTR:host"]
            on[host] = sid
            (disk,) = server["os-extended-volumes:volumes_attached"]
            system_disk[host] = disk["id"]
        assert set(on) == set(HOSTS), on

        def owned_only(hid: str) -> None:
            """``hid``'s data dir has its own server's files and disk, nothing of the other's."""
            data_dir = tmp_path / hid
            assert _server_dirs(data_dir) == {on[hid]}
            assert _disk_files(data_dir) == {system_disk[hid]}

        for hid in HOSTS:
            owned_only(hid)
            (guest,) = _guests_of(tmp_path, on[hid]).values()
            assert str(tmp_path / hid / "servers" / on[hid]) in guest
        (h1_guest,) = _guests_of(tmp_path, on["h1"])

        # -- restart h2 after its guest died with it: it boots its own guest, none of h1's ---
        hosts["h2"].stop()
        for pid in _guests_of(tmp_path, on["h2"]):
            os.kill(pid, signal.SIGKILL)
        poll(lambda: _guests_of(tmp_path, on["h2"]), until=lambda g: not g, timeout=30)
        hosts["h2"] = _host(tmp_path, "h2", database).start()  # provisioning ran before this
        assert "provision disks=1 started=1 problems=0" in hosts["h2"].log()
        (h2_guest,) = _guests_of(tmp_path, on["h2"]).values()
        assert str(tmp_path / "h2" / "servers" / on["h2"]) in h2_guest
        assert list(_guests_of(tmp_path, on["h1"])) == [h1_guest]  # the same process, alone
        assert str(tmp_path / "h1") in _guests_of(tmp_path, on["h1"])[h1_guest]
        assert len(_qemu_processes(tmp_path)) == 2
        for hid in HOSTS:
            owned_only(hid)

        # -- one batch delete naming a server of each host: nothing left on either -----------
        resp = http.post(
            f"/v1/{project}/cloudservers/delete",
            json={"servers": [{"id": on[h]} for h in HOSTS], "delete_volume": True},
        )
        assert resp.status_code == 200, resp.text
        job = finished(resp.json()["job_id"])
        assert job["status"] == "SUCCESS", job
        assert _qemu_processes(tmp_path) == {}
        for hid in HOSTS:
            data_dir = tmp_path / hid
            assert _server_dirs(data_dir) == set() and _disk_files(data_dir) == set()
            gone = http.get(f"/v1/{project}/cloudservers/{on[hid]}")
            assert gone.status_code == 404 and gone.json()["error"]["code"] == "Ecs.0114"
    finally:
        for svc in hosts.values():
            svc.stop()
        api.stop()
        _kill_all(tmp_path)
