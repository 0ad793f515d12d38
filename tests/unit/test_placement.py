"""Placement's filters and weighers (domain/placement.py), and host up/down/maintenance."""

from __future__ import annotations

from collections import Counter

import pytest

from ecslite.domain.host import Capacity, Host, HostStatus, Ratios
from ecslite.domain.placement import NoValidHost, Request, Usage, Weigher, place

NOW = 1_000_000.0
SMALL = Capacity(vcpus=1, ram_mb=1024, disk_gb=10)


def host(hid: str, *, ram_mb: int = 8192, zone: str = "eu-de-01", **kw: object) -> Host:
    values: dict[str, object] = {
        "id": hid,
        "driver": "sim",
        "availability_zone": zone,
        "capacity": Capacity(vcpus=4, ram_mb=ram_mb, disk_gb=100),
        "ratios": Ratios(cpu=4.0, ram=1.0, disk=1.0),
        "address": "127.0.0.1",
        "enabled": True,
        "heartbeat": NOW - 1,
        "down_after": 30.0,
    }
    values.update(kw)
    return Host(**values)  # type: ignore[arg-type]


def req(zone: str | None = None, need: Capacity = SMALL) -> Request:
    return Request(need=need, driver="sim", availability_zone=zone)


def test_count_six_spreads_two_per_host_and_a_host_with_too_little_ram_gets_none() -> None:
    hosts = [host("h1"), host("h2"), host("h3"), host("tiny", ram_mb=512)]
    chosen = place(hosts, {}, [req()] * 6, now=NOW)
    assert Counter(chosen) == {"h1": 2, "h2": 2, "h3": 2}


def test_pack_fills_the_fullest_host_that_still_fits() -> None:
    hosts = [host("h1"), host("h2")]
    usage = {"h2": Usage(vcpus=1, ram_mb=7168, disk_gb=10, servers=1)}
    assert place(hosts, usage, [req()], now=NOW, weigher=Weigher.PACK) == ["h2"]
    assert place(hosts, usage, [req()], now=NOW) == ["h1"]  # spread: most free RAM


def test_existing_allocations_and_ratios_bound_what_fits() -> None:
    hosts = [host("h1", ratios=Ratios(cpu=1.0, ram=1.0, disk=1.0))]
    full_cpu = {"h1": Usage(vcpus=4, ram_mb=0, disk_gb=0, servers=4)}
    with pytest.raises(NoValidHost, match="vCPUs"):
        place(hosts, full_cpu, [req()], now=NOW)
    # Eight 1 GB servers fit 8 GB exactly; a ninth does not.
    assert len(place([host("h1")], {}, [req()] * 8, now=NOW)) == 8
    with pytest.raises(NoValidHost):
        place([host("h1")], {}, [req()] * 9, now=NOW)


@pytest.mark.parametrize(
    ("hosts", "request_", "reason"),
    [
        ([host("h1", enabled=False)], req(), "no host is enabled"),
        ([host("h1", heartbeat=NOW - 31)], req(), "no enabled host is up"),
        ([host("h1", heartbeat=None)], req(), "no enabled host is up"),
        ([host("h1", driver="qemu")], req(), "no host runs the sim driver"),
        ([host("h1")], req("eu-de-02"), "no host is in availability zone eu-de-02"),
    ],
)
def test_each_filter_says_why_no_host_is_left(
    hosts: list[Host], request_: Request, reason: str
) -> None:
    with pytest.raises(NoValidHost) as exc:
        place(hosts, {}, [request_], now=NOW)
    assert exc.value.reason == reason


def test_the_zone_asked_for_is_the_zone_given() -> None:
    hosts = [host("h1"), host("h2", zone="eu-de-02")]
    assert place(hosts, {}, [req("eu-de-02")] * 3, now=NOW) == ["h2"] * 3


def test_host_status_is_down_after_its_heartbeat_ages_and_maintenance_when_disabled() -> None:
    assert host("h1").status(NOW) is HostStatus.UP
    assert host("h1", enabled=False).status(NOW) is HostStatus.MAINTENANCE
    assert host("h1", heartbeat=NOW - 30.5).status(NOW) is HostStatus.DOWN
    assert host("h1", heartbeat=NOW - 30.5, down_after=60.0).status(NOW) is HostStatus.UP
