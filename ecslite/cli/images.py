"""``ecslite image build|import|list``: put guest images into the data dir's image store."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from ecslite.cli import serve
from ecslite.config import Settings


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    img = sub.add_parser("image", help="guest images for the qemu driver")
    isub = img.add_subparsers(dest="image_cmd", required=True)

    b = isub.add_parser(
        "build",
        help="build a small guest image from distribution packages (needs root; cached)",
    )
    b.add_argument(
        "distro",
        choices=["debian-12", "debian-12-nocloud"],
        help="debian-12: with cloud-init; debian-12-nocloud: without (the v1 reinstall API)",
    )
    b.add_argument("--name", default=None, help="image name (default: from the distro)")
    b.add_argument("--id", dest="image_id", default=None, help="image id (default: new uuid)")
    b.add_argument("--data-dir", type=Path, default=None)
    b.add_argument("--cache-dir", type=Path, default=None, help="default /var/cache/ecslite/images")
    b.add_argument("--mirror", default=None, help="Debian mirror URL")
    b.add_argument("--force", action="store_true", help="rebuild even if cached")
    b.add_argument("--no-import", action="store_true", help="only build the cached image")
    b.set_defaults(func=_build)

    i = isub.add_parser("import", help="register a cloud image file (qcow2 or raw)")
    i.add_argument("file", type=Path)
    i.add_argument("--name", required=True)
    i.add_argument("--id", dest="image_id", default=None, help="image id (default: new uuid)")
    i.add_argument("--cloud-init", action=argparse.BooleanOptionalAction, default=True)
    i.add_argument(
        "--password-agent",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="the image runs qemu-guest-agent (one-click password reset of a running server)",
    )
    i.add_argument("--kernel", type=Path, default=None, help="for direct kernel boot")
    i.add_argument("--initrd", type=Path, default=None)
    i.add_argument("--cmdline", default=None, help="kernel command line (with --kernel)")
    i.add_argument("--data-dir", type=Path, default=None)
    i.set_defaults(func=_import)

    ls = isub.add_parser("list", help="images in the data dir's image store")
    ls.add_argument("--data-dir", type=Path, default=None)
    ls.set_defaults(func=_list)


def _build(args: argparse.Namespace) -> int:
    from ecslite.services.host import DEFAULT_MIRROR, BuildError, build_debian_image

    settings = serve.settings_from(args)
    cache = args.cache_dir or settings.image_cache
    try:
        built = build_debian_image(
            cache,
            mirror=args.mirror or DEFAULT_MIRROR,
            progress=lambda m: print(m, flush=True),
            force=args.force,
            name=args.distro,
        )
    except BuildError as exc:
        print(f"ecslite image build: {exc}", file=sys.stderr)
        return 1
    if args.no_import:
        print(built)
        return 0
    manifest = json.loads((built / "manifest.json").read_text())
    cloud_init = bool(manifest.get("cloud_init", True))
    name = args.name or ("Debian 12 (cloud-init)" if cloud_init else "Debian 12 (no cloud-init)")
    image_id = register(
        settings,
        image_id=args.image_id,
        name=name,
        disk=built / "disk.qcow2",
        kernel=built / "vmlinuz",
        initrd=built / "initrd.img",
        cmdline=manifest.get("cmdline"),
        cloud_init=cloud_init,
        # Built with qemu-guest-agent since recipe 4.
        password_agent=int(manifest.get("recipe", 0)) >= 4,
    )
    print(f"image {image_id} ({name}) ready in {settings.data_dir / 'images' / image_id}")
    return 0


def _import(args: argparse.Namespace) -> int:
    settings = serve.settings_from(args)
    if not args.file.exists():
        print(f"ecslite image import: {args.file} does not exist", file=sys.stderr)
        return 1
    if args.initrd is not None and args.kernel is None:
        print("ecslite image import: --initrd needs --kernel", file=sys.stderr)
        return 1
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.data_dir) as tmp:
        disk = args.file
        fmt = _format(disk)
        if fmt != "qcow2":
            # Overlays need a qcow2 base; convert once at import, never at reinstall time.
            disk = Path(tmp) / "disk.qcow2"
            subprocess.run(
                ["qemu-img", "convert", "-f", fmt, "-O", "qcow2", str(args.file), str(disk)],
                check=True,
            )
        image_id = register(
            settings,
            image_id=args.image_id,
            name=args.name,
            disk=disk,
            kernel=args.kernel,
            initrd=args.initrd,
            cmdline=args.cmdline,
            cloud_init=args.cloud_init,
            password_agent=args.password_agent,
        )
    print(f"image {image_id} ({args.name}) imported")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ecslite.services.host import list_images

    for im in list_images(serve.settings_from(args).data_dir):
        boot = "kernel" if im.direct_boot else "bios"
        print(f"{im.id}  {im.name}  cloud_init={im.cloud_init}  boot={boot}")
    return 0


def _format(path: Path) -> str:
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", str(path)], capture_output=True, text=True, check=True
    )
    return str(json.loads(out.stdout)["format"])


def register(
    settings: Settings,
    *,
    image_id: str | None,
    name: str,
    disk: Path,
    kernel: Path | None,
    initrd: Path | None,
    cmdline: str | None,
    cloud_init: bool,
    password_agent: bool = False,
) -> str:
    """Add the files to the image store and the image to the catalogue (both idempotent)."""
    from ecslite.bootstrap import build
    from ecslite.services.host import add_image_files
    from ecslite.services.setup import secret_box

    image_id = image_id or str(uuid.uuid4())
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    add_image_files(
        data_dir,
        image_id,
        name=name,
        disk=disk,
        kernel=kernel,
        initrd=initrd,
        cloud_init=cloud_init,
        cmdline=cmdline,
    )
    container = build(settings)
    try:
        container.services.accounts.register_image(
            image_id,
            name=name,
            cloud_init=cloud_init,
            password_agent=password_agent,
            box=secret_box(data_dir),
        )
    finally:
        container.close()
    return image_id
