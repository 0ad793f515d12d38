"""The web console in a real browser against a real ``ecslite serve --demo --sim-delay`` process:
log in, see the servers, reinstall, change OS and delete from the dialogs and watch the steps
tick, the page following the event stream, tenant isolation, CSRF, key pairs, logout. The
screenshots in docs/ are taken here."""

from __future__ import annotations

import os
import random
import string
from pathlib import Path
from typing import Any

import httpx
import pytest

from ecslite.domain.errors import EcsError
from ecslite.domain.reinstall import PASSWORD_SPECIALS, check_password
from tests.browser.conftest import login
from tests.support import Service

pytestmark = pytest.mark.process
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _shots(tmp_path: Path) -> Path:
    """docs/ when ECSLITE_UPDATE_SCREENSHOTS=1 (the README's images), else the test's tmp dir."""
    return DOCS if os.environ.get("ECSLITE_UPDATE_SCREENSHOTS") == "1" else tmp_path


DEMO_SERVERS = {
    "demo-stopped",
    "demo-running",
    "demo-no-system-disk",
    "demo-no-cloudinit",
    "demo-image-inactive",
}


def _names(page: Any) -> set[str]:
    return set(page.eval_on_selector_all("#servers tbody tr", "rs => rs.map(r => r.dataset.name)"))


def _row(page: Any, server_id: str) -> str:
    return f'#servers tr[data-server-id="{server_id}"]'


def test_reinstall_from_the_dialog_ticks_live_to_success(
    browser: Any, console_service: Service, tmp_path: Path
) -> None:
    demo = console_service.demo
    stopped = demo["servers"]["stopped"]
    page = login(browser, console_service, demo)
    assert _names(page) == DEMO_SERVERS
    assert page.inner_text(f"{_row(page, stopped)} [data-status]") == "SHUTOFF"
    # Anything the page remembers survives only if the page is never reloaded.
    page.evaluate("window.__notReloaded = true")

    page.click(f"{_row(page, stopped)} button[data-action=reinstall]")
    page.check("input[name=login][value=password]")
    page.fill("input[name=adminpass]", "alllowercase")
    assert "at least 3 of" in page.inner_text("#password-error")
    page.fill("input[name=adminpass]", "short")
    assert "8-26 characters" in page.inner_text("#password-error")
    page.fill("input[name=adminpass]", "Good-pass1")
    assert page.is_hidden("#password-error")

    page.check("input[name=login][value=key]")
    assert page.input_value("select[name=keyname]") == demo["keypair"]["name"]
    # Record every state of the step list the page shows (how many steps have succeeded).
    page.evaluate(
        """() => {
        window.__done = [];
        const list = document.querySelector('#reinstall-job [data-field=job-steps]');
        new MutationObserver(() => window.__done.push(
            list.querySelectorAll('li[data-status=SUCCESS]').length)
        ).observe(list, {childList: true, subtree: true});
    }"""
    )
    page.click("#reinstall [data-action=submit]")
    # A step running while the last one still waits: the job is shown while it runs.
    page.wait_for_function(
        """() => {
        const ls = [...document.querySelectorAll('#reinstall-job li')];
        return ls.some(l => l.dataset.status === 'RUNNING')
            && ls.length > 0 && ls[ls.length - 1].dataset.status === 'INIT';
    }"""
    )
    page.screenshot(path=str(_shots(tmp_path) / "console-reinstall.png"))
    page.wait_for_selector("#reinstall-job [data-field=job-status] [data-status=SUCCESS]")
    seen = page.evaluate("window.__done")
    # Ticked: some states in between none and all steps done were shown, in order.
    assert seen == sorted(seen)
    assert len({n for n in seen if 0 < n < 7}) >= 1, seen
    steps = page.eval_on_selector_all(
        "#reinstall-job li", "ls => ls.map(l => [l.dataset.step, l.dataset.status])"
    )
    assert steps and all(status == "SUCCESS" for _, status in steps)
    assert [name for name, _ in steps][-1] == "deleteOldSystemDisk"

    page.click("#reinstall [data-action=close]")
    page.wait_for_selector(f'{_row(page, stopped)} [data-status="ACTIVE"]')
    assert page.inner_text(f"{_row(page, stopped)} td.key") == demo["keypair"]["name"]
    page.screenshot(path=str(_shots(tmp_path) / "console-servers.png"))
    assert page.evaluate("window.__notReloaded") is True
    # What the API says agrees with what the page shows.
    with console_service.http() as api:
        server = api.get(f"/v1/{demo['project_id']}/cloudservers/{stopped}").json()["server"]
    assert (server["status"], server["key_name"]) == ("ACTIVE", demo["keypair"]["name"])
    assert page.js_errors == []


def test_the_list_follows_the_event_stream_without_polling(
    browser: Any, console_service: Service
) -> None:
    demo = console_service.demo
    running = demo["servers"]["running"]
    context = browser.new_context(base_url=console_service.endpoint)
    # Count the EventSources the page opens.
    context.add_init_script(
        "window.__sources = 0; const E = window.EventSource;"
        " window.EventSource = class extends E {"
        " constructor(...a) { super(...a); window.__sources += 1; } };"
    )
    seen: list[str] = []
    context.on("request", lambda r: seen.append(httpx.URL(r.url).path))
    page = login(browser, console_service, demo, context=context)
    page.evaluate("window.__notReloaded = true")
    assert page.inner_text(f"{_row(page, running)} [data-status]") == "ACTIVE"
    with console_service.http() as api:
        resp = api.post(
            f"/v1/{demo['project_id']}/cloudservers/action",
            json={"os-stop": {"servers": [{"id": running}]}},
        )
        assert resp.status_code == 200, resp.text
    page.wait_for_selector(f'{_row(page, running)} [data-status="SHUTOFF"]')
    page.wait_for_timeout(2500)  # long enough for a poller to have asked twice more
    assert page.evaluate("window.__notReloaded") is True
    assert page.evaluate("window.__sources") == 1  # one EventSource for the page
    assert seen.count("/console/api/events") == 1
    # No polling: besides the stream, the list was read once when the stream opened and once
    # when the stop job ended (a deleted server sends no event of its own).
    assert seen.count("/console/api/servers") <= 2, seen
    assert page.js_errors == []


def test_without_the_stream_the_page_falls_back_to_polling(
    browser: Any, console_service: Service
) -> None:
    demo = console_service.demo
    running = demo["servers"]["running"]
    context = browser.new_context(base_url=console_service.endpoint)
    # A proxy that refuses the stream: the browser gives the EventSource up at once.
    context.route("**/console/api/events", lambda route: route.fulfill(status=503, body=""))
    seen: list[str] = []
    context.on("request", lambda r: seen.append(httpx.URL(r.url).path))
    page = login(browser, console_service, demo, context=context)
    with console_service.http() as api:
        resp = api.post(
            f"/v1/{demo['project_id']}/cloudservers/action",
            json={"os-stop": {"servers": [{"id": running}]}},
        )
        assert resp.status_code == 200, resp.text
    page.wait_for_selector(f'{_row(page, running)} [data-status="SHUTOFF"]')
    assert seen.count("/console/api/events") >= 1
    assert seen.count("/console/api/servers") >= 2  # read again and again
    assert page.js_errors == []


def test_change_os_from_the_dialog_ticks_to_success_and_shows_the_image(
    browser: Any, console_service: Service
) -> None:
    demo = console_service.demo
    stopped = demo["servers"]["stopped"]
    page = login(browser, console_service, demo)
    page.goto(f"/console/servers/{stopped}")
    page.evaluate("window.__notReloaded = true")
    assert page.inner_text("#server-image") == "Debian 12 (cloud-init)"
    page.click("#server-actions button[data-action=changeos]")
    options = page.eval_on_selector_all(
        "select[name=image_id] option", "os => os.map(o => o.textContent)"
    )
    # The project's active images, those without Cloud-Init marked (the console changes OS as
    # the v1 API does).
    assert options == [
        "Debian 12 (cloud-init)",
        "Legacy Linux (no cloud-init) (no Cloud-Init)",
        "Ubuntu 24.04 (cloud-init)",
    ]
    page.select_option("select[name=image_id]", demo["images"]["alt"])
    page.click("#reinstall [data-action=submit]")
    page.wait_for_selector("#reinstall-job li[data-status=RUNNING]")
    page.wait_for_selector("#reinstall-job [data-field=job-status] [data-status=SUCCESS]")
    steps = page.eval_on_selector_all("#reinstall-job li", "ls => ls.map(l => l.dataset.status)")
    assert steps and set(steps) == {"SUCCESS"}
    page.click("#reinstall [data-action=close]")
    page.wait_for_function(
        "() => document.getElementById('server-image').textContent === 'Ubuntu 24.04 (cloud-init)'"
    )
    page.wait_for_selector('#jobs article[data-status="SUCCESS"]')
    assert "changeOS" in page.inner_text("#jobs")
    assert page.evaluate("window.__notReloaded") is True
    with console_service.http() as api:
        server = api.get(f"/v1/{demo['project_id']}/cloudservers/{stopped}").json()["server"]
    assert server["image"]["id"] == demo["images"]["alt"]
    assert page.js_errors == []


def test_delete_from_the_dialog_removes_the_server_from_the_list(
    browser: Any, console_service: Service
) -> None:
    demo = console_service.demo
    stopped = demo["servers"]["stopped"]
    page = login(browser, console_service, demo)
    page.evaluate("window.__notReloaded = true")
    page.click(f"{_row(page, stopped)} button[data-action=delete]")
    assert "demo-stopped" in page.inner_text("#delete")
    page.check("#delete input[name=delete_volume]")
    page.click("#delete [data-action=submit]")
    page.wait_for_selector("#delete-job [data-field=job-status] [data-status=SUCCESS]")
    page.wait_for_selector(_row(page, stopped), state="detached")
    assert _names(page) == DEMO_SERVERS - {"demo-stopped"}
    assert page.evaluate("window.__notReloaded") is True
    with console_service.http() as api:
        assert api.get(f"/v1/{demo['project_id']}/cloudservers/{stopped}").status_code == 404
    assert page.js_errors == []


def test_create_from_the_dialog_adds_the_server_to_the_list(
    browser: Any, console_service: Service
) -> None:
    demo = console_service.demo
    page = login(browser, console_service, demo)
    page.evaluate("window.__notReloaded = true")
    page.click("#open-create")
    subnets = page.eval_on_selector_all(
        "#create select[name=subnet_id] option", "os => os.map(o => o.textContent)"
    )
    assert subnets == ["demo-vpc / demo-subnet (192.168.0.0/24)"]
    assert page.eval_on_selector_all("#create select[name=flavor_id] option", "os => os.length") > 1
    # The API's own refusal, shown inline: a data disk below its minimum size.
    page.fill("#create input[name=name]", "web-1")
    page.fill("#create input[name=data_disk_gb]", "5")
    page.click("#create [data-action=submit]")
    page.wait_for_selector("#create-error:not([hidden])")
    assert "Ecs." in page.inner_text("#create-error")
    page.fill("#create input[name=data_disk_gb]", "20")
    page.click("#create [data-action=submit]")
    page.wait_for_selector("#create-job li[data-status=RUNNING]")
    page.wait_for_selector("#create-job [data-field=job-status] [data-status=SUCCESS]")
    page.click("#create [data-action=close]")
    page.wait_for_selector('#servers tr[data-name="web-1"] [data-status="ACTIVE"]')
    assert page.inner_text('#servers tr[data-name="web-1"] td.key') == demo["keypair"]["name"]
    assert page.evaluate("window.__notReloaded") is True
    with console_service.http() as api:
        listed = api.get(f"/v1/{demo['project_id']}/cloudservers/detail", params={"name": "web-1"})
    (server,) = listed.json()["servers"]
    assert len(server["os-extended-volumes:volumes_attached"]) == 2  # system + 20 GB data disk
    assert page.js_errors == []


def test_running_server_needs_stop_first_and_errors_show_inline(
    browser: Any, console_service: Service
) -> None:
    demo = console_service.demo
    running = demo["servers"]["running"]
    page = login(browser, console_service, demo)
    page.click(f"{_row(page, running)} button[data-action=reinstall]")
    assert page.is_visible("input[name=stop_first]")
    page.fill("textarea[name=user_data]", "#cloud-config\nruncmd: echo hi\n")
    page.click("#reinstall [data-action=submit]")
    page.wait_for_selector("#user-data-error:not([hidden])")
    assert "Ecs.0005" in page.inner_text("#user-data-error")
    assert "'runcmd' must be a list" in page.inner_text("#user-data-error")

    page.fill("textarea[name=user_data]", "")
    page.click("#reinstall [data-action=submit]")
    page.wait_for_selector("#reinstall-error:not([hidden])")
    assert "Ecs.0100" in page.inner_text("#reinstall-error")

    page.check("input[name=stop_first]")
    page.check("input[name=encrypt]")
    page.click("#reinstall [data-action=submit]")
    page.wait_for_selector("#reinstall-job [data-field=job-status] [data-status=SUCCESS]")
    names = page.eval_on_selector_all("#reinstall-job li", "ls => ls.map(l => l.dataset.step)")
    assert names[0] == "stopServer"
    page.goto(f"/console/servers/{running}")
    assert "yes (CMK" in page.inner_text("#disks")
    assert page.js_errors == []


def test_a_failing_step_ends_the_dialog_in_fail_with_the_reason(
    browser: Any, console_service: Service
) -> None:
    demo = console_service.demo
    stopped = demo["servers"]["stopped"]
    fault = {
        "step": "attachSystemDisk",
        "server_id": stopped,
        "times": 1,
        "error_code": "Ecs.0002",
        "message": "the volume service is unavailable",
    }
    resp = httpx.post(f"{console_service.endpoint}/_ecslite/admin/faults", json=fault)
    assert resp.status_code in (200, 201), resp.text
    page = login(browser, console_service, demo)
    page.click(f"{_row(page, stopped)} button[data-action=reinstall]")
    page.click("#reinstall [data-action=submit]")
    page.wait_for_selector("#reinstall-job [data-field=job-status] [data-status=FAIL]")
    assert (
        page.get_attribute("#reinstall-job li[data-step=attachSystemDisk]", "data-status") == "FAIL"
    )
    assert "the volume service is unavailable" in page.inner_text("#reinstall-job")
    page.click("#reinstall [data-action=close]")
    # Rolled back onto its old disk: stopped again, and reinstallable.
    page.wait_for_selector(f'{_row(page, stopped)} [data-status="SHUTOFF"]')
    assert page.js_errors == []


def test_another_project_sees_none_of_it(browser: Any, console_service: Service) -> None:
    demo = console_service.demo
    other = demo["other_project"]
    with console_service.http() as api:
        resp = api.post(
            f"/v2/{demo['project_id']}/cloudservers/{demo['servers']['stopped']}/reinstallos",
            json={"os-reinstall": {"keyname": "demo-key", "userid": demo["user_id"]}},
        )
        assert resp.status_code == 200, resp.text
        demo_job = resp.json()["job_id"]
    page = login(browser, console_service, other)
    assert _names(page) == {"other-stopped"}
    assert "other-user" in page.inner_text("[data-testid=who]")
    page.goto(f"/console/servers/{demo['servers']['stopped']}")
    assert "does not exist" in page.inner_text("main")
    page.goto("/console/jobs")
    assert demo_job not in page.inner_text("main")
    page.goto("/console/keypairs")
    assert "demo-key" not in page.inner_text("#keypairs")
    for path in (
        f"/console/api/servers/{demo['servers']['stopped']}",
        f"/console/api/jobs/{demo_job}",
    ):
        assert page.request.get(path).status in (400, 404)
    csrf = page.get_attribute("meta[name=csrf-token]", "content")
    resp = page.request.post(
        f"/console/api/servers/{demo['servers']['running']}/reinstall",
        data={"adminpass": "Good-pass1", "stop_first": True},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 404
    assert resp.json()["error"]["code"] == "Ecs.0114"


def test_a_mutation_without_the_csrf_token_is_refused(
    browser: Any, console_service: Service
) -> None:
    demo = console_service.demo
    stopped = demo["servers"]["stopped"]
    page = login(browser, console_service, demo)
    cookie = next(c for c in page.context.cookies() if c["name"] == "ecslite_console")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # no script can read the session
    url = f"/console/api/servers/{stopped}/reinstall"
    body = {"keyname": "demo-key"}
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        resp = page.request.post(url, data=body, headers=headers)
        assert resp.status == 403
        assert resp.json()["error"]["code"] == "Ecs.0003"
    assert page.request.delete("/console/api/keypairs/demo-key").status == 403
    with console_service.http() as api:
        server = api.get(f"/v1/{demo['project_id']}/cloudservers/{stopped}").json()["server"]
        assert server["status"] == "SHUTOFF"
        assert api.get(f"/v2.1/{demo['project_id']}/os-keypairs/demo-key").status_code == 200
    csrf = page.get_attribute("meta[name=csrf-token]", "content")
    resp = page.request.post(url, data=body, headers={"X-CSRF-Token": csrf})
    assert resp.status == 200 and resp.json()["job_id"]


def test_key_pairs_create_download_import_delete(browser: Any, console_service: Service) -> None:
    demo = console_service.demo
    page = login(browser, console_service, demo)
    page.click("text=Key pairs")
    page.fill("#create-keypair input[name=name]", "laptop")
    with page.expect_download() as dl:
        page.click("#create-keypair button[type=submit]")
    pem = Path(dl.value.path()).read_text()
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    page.wait_for_selector('#keypairs tr[data-name="laptop"]')

    page.fill("#import-keypair input[name=name]", "imported")
    page.fill("#import-keypair textarea[name=public_key]", demo["keypair"]["public_key"])
    page.click("#import-keypair button[type=submit]")
    page.wait_for_selector('#keypairs tr[data-name="imported"]')

    page.fill("#import-keypair input[name=name]", "broken")
    page.fill("#import-keypair textarea[name=public_key]", "ssh-rsa not-a-key")
    page.click("#import-keypair button[type=submit]")
    page.wait_for_selector("#keypair-error:not([hidden])")
    assert "Ecs.0005" in page.inner_text("#keypair-error")

    page.on("dialog", lambda d: d.accept())
    page.click('button[data-delete="laptop"]')
    page.wait_for_selector('#keypairs tr[data-name="laptop"]', state="detached")
    with console_service.http() as api:
        names = {
            k["keypair"]["name"]
            for k in api.get(f"/v2.1/{demo['project_id']}/os-keypairs").json()["keypairs"]
        }
    assert names == {"demo-key", "imported"}  # the private key was never stored: nothing to show


def test_logout_revokes_the_session(browser: Any, console_service: Service) -> None:
    page = login(browser, console_service, console_service.demo)
    token = next(c for c in page.context.cookies() if c["name"] == "ecslite_console")["value"]
    demo = console_service.demo
    ok = httpx.get(
        f"{console_service.endpoint}/v1/{demo['project_id']}/cloudservers/detail",
        headers={"X-Auth-Token": token},
    )
    assert ok.status_code == 200
    page.click("text=Log out")
    page.wait_for_selector("form.login")
    after = httpx.get(
        f"{console_service.endpoint}/v1/{demo['project_id']}/cloudservers/detail",
        headers={"X-Auth-Token": token},
    )
    assert after.status_code == 401
    page.goto("/console")
    assert page.is_visible("form.login")


def test_the_page_checks_passwords_by_the_api_rules(browser: Any, console_service: Service) -> None:
    page = login(browser, console_service, console_service.demo)
    rules = page.evaluate("JSON.parse(document.getElementById('password-rules-data').textContent)")
    rng = random.Random(15)
    alphabet = string.ascii_letters + string.digits + "".join(PASSWORD_SPECIALS) + " #é\"'"
    samples = ["", "Aa1!", "Aa1!Aa1!", "aaaaaaa1", "AAAAaaaa", "Aa1" * 9, "Aaaaaaa#", "Passw0rd "]
    samples += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(4, 30))) for _ in range(300)
    ]
    verdicts = page.evaluate(
        "([ps, rules]) => ps.map(p => window.ecslite.checkPassword(p, rules) === null)",
        [samples, rules],
    )
    assert 20 < sum(verdicts) < len(samples) - 20  # both verdicts are well represented
    for password, page_ok in zip(samples, verdicts, strict=True):
        try:
            check_password(password)
            api_ok = True
        except EcsError:
            api_ok = False
        assert page_ok == api_ok, password


def test_browsers_are_sent_to_the_console_and_api_clients_are_not(console_service: Service) -> None:
    base = console_service.endpoint
    html = httpx.get(f"{base}/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert html.status_code == 303 and html.headers["location"] == "/console"
    api = httpx.get(f"{base}/", headers={"Accept": "application/json"})
    assert api.status_code != 303 and "location" not in api.headers
    assert httpx.get(f"{base}/console").headers["location"] == "/console/login"
    assert httpx.get(f"{base}/console/api/servers").status_code == 401


def test_change_os_to_an_image_without_cloud_init_then_reset_password_and_remote_login(
    browser: Any, console_service: Service
) -> None:
    demo = console_service.demo
    stopped = demo["servers"]["stopped"]
    page = login(browser, console_service, demo)
    page.goto(f"/console/servers/{stopped}")
    page.click("#server-actions button[data-action=changeos]")
    # With a Cloud-Init image the user data is offered; without, it is not, and the dialog says
    # how the password gets in.
    assert page.is_visible("#reinstall textarea[name=user_data]")
    page.select_option("select[name=image_id]", demo["images"]["no_cloudinit"])
    assert not page.is_visible("#reinstall textarea[name=user_data]")
    assert page.is_visible("#reinstall [data-no-cloudinit]")
    page.check("#reinstall input[name=login][value=password]")
    page.fill("#reinstall input[name=adminpass]", "Nocloud-Dialog-1")
    page.click("#reinstall [data-action=submit]")
    page.wait_for_selector("#reinstall-job [data-field=job-status] [data-status=SUCCESS]")
    steps = page.eval_on_selector_all("#reinstall-job li", "ls => ls.map(l => l.dataset.step)")
    assert "injectCredentials" in steps and "verifyLoginPrompt" in steps
    page.click("#reinstall [data-action=close]")
    page.wait_for_selector('#server-status[data-status="ACTIVE"]')

    page.click("#server-actions button[data-action=reset-password]")
    page.fill("#reset-password input[name=adminpass]", "short")
    page.click("#reset-password [data-action=submit]")
    page.wait_for_selector("#reset-password-rules:not([hidden])")
    page.fill("#reset-password input[name=adminpass]", "Reset-Dialog-2")
    page.click("#reset-password [data-action=submit]")
    page.wait_for_selector("#reset-password-job [data-field=job-status] [data-status=SUCCESS]")
    page.click("#reset-password [data-action=close]")

    with page.context.expect_page() as popup:
        page.click("#server-actions button[data-action=remote-login]")
    screen = popup.value
    screen.wait_for_load_state()
    assert "sim driver has no screen" in screen.inner_text("body")
    assert page.js_errors == []
