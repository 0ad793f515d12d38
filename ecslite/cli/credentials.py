"""``ecslite credentials``: create and revoke access keys directly in the store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecslite.cli import serve


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser("credentials", help="access keys (AK/SK) for API users")
    csub = c.add_subparsers(dest="credentials_cmd", required=True)
    create = csub.add_parser("create", help="create an access key; prints the secret key once")
    create.add_argument("--user", required=True, help="user id or user name")
    create.add_argument("--domain", help="account (domain) id or name, if the name is ambiguous")
    delete = csub.add_parser("delete", help="revoke an access key")
    delete.add_argument("access_key")
    for p in (create, delete):
        p.add_argument("--data-dir", type=Path, default=None)
        p.add_argument("--database-url", default=None)
    create.set_defaults(func=_create)
    delete.set_defaults(func=_delete)


def _create(args: argparse.Namespace) -> int:
    from ecslite.auth.credentials import UnknownUser
    from ecslite.bootstrap import build
    from ecslite.services.setup import secret_box

    settings = serve.settings_from(args)
    container = build(settings)
    accounts = container.services.accounts
    try:
        try:
            user = accounts.find_user(args.user, domain=args.domain)
        except UnknownUser as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        key = accounts.create_access_key(user, box=secret_box(settings.data_dir))
    finally:
        container.close()
    print(f"user_id: {user.id}")
    print(f"access_key: {key.access_key}")
    print(f"secret_key: {key.secret_key}")
    print("The secret key is shown only this once; it cannot be recovered.", file=sys.stderr)
    return 0


def _delete(args: argparse.Namespace) -> int:
    from ecslite.bootstrap import build

    container = build(serve.settings_from(args))
    try:
        deleted = container.services.accounts.delete_access_key(args.access_key)
    finally:
        container.close()
    if not deleted:
        print(f"error: no access key {args.access_key}", file=sys.stderr)
        return 2
    print(f"access key {args.access_key} deleted")
    return 0
