"""The durable job runner: lease a job, run its remaining sub-jobs, record each one's end.

Jobs live in the database, so an accepted job survives a crash: on restart its lease runs out
(or, for the single-process SQLite store, is released at start-up) and a runner resumes it from
the first sub-job not yet SUCCESS. A job in its rollback phase resumes its rollback.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping

from ecslite.domain import errors
from ecslite.domain.clock import Clock
from ecslite.domain.job import Job, JobStatus, JobType, Phase, SubJob
from ecslite.drivers.base import Driver, DriverError
from ecslite.jobs import failpoints
from ecslite.jobs.steps import JobHandler, LostOwnership, StepEnv, StepFailed
from ecslite.store.uow import UnitOfWork, UowFactory

log = logging.getLogger("ecslite.jobs")

# Job types whose first failure stops the job and compensates (phase ROLLBACK, resumable);
# the others (batch power actions, delete) fail one sub-job and go on with the rest.
ROLLBACK_JOB_TYPES = frozenset({JobType.REINSTALL, JobType.CHANGE_OS, JobType.CREATE})

# take_fault(step, server_id) -> (error_code, message) | None
FaultSource = Callable[[str, str], tuple[str, str] | None]


class JobRunner:
    def __init__(
        self,
        *,
        uow_factory: UowFactory,
        driver: Driver,
        handlers: Mapping[JobType, JobHandler],
        clock: Clock,
        threads: int = 4,
        lease_seconds: float = 15.0,
        poll_interval: float = 0.5,
        take_fault: FaultSource | None = None,
        host_id: str | None = None,
    ) -> None:
        self._uow = uow_factory
        self._driver = driver
        self._handlers = handlers
        self._clock = clock
        self._threads_wanted = threads
        self._lease = lease_seconds
        self._poll = poll_interval
        self._take_fault = take_fault
        self._host_id = host_id
        self.owner = f"runner-{uuid.uuid4().hex[:12]}"
        self._wake = threading.Condition()
        self._pending_wakes = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._active: set[str] = set()
        self._active_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for i in range(self._threads_wanted):
            th = threading.Thread(target=self._work_loop, name=f"ecslite-runner-{i}", daemon=True)
            th.start()
            self._threads.append(th)
        hb = threading.Thread(target=self._heartbeat_loop, name="ecslite-heartbeat", daemon=True)
        hb.start()
        self._threads.append(hb)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        for th in self._threads:
            th.join(timeout)

    def wake(self) -> None:
        """Tell an idle worker that a job was just accepted."""
        with self._wake:
            self._pending_wakes += 1
            self._wake.notify()

    # -- loops -------------------------------------------------------------------------------

    def _work_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                job_id = self._claim()
            except Exception:
                log.exception("claiming a job failed")
                job_id = None
            if job_id is None:
                with self._wake:
                    if self._pending_wakes == 0 and not self._stopping.is_set():
                        self._wake.wait(self._poll)
                    self._pending_wakes = max(0, self._pending_wakes - 1)
                continue
            with self._active_lock:
                self._active.add(job_id)
            try:
                self.run_job(job_id)
            except LostOwnership:
                log.warning("job_id=%s lost its lease or server; another runner owns it", job_id)
            except Exception:
                log.exception("job_id=%s runner error; it will be retried after its lease", job_id)
            finally:
                with self._active_lock:
                    self._active.discard(job_id)

    def _heartbeat_loop(self) -> None:
        while not self._stopping.wait(self._lease / 3):
            with self._active_lock:
                active = list(self._active)
            if not active:
                continue
            try:
                with self._uow() as uow:
                    uow.jobs.renew_leases(
                        owner=self.owner, job_ids=active, until=self._clock.now() + self._lease
                    )
                    uow.commit()
            except Exception:
                log.exception("lease renewal failed")

    def _claim(self) -> str | None:
        with self._uow() as uow:
            job_id = uow.jobs.claim_next(
                owner=self.owner,
                now=self._clock.now(),
                lease_seconds=self._lease,
                host_id=self._host_id,
            )
            uow.commit()
        return job_id

    # -- one job -----------------------------------------------------------------------------

    def run_job(self, job_id: str) -> None:
        """Run (or resume) a leased job until it is SUCCESS or FAIL."""
        with self._uow() as uow:
            job = uow.jobs.get(job_id)
            if job is None or job.status.terminal:
                return
            if job.status is JobStatus.INIT:
                self._own(uow, job.id, status=JobStatus.RUNNING, begin_time=self._clock.iso())
            uow.commit()
        handler = self._handlers[job.job_type]
        log.info("job started job_id=%s type=%s phase=%s", job.id, job.job_type, job.phase)

        if job.phase is Phase.ROLLBACK:
            failed = next((s for s in job.sub_jobs if s.status is JobStatus.FAIL), job.sub_jobs[-1])
            err = StepFailed(job.error_code or errors.SYSTEM_ERROR.code, job.fail_reason or "")
            self._fail_job(job, failed, err, handler)
            return

        first_failure: tuple[SubJob, StepFailed] | None = None
        for sub in job.sub_jobs:
            if sub.status in (JobStatus.SUCCESS, JobStatus.FAIL):
                if sub.status is JobStatus.FAIL and first_failure is None:
                    first_failure = (sub, StepFailed(sub.error_code or "", sub.fail_reason or ""))
                continue
            env = self._start_sub_job(job, sub, handler)
            try:
                self._act(env, handler)
            except StepFailed as failure:
                stop = self._fail_sub_job(env, failure, handler)
                if first_failure is None:
                    first_failure = (sub, failure)
                if stop:
                    return
                continue
            self._finish_sub_job(env, handler)

        if first_failure is not None:
            self._finish(job.id, JobStatus.FAIL, first_failure[1])
        else:
            self._finish(job.id, JobStatus.SUCCESS, None)

    def _own(self, uow: UnitOfWork, job_id: str, **values: object) -> None:
        ok = uow.jobs.cas(
            job_id,
            owner=self.owner,
            expected={},
            values={**values, "lease_expires": self._clock.now() + self._lease},
        )
        if not ok:
            raise LostOwnership(job_id)

    def _reload(self, job_id: str) -> Job:
        with self._uow(write=False) as uow:
            job = uow.jobs.get(job_id)
        assert job is not None
        return job

    def _start_sub_job(self, job: Job, sub: SubJob, handler: JobHandler) -> StepEnv:
        server_id = sub.server_id or job.server_id
        with self._uow() as uow:
            self._own(uow, job.id)
            uow.jobs.update_sub_job(
                sub.id, status=JobStatus.RUNNING, begin_time=sub.begin_time or self._clock.iso()
            )
            env = StepEnv(
                job=job,
                sub=sub,
                server=None,
                driver=self._driver,
                uow_factory=self._uow,
                clock=self._clock,
            )
            handler.on_sub_job_start(uow, env)
            server = uow.servers.get(server_id) if server_id else None
            uow.commit()
        log.info("step started job_id=%s step=%s server_id=%s", job.id, sub.job_type, server_id)
        return StepEnv(
            job=job,
            sub=sub,
            server=server,
            driver=self._driver,
            uow_factory=self._uow,
            clock=self._clock,
        )

    def _act(self, env: StepEnv, handler: JobHandler) -> None:
        try:
            if self._take_fault is not None:
                fault = self._take_fault(
                    env.sub.job_type, env.sub.server_id or env.job.server_id or ""
                )
                if fault is not None:
                    raise StepFailed(fault[0], fault[1])
            failpoints.hit(f"before_act:{env.sub.job_type}")
            handler.act(env)
            failpoints.hit(f"after_act:{env.sub.job_type}")
        except DriverError as exc:
            raise StepFailed(exc.code, exc.message) from exc
        except (StepFailed, LostOwnership):
            raise
        except Exception as exc:
            log.exception("step crashed job_id=%s step=%s", env.job.id, env.sub.job_type)
            raise StepFailed(
                errors.SYSTEM_ERROR.code, f"Internal error in {env.sub.job_type}."
            ) from exc

    def _finish_sub_job(self, env: StepEnv, handler: JobHandler) -> None:
        with self._uow() as uow:
            self._own(uow, env.job.id)
            handler.record(uow, env)
            uow.jobs.update_sub_job(
                env.sub.id, status=JobStatus.SUCCESS, end_time=self._clock.iso()
            )
            uow.commit()
        failpoints.hit(f"after_record:{env.sub.job_type}")
        log.info("step succeeded job_id=%s step=%s", env.job.id, env.sub.job_type)

    def _fail_sub_job(self, env: StepEnv, failure: StepFailed, handler: JobHandler) -> bool:
        log.warning(
            "step failed job_id=%s step=%s error_code=%s reason=%s",
            env.job.id,
            env.sub.job_type,
            failure.code,
            failure.reason,
        )
        with self._uow() as uow:
            self._own(uow, env.job.id)
            uow.jobs.update_sub_job(
                env.sub.id,
                status=JobStatus.FAIL,
                end_time=self._clock.iso(),
                error_code=failure.code,
                fail_reason=failure.reason,
            )
            if env.job.job_type in ROLLBACK_JOB_TYPES:
                # Recorded before compensating, so a crash mid-rollback resumes the rollback.
                self._own(
                    uow,
                    env.job.id,
                    phase=Phase.ROLLBACK,
                    error_code=failure.code,
                    fail_reason=failure.reason,
                )
            uow.commit()
        if env.job.job_type in ROLLBACK_JOB_TYPES:
            failpoints.hit(f"rollback:{env.sub.job_type}")
            self._fail_job(self._reload(env.job.id), env.sub, failure, handler)
            return True
        return handler.on_failure(env, failure)

    def _fail_job(self, job: Job, failed: SubJob, failure: StepFailed, handler: JobHandler) -> None:
        with self._uow(write=False) as uow:
            server = uow.servers.get(failed.server_id or job.server_id or "")
        env = StepEnv(
            job=job,
            sub=failed,
            server=server,
            driver=self._driver,
            uow_factory=self._uow,
            clock=self._clock,
        )
        handler.on_failure(env, failure)
        self._finish(job.id, JobStatus.FAIL, failure)

    def _finish(self, job_id: str, status: JobStatus, failure: StepFailed | None) -> None:
        now = self._clock.iso()
        with self._uow() as uow:
            job = uow.jobs.get(job_id)
            assert job is not None
            for sub in job.sub_jobs:
                if sub.status in (JobStatus.INIT, JobStatus.RUNNING):
                    uow.jobs.update_sub_job(
                        sub.id,
                        status=JobStatus.FAIL,
                        end_time=now,
                        error_code=None,
                        fail_reason="Not run: an earlier step failed.",
                    )
            values: dict[str, object] = {
                "status": status,
                "end_time": now,
                "lease_owner": None,
                "lease_expires": None,
            }
            if failure is not None:
                values.update(error_code=failure.code, fail_reason=failure.reason)
            ok = uow.jobs.cas(job_id, owner=self.owner, expected={}, values=values)
            if not ok:
                raise LostOwnership(job_id)
            uow.commit()
        log.info("job finished job_id=%s status=%s", job_id, status)
