"""The read side besides servers: jobs, the catalogue (flavors, images, quotas, CMKs,
networks), key pairs and volumes. Doors ask these; none of them opens the store itself."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ecslite.domain import errors
from ecslite.domain.flavor import Flavor
from ecslite.domain.job import Job
from ecslite.domain.network import Subnet, Vpc
from ecslite.domain.resources import Image, Keypair, KmsKey
from ecslite.domain.server import Server, Volume
from ecslite.services import catalog, volumes
from ecslite.services.catalog import ImageFilter, Limits
from ecslite.services.volumes import VolumeContext, VolumePage, VolumeQuery
from ecslite.store.uow import UowFactory


class JobReads:
    def __init__(self, uow_factory: UowFactory) -> None:
        self._uow_factory = uow_factory

    def show(self, project_id: str, job_id: str) -> Job:
        """The project's job; Ecs.0103-style JOB_NOT_FOUND when there is none."""
        with self._uow_factory(write=False) as uow:
            job = uow.jobs.get(job_id, project_id)
        if job is None:
            raise errors.EcsError(errors.JOB_NOT_FOUND, f"Job {job_id} does not exist.")
        return job

    def any_project(self, job_id: str) -> Job:
        """A job of any project, for the operator (the admin API); JOB_NOT_FOUND if none."""
        with self._uow_factory(write=False) as uow:
            job = uow.jobs.get(job_id)
        if job is None:
            raise errors.EcsError(errors.JOB_NOT_FOUND, f"No job {job_id}.")
        return job

    def recent(self, project_id: str, *, server_id: str | None, limit: int) -> list[Job]:
        with self._uow_factory(write=False) as uow:
            return list(uow.jobs.recent(project_id, server_id=server_id, limit=limit))

    def of_server(
        self, project_id: str, server_id: str, *, deleted_too: bool = False
    ) -> tuple[Server | None, list[Job]]:
        """The project's server and every kept job that acted on it (also in a batch), oldest
        first (Nova's instance actions); Ecs.0114 when there is no such server. With
        ``deleted_too`` a deleted server whose jobs are still kept answers (None, its jobs)."""
        with self._uow_factory(write=False) as uow:
            server = uow.servers.get(server_id, project_id)
            jobs = uow.jobs.of_server(project_id, server_id)
        if server is None and not (deleted_too and jobs):
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        return server, jobs


@dataclass(frozen=True)
class ProjectNetworks:
    vpcs: list[Vpc]
    subnets: list[Subnet]


class CatalogReads:
    """What a project may create servers from, and what it holds."""

    def __init__(self, uow_factory: UowFactory) -> None:
        self._uow_factory = uow_factory

    def zones(self) -> list[tuple[str, bool]]:
        """The hosts' availability zones, each available while one of its hosts is up and
        enabled."""
        now = time.time()
        with self._uow_factory(write=False) as uow:
            hosts = uow.hosts.all()
        zones: dict[str, bool] = {}
        for h in hosts:
            zones[h.availability_zone] = zones.get(h.availability_zone, False) or (
                h.enabled and h.up(now)
            )
        return sorted(zones.items())

    def flavors(self) -> list[Flavor]:
        return catalog.list_flavors(self._uow_factory)

    def limits(self, project_id: str) -> Limits:
        return catalog.project_limits(self._uow_factory, project_id)

    def images(self, project_id: str, flt: ImageFilter | None = None) -> list[Image]:
        """Images the project may use (public and its own), filtered as IMS filters them."""
        return catalog.list_images(self._uow_factory, project_id, flt or ImageFilter())

    def image(self, project_id: str, image_id: str) -> Image | None:
        """One image the project may see; another project's private image is None."""
        with self._uow_factory(write=False) as uow:
            image = uow.catalog.image(image_id)
        if image is None or image.project_id not in (None, project_id):
            return None
        return image

    def cmks(self, project_id: str) -> list[KmsKey]:
        with self._uow_factory(write=False) as uow:
            return list(uow.catalog.kms_keys(project_id))

    def networks(self, project_id: str) -> ProjectNetworks:
        with self._uow_factory(write=False) as uow:
            return ProjectNetworks(
                vpcs=list(uow.networks.vpcs(project_id)),
                subnets=list(uow.networks.subnets(project_id)),
            )

    def subnet(self, project_id: str, subnet_id: str) -> Subnet | None:
        with self._uow_factory(write=False) as uow:
            return uow.networks.subnet(subnet_id, project_id)


class KeypairReads:
    """Key pairs are a user's, not a project's (Nova's ``os-keypairs``)."""

    def __init__(self, uow_factory: UowFactory) -> None:
        self._uow_factory = uow_factory

    def of_user(self, user_id: str | None) -> list[Keypair]:
        if user_id is None:
            return []
        with self._uow_factory(write=False) as uow:
            return list(uow.catalog.keypairs(user_id))

    def show(self, user_id: str | None, name: str) -> Keypair:
        with self._uow_factory(write=False) as uow:
            kp = uow.catalog.keypair(user_id, name) if user_id else None
        if kp is None:
            raise errors.EcsError(errors.KEYPAIR_NOT_FOUND)
        return kp


class VolumeReads:
    def __init__(self, uow_factory: UowFactory) -> None:
        self._uow_factory = uow_factory

    def page(self, project_id: str, q: VolumeQuery) -> VolumePage:
        return volumes.list_volumes(self._uow_factory, project_id, q)

    def show(self, project_id: str, volume_id: str) -> tuple[Volume, VolumeContext]:
        return volumes.show_volume(self._uow_factory, project_id, volume_id)
