"""The per-job wait and per-agent start-up figures (issue 24 item 1), exactly: what a pass counts for the
first time against the pool's marks (`adoscale.history.seen`, `adoscale.history.base.Watermark`), and what
the next pass, given the marks the first one kept, counts again (nothing it has counted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from adoscale.ado.models import Agent, JobRequest
from adoscale.compute.base import TaskInfo
from adoscale.control import PoolReport
from adoscale.history import HistoryRecord, Watermark
from adoscale.history.seen import FirstSeen, assigned_jobs, first_seen
from adoscale.metrics import METRICS, NAMES, pool_metrics

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PREFIX = "ado-"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def job(rid: int, queued: float, assigned: float | None = None, **extra: Any) -> JobRequest:
    return JobRequest(
        request_id=rid, queue_time=at(queued), assign_time=at(assigned) if assigned is not None else None, **extra
    )


def agent(aid: int, name: str, *, online: bool = True, changed: float = 0.0, **extra: Any) -> Agent:
    return Agent(id=aid, name=name, status="online" if online else "offline", status_changed_on=at(changed), **extra)


def task(task_id: str, created: float) -> TaskInfo:
    return TaskInfo(
        task_arn=f"arn:aws:ecs:us-east-1:1:task/c/{task_id}",
        task_id=task_id,
        last_status="RUNNING",
        desired_status="RUNNING",
        created_at=at(created),
        started_by="adoscale",
        pool="linux",
    )


def count(
    jobs: list[JobRequest], agents: list[Agent], tasks: list[TaskInfo], record: HistoryRecord
) -> tuple[FirstSeen, HistoryRecord]:
    """One pass's count, and the record it keeps (as `control.pass_` does)."""
    seen = first_seen(
        assigned_jobs(jobs, agents),
        agents,
        tasks,
        agent_name_prefix=PREFIX,
        jobs=record.jobs_counted,
        started=record.agents_counted,
    )
    return seen, HistoryRecord(jobs_counted=seen.jobs, agents_counted=seen.agents)


def test_each_job_is_counted_once_with_its_wait() -> None:
    jobs = [job(1, 0, 40), job(2, 5, 12.5), job(3, 10)]  # 3 is still queued
    first, record = count(jobs, [], [], HistoryRecord())
    assert list(first.job_waits) == [{"request_id": 1, "wait_s": 40.0}, {"request_id": 2, "wait_s": 7.5}]
    again, record = count(jobs, [], [], record)
    assert again.job_waits == ()
    # Job 3 assigned later: counted alone, the others not again.
    third, _ = count([job(1, 0, 40), job(2, 5, 12.5), job(3, 10, 70)], [], [], record)
    assert list(third.job_waits) == [{"request_id": 3, "wait_s": 60.0}]


def test_a_job_assigned_in_the_same_instant_but_seen_a_pass_later_is_counted() -> None:
    first, record = count([job(1, 0, 30)], [], [], HistoryRecord())
    assert list(first.job_waits) == [{"request_id": 1, "wait_s": 30.0}]
    assert record.jobs_counted == Watermark(at(30), (1,))
    second, record = count([job(1, 0, 30), job(2, 10, 30)], [], [], record)
    assert list(second.job_waits) == [{"request_id": 2, "wait_s": 20.0}]
    assert record.jobs_counted == Watermark(at(30), (1, 2))
    third, _ = count([job(1, 0, 30), job(2, 10, 30)], [], [], record)
    assert third.job_waits == ()


def test_a_job_finished_between_two_passes_is_counted_from_its_agents_last_request() -> None:
    """The pass reads unfinished requests only; a job that ran and finished between two passes is still on its
    agent (`lastCompletedRequest`), and a running one on `assignedRequest`: each counted once."""
    done = job(7, 0, 20, finish_time=at(50), result="succeeded")
    running = job(8, 10, 30, receive_time=at(31))
    agents = [
        agent(1, "ado-a", online=False, changed=51, last_completed_request=done),
        agent(2, "ado-b", assigned_request=running),
    ]
    first, _ = count([running], agents, [], HistoryRecord())
    assert list(first.job_waits) == [{"request_id": 7, "wait_s": 20.0}, {"request_id": 8, "wait_s": 20.0}]


def test_each_agent_is_counted_once_from_its_tasks_launch() -> None:
    tasks = [task("t1", 0), task("t2", 5), task("t3", 8)]
    agents = [
        agent(11, "ado-t1", changed=42),
        agent(12, "ado-t2", changed=40.5),
        agent(13, "ado-t3", online=False, changed=9),  # registered, not connected yet
        agent(14, "ado-adoscale-placeholder", online=False),
        agent(15, "someone-elses", changed=3),  # no task of this pool: no launch to measure from
    ]
    first, record = count([], agents, tasks, HistoryRecord())
    assert list(first.agent_startups) == [
        {"agent": "ado-t2", "startup_s": 35.5},
        {"agent": "ado-t1", "startup_s": 42.0},
    ]
    again, record = count([], agents, tasks, record)
    assert again.agent_startups == ()
    # t3's agent connects; t1's is now busy (its connection unchanged): only t3 is new.
    agents[2] = agent(13, "ado-t3", changed=61)
    agents[0] = agent(11, "ado-t1", changed=42, assigned_request=job(1, 0, 43))
    third, _ = count([], agents, tasks, record)
    assert list(third.agent_startups) == [{"agent": "ado-t3", "startup_s": 53.0}]


def test_no_controller_clock_is_read() -> None:
    """The marks are the service's own stamps: a pass whose clock is hours off counts the same (nothing here
    takes a `now`), and a record saved by one controller is read the same by another."""
    jobs, agents, tasks = [job(1, 0, 40)], [agent(11, "ado-t1", changed=42)], [task("t1", 0)]
    first, record = count(jobs, agents, tasks, HistoryRecord())
    assert (len(first.job_waits), len(first.agent_startups)) == (1, 1)
    assert record == HistoryRecord(jobs_counted=Watermark(at(40), (1,)), agents_counted=Watermark(at(42), (11,)))


def test_a_mark_never_goes_back() -> None:
    mark = Watermark(at(30), (4,))
    assert mark.after([]) is mark
    assert mark.after([(9, at(20))]) == mark  # (never passed: older events are not new)
    assert mark.after([(5, at(30))]) == Watermark(at(30), (4, 5))
    assert mark.after([(5, at(31)), (6, at(31))]) == Watermark(at(31), (5, 6))
    assert [mark.new(4, at(30)), mark.new(5, at(30)), mark.new(1, at(29)), mark.new(1, at(30.001))] == [
        False,
        True,
        False,
        True,
    ]


def _report(**fields: Any) -> PoolReport:
    from adoscale.control.observe import Observation
    from adoscale.scaling import PoolSnapshot

    snapshot = PoolSnapshot(pool="linux", now=T0, queued=0, running=0, agents=(), tasks=())
    observation = Observation("linux", 1, snapshot, (), ())
    return PoolReport(pool="linux", observation=observation, **fields)


def test_the_per_event_metrics_are_one_value_each_and_absent_without_events() -> None:
    each = {m.name for m in METRICS if m.each}
    assert each == {"JobWaitSeconds", "AgentStartupSeconds"} and each <= NAMES
    quiet = pool_metrics(_report(), 0.5)
    assert not {name for name, _, _ in quiet} & each  # no zero to pull the percentiles down
    busy = pool_metrics(
        _report(
            job_waits=[{"request_id": 1, "wait_s": 40.0}, {"request_id": 2, "wait_s": 7.5}],
            agent_startups=[{"agent": "ado-t1", "startup_s": 42.0}],
        ),
        0.5,
    )
    assert [(n, u, v) for n, u, v in busy if n in each] == [
        ("JobWaitSeconds", "Seconds", 40.0),
        ("JobWaitSeconds", "Seconds", 7.5),
        ("AgentStartupSeconds", "Seconds", 42.0),
    ]
    # A skipped pass counted nothing (and says nothing about them).
    assert not {n for n, _, _ in pool_metrics(PoolReport(pool="linux", skipped="held"), 0.1)} & each
