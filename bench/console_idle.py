"""What an idle console page costs the service: requests per minute and the service's CPU.

Starts ``ecslite serve --demo`` (sim driver, SQLite, a fresh temporary data dir), logs in with
the system's headless Chromium (Playwright, as tests/browser), opens one page and leaves it
alone for ``--seconds``; counts the requests the page makes meanwhile (a stream is one request
however long it stays open) and the CPU seconds the service spends.

    .venv/bin/python -m bench.console_idle [--seconds 60] [--page servers|server|jobs|none]

To measure another version of the console, put its source first on ``PYTHONPATH`` (the service
is started with the same interpreter and environment).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import cpu_seconds, free_port, wait_port

CHROMIUM = os.environ.get("ECSLITE_CHROMIUM", "/usr/bin/chromium")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--page", choices=["servers", "server", "jobs", "none"], default="servers")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    data = Path(tempfile.mkdtemp()) / "data"
    port = free_port()
    cmd = [sys.executable, "-m", "ecslite", "serve", "--demo", "--data-dir", str(data)]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=data.parent,  # not this checkout: PYTHONPATH decides which ecslite runs
    )
    try:
        wait_port(port, timeout=60, proc=proc)
        demo = json.loads((data / "demo.json").read_text())
        base = f"http://127.0.0.1:{port}"
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(base_url=base)
            page.goto("/console/login")
            page.fill("input[name=user]", demo["user_name"])
            page.fill("input[name=domain]", demo["domain_name"])
            page.fill("input[name=project]", demo["project_name"])
            page.fill("input[name=password]", demo["password"])
            page.click("form.login button[type=submit]")
            page.wait_for_selector("#servers tbody tr")
            path = {
                "servers": "/console",
                "server": f"/console/servers/{demo['servers']['stopped']}",
                "jobs": "/console/jobs",
                "none": "about:blank",  # the baseline: the service with no page open
            }[args.page]
            page.goto(path)
            page.wait_for_timeout(3000)  # settle: the page's first reads are not idle cost
            seen: Counter[str] = Counter()
            page.on("request", lambda r: seen.update([urlsplit(r.url).path]))
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            page.wait_for_timeout(args.seconds * 1000)
            cpu, elapsed = cpu_seconds(proc.pid) - cpu0, time.monotonic() - t0
            browser.close()
        per_min = 60 / elapsed
        total = sum(seen.values())
        where = subprocess.run(
            [sys.executable, "-c", "import ecslite; print(ecslite.__file__)"],
            cwd=data.parent,
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"service runs {where}; page {path} idle {elapsed:.0f} s")
        print(f"requests per minute: {total * per_min:.1f}")
        for url, n in seen.most_common():
            print(f"  {url}: {n * per_min:.1f}/min")
        print(f"service CPU: {cpu * per_min:.2f} s per minute")
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
