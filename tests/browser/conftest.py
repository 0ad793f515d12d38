"""A real headless Chromium (Debian's package) driven by Playwright, against real processes.

Playwright's own browser download is not reachable from these machines; the tests use the
system's /usr/bin/chromium (``apt-get install chromium``; .ci/run installs it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Service

CHROMIUM = os.environ.get("ECSLITE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Each sim step takes this long, so a reinstall's steps can be seen ticking by.
SIM_DELAY = "1.0"


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and later tests that call asyncio.run() would fail beside it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def console_service(tmp_path: Path, database_url: str) -> Iterator[Service]:
    svc = Service(
        tmp_path / "data", "--sim-delay", SIM_DELAY, "--enable-admin", database_url=database_url
    ).start()
    try:
        yield svc
    finally:
        svc.stop()


def login(browser: Any, svc: Service, creds: dict[str, Any], *, context: Any = None) -> Any:
    """Log in through the form in ``context`` (default: a fresh one); return the page on the
    list."""
    if context is None:
        context = browser.new_context(
            base_url=svc.endpoint, viewport={"width": 1280, "height": 760}, accept_downloads=True
        )
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.js_errors = errors
    page.goto("/", wait_until="domcontentloaded")  # a browser at / lands on the console's login
    page.fill("input[name=user]", creds["user_name"])
    page.fill("input[name=domain]", creds["domain_name"])
    page.fill("input[name=project]", creds["project_name"])
    page.fill("input[name=password]", creds["password"])
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#servers tbody tr")
    return page
