"""Give recorded servers and volumes their host-side reality (disks, attachments, guests).

Seeds and the demo create records only; a driver with real disks needs files behind them. Run
at start-up: it is idempotent, skips servers a job is working on (the job owns them), and boots
servers recorded ACTIVE whose guest is not running (after a host reboot, say).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ecslite.domain.server import VmState
from ecslite.drivers.base import Driver, DriverError, GuestSize
from ecslite.store.uow import UowFactory

log = logging.getLogger("ecslite.provision")


@dataclass
class ProvisionReport:
    disks: int = 0
    started: int = 0
    problems: list[str] = field(default_factory=list)


def provision(uow_factory: UowFactory, driver: Driver, *, host_id: str) -> ProvisionReport:
    """Ensure every volume of ``host_id`` has a disk, attachments match the records, ACTIVE
    guests run. Another host's servers and volumes are never touched: they are its own."""
    report = ProvisionReport()
    with uow_factory(write=False) as uow:
        volumes = [v for v in uow.volumes.list_all() if v.host_id == host_id]
        servers = {s.id: s for s in uow.servers.list_all() if s.host_id == host_id}
        images = {v.image_id: uow.catalog.image(v.image_id) for v in volumes if v.image_id}
        boot = {sid: uow.servers.boot_config(sid) for sid in servers}
        flavors = {f.id: f for f in uow.flavors.all()}
    for v in volumes:
        try:
            driver.ensure_volume(v, images.get(v.image_id) if v.image_id else None)
            report.disks += 1
        except DriverError as exc:
            report.problems.append(f"volume {v.id}: {exc.message}")
            continue
        server = servers.get(v.server_id or "")
        if server is not None and not server.busy and v.device:
            try:
                driver.attach_disk(server, v, device=v.device, boot_index=v.boot_index)
            except DriverError as exc:
                report.problems.append(f"volume {v.id} on server {server.id}: {exc.message}")
    for s in servers.values():
        if s.vm_state is VmState.ACTIVE and not s.busy:
            try:
                size = GuestSize.of(flavors.get(s.flavor_id))
                driver.start_server(s, boot[s.id], size=size)
                report.started += 1
            except DriverError as exc:
                report.problems.append(f"server {s.id}: {exc.message}")
    with uow_factory(write=False) as uow:
        # A disk file of another host's volume (data dirs shared by mistake) is not stray.
        every_volume = {v.id for v in uow.volumes.list_all()}
    for path in driver.stray_disks(every_volume):
        # Never deleted automatically: it may be the only copy of someone's data.
        report.problems.append(f"disk file {path} belongs to no volume record")
    for problem in report.problems:
        log.warning("provision problem %s", problem)
    return report
