"""The emulator's state and rules, in plain Python: no HTTP here.

One lock guards the whole model, so the HTTP layer may serve requests from several threads while tests,
the demo and the simulator drive it through the control surface. Assignment follows ADO's rule as far as
the public material shows it: queued jobs, oldest first, go to an idle, enabled, online agent whose
capabilities satisfy the job's demands.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adoscale.emulator.demands import ado_satisfies

Clock = Callable[[], datetime]
Event = dict[str, Any]
Subscriber = Callable[[Event], None]

FINISHED_KEPT = 50  # finished requests a plain jobrequests GET still returns, as the service does
LOCK_DURATION = timedelta(minutes=10)


class EmulatorError(Exception):
    """A rule of the service was broken; the HTTP layer turns it into ADO's error envelope."""

    def __init__(self, status: int, type_key: str, message: str, type_name: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.type_key = type_key
        self.message = message
        self.type_name = type_name or f"Microsoft.TeamFoundation.DistributedTask.WebApi.{type_key}"


@dataclass(slots=True)
class Pool:
    id: int
    name: str
    pool_type: str
    scope: str
    created_on: datetime
    agents: dict[int, Agent] = field(default_factory=dict)
    unfinished: OrderedDict[int, Job] = field(default_factory=OrderedDict)
    finished: deque[Job] = field(default_factory=lambda: deque(maxlen=FINISHED_KEPT))
    finished_count: int = 0


@dataclass(slots=True)
class Agent:
    id: int
    name: str
    pool_id: int
    system_capabilities: dict[str, str]
    user_capabilities: dict[str, str]
    enabled: bool
    online: bool
    created_on: datetime
    status_changed_on: datetime
    version: str = "4.255.0"
    os_description: str = "Linux 6.1.0-1017-aws #17-Ubuntu SMP x86_64"
    assigned_request: int | None = None
    last_completed_request: int | None = None
    once: bool = False  # `run.sh --once`: after its one job the agent disconnects

    @property
    def capabilities(self) -> dict[str, str]:
        return {**self.system_capabilities, **self.user_capabilities}

    @property
    def idle(self) -> bool:
        return self.online and self.enabled and self.assigned_request is None


@dataclass(slots=True)
class Job:
    request_id: int
    pool_id: int
    demands: list[str]
    queue_time: datetime
    plan_id: str
    job_id: str
    definition_id: int
    build_id: int
    assign_time: datetime | None = None
    receive_time: datetime | None = None
    finish_time: datetime | None = None
    result: str | None = None
    reserved_agent: int | None = None
    locked_until: datetime | None = None
    duration_s: float | None = None  # set: the job finishes this long after it starts (see `tick`)
    project_id: str | None = None


@dataclass(slots=True)
class Project:
    id: str
    name: str


@dataclass(slots=True)
class Environment:
    id: int
    name: str
    project_id: str
    pool_id: int
    created_on: datetime
    resources: dict[int, VmResource] = field(default_factory=dict)
    description: str = ""


@dataclass(slots=True)
class VmResource:
    id: int
    name: str
    environment_id: int
    agent_id: int
    tags: list[str]
    created_on: datetime


@dataclass
class Stats:
    """Requests served, by (method, route template), and faults injected; for tests and benchmarks."""

    total: int = 0
    by_route: Counter[tuple[str, str]] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        self.total = 0
        self.by_route.clear()
        self.faults.clear()


def matchable_capabilities(agent: Agent) -> dict[str, str]:
    """The capabilities the service matches: a real agent always reports its version as `Agent.Version`."""
    return {"Agent.Version": agent.version, **agent.capabilities}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AdoModel:
    """Organizations' worth of pools, agents, job requests and Environments, for one organization."""

    def __init__(
        self,
        org: str = "acme",
        pat: str = "good-pat",
        *,
        clock: Clock = _utcnow,
        auto_start: bool = True,
    ) -> None:
        self.org = org
        self.pat = pat
        self.clock = clock
        # A listening agent receives its job within milliseconds of assignment, so by default assignment
        # goes straight to running; auto_start=False keeps the "assigned, not yet received" state visible.
        self.auto_start = auto_start
        self.host_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"adoscale-emulator/{org}"))
        self.lock = threading.RLock()
        self.stats = Stats()
        self._pools: dict[int, Pool] = {}
        self._pools_by_name: dict[str, int] = {}
        self._jobs: dict[int, Job] = {}
        self._projects: dict[str, Project] = {}
        self._environments: dict[int, Environment] = {}
        self._pool_ids = itertools.count(1)
        self._agent_ids = itertools.count(1)
        self._request_ids = itertools.count(1000)
        self._environment_ids = itertools.count(1)
        self._resource_ids = itertools.count(100)  # VM resource ids are their own sequence
        self._build_ids = itertools.count(5000)
        self._parallel_limit: int | None = None
        self._subscribers: list[Subscriber] = []
        self._timed: set[int] = set()  # unfinished jobs with a duration: what `tick` has to look at

    # -- job events --------------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback` with an event dict when a job is queued, assigned, started or completed.

        The dict is the service-hook payload the HTTP layer delivers (see `adoscale.emulator.hooks`). The
        callback runs on the thread that changed the model, under its lock: it must be quick and must not
        block (queue work elsewhere). Returns a function that unsubscribes.
        """
        with self.lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self.lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, job: Job, transition: str) -> None:
        if not self._subscribers:
            return
        from adoscale.emulator.hooks import job_event  # the payload builder depends on the model

        event = job_event(self, job, transition)
        for callback in list(self._subscribers):
            callback(event)

    # -- pools -----------------------------------------------------------------------------------

    def create_pool(self, name: str, pool_type: str = "automation") -> int:
        with self.lock:
            if name.lower() in self._pools_by_name:
                raise EmulatorError(409, "TaskAgentPoolExistsException", f"Agent pool {name} already exists.")
            pool_id = next(self._pool_ids)
            self._pools[pool_id] = Pool(pool_id, name, pool_type, str(uuid.uuid4()), self.clock())
            self._pools_by_name[name.lower()] = pool_id
            return pool_id

    def pool(self, pool_id: int) -> Pool:
        with self.lock:
            try:
                return self._pools[pool_id]
            except KeyError:
                raise EmulatorError(
                    404, "TaskAgentPoolNotFoundException", f"No agent pool found with identifier {pool_id}."
                ) from None

    def pool_by_name(self, name: str) -> Pool:
        with self.lock:
            pool_id = self._pools_by_name.get(name.lower())
            if pool_id is None:
                raise EmulatorError(404, "TaskAgentPoolNotFoundException", f"No agent pool found with name {name}.")
            return self._pools[pool_id]

    def pools(self, name: str | None = None, pool_type: str | None = None) -> list[Pool]:
        with self.lock:
            found = list(self._pools.values())
        if name is not None:
            found = [p for p in found if p.name.lower() == name.lower()]
        if pool_type is not None:
            found = [p for p in found if p.pool_type == pool_type]
        return found

    # -- agents ----------------------------------------------------------------------------------

    def register_agent(
        self,
        pool_id: int,
        name: str,
        capabilities: dict[str, str] | None = None,
        *,
        online: bool = True,
        enabled: bool = True,
        user_capabilities: dict[str, str] | None = None,
        replace: bool = False,
        once: bool = False,
    ) -> int:
        """What `config.sh` does: add an agent (or replace one of the same name with `replace`)."""
        with self.lock:
            pool = self.pool(pool_id)
            existing = next((a for a in pool.agents.values() if a.name.lower() == name.lower()), None)
            if existing is not None and not replace:
                raise EmulatorError(
                    409,
                    "TaskAgentExistsException",
                    f"Pool {pool_id} already contains an agent with name {name}.",
                )
            now = self.clock()
            system = {"Agent.Name": name, "Agent.OS": "Linux", **(capabilities or {})}
            agent_id = existing.id if existing else next(self._agent_ids)
            pool.agents[agent_id] = Agent(
                id=agent_id,
                name=name,
                pool_id=pool_id,
                system_capabilities=system,
                user_capabilities=dict(user_capabilities or {}),
                enabled=enabled,
                online=online,
                created_on=now,
                status_changed_on=now,
                once=once,
            )
            self._assign(pool)
            return agent_id

    def agent(self, pool_id: int, agent_id: int) -> Agent:
        with self.lock:
            agent = self.pool(pool_id).agents.get(agent_id)
            if agent is None:
                raise EmulatorError(
                    404,
                    "TaskAgentNotFoundException",
                    f"No agent found in pool {pool_id} with identifier {agent_id}.",
                )
            return agent

    def agents(self, pool_id: int) -> list[Agent]:
        with self.lock:
            return list(self.pool(pool_id).agents.values())

    def set_agent_online(self, pool_id: int, agent_id: int, online: bool) -> None:
        with self.lock:
            agent = self.agent(pool_id, agent_id)
            if agent.online != online:
                agent.online = online
                agent.status_changed_on = self.clock()
            self._assign(self.pool(pool_id))

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> Agent:
        with self.lock:
            agent = self.agent(pool_id, agent_id)
            agent.enabled = enabled
            self._assign(self.pool(pool_id))
            return agent

    def remove_agent(self, pool_id: int, agent_id: int) -> None:
        """Delete an agent. A busy agent cannot be deleted (not verified: status and type key are inferred)."""
        with self.lock:
            pool = self.pool(pool_id)
            agent = self.agent(pool_id, agent_id)
            if agent.assigned_request is not None:
                raise EmulatorError(
                    400,
                    "TaskAgentBusyException",
                    f'Agent "{agent.name}" is running a job for pool "{pool.name}"',
                )
            del pool.agents[agent_id]

    def assigned_job(self, pool_id: int, agent_id: int) -> Job | None:
        with self.lock:
            agent = self.pool(pool_id).agents.get(agent_id)
            if agent is None or agent.assigned_request is None:
                return None
            return self._jobs[agent.assigned_request]

    # -- jobs ------------------------------------------------------------------------------------

    def queue_job(
        self,
        pool_id: int,
        demands: list[str] | None = None,
        *,
        duration_s: float | None = None,
        project: str | None = None,
    ) -> int:
        """Queue a job; with `duration_s`, it finishes that long after it starts (checked by `tick`)."""
        with self.lock:
            project_id = self.project(project).id if project is not None else None
            pool = self.pool(pool_id)
            request_id = next(self._request_ids)
            job = Job(
                request_id=request_id,
                pool_id=pool_id,
                demands=list(demands or []),
                queue_time=self.clock(),
                plan_id=str(uuid.uuid4()),
                job_id=str(uuid.uuid4()),
                definition_id=1 + request_id % 7,
                build_id=next(self._build_ids),
                duration_s=duration_s,
                project_id=project_id,
            )
            self._jobs[request_id] = job
            pool.unfinished[request_id] = job
            if duration_s is not None:
                self._timed.add(request_id)
            self._emit(job, "queued")
            self._assign(pool)
            return request_id

    def job(self, request_id: int) -> Job:
        with self.lock:
            try:
                return self._jobs[request_id]
            except KeyError:
                raise EmulatorError(
                    404,
                    "TaskAgentJobNotFoundException",
                    f"No job request found with identifier {request_id}.",
                ) from None

    def unfinished_jobs(self, pool_id: int) -> list[Job]:
        with self.lock:
            return list(self.pool(pool_id).unfinished.values())

    def recent_finished_jobs(self, pool_id: int) -> list[Job]:
        with self.lock:
            return list(self.pool(pool_id).finished)

    def finished_count(self, pool_id: int) -> int:
        with self.lock:
            return self.pool(pool_id).finished_count

    def start_job(self, request_id: int) -> None:
        """The assigned agent received its job: it is running now."""
        with self.lock:
            job = self.job(request_id)
            if job.reserved_agent is None or job.result is not None:
                raise EmulatorError(400, "TaskAgentJobStateException", f"Job {request_id} is not assigned.")
            now = self.clock()
            started = job.receive_time is None
            job.receive_time = job.receive_time or now
            job.locked_until = now + LOCK_DURATION
            if started:
                self._emit(job, "started")

    def finish_job(self, request_id: int, result: str = "succeeded") -> None:
        with self.lock:
            job = self.job(request_id)
            if job.result is not None:
                return
            pool = self.pool(job.pool_id)
            now = self.clock()
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
            self._assign(pool)

    def tick(self) -> list[int]:
        """Finish running jobs whose `duration_s` has elapsed by the model's clock; returns their ids."""
        with self.lock:
            now = self.clock()
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
        with self.lock:
            pool = self.pool(pool_id)
            now = self.clock()
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

    def _assign(self, pool: Pool) -> None:
        idle = [a for a in pool.agents.values() if a.idle]
        if not idle:
            return
        now = self.clock()
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
        with self.lock:
            return [
                a
                for a in self.pool(job.pool_id).agents.values()
                if ado_satisfies(matchable_capabilities(a), job.demands)
            ]

    # -- parallel jobs -----------------------------------------------------------------------------

    def set_parallel_limit(self, total: int | None) -> None:
        """The org's self-hosted parallel-job count; None makes the resourceusage route fail (404)."""
        with self.lock:
            self._parallel_limit = total

    @property
    def parallel_limit(self) -> int | None:
        return self._parallel_limit

    def running_jobs(self) -> list[Job]:
        with self.lock:
            return [
                job
                for pool in self._pools.values()
                for job in pool.unfinished.values()
                if job.reserved_agent is not None
            ]

    # -- projects and environments -----------------------------------------------------------------

    def create_project(self, name: str) -> str:
        with self.lock:
            project_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"adoscale-emulator/{self.org}/{name}"))
            self._projects[project_id] = Project(project_id, name)
            return project_id

    def project(self, name_or_id: str) -> Project:
        with self.lock:
            if name_or_id in self._projects:
                return self._projects[name_or_id]
            for project in self._projects.values():
                if project.name.lower() == name_or_id.lower():
                    return project
        raise EmulatorError(
            404,
            "ProjectDoesNotExistWithNameException",
            f"TF200016: The following project does not exist: {name_or_id}. Verify that the name of the "
            "project is correct and that the project exists on the specified Azure DevOps Server.",
            "Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistWithNameException",
        )

    def create_environment(self, project: str, name: str, *, description: str = "") -> int:
        with self.lock:
            proj = self.project(project)
            if any(e.name.lower() == name.lower() for e in self._environments.values() if e.project_id == proj.id):
                raise EmulatorError(
                    409,
                    "EnvironmentExistsException",
                    f"Environment '{name}' already exists in the current project.",
                    "Microsoft.Azure.Pipelines.Environments.WebApi.EnvironmentExistsException",
                )
            env_id = next(self._environment_ids)
            pool_id = self.create_pool(f"environment-{env_id}-{uuid.uuid4()}", pool_type="deployment")
            self._environments[env_id] = Environment(
                env_id, name, proj.id, pool_id, self.clock(), description=description
            )
            return env_id

    def delete_environment(self, project: str, env_id: int) -> None:
        with self.lock:
            env = self.environment(project, env_id)
            del self._environments[env.id]

    def vm_resource(self, env_id: int, resource_id: int) -> VmResource:
        with self.lock:
            resource = self._environments[env_id].resources.get(resource_id)
            if resource is None:
                raise EmulatorError(
                    404,
                    "EnvironmentResourceNotFoundException",
                    f"Resource with id '{resource_id}' not found in environment '{env_id}'.",
                    "Microsoft.Azure.Pipelines.Environments.WebApi.EnvironmentResourceNotFoundException",
                )
            return resource

    def environment(self, project: str, env_id: int) -> Environment:
        with self.lock:
            proj = self.project(project)
            env = self._environments.get(env_id)
            if env is None or env.project_id != proj.id:
                raise EmulatorError(
                    404,
                    "EnvironmentNotFoundException",
                    f"Environment with id '{env_id}' not found.",
                    "Microsoft.Azure.Pipelines.Environments.WebApi.EnvironmentNotFoundException",
                )
            return env

    def environments(self, project: str, name: str | None = None) -> list[Environment]:
        with self.lock:
            proj = self.project(project)
            found = [e for e in self._environments.values() if e.project_id == proj.id]
        if name is not None:
            found = [e for e in found if e.name.lower() == name.lower()]
        return found

    def register_vm(self, env_id: int, name: str, tags: list[str] | None = None) -> tuple[int, int]:
        """What `config.sh --environment` does: an agent in the deployment pool plus a VM resource."""
        with self.lock:
            env = self._environments[env_id]
            if any(r.name.lower() == name.lower() for r in env.resources.values()):
                raise EmulatorError(
                    409,
                    "EnvironmentResourceExistsException",
                    f"Environment with id '{env_id}' already contains a virtual machine resource with name '{name}'.",
                )
            agent_id = self.register_agent(env.pool_id, name, online=True)
            resource_id = next(self._resource_ids)
            env.resources[resource_id] = VmResource(resource_id, name, env_id, agent_id, list(tags or []), self.clock())
            return resource_id, agent_id

    def vm_resources(self, env_id: int) -> list[VmResource]:
        with self.lock:
            return list(self._environments[env_id].resources.values())

    def delete_vm_resource(self, env_id: int, resource_id: int) -> None:
        """Removes the resource only: its agent stays in the deployment pool, as the real service does."""
        with self.lock:
            env = self._environments[env_id]
            if resource_id not in env.resources:
                raise EmulatorError(
                    404,
                    "EnvironmentResourceNotFoundException",
                    f"Resource with id '{resource_id}' not found in environment '{env_id}'.",
                    "Microsoft.Azure.Pipelines.Environments.WebApi.EnvironmentResourceNotFoundException",
                )
            del env.resources[resource_id]
