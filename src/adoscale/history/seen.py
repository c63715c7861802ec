"""What a pass sees for the first time, for the per-event metrics (`adoscale.metrics`): each job first seen
assigned, with its wait, counted against the pool's mark (`Watermark`), and each agent first seen online, with
its start-up time, counted by its id (`HistoryRecord.started_agents`), both kept in the pool's history record.
Pure: the pass's own reads in, the figures and what is counted out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from adoscale.history.base import STARTED_KEPT, Watermark

if TYPE_CHECKING:
    from adoscale.ado.models import Agent, JobRequest
    from adoscale.compute.base import TaskInfo


class JobWait(TypedDict):
    request_id: int
    wait_s: float


class AgentStartup(TypedDict):
    agent: str
    startup_s: float


@dataclass(frozen=True, slots=True)
class FirstSeen:
    """What one pass counts for the first time, and the pool's marks and counted agents once it has (to be saved
    with the pool's history before the figures are published)."""

    job_waits: tuple[JobWait, ...] = ()
    agent_startups: tuple[AgentStartup, ...] = ()
    jobs: Watermark = field(default_factory=Watermark)
    agents: Watermark = field(default_factory=Watermark)
    started_agents: frozenset[int] = frozenset()


def assigned_jobs(jobs: Iterable[JobRequest], agents: Iterable[Agent]) -> tuple[tuple[int, datetime, datetime], ...]:
    """(request id, queue time, assign time) of every job the pass's reads show assigned: the pool's unfinished
    requests and its agents' assigned and last completed ones (a job that ran and finished between two passes
    is only there), each once."""
    found: dict[int, tuple[int, datetime, datetime]] = {}
    for request in _shown(jobs, agents):
        if request.queue_time is not None and request.assign_time is not None:
            found.setdefault(request.request_id, (request.request_id, request.queue_time, request.assign_time))
    return tuple(sorted(found.values()))


def finished_jobs(jobs: Iterable[JobRequest], agents: Iterable[Agent]) -> tuple[tuple[int, datetime], ...]:
    """(request id, finish time) of every job the pass's reads show finished: the agents' last completed
    requests (the job requests read holds the unfinished ones only), each once. For the durations the warm
    pool's history keeps (`adoscale.history.base.finish_jobs`), beside `assigned_jobs`."""
    found: dict[int, datetime] = {}
    for request in _shown(jobs, agents):
        if request.finish_time is not None:
            found.setdefault(request.request_id, request.finish_time)
    return tuple(sorted(found.items()))


def _shown(jobs: Iterable[JobRequest], agents: Iterable[Agent]) -> list[JobRequest]:
    """Every request the pass's reads show: the pool's unfinished ones, then its agents' assigned and last
    completed ones (the same request may be among them more than once)."""
    requests = list(jobs)
    for agent in agents:
        requests += [r for r in (agent.assigned_request, agent.last_completed_request) if r is not None]
    return requests


def first_seen(
    assigned: Iterable[tuple[int, datetime, datetime]],
    agents: Iterable[Agent],
    tasks: Iterable[TaskInfo],
    *,
    agent_name_prefix: str,
    jobs: Watermark,
    started: Watermark,
    started_agents: frozenset[int] | None,
) -> FirstSeen:
    """The jobs and agents not counted before, with their figures: a job by the pool's mark `jobs`, an agent by
    its id (`started_agents`, the agents counted that were still registered; None for a record saved before
    they were kept, when the mark `started` decides as it did then).

    A job's wait is its `assignTime` - `queueTime` (both the service's). An agent counts once it is online and
    paired with one of the pool's tasks (named `agent_name_prefix` + the task id): its start-up is its
    `statusChangedOn` (when it connected) - the task's launch as the compute read gave it (ECS `createdAt`,
    shifted onto the controller's clock when the two are more than 5 s apart; the EC2 `LaunchTime`).
    An agent without a task (the placeholder, one registered by hand) has no launch to measure from.

    An agent is counted by its id, not by a mark on `statusChangedOn`: ADO stamps that anew on every
    connectivity change, so an agent that loses its connection and gets it back would pass the mark and be
    counted again, from its task's launch hours before (issue 25). Its id is its own for as long as it is
    registered, and it can come online again only while registered, so the ids kept are pruned to the agents
    the pass read (the pool's whole list: bounded by the pool's size). The mark is still moved past every agent
    counted: an earlier version reading the record counts on from there."""
    listed = list(agents)
    waits = [(rid, assign, max(0.0, (assign - queued).total_seconds())) for rid, queued, assign in assigned]
    new_jobs = [(rid, at, wait) for rid, at, wait in waits if jobs.new(rid, at)]
    launched = {agent_name_prefix + task.task_id: task.created_at for task in tasks}
    online = [
        (agent.id, agent.name, agent.status_changed_on, launched[agent.name])
        for agent in listed
        if agent.online and agent.status_changed_on is not None and agent.name in launched
    ]
    if started_agents is None:
        # A record from before the ids were kept: the mark decides, and every agent online and paired now is
        # counted from here on (the earlier version counted it, or, behind its mark, never would have).
        new_agents = [(aid, name, at, launch) for aid, name, at, launch in online if started.new(aid, at)]
        counted = {aid for aid, _, _, _ in online}
    else:
        new_agents = [(aid, name, at, launch) for aid, name, at, launch in online if aid not in started_agents]
        registered = {agent.id for agent in listed}
        counted = {aid for aid in started_agents if aid in registered} | {aid for aid, _, _, _ in new_agents}
    if len(counted) > STARTED_KEPT:
        counted = set(sorted(counted)[-STARTED_KEPT:])
    return FirstSeen(
        job_waits=tuple(JobWait(request_id=rid, wait_s=round(wait, 3)) for rid, _, wait in new_jobs),
        agent_startups=tuple(
            AgentStartup(agent=name, startup_s=round(max(0.0, (at - launch).total_seconds()), 3))
            for _, name, at, launch in sorted(new_agents, key=lambda a: (a[2], a[0]))
        ),
        jobs=jobs.after((rid, at) for rid, at, _ in new_jobs),
        agents=started.after((aid, at) for aid, _, at, _ in new_agents),
        started_agents=frozenset(counted),
    )
