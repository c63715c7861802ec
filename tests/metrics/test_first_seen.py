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
        started_agents=record.started_agents,
    )
    return seen, HistoryRecord(jobs_counted=seen.jobs, agents_counted=seen.agents, started_agents=seen.started_agents)


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
    assert record == HistoryRecord(
        jobs_counted=Watermark(at(40), (1,)), agents_counted=Watermark(at(42), (11,)), started_agents=frozenset({11})
    )


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


def test_an_agent_that_reconnects_is_not_counted_again() -> None:
    """Issue 25: ADO stamps `statusChangedOn` on every connectivity change, so an agent that loses its connection
    and connects again (a network blip) shows a stamp past the mark. It came online once: its start-up was
    counted then, and is not counted again from its task's launch hours before."""
    tasks = [task("t1", 0), task("t2", 5)]
    agents = [agent(11, "ado-t1", changed=40), agent(12, "ado-t2", online=False, changed=6)]
    first, record = count([], agents, tasks, HistoryRecord())
    assert list(first.agent_startups) == [{"agent": "ado-t1", "startup_s": 40.0}]
    agents[0] = agent(11, "ado-t1", online=False, changed=3600)  # the blip: offline ...
    offline, record = count([], agents, tasks, record)
    assert offline.agent_startups == ()
    agents[0] = agent(11, "ado-t1", changed=3630)  # ... and online again, half a minute later
    agents[1] = agent(12, "ado-t2", changed=3620)  # t2's agent comes online for the first time
    back, record = count([], agents, tasks, record)
    assert list(back.agent_startups) == [{"agent": "ado-t2", "startup_s": 3615.0}]
    again, _ = count([], agents, tasks, record)
    assert again.agent_startups == ()


def test_an_agent_first_online_with_a_stamp_behind_the_mark_is_counted() -> None:
    """An agent the pass could not pair yet (its task not in that pass's compute read) while a later agent was
    counted: its connection is older than the mark, and it comes online for the first time all the same."""
    agents = [agent(11, "ado-t1", changed=30), agent(12, "ado-t2", changed=40)]
    first, record = count([], agents, [task("t2", 5)], HistoryRecord())
    assert list(first.agent_startups) == [{"agent": "ado-t2", "startup_s": 35.0}]
    second, _ = count([], agents, [task("t1", 0), task("t2", 5)], record)
    assert list(second.agent_startups) == [{"agent": "ado-t1", "startup_s": 30.0}]


def test_an_agent_is_counted_from_a_record_saved_before_the_ids_were_kept_as_it_was_then() -> None:
    """An item written by the earlier version has the agents' mark and no ids (None): the mark decides, as it
    did, so the agents it counted are not counted again on the upgrade; every agent online then is kept as
    counted, so its next reconnect is not counted either."""
    tasks = [task("t1", 0), task("t2", 5), task("t3", 8)]
    agents = [agent(11, "ado-t1", changed=40), agent(12, "ado-t2", changed=50), agent(13, "ado-t3", changed=60)]
    old = HistoryRecord(agents_counted=Watermark(at(50), (12,)), started_agents=None)
    first, record = count([], agents, tasks, old)
    assert list(first.agent_startups) == [{"agent": "ado-t3", "startup_s": 52.0}]
    assert record.started_agents == {11, 12, 13} and record.agents_counted == Watermark(at(60), (13,))
    agents[0] = agent(11, "ado-t1", changed=3600)  # reconnected
    again, _ = count([], agents, tasks, record)
    assert again.agent_startups == ()


def test_two_agents_online_in_the_same_instant_are_each_counted_once() -> None:
    tasks = [task("t1", 0), task("t2", 0)]
    first, record = count([], [agent(11, "ado-t1", changed=30)], tasks, HistoryRecord())
    assert list(first.agent_startups) == [{"agent": "ado-t1", "startup_s": 30.0}]
    both = [agent(11, "ado-t1", changed=30), agent(12, "ado-t2", changed=30)]  # the second seen a pass later
    second, record = count([], both, tasks, record)
    assert list(second.agent_startups) == [{"agent": "ado-t2", "startup_s": 30.0}]
    third, _ = count([], both, tasks, record)
    assert third.agent_startups == ()


def test_the_agents_counted_are_those_still_registered_the_highest_kept() -> None:
    """An agent whose registration is gone cannot come online again: its id leaves the record, which holds
    no more than the pool's registered agents (and at most STARTED_KEPT, the highest: ADO's ids grow)."""
    from adoscale.history.base import STARTED_KEPT

    tasks = [task("t1", 0), task("t2", 5)]
    _, record = count([], [agent(11, "ado-t1", changed=40), agent(12, "ado-t2", changed=45)], tasks, HistoryRecord())
    assert record.started_agents == {11, 12}
    # t1's agent ran its job and removed its registration; t2's is offline, still registered.
    _, record = count([], [agent(12, "ado-t2", online=False, changed=900)], tasks, record)
    assert record.started_agents == {12}
    many = [task(f"t{i}", 0) for i in range(STARTED_KEPT + 5)]
    online = [agent(1000 + i, f"ado-t{i}", changed=60) for i in range(STARTED_KEPT + 5)]
    seen, record = count([], online, many, record)
    assert len(seen.agent_startups) == STARTED_KEPT + 5  # every one counted once ...
    assert record.started_agents == frozenset(range(1005, 1000 + STARTED_KEPT + 5))  # ... the highest kept


def test_a_pass_without_a_warm_pool_saves_an_agent_counted_behind_the_mark() -> None:
    """A pool without a warm pool saves its record only when the pass counted something; an agent online for
    the first time with a stamp behind the mark leaves the mark where it is, and is counted all the same."""
    import json

    from adoscale.config import parse_config
    from adoscale.control.decide import decide
    from adoscale.control.observe import Observation
    from adoscale.control.pass_ import _count_first_seen
    from adoscale.scaling import PoolSnapshot

    ecs = {"cluster": "c", "task_definition": "td", "container_name": "agent", "subnets": ["subnet-1"]}
    body = {"organization_url": "https://dev.azure.com/acme", "pools": [{"name": "linux", "ecs": ecs}]}
    pool = parse_config(json.dumps(body), source="<test>").pools[0]
    prefix = pool.agent_name_prefix
    tasks = (task("t1", 0), task("t2", 5))
    agents = (agent(11, prefix + "t1", changed=30), agent(12, prefix + "t2", changed=40))
    record = HistoryRecord(agents_counted=Watermark(at(40), (12,)), started_agents=frozenset({12}))
    snapshot = PoolSnapshot(pool="linux", now=at(60), queued=0, running=0, agents=(), tasks=())
    observation = Observation("linux", 1, snapshot, (), tasks, history=record, agents=agents)
    decision = decide(pool, observation)
    assert decision.history is None  # no warm pool: nothing to save but what the metrics count
    seen, counted = _count_first_seen(pool, observation, decision)
    assert [s["agent"] for s in seen.agent_startups] == [prefix + "t1"]
    assert counted.history is not None
    assert (counted.history.started_agents, counted.history.agents_counted) == ({11, 12}, record.agents_counted)
    assert counted.history.startups == [30.0]
