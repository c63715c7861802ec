"""The emulator's state and rules, in plain Python: no HTTP here.

`AdoModel` is a facade over one part per resource, each in its own module: pools and agents (`pools`),
projects (`projects`), job requests, assignment and the parallel limit (`jobs`), Environments and VM
resources (`environments`). The facade owns what they share (one lock, the clock, the event bus) and the
one rule that crosses parts: an agent that is added, comes online or is enabled may take a waiting job.

One lock guards the whole model, so the HTTP layer may serve requests from several threads while tests,
the demo and the simulator drive it through these methods.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from adoscale_lab.emulator.entities import Agent, Clock, Environment, Job, Pool, Project, Stats, VmResource, utcnow
from adoscale_lab.emulator.environments import Environments
from adoscale_lab.emulator.events import EventBus, JobEvent
from adoscale_lab.emulator.jobs import JobRequests
from adoscale_lab.emulator.notifications import job_state_changed
from adoscale_lab.emulator.pools import PoolsAndAgents
from adoscale_lab.emulator.projects import Projects

Subscriber = Callable[[dict[str, Any]], None]


class AdoModel:
    """Organizations' worth of pools, agents, job requests and Environments, for one organization."""

    def __init__(
        self,
        org: str = "acme",
        pat: str = "good-pat",
        *,
        clock: Clock = utcnow,
        auto_start: bool = True,
    ) -> None:
        self.org = org
        self.pat = pat
        # The PAT's scopes (`emulator.scopes`): None is "Full access"; a set is a custom-defined PAT, refused
        # with 401 TF400813 on a route whose scope it lacks.
        self.pat_scopes: frozenset[str] | None = None
        self.clock = clock  # replaceable (tests swap it): the parts read the time through `now`
        self.host_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"adoscale-emulator/{org}"))
        self.lock = threading.RLock()
        self.stats = Stats()
        self.events = EventBus(self.lock)
        self._pools = PoolsAndAgents(self.lock, self.now)
        self._projects = Projects(self.lock, org)
        # A listening agent receives its job within milliseconds of assignment, so by default assignment
        # goes straight to running; auto_start=False keeps the "assigned, not yet received" state visible.
        self._jobs = JobRequests(
            self.lock,
            self.now,
            self._pools,
            self._projects,
            self.events,
            org=org,
            host_id=self.host_id,
            auto_start=auto_start,
        )
        self._environments = Environments(
            self.lock,
            self.now,
            self._pools,
            self._projects,
            lambda pool_id, name, online: self.register_agent(pool_id, name, online=online),
        )

    def now(self) -> datetime:
        """The model's time, by whatever `clock` is now."""
        return self.clock()

    @property
    def auto_start(self) -> bool:
        return self._jobs.auto_start

    @auto_start.setter
    def auto_start(self, value: bool) -> None:
        self._jobs.auto_start = value

    # -- job events --------------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback` with an event dict when a job is queued, assigned, started or completed.

        The dict is the service-hook payload the HTTP layer delivers (`notifications.job_state_changed`);
        `events.subscribe` gives the `JobEvent`s themselves. The callback runs on the thread that changed the
        model, under its lock: it must be quick and must not block (queue work elsewhere). Returns a
        function that unsubscribes.
        """

        def deliver(event: JobEvent) -> None:
            callback(job_state_changed(event))

        return self.events.subscribe(deliver)

    # -- pools and agents --------------------------------------------------------------------------

    def create_pool(self, name: str, pool_type: str = "automation") -> int:
        return self._pools.create_pool(name, pool_type)

    def pool(self, pool_id: int) -> Pool:
        return self._pools.pool(pool_id)

    def pool_by_name(self, name: str) -> Pool:
        return self._pools.pool_by_name(name)

    def pools(self, name: str | None = None, pool_type: str | None = None) -> list[Pool]:
        return self._pools.pools(name, pool_type)

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
        system: dict[str, str] | None = None,
        version: str | None = None,
        os_description: str | None = None,
    ) -> int:
        """What `config.sh` does: add an agent (or replace one of the same name with `replace`).

        Without `system`, the agent reports a real Linux X64 agent's system capabilities plus `capabilities`.
        """
        with self.lock:
            agent_id = self._pools.register_agent(
                pool_id,
                name,
                capabilities,
                online=online,
                enabled=enabled,
                user_capabilities=user_capabilities,
                replace=replace,
                once=once,
                system=system,
                version=version,
                os_description=os_description,
            )
            self._jobs.assign(self._pools.pool(pool_id))
            return agent_id

    def agent(self, pool_id: int, agent_id: int) -> Agent:
        return self._pools.agent(pool_id, agent_id)

    def agents(self, pool_id: int) -> list[Agent]:
        return self._pools.agents(pool_id)

    def set_agent_online(self, pool_id: int, agent_id: int, online: bool) -> None:
        with self.lock:
            self._pools.set_agent_online(pool_id, agent_id, online)
            self._jobs.assign(self._pools.pool(pool_id))

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> Agent:
        with self.lock:
            agent = self._pools.set_agent_enabled(pool_id, agent_id, enabled)
            self._jobs.assign(self._pools.pool(pool_id))
            return agent

    def remove_agent(self, pool_id: int, agent_id: int) -> None:
        """Delete an agent. A busy agent cannot be deleted (not verified: status and type key are inferred)."""
        self._pools.remove_agent(pool_id, agent_id)

    def assigned_job(self, pool_id: int, agent_id: int) -> Job | None:
        return self._jobs.assigned_job(pool_id, agent_id)

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
        return self._jobs.queue_job(pool_id, demands, duration_s=duration_s, project=project)

    def job(self, request_id: int) -> Job:
        return self._jobs.job(request_id)

    def unfinished_jobs(self, pool_id: int) -> list[Job]:
        return self._jobs.unfinished_jobs(pool_id)

    def recent_finished_jobs(self, pool_id: int) -> list[Job]:
        return self._jobs.recent_finished_jobs(pool_id)

    def finished_count(self, pool_id: int) -> int:
        return self._jobs.finished_count(pool_id)

    def start_job(self, request_id: int) -> None:
        """The assigned agent received its job: it is running now."""
        self._jobs.start_job(request_id)

    def finish_job(self, request_id: int, result: str = "succeeded") -> None:
        self._jobs.finish_job(request_id, result)

    def tick(self) -> list[int]:
        """Finish running jobs whose `duration_s` has elapsed by the model's clock; returns their ids."""
        return self._jobs.tick()

    def add_finished_jobs(self, pool_id: int, count: int, result: str = "succeeded") -> None:
        """Bulk history for tests: `count` jobs that were queued, ran and finished (no agent needed)."""
        self._jobs.add_finished_jobs(pool_id, count, result)

    def matched_agents(self, job: Job) -> list[Agent]:
        return self._jobs.matched_agents(job)

    # -- parallel jobs -----------------------------------------------------------------------------

    def set_parallel_limit(self, total: int | None) -> None:
        """The org's self-hosted parallel-job count; None makes the resourceusage route fail (404)."""
        with self.lock:
            self._jobs.parallel_limit = total

    @property
    def parallel_limit(self) -> int | None:
        return self._jobs.parallel_limit

    def running_jobs(self) -> list[Job]:
        return self._jobs.running_jobs()

    # -- projects and environments -----------------------------------------------------------------

    def create_project(self, name: str) -> str:
        return self._projects.create_project(name)

    def project(self, name_or_id: str) -> Project:
        return self._projects.project(name_or_id)

    def projects(self) -> list[Project]:
        return self._projects.projects()

    def create_environment(self, project: str, name: str, *, description: str = "") -> int:
        return self._environments.create_environment(project, name, description=description)

    def delete_environment(self, project: str, env_id: int) -> None:
        self._environments.delete_environment(project, env_id)

    def vm_resource(self, env_id: int, resource_id: int) -> VmResource:
        return self._environments.vm_resource(env_id, resource_id)

    def environment(self, project: str, env_id: int) -> Environment:
        return self._environments.environment(project, env_id)

    def environments(self, project: str, name: str | None = None) -> list[Environment]:
        return self._environments.environments(project, name)

    def register_vm(
        self, env_id: int, name: str, tags: list[str] | None = None, *, online: bool = True
    ) -> tuple[int, int]:
        """What `config.sh --environment` does: an agent in the deployment pool plus a VM resource; by default
        its agent is online at once (the shorthand for a VM that registered and started its service)."""
        return self._environments.register_vm(env_id, name, tags, online=online)

    def vm_resources(self, env_id: int) -> list[VmResource]:
        return self._environments.vm_resources(env_id)

    def delete_vm_resource(self, env_id: int, resource_id: int) -> None:
        """Removes the resource only: its agent stays in the deployment pool, as the real service does."""
        self._environments.delete_vm_resource(env_id, resource_id)
