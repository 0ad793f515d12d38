"""What every front door is given: the operations facade and the read side, nothing else.

Routes, console pages and CLI commands reach the system only through a ``Services``: they build
commands for ``ops`` and render what the reads answer. None of them sees the store or a driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ecslite.services.accounts import Accounts
from ecslite.services.admin import Admin
from ecslite.services.event_feed import EventFeed
from ecslite.services.hosts import HostAdmin
from ecslite.services.nova_passwords import InstancePasswords
from ecslite.services.operations import Operations
from ecslite.services.queries import CatalogReads, JobReads, KeypairReads, VolumeReads
from ecslite.services.read_model import ServerReads
from ecslite.services.remote_console import RemoteConsoles


@dataclass(frozen=True)
class Services:
    ops: Operations
    servers: ServerReads
    jobs: JobReads
    catalog: CatalogReads
    keypairs: KeypairReads
    volumes: VolumeReads
    events: EventFeed
    admin: Admin
    accounts: Accounts
    consoles: RemoteConsoles
    hosts: HostAdmin
    # Nova's [api] enable_instance_password (services/nova_passwords.py).
    nova_passwords: InstancePasswords = field(default_factory=InstancePasswords)
