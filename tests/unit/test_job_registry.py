"""Every job type the API can accept has a declared definition, with the failure policy its
documentation promises, and parameters that survive the job record's JSON."""

from __future__ import annotations

import json

from ecslite.domain.codec import encode
from ecslite.domain.job import JobType
from ecslite.jobs.create import CreateParams, DiskPlan, ServerBuild
from ecslite.jobs.delete import DeleteParams
from ecslite.jobs.reboot import RebootParams
from ecslite.jobs.registry import DEFINITIONS, step_names
from ecslite.jobs.steps import FailurePolicy
from ecslite.jobs.volume_delete import DeleteVolumeParams


def test_every_job_type_is_registered() -> None:
    assert set(DEFINITIONS) == set(JobType)


def test_change_os_runs_the_reinstall_steps() -> None:
    reinstall, change = DEFINITIONS[JobType.REINSTALL], DEFINITIONS[JobType.CHANGE_OS]
    assert change.steps == reinstall.steps
    assert change.roll_back is reinstall.roll_back
    assert change.policy is FailurePolicy.ROLL_BACK


def test_policies() -> None:
    create = DEFINITIONS[JobType.CREATE]
    assert create.policy is FailurePolicy.ROLL_BACK and create.roll_back is not None
    for jt in (JobType.DELETE, JobType.BATCH_REBOOT, JobType.DELETE_VOLUME):
        d = DEFINITIONS[jt]
        assert d.policy is FailurePolicy.CONTINUE
        assert all(s.compensate is not None for s in d.steps), jt


def test_fault_injection_knows_the_new_steps() -> None:
    names = step_names()
    for step in ("createSystemDisk", "attachDisks", "deleteServer", "rebootServer", "deleteVolume"):
        assert step in names


def test_params_round_trip_through_json() -> None:
    create = CreateParams(
        image_id="img",
        servers=(
            (
                "s1",
                ServerBuild(DiskPlan("v1", 40, "SSD"), (DiskPlan("v2", 10, "SAS", "/dev/vdb"),)),
            ),
            ("s2", ServerBuild(DiskPlan("v3", 40, "SSD"))),
        ),
    )
    for jt, p in (
        (JobType.CREATE, create),
        (JobType.DELETE, DeleteParams(delete_volume=True)),
        (JobType.BATCH_REBOOT, RebootParams(hard=True)),
        (JobType.DELETE_VOLUME, DeleteVolumeParams(volume_id="v9", size_gb=50, volume_type="SAS")),
    ):
        back = DEFINITIONS[jt].parse_params(json.loads(json.dumps(encode(p))))
        assert back == p


def test_jobs_that_may_still_attach_or_delete_a_volume_hold_it() -> None:
    """A volume delete is refused for these volumes while such a job is unfinished."""
    create = DEFINITIONS[JobType.CREATE]
    params = CreateParams(
        image_id="img",
        servers=(("s1", ServerBuild(DiskPlan("v1", 40, "SSD"), (DiskPlan("v2", 10, "SAS"),))),),
    )
    assert create.held_volumes(params) == {"v1", "v2"}
    for jt in (JobType.REINSTALL, JobType.CHANGE_OS):
        d = DEFINITIONS[jt]
        held = d.held_volumes(
            d.parse_params(
                {
                    "old_volume_id": "old",
                    "new_volume_id": "new",
                    "image_id": "img",
                    "device": "/dev/vda",
                    "size_gb": 40,
                    "volume_type": "SSD",
                    "original_vm_state": "stopped",
                }
            )
        )
        assert held == {"old", "new"}, jt
    gone = DEFINITIONS[JobType.DELETE_VOLUME]
    assert gone.held_volumes(DeleteVolumeParams("v3")) == {"v3"}
    for jt in (JobType.DELETE, JobType.BATCH_REBOOT, JobType.BATCH_STOP):
        d = DEFINITIONS[jt]
        assert d.held_volumes(d.parse_params({})) == frozenset(), jt
