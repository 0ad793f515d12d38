"""Queries over what a project may create servers from: flavors, images, quotas and usage."""

from __future__ import annotations

from dataclasses import dataclass

from ecslite.domain.flavor import Flavor
from ecslite.domain.quota import Quotas, Usage
from ecslite.domain.resources import Image
from ecslite.store.uow import UnitOfWork, UowFactory


@dataclass(frozen=True)
class Limits:
    quotas: Quotas
    usage: Usage


def usage(uow: UnitOfWork, project_id: str) -> Usage:
    """What the project holds now: servers, their vCPUs and RAM (by flavor), volumes."""
    counts = uow.quotas.flavor_counts(project_id)
    cores = ram = 0
    for flavor_id, n in counts.items():
        flavor = uow.flavors.get(flavor_id)
        if flavor is not None:
            cores += flavor.vcpus * n
            ram += flavor.ram_mb * n
    return Usage(
        instances=sum(counts.values()),
        cores=cores,
        ram_mb=ram,
        volumes=uow.quotas.volume_count(project_id),
    )


def project_limits(uow_factory: UowFactory, project_id: str) -> Limits:
    with uow_factory(write=False) as uow:
        return Limits(quotas=uow.quotas.quotas(project_id), usage=usage(uow, project_id))


def list_flavors(uow_factory: UowFactory) -> list[Flavor]:
    with uow_factory(write=False) as uow:
        return uow.flavors.all()


@dataclass(frozen=True)
class ImageFilter:
    """The IMS ListImages filters ecslite honours; None matches everything."""

    id: str | None = None
    name: str | None = None
    status: str | None = None
    os_type: str | None = None
    visibility: str | None = None


def list_images(uow_factory: UowFactory, project_id: str, flt: ImageFilter) -> list[Image]:
    """Images visible to the project (public and its own), filtered as IMS filters them."""
    with uow_factory(write=False) as uow:
        images = uow.images.visible(project_id)
    out = []
    for im in images:
        visibility = "private" if im.project_id else "public"
        if flt.id is not None and im.id != flt.id:
            continue
        if flt.name is not None and im.name != flt.name:
            continue
        if flt.status is not None and im.status != flt.status:
            continue
        if flt.os_type is not None and im.os_type != flt.os_type:
            continue
        if flt.visibility is not None and visibility != flt.visibility:
            continue
        out.append(im)
    return out
