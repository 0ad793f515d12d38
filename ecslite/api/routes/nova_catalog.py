"""Nova's catalogue reads under /v2.1/{project_id}: flavors, limits, availability zones.

The same catalogue and quotas as the ECS routes (``services.catalog``), in Nova's shapes, so
openstack clients can look a flavor up before they act (``openstack flavor list``, Ansible's
``server_action``) and read the project's limits. Query parameters the routes do not support
are refused (400), as on the server lists.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request

from ecslite.api.deps import principal, services
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.microversion import Microversion, microversion
from ecslite.api.nova.query import non_negative, refuse_unknown
from ecslite.api.views_catalog import limits_view
from ecslite.domain.flavor import Flavor
from ecslite.domain.server import AVAILABILITY_ZONE

router = APIRouter(include_in_schema=False)

_FLAVOR_QUERY = frozenset(
    {"limit", "marker", "minDisk", "minRam", "is_public", "sort_key", "sort_dir"}
)
# Limits Nova stopped reporting: network ones at 2.36 (Neutron's), personality at 2.57.
_NETWORK_LIMITS = ("Floating", "SecurityGroup")
_PERSONALITY_LIMITS = ("maxPersonality", "maxPersonalitySize")


def _flavor_links(request: Request, project_id: str, flavor_id: str) -> list[dict[str, str]]:
    base = str(request.base_url).rstrip("/")
    return [
        {"rel": "self", "href": f"{base}/v2.1/{project_id}/flavors/{flavor_id}"},
        {"rel": "bookmark", "href": f"{base}/{project_id}/flavors/{flavor_id}"},
    ]


def _flavor(
    f: Flavor, request: Request, project_id: str, v: Microversion, *, detail: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f.id,
        "name": f.name,
        "links": _flavor_links(request, project_id, f.id),
    }
    if v.at_least(55):
        out["description"] = None
    if detail:
        out |= {
            "ram": f.ram_mb,
            "disk": f.disk_gb,
            "vcpus": f.vcpus,
            "swap": "",
            "OS-FLV-EXT-DATA:ephemeral": 0,
            "OS-FLV-DISABLED:disabled": False,
            "os-flavor-access:is_public": True,
            "rxtx_factor": 1.0,
        }
    return out


def _flavors(request: Request, project_id: str, v: Microversion, *, detail: bool) -> dict[str, Any]:
    who = principal(request, project_id)
    params = request.query_params
    refuse_unknown(params, _FLAVOR_QUERY)
    if params.get("sort_key", "flavorid") not in ("flavorid", "id"):
        raise NovaFault(400, "sort_key: only flavorid is supported.")
    descending = params.get("sort_dir", "asc") == "desc"
    if params.get("sort_dir", "asc") not in ("asc", "desc"):
        raise NovaFault(400, "sort_dir must be asc or desc.")
    # Every flavor is public here: is_public=false matches none.
    public = params.get("is_public", "true").lower()
    if public not in ("true", "false", "none", "1", "0", "yes", "no"):
        raise NovaFault(400, f"Invalid is_public filter [{public}]")
    min_disk, min_ram = non_negative(params, "minDisk") or 0, non_negative(params, "minRam") or 0
    limit = non_negative(params, "limit")
    flavors = sorted(services(request).catalog.flavors(), key=lambda f: f.id, reverse=descending)
    flavors = [
        f
        for f in flavors
        if f.disk_gb >= min_disk and f.ram_mb >= min_ram and public not in ("false", "0", "no")
    ]
    marker = params.get("marker")
    if marker is not None:
        ids = [f.id for f in flavors]
        if marker not in ids:
            raise NovaFault(400, f"marker [{marker}] not found")
        flavors = flavors[ids.index(marker) + 1 :]
    out: dict[str, Any] = {}
    if limit is not None and len(flavors) > limit:
        flavors = flavors[:limit]
    if limit and flavors and len(flavors) == limit:
        query = dict(params) | {"limit": str(limit), "marker": flavors[-1].id}
        base = str(request.base_url).rstrip("/")
        path = "flavors/detail" if detail else "flavors"
        out["flavors_links"] = [
            {"rel": "next", "href": f"{base}/v2.1/{who.project_id}/{path}?{urlencode(query)}"}
        ]
    out["flavors"] = [_flavor(f, request, who.project_id, v, detail=detail) for f in flavors]
    return out


@router.get("/v2.1/{project_id}/flavors")
def list_flavors(
    project_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    return _flavors(request, project_id, v, detail=False)


@router.get("/v2.1/{project_id}/flavors/detail")
def list_flavors_detail(
    project_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    return _flavors(request, project_id, v, detail=True)


@router.get("/v2.1/{project_id}/flavors/{flavor_id}")
def show_flavor(
    project_id: str, flavor_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    who = principal(request, project_id)
    flavor = _known_flavor(request, flavor_id)
    return {"flavor": _flavor(flavor, request, who.project_id, v, detail=True)}


def _known_flavor(request: Request, flavor_id: str) -> Flavor:
    for f in services(request).catalog.flavors():
        if f.id == flavor_id:
            return f
    raise NovaFault(404, f"Flavor {flavor_id} could not be found.")


@router.get("/v2.1/{project_id}/flavors/{flavor_id}/os-extra_specs")
def flavor_extra_specs(
    project_id: str, flavor_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    """Flavors carry no extra specs here."""
    principal(request, project_id)
    _known_flavor(request, flavor_id)
    return {"extra_specs": {}}


@router.get("/v2.1/{project_id}/flavors/{flavor_id}/os-extra_specs/{key}")
def flavor_extra_spec(
    project_id: str,
    flavor_id: str,
    key: str,
    request: Request,
    v: Microversion = Depends(microversion),
) -> dict[str, Any]:
    principal(request, project_id)
    _known_flavor(request, flavor_id)
    raise NovaFault(404, f"Flavor {flavor_id} has no extra specs with key {key}.")


@router.get("/v2.1/{project_id}/limits")
def limits(
    project_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    who = principal(request, project_id)
    # ``reserved``: nothing is ever reserved here, so both answers are the same. Nova's
    # admin-only ``tenant_id`` (another project's limits) and anything else are refused.
    refuse_unknown(request.query_params, frozenset({"reserved"}))
    ecs = limits_view(services(request).catalog.limits(who.project_id))["absolute"]
    absolute = {
        k: val
        for k, val in ecs.items()
        if isinstance(val, int)
        and "Spot" not in k
        and not (v.at_least(36) and any(n in k for n in _NETWORK_LIMITS))
        and not (v.at_least(57) and k in _PERSONALITY_LIMITS)
    }
    return {"limits": {"rate": [], "absolute": absolute}}


@router.get("/v2.1/{project_id}/os-availability-zone")
def availability_zones(
    project_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    principal(request, project_id)
    zones = services(request).catalog.zones() or [(AVAILABILITY_ZONE, False)]
    return {
        "availabilityZoneInfo": [
            {"zoneName": name, "zoneState": {"available": up}, "hosts": None} for name, up in zones
        ]
    }


@router.get("/v2.1/{project_id}/os-availability-zone/detail")
def availability_zones_detail(
    project_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    """Zones with their hosts: an administrator's view in Nova, and no caller here is one."""
    principal(request, project_id)
    raise NovaFault(
        403, "Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed."
    )
