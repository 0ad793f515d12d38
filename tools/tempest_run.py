"""Run OpenStack's own API test suite, Tempest, against a fresh ``ecslite serve --demo``.

``make tempest`` runs this. It installs Tempest into its own virtualenv (``build/tempest/venv``,
kept between runs), starts the service on a free loopback port with its own data directory,
writes a ``tempest.conf`` and a pre-provisioned ``accounts.yaml`` from the demo tenant (no
Neutron, no Cinder, no admin), runs the compute API tests for servers, key pairs, flavors,
images and limits plus the identity v3 token tests, prints the totals, and stops the service.

Environment: ``TEMPEST_REGEX`` replaces the test selection; ``TEMPEST_VERSION`` pins the
version installed (default: the newest); ``TEMPEST_KEEP=1`` keeps the run's directory.
The run's log is ``build/tempest/last/run.log``; the service log sits next to it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "tempest"
VENV = BUILD / "venv"
RUN = BUILD / "last"

SELECTION = (
    r"^tempest\.api\.(compute\.(servers|keypairs|flavors|images|limits)\."
    r"|identity\.v3\.test_tokens\.)"
)
# Tests of what this cloud does not serve and Tempest has no switch for (docs/api.md): server
# groups (os-server-groups) and servers with several NICs (they call the Neutron API).
EXCLUDE = r"(test_server_group\.|test_create_server_multi_nic\.)"
# Features this cloud does not have; Tempest skips the tests that need them (docs/api.md).
COMPUTE_FEATURES_OFF = (
    "resize",
    "pause",
    "shelve",
    "suspend",
    "live_migration",
    "cold_migration",
    "snapshot",
    "vnc_console",
    "spice_console",
    "serial_console",
    "rdp_console",
    "rescue",
    "change_password",
    "attach_encrypted_volume",
    "interface_attach",
    "metadata_service",
    "personality",
    "disk_config",
    "block_migration_for_live_migration",
    "swap_volume",
    "volume_multiattach",
    "shelve_migrate",
    "hostname_fqdn_sanitization",
    "stable_rescue",
    "unified_limits",
    # The sim driver's guests print nothing (its capabilities say so); qemu's would.
    "console_output",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _install() -> Path:
    tempest = VENV / "bin" / "tempest"
    if tempest.exists():
        return tempest
    BUILD.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    spec = "tempest" + (
        f"=={os.environ['TEMPEST_VERSION']}" if "TEMPEST_VERSION" in os.environ else ""
    )
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", spec], check=True)
    return tempest


def _get(url: str, token: str | None = None) -> Any:
    req = urllib.request.Request(url, headers={"X-Auth-Token": token} if token else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _wait_ready(endpoint: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"ecslite serve exited early ({proc.returncode}); see {RUN}/service.log"
            )
        try:
            _get(f"{endpoint}/v3")
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise SystemExit("ecslite serve did not answer within 60 s")


def _token(endpoint: str, demo: dict[str, Any]) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": demo["user_name"],
                        "password": demo["password"],
                        "domain": {"name": demo["domain_name"]},
                    }
                },
            },
            "scope": {"project": {"id": demo["project_id"]}},
        }
    }
    req = urllib.request.Request(
        f"{endpoint}/v3/auth/tokens",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(resp.headers["X-Subject-Token"])


def _accounts(demo: dict[str, Any]) -> str:
    """Pre-provisioned accounts: Tempest's primary (the demo user), its ``project_reader`` in the
    same project (demo-reader) and alt (the other tenant's user). Order matters: a credential
    asked for without a role takes the first free account."""
    o, r = demo["other_project"], demo["reader"]
    rows = []
    for user, password, project, domain, role in (
        (demo["user_name"], demo["password"], demo["project_name"], demo["domain_name"], "member"),
        (o["user_name"], o["password"], o["project_name"], o["domain_name"], "member"),
        (r["user_name"], r["password"], demo["project_name"], demo["domain_name"], "reader"),
    ):
        rows.append(
            f"- username: {json.dumps(user)}\n"
            f"  password: {json.dumps(password)}\n"
            f"  project_name: {json.dumps(project)}\n"
            f"  domain_name: {json.dumps(domain)}\n"
            f"  user_domain_name: {json.dumps(domain)}\n"
            f"  project_domain_name: {json.dumps(domain)}\n"
            f"  roles: [{role}]\n"
        )
    return "".join(rows)


def _config(endpoint: str, demo: dict[str, Any], flavors: list[str], accounts: Path) -> str:
    images = demo["images"]
    off = "\n".join(f"{name} = false" for name in COMPUTE_FEATURES_OFF)
    return f"""[DEFAULT]
log_dir = {RUN}
log_file = tempest.log
debug = false

[oslo_concurrency]
lock_path = {RUN}/locks

[auth]
use_dynamic_credentials = false
test_accounts_file = {accounts}
create_isolated_networks = false
default_credentials_domain_name = {demo["domain_name"]}

[identity]
uri_v3 = {endpoint}/v3
auth_version = v3
region = {demo["region"]}
v3_endpoint_type = public
default_domain_id = {demo["domain_id"]}

[identity-feature-enabled]
api_v3 = true
api_v2 = false
security_compliance = false
application_credentials = false
access_rules = false
trust = false
project_tags = false

[compute]
image_ref = {images["cloudinit"]}
image_ref_alt = {images["alt"]}
flavor_ref = {flavors[0]}
flavor_ref_alt = {flavors[1] if len(flavors) > 1 else flavors[0]}
region = {demo["region"]}
endpoint_type = publicURL
min_microversion = 2.1
max_microversion = 2.60
build_timeout = 120
build_interval = 1
min_compute_nodes = 1

[compute-feature-enabled]
{off}
# The service runs with --no-nova-instance-password: nova.conf's [api]
# enable_instance_password = False, a standard Nova configuration (docs/api.md).
enable_instance_password = false
config_drive = true
scheduler_available_filters = all

[image]
region = {demo["region"]}
endpoint_type = publicURL
build_timeout = 60

[image-feature-enabled]
api_v2 = true
api_v1 = false
import_image = false
os_glance_reserved = false

[network]
public_network_id =
floating_network_name =

[network-feature-enabled]
floating_ips = false

[validation]
run_validation = false

# Neutron "on": Tempest's compute base class skips every server test class that asks for a
# default network unless Neutron is available. With pre-provisioned accounts and no fixed
# network those classes create servers without "networks" and never call the Neutron API;
# the ones that do are excluded (EXCLUDE).
[service_available]
nova = true
glance = true
neutron = true
cinder = false
swift = false
heat = false
horizon = false
placement = false
"""


def _summary(log: str) -> dict[str, int]:
    found = {}
    for name in ("Passed", "Skipped", "Expected Fail", "Unexpected Success", "Failed"):
        m = re.search(rf"^ - {name}: (\d+)", log, re.M)
        found[name.lower().replace(" ", "_")] = int(m.group(1)) if m else 0
    return found


def main() -> int:
    tempest = _install()
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    data_dir = RUN / "data"
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with open(RUN / "service.log", "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ecslite",
                "serve",
                "--demo",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                # Nova's [api] enable_instance_password = False: Tempest then expects no
                # adminPass in create and rebuild answers (ecslite's default hands one out only
                # when it applied one; docs/api.md).
                "--no-nova-instance-password",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        _wait_ready(endpoint, proc)
        demo = json.loads((data_dir / "demo.json").read_text())
        token = _token(endpoint, demo)
        listed = _get(f"{endpoint}/v2.1/{demo['project_id']}/flavors/detail", token)["flavors"]
        flavors = [f["id"] for f in sorted(listed, key=lambda f: (f["ram"], f["vcpus"]))]
        accounts = RUN / "accounts.yaml"
        accounts.write_text(_accounts(demo))
        workspace = RUN / "workspace"
        # tempest registers workspaces by name (~/.tempest): a fresh name, removed afterwards.
        name = f"ecslite-{port}-{os.getpid()}"
        subprocess.run(
            [str(tempest), "init", "--name", name, str(workspace)], check=True, capture_output=True
        )
        (workspace / "etc" / "tempest.conf").write_text(_config(endpoint, demo, flavors, accounts))
        regex = os.environ.get("TEMPEST_REGEX", SELECTION)
        version = subprocess.run(
            [str(VENV / "bin" / "pip"), "show", "tempest"], capture_output=True, text=True
        ).stdout
        print(next((ln for ln in version.splitlines() if ln.startswith("Version")), ""))
        with open(RUN / "run.log", "w") as out:
            run = subprocess.run(
                [str(tempest), "run", "--serial", "--regex", regex, "--exclude-regex", EXCLUDE],
                cwd=workspace,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        text = (RUN / "run.log").read_text()
        print(
            "\n".join(
                ln
                for ln in text.splitlines()
                if re.match(r"^(=|Totals| - |\{)", ln)
                and ("FAILED" in ln or not ln.startswith("{"))
            )
        )
        print(json.dumps(_summary(text)))
        print(f"full log: {RUN / 'run.log'}")
        subprocess.run(
            [str(tempest), "workspace", "remove", "--name", name], check=False, capture_output=True
        )
        return run.returncode
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if os.environ.get("TEMPEST_KEEP") != "1":
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
