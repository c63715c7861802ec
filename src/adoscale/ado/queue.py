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
