"""Around a reinstall on real QEMU guests (one guest, one boot, to keep the run short): a v1
reinstall onto the image without cloud-init with ``adminpass`` (written into the disk before
its first boot) lets root log in over SSH with it; a one-click reset through the guest agent
then changes it (the new password works, the old one is refused); the remote console URL opens
noVNC in Chromium on the guest's screen, once.

The image is ``ecslite image build debian-12-nocloud`` (root, ~3-5 min the first time; cached in
``ECSLITE_AROUND_IMAGE_CACHE``, default /var/cache/ecslite/images).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from huaweicloudsdkecs.v2 import (
    ReinstallServerWithoutCloudInitOption,
    ReinstallServerWithoutCloudInitRequest,
    ReinstallServerWithoutCloudInitRequestBody,
    ShowServerRequest,
)

from ecslite.auth.httpx_auth import SdkHmacAuth
from examples.sdk_reinstall import client_for, wait_for_job
from tests.e2e.test_qemu_guest import _cli, _running, _ssh, _tenant

pytestmark = [
    pytest.mark.process,
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-x86_64") is None or shutil.which("guestfish") is None,
        reason="needs qemu-system-x86_64 and guestfish (apt-get install qemu-system-x86 "
        "qemu-utils debootstrap libguestfs-tools; .ci/run does this)",
    ),
]

JOB_TIMEOUT = 600.0
CACHE = os.environ.get("ECSLITE_AROUND_IMAGE_CACHE", "/var/cache/ecslite/images")
CHROMIUM = os.environ.get("ECSLITE_CHROMIUM", "/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _seed(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "domains": [{"id": t["domain_id"], "name": "qemu-around"}],
        "users": [{"id": t["user_id"], "name": "around-user", "domain_id": t["domain_id"]}],
        "projects": [{"id": t["project_id"], "name": "eu-de_around", "domain_id": t["domain_id"]}],
        "access_keys": [
            {"access_key": t["access_key"], "secret_key": t["secret_key"], "user_id": t["user_id"]}
        ],
        "images": [
            {
                "id": t["image_id"],
                "name": "Debian 12 (no cloud-init)",
                "cloud_init": False,
                "password_agent": True,
            }
        ],
        "servers": [
            {
                "id": t["server_id"],
                "project_id": t["project_id"],
                "user_id": t["user_id"],
                "name": "nocloud-1",
                "image_id": t["image_id"],
                "status": "SHUTOFF",
                "system_disk": {"id": t["system_id"], "size_gb": 2},
            }
        ],
    }


@pytest.fixture
def nocloud_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[tuple[Any, dict[str, Any]]]:
    data_dir = tmp_path / "data"
    t = _tenant(tmp_path)
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump(_seed(t)))
    _cli(
        "image", "build", "debian-12-nocloud", "--id", t["image_id"],
        "--cache-dir", CACHE, "--data-dir", str(data_dir),
    )  # fmt: skip
    monkeypatch.setenv("ECSLITE_CLOUD_INIT_TIMEOUT", "480")
    monkeypatch.setenv("ECSLITE_QEMU_POWERDOWN_TIMEOUT", "30")
    with _running(data_dir, seed, database_url) as svc:
        t["endpoint"] = svc.endpoint
        yield svc, t


def test_nocloud_reinstall_password_reset_and_remote_console(
    nocloud_service: tuple[Any, dict[str, Any]], tmp_path: Path
) -> None:
    svc, t = nocloud_service
    client = client_for(t)
    sid = t["server_id"]
    first, second = "Nocloud-" + uuid.uuid4().hex[:8], "Reset-" + uuid.uuid4().hex[:8] + "x"

    body = ReinstallServerWithoutCloudInitRequestBody(
        os_reinstall=ReinstallServerWithoutCloudInitOption(adminpass=first)
    )
    job_id = client.reinstall_server_without_cloud_init(
        ReinstallServerWithoutCloudInitRequest(server_id=sid, body=body)
    ).job_id
    job = wait_for_job(client, job_id, timeout=JOB_TIMEOUT)
    assert job.status == "SUCCESS", (job, svc.log()[-3000:])
    assert [s.job_type for s in job.entities.sub_jobs][-2:] == [
        "verifyLoginPrompt",
        "deleteOldSystemDisk",
    ]
    forward = client.show_server(ShowServerRequest(server_id=sid)).server.metadata["ssh_forward"]

    # The password written into the disk before the first boot logs root in; another does not.
    ok = _ssh(forward, "echo LOGGED-IN; systemctl is-active qemu-guest-agent", password=first)
    assert "LOGGED-IN" in ok.stdout and "active" in ok.stdout, ok.stderr
    wrong = _ssh(forward, "true", password=second, expect_ok=False)
    assert wrong.returncode != 0

    # One-click reset on the running guest, through its agent (the job id is in a header).
    http = httpx.Client(
        base_url=svc.endpoint,
        auth=SdkHmacAuth(t["access_key"], t["secret_key"], t["project_id"]),
        timeout=30,
    )
    reset = http.put(
        f"/v1/{t['project_id']}/cloudservers/{sid}/os-reset-password",
        json={"reset-password": {"new_password": second}},
    )
    assert reset.status_code == 204, reset.text
    reset_job = wait_for_job(client, reset.headers["X-Ecslite-Job-Id"], timeout=300)
    assert reset_job.status == "SUCCESS", reset_job
    assert "RESET-OK" in _ssh(forward, "echo RESET-OK", password=second).stdout
    assert _ssh(forward, "true", password=first, expect_ok=False).returncode != 0

    # The remote console: noVNC on the guest's screen, once.
    resp = http.post(
        f"/v1/{t['project_id']}/cloudservers/{sid}/remote_console",
        json={"remote_console": {"type": "novnc", "protocol": "vnc"}},
    )
    assert resp.status_code == 200, resp.text
    url = resp.json()["remote_console"]["url"]
    if not Path(CHROMIUM).exists() or not Path("/usr/share/novnc/vnc_lite.html").exists():
        pytest.skip("chromium or novnc not installed: the console URL was not opened")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            # The test's own probes are evaluated scripts, which noVNC's page policy forbids.
            context = browser.new_context(viewport={"width": 1024, "height": 700}, bypass_csp=True)
            page = context.new_page()
            page.set_default_timeout(60_000)
            said: list[str] = []
            page.on("console", lambda m: said.append(m.text))
            page.on("pageerror", lambda e: said.append(str(e)))
            page.goto(url)
            try:
                page.wait_for_function(
                    "document.getElementById('status')?.textContent.startsWith('Connected')"
                )
            except Exception as exc:
                status = page.evaluate("document.getElementById('status')?.textContent")
                raise AssertionError(
                    f"noVNC did not connect: {status!r} {said} {page.url}"
                ) from exc
            page.wait_for_selector("#screen canvas")
            # Wake the screen and let the console redraw its login prompt.
            page.keyboard.press("Enter")
            page.wait_for_timeout(5_000)
            lit = page.evaluate(
                """() => {
                  const c = document.querySelector('#screen canvas');
                  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0;
                  for (let i = 0; i < d.length; i += 4) if (d[i] + d[i+1] + d[i+2] > 200) n++;
                  return n;
                }"""
            )
            assert lit > 500, "the guest's screen is blank"
            # docs/remote-console.png (the README's) when ECSLITE_UPDATE_SCREENSHOTS=1.
            shots = DOCS if os.environ.get("ECSLITE_UPDATE_SCREENSHOTS") == "1" else tmp_path
            page.screenshot(path=str(shots / "remote-console.png"))
            # The same URL a second time: its token is spent.
            again = context.new_page()
            again.goto(url)
            assert "not valid" in again.content()
        finally:
            browser.close()
