"""Fixed-IP allocation in a subnet, CIDR checks, quota arithmetic."""

from __future__ import annotations

import pytest

from ecslite.domain import errors
from ecslite.domain.network import Port, Subnet, free_addresses, valid_cidr
from ecslite.domain.quota import Quotas, Usage, check_quota

SUBNET = Subnet(id="sn", project_id="p", vpc_id="v", name="s", cidr="192.168.0.0/29")


def test_allocation_skips_network_gateway_broadcast_and_used() -> None:
    # /29: .0 network, .1 gateway, .7 broadcast; hosts .2-.6 are handed out lowest first.
    assert SUBNET.gateway_ip == "192.168.0.1"
    assert free_addresses(SUBNET, [], 10) == [f"192.168.0.{i}" for i in range(2, 7)]
    assert free_addresses(SUBNET, ["192.168.0.2", "192.168.0.4"], 2) == [
        "192.168.0.3",
        "192.168.0.5",
    ]


def test_exhausted_subnet_has_no_address() -> None:
    used = [f"192.168.0.{i}" for i in range(2, 7)]
    assert free_addresses(SUBNET, used, 1) == []


@pytest.mark.parametrize(
    ("cidr", "ok"),
    [
        ("10.0.0.0/8", True),
        ("192.168.1.0/30", True),
        ("10.0.0.0/31", False),
        ("fd00::/64", False),
        ("not-a-cidr", False),
    ],
)
def test_valid_cidr(cidr: str, ok: bool) -> None:
    assert valid_cidr(cidr) is ok


def test_port_mac_is_stable_and_local() -> None:
    port = Port(id="p1", server_id="s", subnet_id="sn", vpc_id="v", ip_address="192.168.0.2")
    assert port.mac == Port("p1", "x", "y", "z", "w").mac
    assert port.mac.startswith("fa:16:3e:") and len(port.mac) == 17


def test_quota_refuses_the_resource_that_overflows() -> None:
    q = Quotas().with_overrides({"instances": 2, "volumes": 3, "bogus": 1})
    check_quota(q, Usage(instances=1, volumes=1), Usage(instances=1, volumes=2))
    with pytest.raises(errors.EcsError) as exc:
        check_quota(q, Usage(instances=2), Usage(instances=1))
    assert exc.value.code == "Ecs.0001"
    with pytest.raises(errors.EcsError) as exc:
        check_quota(q, Usage(volumes=2), Usage(volumes=2))
    assert exc.value.code == "Ecs.0021"
