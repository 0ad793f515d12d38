"""Version discovery documents, served without credentials as Keystone, Nova and Glance do.

keystoneauth (behind the ``openstack`` CLI and openstacksdk) fetches these unauthenticated
before it logs in, and again for each service in the catalog, at the service's unversioned
root: ``/`` for identity, ``/compute/`` for compute (its catalog URL is
``/compute/v2.1/{project}``), ``/image/`` for images. Each root lists only its own service, so
``openstack versions show`` files every version under the right service. Answering them with 401
made the default ``password`` auth type deadlock.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ecslite.api.nova.microversion import MAX_VERSION, MIN_VERSION, text

router = APIRouter(include_in_schema=False)

IDENTITY_VERSION = "v3.14"
IMAGE_VERSIONS = ("v2.9", "v2.0")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def identity_version(base: str) -> dict[str, Any]:
    return {
        "id": IDENTITY_VERSION,
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


def compute_version(base: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": text(MAX_VERSION),
        "min_version": text(MIN_VERSION),
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": f"{base}/v2.1/"}],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


@router.get("/")
def root(request: Request) -> JSONResponse:
    base = _base(request)
    return JSONResponse(status_code=300, content={"versions": {"values": [identity_version(base)]}})


@router.get("/compute")
@router.get("/compute/")
def compute_versions(request: Request) -> JSONResponse:
    return JSONResponse(status_code=200, content={"versions": [compute_version(_base(request))]})


@router.get("/v3")
@router.get("/v3/")
def identity(request: Request) -> dict[str, Any]:
    return {"version": identity_version(_base(request))}


@router.get("/v2.1")
@router.get("/v2.1/")
def compute(request: Request) -> dict[str, Any]:
    return {"version": compute_version(_base(request))}


@router.get("/image")
@router.get("/image/")
def image_versions(request: Request) -> JSONResponse:
    base = _base(request)
    versions = [
        {
            "id": v,
            "status": "CURRENT" if i == 0 else "SUPPORTED",
            "links": [{"rel": "self", "href": f"{base}/image/v2/"}],
        }
        for i, v in enumerate(IMAGE_VERSIONS)
    ]
    return JSONResponse(status_code=300, content={"versions": versions})
