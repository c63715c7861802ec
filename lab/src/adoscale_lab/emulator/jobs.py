"""Job requests: queued, assigned to an agent, started, finished; and the org's parallel-job limit.

Assignment follows ADO's rule as far as the public material shows it: queued jobs, oldest first, go to an
idle, enabled, online agent whose capabilities satisfy the job's demands. Every state change is published
as a `JobEvent`; who listens (service hooks, the simulator) is not this module's business.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import uuid
from datetime import timedelta

from adoscale_lab.emulator.demands import ado_satisfies
from adoscale_lab.emulator.entities import Agent, Clock, Job, Pool, matchable_capabilities
from adoscale_lab.emulator.errors import EmulatorError
from adoscale_lab.emulator.events import EventBus, JobEvent, Transition
from adoscale_lab.emulator.pools import PoolsAndAgents
from adoscale_lab.emulator.projects import Projects

LOCK_DURATION = timedelta(minutes=10)


def no_agent_message(pool_name: str, demands: list[str]) -> str:
    """What the service writes into the failed job's log (seen verbatim in users' pipeline logs, e.g.
    "No agent found in pool sonarqube which satisfies the specified demands: java, Agent.Version -gtVersion
    3.218.0"; newer service versions say "... the following demand: X. All demands: ...")."""
    wanted = ", ".join(d.strip() for d in demands if d.strip())
    return f"No agent found in pool {pool_name} which satisfies the specified demands: {wanted}".rstrip(": ")


class JobRequests:
    def __init__(
        self,
        lock: threading.RLock,
        clock: Clock,
        pools: PoolsAndAgents,
        projects: Projects,
        events: EventBus,
        *,
        org: str,
        host_id: str,
        auto_start: bool,
    ) -> None:
        self._lock = lock
        self._clock = clock
        self._pools = pools
        self._projects = projects
        self._events = events
        self._org = org
        self._host_id = host_id
        self.auto_start = auto_start
        self._jobs: dict[int, Job] = {}
        self._request_ids = itertools.count(1000)
        self._build_ids = itertools.count(5000)
        self._timed: set[int] = set()  # unfinished jobs with a duration: what `tick` has to look at
        self.parallel_limit: int | None = None

    def _emit(self, job: Job, transition: Transition) -> None:
        if not self._events.active:
            return
        # A copy: subscribers see the job as it was at this transition, even if they look later.
        snapshot = dataclasses.replace(job, demands=list(job.demands))
        event = JobEvent(str(uuid.uuid4()), transition, snapshot, self._clock(), self._org, self._host_id)
        self._events.publish(event)

    def queue_job(
        self,
        pool_id: int,
        demands: list[str] | None = None,
        *,
        duration_s: float | None = None,
        project: str | None = None,
    ) -> int:
        """Queue a job; with `duration_s`, it finishes that long after it starts (checked by `tick`)."""
        with self._lock:
            project_id = self._projects.project(project).id if project is not None else None
            pool = self._pools.pool(pool_id)
            request_id = next(self._request_ids)
            job = Job(
                request_id=request_id,
                pool_id=pool_id,
                demands=list(demands or []),
                queue_time=self._clock(),
                plan_id=str(uuid.uuid4()),
                job_id=str(uuid.uuid4()),
                definition_id=1 + request_id % 7,
                build_id=next(self._build_ids),
                duration_s=duration_s,
                project_id=project_id,
            )
            self._jobs[request_id] = job
            unmet = self._unmet(pool, job.demands)
            if unmet is not None:
                # The service's rule: no registered agent (online or offline, enabled or not) meets the demands,
                # so the job fails at once instead of waiting (docs/emulator.md, "zero-agent pools").
                job.failure = unmet
                job.finish_time = job.queue_time
                job.result = "failed"
                pool.finished.append(job)
                pool.finished_count += 1
                self._emit(job, "completed")
                return request_id
            pool.unfinished[request_id] = job
            if duration_s is not None:
                self._timed.add(request_id)
            self._emit(job, "queued")
            self.assign(pool)
            return request_id

    @staticmethod
    def _unmet(pool: Pool, demands: list[str]) -> str | None:
        """The service's message when no registered agent of `pool` meets `demands`; None when one does."""
        if any(ado_satisfies(matchable_capabilities(a), demands) for a in pool.agents.values()):
            return None
        return no_agent_message(pool.name, demands)

    def job(self, request_id: int) -> Job:
        with self._lock:
            try:
                return self._jobs[request_id]
            except KeyError:
                raise EmulatorError(
                    404,
                    "TaskAgentJobNotFoundException",
                    f"No job request found with identifier {request_id}.",
                ) from None

    def assigned_job(self, pool_id: int, agent_id: int) -> Job | None:
        with self._lock:
            agent = self._pools.pool(pool_id).agents.get(agent_id)
            if agent is None or agent.assigned_request is None:
                return None
            return self._jobs[agent.assigned_request]

    def unfinished_jobs(self, pool_id: int) -> list[Job]:
        with self._lock:
            return list(self._pools.pool(pool_id).unfinished.values())

    def recent_finished_jobs(self, pool_id: int) -> list[Job]:
        with self._lock:
            return list(self._pools.pool(pool_id).finished)

    def finished_count(self, pool_id: int) -> int:
        with self._lock:
            return self._pools.pool(pool_id).finished_count

    def start_job(self, request_id: int) -> None:
        """The assigned agent received its job: it is running now."""
        with self._lock:
            job = self.job(request_id)
            if job.reserved_agent is None or job.result is not None:
                raise EmulatorError(400, "TaskAgentJobStateException", f"Job {request_id} is not assigned.")
            now = self._clock()
            started = job.receive_time is None
            job.receive_time = job.receive_time or now
            job.locked_until = now + LOCK_DURATION
            if started:
                self._emit(job, "started")

    def finish_job(self, request_id: int, result: str = "succeeded") -> None:
        with self._lock:
            job = self.job(request_id)
            if job.result is not None:
                return
            pool = self._pools.pool(job.pool_id)
            now = self._clock()
            job.finish_time = now
            job.result = result
            job.locked_until = None
            if job.reserved_agent is not None:
                agent = pool.agents.get(job.reserved_agent)
                if agent is not None and agent.assigned_request == request_id:
                    agent.assigned_request = None
                    agent.last_completed_request = request_id
                    if agent.once:
                        agent.online = False
                        agent.status_changed_on = now
            pool.unfinished.pop(request_id, None)
            pool.finished.append(job)
            pool.finished_count += 1
            self._emit(job, "completed")
            self.assign(pool)

    def tick(self) -> list[int]:
        """Finish running jobs whose `duration_s` has elapsed by the model's clock; returns their ids."""
        with self._lock:
            now = self._clock()
            self._timed = {r for r in self._timed if self._jobs[r].result is None}
            due = sorted(
                job.request_id
                for job in (self._jobs[r] for r in self._timed)
                if job.duration_s is not None
                and job.receive_time is not None
                and (now - job.receive_time).total_seconds() >= job.duration_s
            )
            for request_id in due:
                self.finish_job(request_id)
            return due

    def add_finished_jobs(self, pool_id: int, count: int, result: str = "succeeded") -> None:
        """Bulk history for tests: `count` jobs that were queued, ran and finished (no agent needed)."""
        with self._lock:
            pool = self._pools.pool(pool_id)
            now = self._clock()
            for _ in range(count):
                request_id = next(self._request_ids)
                job = Job(
                    request_id=request_id,
                    pool_id=pool_id,
                    demands=[],
                    queue_time=now,
                    plan_id=str(uuid.uuid4()),
                    job_id=str(uuid.uuid4()),
                    definition_id=1,
                    build_id=next(self._build_ids),
                    assign_time=now,
                    receive_time=now,
                    finish_time=now,
                    result=result,
                )
                self._jobs[request_id] = job
                pool.finished.append(job)
                pool.finished_count += 1

    def assign(self, pool: Pool) -> None:
        """Give waiting jobs, oldest first, to idle agents that meet their demands (the caller holds the lock)."""
        idle = [a for a in pool.agents.values() if a.idle]
        if not idle:
            return
        now = self._clock()
        for job in pool.unfinished.values():
            if job.reserved_agent is not None:
                continue
            agent = next((a for a in idle if ado_satisfies(matchable_capabilities(a), job.demands)), None)
            if agent is None:
                continue
            idle.remove(agent)
            job.reserved_agent = agent.id
            job.assign_time = now
            agent.assigned_request = job.request_id
            self._emit(job, "assigned")
            if self.auto_start:
                job.receive_time = now
                job.locked_until = now + LOCK_DURATION
                self._emit(job, "started")
            if not idle:
                return

    def matched_agents(self, job: Job) -> list[Agent]:
        with self._lock:
            return [
                a
                for a in self._pools.pool(job.pool_id).agents.values()
                if ado_satisfies(matchable_capabilities(a), job.demands)
            ]

    def running_jobs(self) -> list[Job]:
        with self._lock:
            return [
                job
                for pool in self._pools.pools()
                for job in pool.unfinished.values()
                if job.reserved_agent is not None
            ]
