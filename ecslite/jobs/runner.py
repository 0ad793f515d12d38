"""The durable job runner: lease a job, run its remaining steps, record each one's end.

Generic: what a job type does is its ``JobDefinition`` (jobs/steps.py, registered in
jobs/registry.py); the runner only sequences steps, records them and applies the failure policy.

Jobs live in the database, so an accepted job survives a crash: on restart its lease runs out
(or, for the single-process SQLite store, is released at start-up) and a runner resumes it from
the first sub-job not yet SUCCESS. A job in its rollback phase resumes its rollback.

One write transaction per step boundary: finishing step N (its record, SUCCESS) and starting
step N+1 (RUNNING, the server's task_state, taking an injected fault) commit together, before
step N+1's driver work begins. The claim, the job's start (INIT → RUNNING) and its first step's
start commit together too; the job's last step is recorded with the job's end.

The runner keeps the job as its own writes left it (``Run.current``) and hands it to each
transaction, so the job's event body is rendered without reading the job back: while it
holds the lease, nothing else writes the job's state.

Cancellation (CancelJob marks the job): read at each step boundary by the statement that renews
the lease, it fails the step about to start with CANCELLED_CODE before its driver work, so the
job's failure policy undoes the job as for any failure (rollback, or each remaining step's
compensation). The step running when the mark is set finishes first; from a ``no_return`` step
on, the mark is ignored.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from ecslite.domain import errors, transitions
from ecslite.domain.clock import Clock
from ecslite.domain.job import Job, JobStatus, JobType, Phase, SubJob
from ecslite.drivers.base import Driver
from ecslite.jobs import failpoints
from ecslite.jobs.observe import JobObserver, NoObserver
from ecslite.jobs.registry import DEFINITIONS
from ecslite.jobs.run import Run, act
from ecslite.jobs.steps import (
    CANCELLED_CODE,
    CANCELLED_REASON,
    FailurePolicy,
    JobDefinition,
    LostOwnership,
    Step,
    StepContext,
    StepFailed,
)
from ecslite.store.jobs import Owned
from ecslite.store.uow import UnitOfWork, UowFactory

log = logging.getLogger("ecslite.jobs")
_LOST = "job_id=%s lost its lease or server; another runner owns it"
_ERROR = "job_id=%s runner error; it will be retried after its lease"


class JobRunner:
    def __init__(
        self,
        *,
        uow_factory: UowFactory,
        driver: Driver,
        clock: Clock,
        definitions: Mapping[JobType, JobDefinition] = DEFINITIONS,
        threads: int = 4,
        lease_seconds: float = 15.0,
        poll_interval: float = 0.5,
        inject_faults: bool = False,
        host_id: str | None = None,
        observer: JobObserver | None = None,
        owner_prefix: str = "runner-",
    ) -> None:
        self._uow = uow_factory
        self._driver = driver
        self._definitions = definitions
        self._clock = clock
        self._threads_wanted = threads
        self._lease = lease_seconds
        self._poll = poll_interval
        self._inject_faults = inject_faults  # admin faults, a testing tool: at a step's start
        self._host_id = host_id
        # Set after construction by the composition root (the metrics need the runner too).
        self.observer: JobObserver = observer or NoObserver()
        # Monotonic time of the heartbeat loop's last turn (None: not started): readiness.
        self.last_beat: float | None = None
        # The prefix names this worker across restarts: a restarted one frees its own leases.
        self.owner_prefix = owner_prefix
        self.owner = f"{owner_prefix}{uuid.uuid4().hex[:12]}"
        # Each claim leases its job under a name of its own (the worker's name and a serial):
        # if a lease runs out while its run is still going (the heartbeat starved on a busy
        # machine), another thread of this same worker that claims the job again must not
        # pass the first run's ownership checks, or both would record the same steps.
        self._claims = itertools.count(1)
        self._wake = threading.Condition()
        self._pending_wakes = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._active: dict[str, str] = {}  # job id -> the lease its run holds
        self._active_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.last_beat = time.monotonic()
        for i in range(self._threads_wanted):
            th = threading.Thread(target=self._work_loop, name=f"ecslite-runner-{i}", daemon=True)
            th.start()
            self._threads.append(th)
        hb = threading.Thread(target=self._heartbeat_loop, name="ecslite-heartbeat", daemon=True)
        hb.start()
        self._threads.append(hb)

    def alive(self) -> tuple[bool, float | None]:
        """(every runner thread is alive, seconds since the heartbeat loop's last turn); the
        age is None when the runner was never started."""
        if self.last_beat is None:
            return False, None
        return all(th.is_alive() for th in self._threads), time.monotonic() - self.last_beat

    @property
    def beat_interval(self) -> float:
        return self._lease / 3

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
                ran = self.run_next()
            except Exception:
                log.exception("claiming a job failed")
                ran = False
            if not ran:
                with self._wake:
                    if self._pending_wakes == 0 and not self._stopping.is_set():
                        self._wake.wait(self._poll)
                    self._pending_wakes = max(0, self._pending_wakes - 1)

    def _heartbeat_loop(self) -> None:
        while not self._stopping.wait(self._lease / 3):
            self.last_beat = time.monotonic()
            with self._active_lock:
                active = list(self._active.items())
            if not active:
                continue
            try:
                with self._uow() as uow:
                    uow.jobs.renew_leases(leases=active, until=self._clock.now() + self._lease)
                    uow.commit()
            except Exception:
                log.exception("lease renewal failed")

    def _claim(self) -> Run | None:
        """Claim the oldest runnable job and start it in the claim's own transaction (its
        start and its first step boundary commit with the lease): None when there is none."""
        lease = f"{self.owner}.{next(self._claims)}"
        now = self._clock.now()
        with self._uow() as uow:
            job = uow.jobs.claim_next_job(
                owner=lease, now=now, lease_seconds=self._lease, host_id=self._host_id
            )
            if job is None:
                return None
            failed: Exception | None = None
            try:
                run = self._start(uow, job, lease)
                uow.commit()
            except Exception as exc:
                failed = exc
        if failed is not None:
            # Its server belongs to another job, or the start failed. The claim was rolled
            # back with the start: lease the job alone, as a claim committed on its own did,
            # so that it is tried again when the lease runs out rather than at every poll.
            with self._uow() as uow:
                uow.jobs.lease(job.id, owner=lease, now=now, lease_seconds=self._lease)
                uow.commit()
            if isinstance(failed, LostOwnership):
                log.warning(_LOST, job.id)
            else:
                log.error(_ERROR, job.id, exc_info=failed)
            return None
        with self._active_lock:
            self._active[job.id] = lease
        self._started(run, uow)
        return run

    def run_next(self) -> bool:
        """Claim the oldest runnable job and run it to its end on this thread (what each
        runner thread does in turn; benchmarks call it too); False when there was none."""
        run = self._claim()
        if run is None:
            return False
        try:
            self._go_on(run)
        except LostOwnership:
            log.warning(_LOST, run.job.id)
        except Exception:
            log.exception(_ERROR, run.job.id)
        finally:
            self._forget(run)
        return True

    def _forget(self, run: Run) -> None:
        with self._active_lock:
            if self._active.get(run.job.id) == run.lease:
                del self._active[run.job.id]

    # -- one job ---------------------------------------------------------------------------

    def run_job(self, job_id: str, lease: str | None = None) -> None:
        """Run (or resume) a job leased under ``lease`` (default: the runner's own name, for
        callers that claimed it themselves) until it is SUCCESS or FAIL."""
        lease = lease or self.owner
        with self._uow() as uow:
            job = uow.jobs.get(job_id)
            if job is None or job.status.terminal:
                return
            run = self._start(uow, job, lease)
            uow.commit()
        self._started(run, uow)
        self._go_on(run)

    def _start(self, uow: UnitOfWork, job: Job, lease: str) -> Run:
        """In ``uow``: the job's start (INIT → RUNNING) and its first step boundary, so a
        claimed job costs one transaction before its first step's driver work, not three."""
        run = Run(job, self._definitions[job.job_type], lease)
        if job.status is JobStatus.INIT:
            run.start = {"status": JobStatus.RUNNING, "begin_time": self._clock.iso()}
        todo = run.todo
        if job.phase is not Phase.ROLLBACK and todo:
            run.first = self._boundary_in(
                uow, run, None, todo[0], run.definition.step(todo[0].job_type)
            )
        elif run.start:
            self._own(uow, job.id, lease, **run.take_start())
            if job.parent_id is not None:
                uow.jobs.roll_up(job.parent_id, now=self._clock.iso())
        return run

    def _started(self, run: Run, uow: UnitOfWork) -> None:
        """After the start's commit: follow the job, say so."""
        run.current = uow.jobs.tracked(run.job.id)
        job, first = run.job, run.first[0].sub.job_type if run.first else None
        log.info(
            "job started job_id=%s type=%s phase=%s step=%s", job.id, job.job_type, job.phase, first
        )

    def _go_on(self, run: Run) -> None:
        """Run a started job's steps (the first one's boundary is committed) to its end."""
        job = run.job
        if job.phase is Phase.ROLLBACK:
            failed = next((s for s in job.sub_jobs if s.status is JobStatus.FAIL), job.sub_jobs[-1])
            err = StepFailed(job.error_code or errors.SYSTEM_ERROR.code, job.fail_reason or "")
            self._roll_back(run, failed, err)
            return

        failure: StepFailed | None = next(
            (
                StepFailed(s.error_code or "", s.fail_reason or "")
                for s in job.sub_jobs
                if s.status is JobStatus.FAIL
            ),
            None,
        )
        succeeded: StepContext[Any] | None = None  # done, recorded at the next boundary
        for sub in run.todo:
            step = run.definition.step(sub.job_type)
            if run.first is not None:
                (ctx, fault), run.first = run.first, None
            else:
                ctx, fault = self._boundary(run, succeeded, sub, step)
            succeeded = None
            try:
                act(ctx, step, fault)
            except StepFailed as exc:
                failure = failure or exc
                if run.definition.policy is FailurePolicy.ROLL_BACK:
                    self._fail_step(run, ctx, exc, step, roll_back=True)
                    failpoints.hit(f"rollback:{sub.job_type}")
                    self._roll_back(run, sub, exc)
                    return
                self._fail_step(run, ctx, exc, step, roll_back=False)
                continue
            succeeded = ctx
        self._finish(run, JobStatus.FAIL if failure else JobStatus.SUCCESS, failure, succeeded)

    def _own(self, uow: UnitOfWork, job_id: str, lease: str, **values: object) -> Owned:
        """Renew the lease (writing ``values`` with it); its cancellation mark and faults."""
        owned = uow.jobs.own(
            job_id,
            owner=lease,
            values={**values, "lease_expires": self._clock.now() + self._lease},
        )
        if owned is None:
            raise LostOwnership(job_id)
        return owned

    def _record(self, uow: UnitOfWork, run: Run, ctx: StepContext[Any]) -> None:
        step = run.definition.step(ctx.sub.job_type)
        if step.record is not None:
            step.record(uow, ctx)
        uow.jobs.update_sub_job(
            run.job.id, ctx.sub.id, status=JobStatus.SUCCESS, end_time=self._clock.iso()
        )
        run.status[ctx.sub.id] = JobStatus.SUCCESS

    def _after_record(self, run: Run, ctx: StepContext[Any] | None) -> None:
        if ctx is not None:
            self._step_ended(run, ctx.sub, JobStatus.SUCCESS)
            failpoints.hit(f"after_record:{ctx.sub.job_type}")
            log.info("step succeeded job_id=%s step=%s", ctx.job.id, ctx.sub.job_type)

    def _boundary(
        self, run: Run, succeeded: StepContext[Any] | None, sub: SubJob, step: Step
    ) -> tuple[StepContext[Any], tuple[str, str] | None]:
        """One transaction: record the step that just succeeded, start ``sub``."""
        with self._uow() as uow:
            run.track(uow)
            started = self._boundary_in(uow, run, succeeded, sub, step)
            uow.commit()
        run.current = uow.jobs.tracked(run.job.id)
        self._after_record(run, succeeded)
        log.info("step started job_id=%s step=%s", run.job.id, sub.job_type)
        return started

    def _boundary_in(
        self,
        uow: UnitOfWork,
        run: Run,
        succeeded: StepContext[Any] | None,
        sub: SubJob,
        step: Step,
    ) -> tuple[StepContext[Any], tuple[str, str] | None]:
        """In ``uow``: renew the lease (starting the job if it is not yet), record the step
        that just succeeded, start ``sub``; its context and the fault it must fail with."""
        job = run.job
        server_id = sub.server_id or job.server_id
        fault = None
        start = run.take_start()
        owned = self._own(uow, job.id, run.lease, **start)
        if start and job.parent_id is not None:
            uow.jobs.roll_up(job.parent_id, now=self._clock.iso())
        if succeeded is not None:
            self._record(uow, run, succeeded)
        uow.jobs.update_sub_job(
            job.id,
            sub.id,
            status=JobStatus.RUNNING,
            begin_time=sub.begin_time or self._clock.iso(),
        )
        run.status[sub.id] = JobStatus.RUNNING
        run.started[sub.id] = time.monotonic()
        server = uow.servers.get(server_id) if server_id else None
        if step.task_state is not None:
            if server is None or server.current_job_id != job.id:
                raise LostOwnership(job.id)
            # Consecutive steps often share a task_state: no write, no event for a no-op.
            if server.task_state is not step.task_state:
                ctx = self._context(run, sub, server)
                ctx.change_server(uow, transitions.step_started(step.task_state))
                server = dataclasses.replace(server, task_state=step.task_state)
        if step.no_return:
            run.past_no_return = True
        if not run.past_no_return and owned.cancel_requested:
            # Failed like an injected fault: before the act, then the policy applies.
            fault = (CANCELLED_CODE, CANCELLED_REASON)
        elif self._inject_faults and owned.faults_pending:
            fault = uow.faults.take(step=sub.job_type, server_id=server_id or "")
        return self._context(run, sub, server), fault

    def _context(self, run: Run, sub: SubJob, server: Any) -> StepContext[Any]:
        return StepContext(
            job=run.job,
            sub=sub,
            server=server,
            params=run.params,
            driver=self._driver,
            uow_factory=self._uow,
            clock=self._clock,
            host_id=self._host_id,
        )

    def _fail_step(
        self, run: Run, ctx: StepContext[Any], failure: StepFailed, step: Step, *, roll_back: bool
    ) -> None:
        log.warning(
            "step failed job_id=%s step=%s error_code=%s reason=%s",
            ctx.job.id,
            step.name,
            failure.code,
            failure.reason,
        )
        with self._uow() as uow:
            run.track(uow)
            self._own(uow, ctx.job.id, run.lease)
            uow.jobs.update_sub_job(
                ctx.job.id,
                ctx.sub.id,
                status=JobStatus.FAIL,
                end_time=self._clock.iso(),
                error_code=failure.code,
                fail_reason=failure.reason,
            )
            run.status[ctx.sub.id] = JobStatus.FAIL
            if roll_back:
                # Recorded before compensating, so a crash mid-rollback resumes the rollback.
                self._own(
                    uow,
                    ctx.job.id,
                    run.lease,
                    phase=Phase.ROLLBACK,
                    error_code=failure.code,
                    fail_reason=failure.reason,
                )
            elif step.compensate is not None:
                step.compensate(uow, ctx)
            uow.commit()
        run.current = uow.jobs.tracked(ctx.job.id)
        self._step_ended(run, ctx.sub, JobStatus.FAIL)

    def _roll_back(self, run: Run, failed: SubJob, failure: StepFailed) -> None:
        roll_back = run.definition.roll_back
        if roll_back is not None:
            with self._uow(write=False) as uow:
                server = uow.servers.get(failed.server_id or run.job.server_id or "")
            done = frozenset(
                s.job_type for s in run.job.sub_jobs if run.status[s.id] is JobStatus.SUCCESS
            )
            roll_back(self._context(run, failed, server), failure, done)
            # The rollback wrote in its own transactions: the job is read again at the end.
            run.current = None
        self._finish(run, JobStatus.FAIL, failure, None)

    def _finish(
        self,
        run: Run,
        status: JobStatus,
        failure: StepFailed | None,
        succeeded: StepContext[Any] | None,
    ) -> None:
        """One transaction: record the last step, mark steps never run, end the job."""
        now = self._clock.iso()
        job_id = run.job.id
        with self._uow() as uow:
            run.track(uow)
            if succeeded is not None:
                self._own(uow, job_id, run.lease)
                self._record(uow, run, succeeded)
            for sub in run.job.sub_jobs:
                if run.status[sub.id] in (JobStatus.INIT, JobStatus.RUNNING):
                    uow.jobs.update_sub_job(
                        job_id,
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
            if not uow.jobs.cas(job_id, owner=run.lease, expected={}, values=values):
                raise LostOwnership(job_id)
            if run.job.parent_id is not None:
                uow.jobs.roll_up(run.job.parent_id, now=now)
            uow.commit()
        self._after_record(run, succeeded)
        self.observer.job_ended(run.job.job_type.value, status.value, time.monotonic() - run.t0)
        log.info("job finished job_id=%s status=%s", job_id, status)

    def _step_ended(self, run: Run, sub: SubJob, outcome: JobStatus) -> None:
        started = run.started.pop(sub.id, None)
        if started is not None:
            self.observer.step_ended(
                run.job.job_type.value, sub.job_type, outcome.value, time.monotonic() - started
            )
