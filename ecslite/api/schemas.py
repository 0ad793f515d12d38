"""Response shapes, for the OpenAPI document (the views in views.py produce them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    code: str = Field(examples=["Ecs.0100"])
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


JobStatusName = Literal["INIT", "RUNNING", "SUCCESS", "FAIL"]


class SubJobEntities(BaseModel):
    server_id: str | None = None
    errorcode_message: str | None = None


class SubJobModel(BaseModel):
    status: JobStatusName
    entities: SubJobEntities
    job_id: str
    job_type: str
    begin_time: str | None
    end_time: str | None
    error_code: str | None
    fail_reason: str | None


class JobEntities(BaseModel):
    server_id: str | None = None
    # A volume job's (EVS deleteVolume): the volume it acts on.
    volume_id: str | None = None
    size: int | None = None
    volume_type: str | None = None
    sub_jobs_total: int
    sub_jobs: list[SubJobModel]


class JobModel(BaseModel):
    status: JobStatusName
    entities: JobEntities
    job_id: str
    job_type: str
    begin_time: str | None
    end_time: str | None
    error_code: str | None
    fail_reason: str | None


class ImageRef(BaseModel):
    id: str


class FlavorRef(BaseModel):
    id: str
    name: str
    disk: str
    vcpus: str
    ram: str


class VolumeAttachment(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    device: str
    boot_index: str = Field(alias="bootIndex")
    delete_on_termination: Literal["true", "false"]


class ServerModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    name: str
    status: Literal[
        "BUILD", "ACTIVE", "SHUTOFF", "REBUILD", "REBOOT", "HARD_REBOOT", "ERROR", "UNKNOWN"
    ]
    vm_state: Literal["building", "active", "stopped", "error"] = Field(alias="OS-EXT-STS:vm_state")
    task_state: str | None = Field(alias="OS-EXT-STS:task_state")
    power_state: int = Field(alias="OS-EXT-STS:power_state")
    image: ImageRef
    flavor: FlavorRef
    volumes_attached: list[VolumeAttachment] = Field(alias="os-extended-volumes:volumes_attached")
    metadata: dict[str, str]
    key_name: str | None
    tenant_id: str
    user_id: str
    created: str
    updated: str
    fault: dict[str, object] | None = None


class ServerEnvelope(BaseModel):
    server: ServerModel


class ServerList(BaseModel):
    count: int
    servers: list[ServerModel]


class JobAccepted(BaseModel):
    job_id: str


class KeypairSummary(BaseModel):
    fingerprint: str
    name: str
    public_key: str
    # Shown from microversion 2.2 only.
    type: str = Field(default="ssh", json_schema_extra={"description": "from microversion 2.2"})


class KeypairListItem(BaseModel):
    keypair: KeypairSummary


class KeypairList(BaseModel):
    keypairs: list[KeypairListItem]


class KeypairCreated(KeypairSummary):
    user_id: str
    private_key: str | None = None


class KeypairCreatedEnvelope(BaseModel):
    keypair: KeypairCreated


class KeypairDetail(KeypairSummary):
    id: int
    user_id: str
    created_at: str
    updated_at: str | None
    deleted: bool
    deleted_at: str | None


class KeypairDetailEnvelope(BaseModel):
    keypair: KeypairDetail


class Link(BaseModel):
    href: str
    rel: str


class VolumeAttachmentModel(BaseModel):
    server_id: str
    attachment_id: str
    attached_at: str
    host_name: str | None
    volume_id: str
    device: str
    id: str


class VolumeModel(BaseModel):
    """The fields of EVS's VolumeDetail that ecslite fills (every other one is null)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    links: list[Link]
    name: str
    status: Literal["available", "in-use", "deleting", "error_deleting"]
    attachments: list[VolumeAttachmentModel]
    availability_zone: str
    tenant_id: str = Field(alias="os-vol-tenant-attr:tenant_id")
    volume_image_metadata: dict[str, str]
    created_at: str
    volume_type: str
    size: int
    bootable: Literal["true", "false"]
    metadata: dict[str, str]
    encrypted: bool
    shareable: Literal["false"]
    multiattach: Literal[False]
    service_type: Literal["EVS"]


class VolumeEnvelope(BaseModel):
    volume: VolumeModel


class VolumeList(BaseModel):
    count: int
    volumes: list[VolumeModel]
    volumes_links: list[Link] | None = None
