"""Pure counts over a pool's job requests, after demand matching."""

from __future__ import annotations

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
