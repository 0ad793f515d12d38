"""The qemu driver end to end: a real ``ecslite serve --driver qemu``, real QEMU guests, the
official SDK. A reinstall succeeds only after the guest's cloud-init finished; the new key and
user_data are applied, the system disk is new, and the data disk's bytes are unchanged.

Runs wherever ``qemu-system-x86_64`` is installed (CI installs it and builds the image in
``.ci/run``); the Debian 12 guest image is built on first use (needs root) and cached.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from huaweicloudsdkecs.v2 import (
    BatchStartServersOption,
    BatchStartServersRequest,
    BatchStartServersRequestBody,
    BatchStopServersOption,
    BatchStopServersRequest,
    BatchStopServersRequestBody,
    ReinstallServerWithCloudInitOption,
    ReinstallServerWithCloudInitRequest,
    ReinstallServerWithCloudInitRequestBody,
    ReinstallSeverMetadata,
    ServerId,
    ShowJobRequest,
    ShowServerConsoleOutputRequest,
    ShowServerRequest,
)
from passlib.hash import sha512_crypt

from ecslite.auth.httpx_auth import SdkHmacAuth
from ecslite.services.keypairs import generate_keypair
from examples.sdk_reinstall import client_for, wait_for_job
from tests.support import Service, poll

pytestmark = [
    pytest.mark.process,
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-x86_64") is None,
        reason="qemu-system-x86_64 is not installed (apt-get install qemu-system-x86 "
        "qemu-utils debootstrap; .ci/run does this)",
    ),
]

# Under TCG a first boot to cloud-init "finished" takes about a minute on a 2-core host.
JOB_TIMEOUT = 420.0
SSH_TIMEOUT = 300.0  # how long an expected login may wait for the guest's sshd
FINISHED = re.compile(r"Cloud-init v\. \S+ finished at ")


def _tenant(tmp_path: Path) -> dict[str, Any]:
    public_key, private_key = generate_keypair()
    key_file = tmp_path / "e2e-key.pem"
    key_file.write_text(private_key)
    key_file.chmod(0o600)
    ids = {k: uuid.uuid4().hex for k in ("project", "domain", "user")}
    return {
        "project_id": ids["project"],
        "domain_id": ids["domain"],
        "user_id": ids["user"],
        "access_key": uuid.uuid4().hex[:20].upper(),
        "secret_key": uuid.uuid4().hex,
        "image_id": str(uuid.uuid4()),
        "server_id": str(uuid.uuid4()),
        "system_id": str(uuid.uuid4()),
        "data_id": str(uuid.uuid4()),
        "cmk_id": str(uuid.uuid4()),
        "public_key": public_key,
        "key_file": key_file,
    }


def _seed(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "domains": [{"id": t["domain_id"], "name": "qemu-e2e"}],
        "users": [{"id": t["user_id"], "name": "qemu-user", "domain_id": t["domain_id"]}],
        "projects": [{"id": t["project_id"], "name": "eu-de_qemu", "domain_id": t["domain_id"]}],
        "access_keys": [
            {"access_key": t["access_key"], "secret_key": t["secret_key"], "user_id": t["user_id"]}
        ],
        "images": [{"id": t["image_id"], "name": "Debian 12 (cloud-init)"}],
        "keypairs": [{"user_id": t["user_id"], "name": "e2e-key", "public_key": t["public_key"]}],
        "kms_keys": [{"id": t["cmk_id"], "project_id": t["project_id"], "alias": "e2e-cmk"}],
        "servers": [
            {
                "id": t["server_id"],
                "project_id": t["project_id"],
                "user_id": t["user_id"],
                "name": "guest-1",
                "image_id": t["image_id"],
                "status": "SHUTOFF",
                "system_disk": {"id": t["system_id"], "size_gb": 2},
                "data_disks": [{"id": t["data_id"], "size_gb": 1}],
            }
        ],
    }


def _cli(*args: str, timeout: float = 1200) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "ecslite", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def _kill_guests(data_dir: Path) -> None:
    """Stop the QEMU processes this test's service started (found by their pidfiles)."""
    for pidfile in data_dir.glob("servers/*/qemu.pid"):
        try:
            pid = int(pidfile.read_text())
            if str(data_dir) in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass


@pytest.fixture
def guest_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[tuple[Service, dict[str, Any]]]:
    data_dir = tmp_path / "data"
    t = _tenant(tmp_path)
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump(_seed(t)))
    # Builds the Debian 12 image on first use (root, ~2-3 min), else reuses the cache.
    _cli("image", "build", "debian-12", "--id", t["image_id"], "--data-dir", str(data_dir))
    monkeypatch.setenv("ECSLITE_CLOUD_INIT_TIMEOUT", "360")
    monkeypatch.setenv("ECSLITE_QEMU_POWERDOWN_TIMEOUT", "30")
    with _running(data_dir, seed, database_url) as svc:
        t["endpoint"] = svc.endpoint
        yield svc, t


@contextlib.contextmanager
def _running(data_dir: Path, seed: Path, database_url: str) -> Iterator[Service]:
    """Run ``ecslite serve --driver qemu`` on ``data_dir``; stop it and every guest it started."""
    svc = Service(
        data_dir,
        "--driver",
        "qemu",
        "--enable-admin",
        "--seed",
        str(seed),
        database_url=database_url,
        demo=False,
    )
    try:
        svc.start()
        yield svc
    finally:
        svc.stop()
        _kill_guests(data_dir)


def _console(client: Any, server_id: str) -> str:
    resp = client.show_server_console_output(
        ShowServerConsoleOutputRequest(server_id=server_id, length=-1)
    )
    return str(resp.output)


def _data_disk_sha256(path: Path, tmp: Path) -> str:
    """sha256 of the disk's raw content, read without taking QEMU's write lock."""
    raw = tmp / "data.raw"
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", str(path), str(raw)], check=True)
    digest = hashlib.sha256()
    with raw.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    raw.unlink()
    return digest.hexdigest()


def _debugfs_cat(path: Path, inner: str, tmp: Path) -> str:
    raw = tmp / "peek.raw"
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", str(path), str(raw)], check=True)
    out = subprocess.run(
        ["debugfs", "-R", f"cat {inner}", str(raw)], capture_output=True, text=True, check=False
    )
    raw.unlink()
    return out.stdout


SETUP = """#!/bin/sh
set -e
echo system-marker > /root/marker-system
mkfs.ext4 -q -F -L data /dev/vdb
mkdir -p /mnt/data
mount /dev/vdb /mnt/data
echo {marker} > /mnt/data/marker
umount /mnt/data
sync
echo "ROOT-HASH=$(getent shadow root | cut -d: -f2)"
echo SETUP-DONE-{marker}
"""

CHECK = """#!/bin/sh
echo USERDATA-RAN-{marker}
echo "root authorized_keys:"
cat /root/.ssh/authorized_keys
if [ -e /root/marker-system ]; then echo SYSTEM-MARKER-PRESENT; else echo SYSTEM-MARKER-ABSENT; fi
mkdir -p /mnt/data
mount -o ro,noload /dev/vdb /mnt/data && echo "DATA-MARKER=$(cat /mnt/data/marker)" && umount /mnt/data
"""


def _ssh(
    forward: str,
    command: str,
    *,
    key: Path | None = None,
    password: str | None = None,
    expect_ok: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as root over the guest's forward with the system's ssh client.

    A password reaches ssh through SSH_ASKPASS (never on a command line). The first login
    after a boot may race sshd's start, so an expected success is retried until a deadline
    (not a count: a refused connection fails at once, and a boot under a loaded CI machine's
    TCG can take minutes).
    """
    host, _, port = forward.rpartition(":")
    argv = ["ssh", "-p", port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    if key is not None:
        argv += ["-i", str(key), "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no"]
    else:
        askpass = Path(os.environ.get("TMPDIR", "/tmp")) / f"askpass-{uuid.uuid4().hex}"
        askpass.write_text('#!/bin/sh\necho "$E2E_SSH_PASSWORD"\n')
        askpass.chmod(0o700)
        env |= {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force",
                "E2E_SSH_PASSWORD": password or ""}  # fmt: skip
        argv += ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
                 "-o", "NumberOfPasswordPrompts=1"]  # fmt: skip
    argv += [f"root@{host}", command]
    try:
        deadline = time.monotonic() + SSH_TIMEOUT
        while True:
            out = subprocess.run(
                argv, capture_output=True, text=True, timeout=60, env=env,
                stdin=subprocess.DEVNULL, check=False,
            )  # fmt: skip
            if out.returncode == 0 or not expect_ok or time.monotonic() > deadline:
                break
            time.sleep(2)
        if out.returncode == 0 or not expect_ok:
            return out
        raise AssertionError(f"ssh to {forward} kept failing: {out.stderr[-500:]}")
    finally:
        if key is None:
            askpass.unlink(missing_ok=True)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_encrypted_reinstall_applies_key_and_user_data_and_keeps_the_data_disk(
    guest_service: tuple[Service, dict[str, Any]], tmp_path: Path
) -> None:
    svc, t = guest_service
    client = client_for(t)
    sid = t["server_id"]
    marker = uuid.uuid4().hex[:12]

    # 1. Boot the server once (a reinstall with a password) to put a file on each disk.
    resp = client.reinstall_server_with_cloud_init(
        _reinstall_request(
            sid,
            ReinstallServerWithCloudInitOption(
                adminpass="Qemu-e2e-1",
                metadata=ReinstallSeverMetadata(user_data=_b64(SETUP.format(marker=marker))),
            ),
        )
    )

    # The service crashes while the guest boots: the guest keeps running, and the restarted
    # service resumes the job at the verification, which still sees this boot finish.
    def verifying() -> bool:
        job = client.show_job(ShowJobRequest(job_id=resp.job_id))
        return any(
            sj.job_type == "verifyCloudInit" and sj.status == "RUNNING"
            for sj in job.entities.sub_jobs or []
        )

    poll(verifying, until=bool, timeout=120)
    svc.kill()
    svc.start()
    job = wait_for_job(client, resp.job_id, timeout=JOB_TIMEOUT)
    assert job.status == "SUCCESS", (job, svc.log()[-3000:])
    setup_output = _console(client, sid)
    assert f"SETUP-DONE-{marker}" in setup_output
    # adminpass reached the guest as its SHA-512 hash and was set for root.
    root_hash = re.search(r"ROOT-HASH=(\S+)", setup_output)
    assert root_hash and sha512_crypt.verify("Qemu-e2e-1", root_hash.group(1))
    server = client.show_server(ShowServerRequest(server_id=sid)).server
    assert server.status == "ACTIVE"
    # The guest is reachable: its fixed IP in addresses, its SSH port forwarded to loopback,
    # and root logs in with the password given at reinstall.
    forward = server.metadata["ssh_forward"]
    assert forward.startswith("127.0.0.1:")
    assert [a.addr for net in server.addresses.values() for a in net] == ["10.0.2.15"]
    login = _ssh(forward, "cat /root/marker-system", password="Qemu-e2e-1")
    assert login.stdout.strip() == "system-marker", login.stderr
    system_before = [
        v.id for v in server.os_extended_volumesvolumes_attached if v.boot_index == "0"
    ]

    # 2. Stop it (ACPI power-down); record the data disk's bytes from the host.
    stop = client.batch_stop_servers(
        BatchStopServersRequest(
            body=BatchStopServersRequestBody(
                os_stop=BatchStopServersOption(servers=[ServerId(id=sid)])
            )
        )
    )
    assert wait_for_job(client, stop.job_id, timeout=120).status == "SUCCESS"
    data_disk = svc.data_dir / "volumes" / f"{t['data_id']}.qcow2"
    assert _debugfs_cat(data_disk, "/marker", tmp_path).strip() == marker
    data_sha = _data_disk_sha256(data_disk, tmp_path)

    # 3. Reinstall with the key pair and a user_data script, through the official SDK.
    resp = client.reinstall_server_with_cloud_init(
        _reinstall_request(
            sid,
            ReinstallServerWithCloudInitOption(
                keyname="e2e-key",
                userid=t["user_id"],
                metadata=ReinstallSeverMetadata(
                    user_data=_b64(CHECK.format(marker=marker)),
                    system__encrypted="1",
                    system__cmkid=t["cmk_id"],
                ),
            ),
        )
    )
    job = wait_for_job(client, resp.job_id, timeout=JOB_TIMEOUT)
    assert job.status == "SUCCESS", (job, svc.log()[-3000:])
    steps = [(s.job_type, s.status) for s in job.entities.sub_jobs]
    assert ("verifyCloudInit", "SUCCESS") in steps
    assert steps.index(("verifyCloudInit", "SUCCESS")) < steps.index(
        ("deleteOldSystemDisk", "SUCCESS")
    )

    # SUCCESS came after cloud-init finished this boot: the finish line follows the script.
    output = _console(client, sid)
    this_boot = output[output.index(f"USERDATA-RAN-{marker}") :]
    assert FINISHED.search(this_boot), this_boot[-2000:]
    key_body = t["public_key"].split()[1]
    assert key_body in this_boot  # the new key is in root's authorized_keys
    assert "SYSTEM-MARKER-ABSENT" in this_boot  # the file on the old system disk is gone
    assert f"DATA-MARKER={marker}" in this_boot  # the data disk kept its file

    # Nova's os-getConsoleOutput returns the tail of the same log.
    nova = httpx.post(
        f"{svc.endpoint}/v2.1/{t['project_id']}/servers/{sid}/action",
        json={"os-getConsoleOutput": {"length": 400}},
        auth=SdkHmacAuth(t["access_key"], t["secret_key"], t["project_id"]),
        timeout=10,
    )
    assert nova.status_code == 200 and "SYSTEM-MARKER-ABSENT" in nova.json()["output"]

    server = client.show_server(ShowServerRequest(server_id=sid)).server
    assert server.status == "ACTIVE" and server.key_name == "e2e-key"
    # Same forward after the reinstall; the new key logs in, the old password is refused.
    assert server.metadata["ssh_forward"] == forward
    assert _ssh(forward, "id -u", key=t["key_file"]).stdout.strip() == "0"
    # The same login through `ecslite ssh`, which finds the forward through the API.
    via_cli = subprocess.run(
        [sys.executable, "-m", "ecslite", "ssh", sid, "--endpoint", svc.endpoint,
         "--project-id", t["project_id"], "--access-key", t["access_key"],
         "-i", str(t["key_file"]), "--", "cat", "/root/.ssh/authorized_keys"],
        env={**os.environ, "ECSLITE_SECRET_KEY": t["secret_key"]},
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert via_cli.returncode == 0, via_cli.stderr
    assert t["public_key"].split()[1] in via_cli.stdout
    refused = _ssh(forward, "id -u", password="Qemu-e2e-1", expect_ok=False)
    assert refused.returncode != 0 and "Permission denied" in refused.stderr
    system_after = [v.id for v in server.os_extended_volumesvolumes_attached if v.boot_index == "0"]
    assert system_after != system_before
    assert _data_disk_sha256(data_disk, tmp_path) == data_sha
    # The new system disk is a LUKS overlay on the image (and the guest booted it above).
    new_disk = svc.data_dir / "volumes" / f"{system_after[0]}.qcow2"
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "-U", "--output=json", str(new_disk)],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert info["format-specific"]["data"]["encrypt"]["format"] == "luks"
    assert info["backing-filename"].endswith("disk.qcow2")
    # No disk file without a volume record: the old system disk's file is gone.
    files = {p.stem for p in (svc.data_dir / "volumes").glob("*.qcow2")}
    assert files == {system_after[0], t["data_id"]}


def test_failure_after_the_guest_started_leaves_the_server_bootable_on_its_old_disk(
    guest_service: tuple[Service, dict[str, Any]],
) -> None:
    svc, t = guest_service
    client = client_for(t)
    sid = t["server_id"]
    fault = httpx.post(
        f"{svc.endpoint}/_ecslite/admin/faults",
        json={
            "step": "verifyCloudInit",
            "server_id": sid,
            "message": "verification failed (injected)",
        },
        timeout=10,
    )
    assert fault.status_code == 201, fault.text
    before = client.show_server(ShowServerRequest(server_id=sid)).server
    old_system = [v.id for v in before.os_extended_volumesvolumes_attached if v.boot_index == "0"]

    resp = client.reinstall_server_with_cloud_init(
        _reinstall_request(
            sid, ReinstallServerWithCloudInitOption(keyname="e2e-key", userid=t["user_id"])
        )
    )
    job = wait_for_job(client, resp.job_id, timeout=JOB_TIMEOUT)
    assert job.status == "FAIL" and "verification failed" in job.fail_reason
    server = client.show_server(ShowServerRequest(server_id=sid)).server
    assert server.status == "SHUTOFF"
    assert [
        v.id for v in server.os_extended_volumesvolumes_attached if v.boot_index == "0"
    ] == old_system
    files = {p.stem for p in (svc.data_dir / "volumes").glob("*.qcow2")}
    assert files == {old_system[0], t["data_id"]}

    # The old disk still boots: start it and watch the guest come up on the console.
    seen = len(_console(client, sid))
    start = client.batch_start_servers(
        BatchStartServersRequest(
            body=BatchStartServersRequestBody(
                os_start=BatchStartServersOption(servers=[ServerId(id=sid)])
            )
        )
    )
    assert wait_for_job(client, start.job_id, timeout=120).status == "SUCCESS"
    poll(
        lambda: _console(client, sid)[seen:],
        until=lambda text: FINISHED.search(text) is not None,
        timeout=JOB_TIMEOUT,
    )


def _reinstall_request(server_id: str, option: ReinstallServerWithCloudInitOption) -> Any:
    return ReinstallServerWithCloudInitRequest(
        server_id=server_id,
        body=ReinstallServerWithCloudInitRequestBody(os_reinstall=option),
    )


def test_a_silent_guest_fails_the_reinstall_early_and_the_server_keeps_its_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """A guest that never prints (here: a blank image, nothing to boot) fails the reinstall
    after the silence timeout, not the cloud-init one, and is rolled back like any failure."""
    data_dir = tmp_path / "data"
    t = _tenant(tmp_path)
    blank = tmp_path / "blank.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(blank), "1G"], check=True)
    _cli("image", "import", str(blank), "--name", "blank", "--id", t["image_id"],
         "--data-dir", str(data_dir))  # fmt: skip
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump(_seed(t)))
    monkeypatch.setenv("ECSLITE_QEMU_SILENT_TIMEOUT", "5")
    monkeypatch.setenv("ECSLITE_CLOUD_INIT_TIMEOUT", "600")
    monkeypatch.setenv("ECSLITE_QEMU_POWERDOWN_TIMEOUT", "5")
    with _running(data_dir, seed, database_url) as svc:
        t["endpoint"] = svc.endpoint
        client = client_for(t)
        sid = t["server_id"]
        resp = client.reinstall_server_with_cloud_init(
            _reinstall_request(
                sid, ReinstallServerWithCloudInitOption(keyname="e2e-key", userid=t["user_id"])
            )
        )
        job = wait_for_job(client, resp.job_id, timeout=300)
        assert job.status == "FAIL", job
        assert "wrote nothing to its serial console" in job.fail_reason
        assert "ECSLITE_QEMU_ACCEL" in job.fail_reason
        server = client.show_server(ShowServerRequest(server_id=sid)).server
        assert server.status == "SHUTOFF"
        system = [v.id for v in server.os_extended_volumesvolumes_attached if v.boot_index == "0"]
        assert system == [t["system_id"]]
        files = {p.stem for p in (svc.data_dir / "volumes").glob("*.qcow2")}
        assert files == {t["system_id"], t["data_id"]}
        guests = _cli("guests", "list", "--data-dir", str(data_dir))
        assert guests.strip() == ""  # the rollback powered the silent guest off
