"""Write login credentials into a stopped guest's disk with libguestfs (``guestfish``).

A guest without cloud-init cannot take its password or key from a config drive, so they are
written into its filesystem before it boots, as a cloud's image-customisation service does.
libguestfs opens the disk in its own small appliance VM (under TCG when there is no KVM), so
the host never mounts a guest filesystem and no filesystem format is parsed here: the shadow
entry is changed through Augeas (libguestfs's ``aug-*`` commands), the key file is uploaded.

``guestfish`` is driven through a subprocess rather than the ``guestfs`` Python binding: the
binding is a Debian package for the system interpreter and is not installable into a virtual
environment, whereas the command works from any interpreter. The script is fed on stdin, so
no secret appears in a command line (and the password is only ever its hash anyway).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ecslite.drivers.base import GuestCredentials, HostFailure

GUESTFISH = "guestfish"
# What a crypt(3) hash and a user name may contain: nothing a guestfish string must escape.
_HASH = re.compile(r"^\$[0-9a-z]+\$[A-Za-z0-9./$=,]+$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
TIMEOUT = 600.0


def host_problem() -> str | None:
    if shutil.which(GUESTFISH) is None:
        return "guestfish not installed (apt-get install --no-install-recommends libguestfs-tools)"
    return None


def _script(creds: GuestCredentials, keys_file: Path | None) -> str:
    home = "/root" if creds.user == "root" else f"/home/{creds.user}"
    lines = ["run", "mount /dev/sda /"]
    if creds.password_hash is not None:
        # Augeas's Shadow lens: the entry's password field, nothing else of the file.
        lines += [
            "aug-init / 0",
            f'aug-set "/files/etc/shadow/{creds.user}/password" "{creds.password_hash}"',
            "aug-save",
            "aug-close",
        ]
    if keys_file is not None:
        lines += [
            f"mkdir-p {home}/.ssh",
            f"chmod 0700 {home}/.ssh",
            f"upload {keys_file} {home}/.ssh/authorized_keys",
            f"chmod 0600 {home}/.ssh/authorized_keys",
        ]
        if creds.user == "root":
            lines += [f"chown 0 0 {home}/.ssh", f"chown 0 0 {home}/.ssh/authorized_keys"]
    lines += ["umount-all", "exit"]
    return "\n".join(lines) + "\n"


def inject(disk: Path, creds: GuestCredentials, *, work_dir: Path, tcg: bool) -> None:
    """Write ``creds`` into the ext4 filesystem of the qcow2 ``disk`` (whole disk, no table).

    ``tcg``: run the appliance under TCG (the host's KVM does not run guests; libguestfs would
    otherwise pick KVM because /dev/kvm exists, and its QEMU abort).

    Post: done, or HostFailure with guestfish's last lines (never a secret: only the hash
    is in the script, and guestfish does not echo it).
    """
    problem = host_problem()
    if problem is not None:
        raise HostFailure(problem)
    if not _USER.match(creds.user):
        raise HostFailure(f"Not a user name: {creds.user!r}.")
    if creds.password_hash is not None and not _HASH.match(creds.password_hash):
        raise HostFailure("The password hash is not a crypt(3) string.")
    with tempfile.TemporaryDirectory(dir=work_dir, prefix=".inject-") as tmp:
        keys_file = None
        if creds.public_keys:
            keys_file = Path(tmp) / "authorized_keys"
            keys_file.write_text("".join(k.strip() + "\n" for k in creds.public_keys))
        # The appliance is cached under TMPDIR: a fixed directory beside the disks, so only
        # the first injection on a host builds it.
        env = dict(os.environ, LIBGUESTFS_BACKEND="direct", TMPDIR=str(work_dir / ".guestfs"))
        if tcg:
            env["LIBGUESTFS_BACKEND_SETTINGS"] = "force_tcg"
        (work_dir / ".guestfs").mkdir(exist_ok=True)
        try:
            proc = subprocess.run(
                [GUESTFISH, "--rw", "--format=qcow2", "-a", str(disk)],
                input=_script(creds, keys_file),
                capture_output=True,
                text=True,
                env=env,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise HostFailure(f"guestfish did not finish within {TIMEOUT:.0f} s.") from None
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])[:400]
        raise HostFailure(f"Writing the credentials into the disk failed: {tail}")
