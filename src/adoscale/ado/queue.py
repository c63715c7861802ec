"""Pure counts over a pool's job requests, after demand matching."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from adoscale.ado.demands import satisfies
from adoscale.ado.models import JobRequest, JobState


def count_queued_for(jobs: Iterable[JobRequest], capabilities: Mapping[str, str] | None) -> int:
    """Queued (unassigned) jobs that agents with `capabilities` could run; None: every queued job."""
    return sum(
        1
        for job in jobs
        if job.state is JobState.QUEUED and (capabilities is None or satisfies(capabilities, job.demands))
    )


def count_running(jobs: Iterable[JobRequest]) -> int:
    """Jobs an agent holds: assigned (not yet received) or running."""
    return sum(1 for job in jobs if job.state in (JobState.ASSIGNED, JobState.RUNNING))


def unmet_demand(capabilities: Mapping[str, str], demands: Iterable[str]) -> str | None:
    """The first demand `capabilities` do not meet (as the job wrote it), or None when all are met."""
    return next((d for d in demands if d.strip() and not satisfies(capabilities, [d])), None)


def unservable(jobs: Iterable[JobRequest], capabilities: Mapping[str, str] | None) -> list[tuple[JobRequest, str]]:
    """Queued jobs that no agent adoscale launches for the pool can run, each with the demand that fails.

    `capabilities` are the pool's agents' (system and configured: `placeholder.pool_agent_capabilities`);
    None: the pool configures none, so every job is taken to be the pool's.
    """
    if capabilities is None:
        return []
    found: list[tuple[JobRequest, str]] = []
    for job in jobs:
        if job.state is JobState.QUEUED:
            demand = unmet_demand(capabilities, job.demands)
            if demand is not None:
                found.append((job, demand))
    return found


def unmet_by_agents(
    jobs: Iterable[JobRequest], agent_capabilities: Iterable[Mapping[str, str]]
) -> list[tuple[JobRequest, str]]:
    """Queued jobs whose demands none of the given agents meets, each with the demand the first agent fails.

    `agent_capabilities`: what the pool's own online agents (launched by adoscale) report, system and user
    capabilities together: the ground truth of what any agent launched for the pool can take, whatever the
    configuration says. No agents: nothing is known, nothing is returned."""
    reported = list(agent_capabilities)
    if not reported:
        return []
    found: list[tuple[JobRequest, str]] = []
    for job in jobs:
        if job.state is not JobState.QUEUED:
            continue
        unmet = [unmet_demand(capabilities, job.demands) for capabilities in reported]
        if all(demand is not None for demand in unmet):
            found.append((job, str(unmet[0])))
    return found


class KnownUnservable:
    """Queued jobs found unservable by a pool's own agents (`unmet_by_agents`), by organization and pool, with
    the demand that fails: remembered so that once those agents are drained, the job is not taken for demand
    again (which would launch agents that idle, be drained, and so on for ever). Bounded, oldest first."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._known: OrderedDict[tuple[str, str, int], str] = OrderedDict()

    def remember(self, scope: tuple[str, str], request_id: int, demand: str) -> None:
        self._known[(*scope, request_id)] = demand
        while len(self._known) > self._limit:
            self._known.popitem(last=False)

    def demand(self, scope: tuple[str, str], request_id: int) -> str | None:
        return self._known.get((*scope, request_id))


class SeenJobs:
    """Request ids already reported, so that a job is logged once however many passes see it; bounded (the
    oldest are forgotten first), since a warm Lambda or `serve` keeps it for days."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()

    def first_time(self, pool: str, request_id: int) -> bool:
        key = (pool, request_id)
        if key in self._seen:
            return False
        self._seen[key] = None
        while len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        return True
