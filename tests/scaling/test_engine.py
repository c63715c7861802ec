"""The scaling engine: exact examples and properties over random snapshots."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from adoscale.scaling import AgentView, PoolPolicy, PoolSnapshot, TaskStatus, TaskView, classify, plan

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
POLICY = PoolPolicy(min_agents=0, max_agents=20, idle_timeout_seconds=300, startup_timeout_seconds=600)


def _task(task_id: str, age_s: float, status: TaskStatus = TaskStatus.RUNNING) -> TaskView:
    return TaskView(f"arn:aws:ecs:us-east-1:1:task/c/{task_id}", task_id, status, NOW - timedelta(seconds=age_s))


def _agent(
    agent_id: int, name: str, *, online: bool = True, busy: bool = False, enabled: bool = True, idle_s: float = 0
):
    return AgentView(agent_id, name, online, enabled, busy, NOW - timedelta(seconds=idle_s))


def _tid(n: int) -> str:
    return uuid.UUID(int=n).hex


def _snapshot(queued: int = 0, agents=(), tasks=(), capacity: int | None = None) -> PoolSnapshot:
    return PoolSnapshot("linux", NOW, queued, 0, tuple(agents), tuple(tasks), capacity)


PLACEHOLDER = _agent(1, "adoscale-placeholder", online=False)


def test_empty_pool_with_25_queued_and_max_20_launches_20() -> None:
    decision = plan(_snapshot(25, [PLACEHOLDER]), POLICY)
    assert decision.launch is not None and decision.launch.count == 20
    assert "max_agents=20" in decision.launch.reason


def test_second_pass_with_those_tasks_starting_launches_nothing() -> None:
    tasks = [_task(_tid(i), 5) for i in range(20)]
    decision = plan(_snapshot(25, [PLACEHOLDER], tasks), POLICY)
    assert decision.launch_count == 0
    assert decision.starting == 20


def test_starting_tasks_count_as_supply() -> None:
    tasks = [_task(_tid(i), 30) for i in range(3)]
    assert plan(_snapshot(5, [PLACEHOLDER], tasks), POLICY).launch_count == 2


def test_parallel_job_limit_caps_launches() -> None:
    decision = plan(_snapshot(10, [PLACEHOLDER], capacity=4), POLICY)
    assert decision.launch is not None and decision.launch.count == 4
    assert "parallel-job limit" in decision.launch.reason


def test_min_and_standby() -> None:
    policy = replace(POLICY, min_agents=2, standby_agents=3)
    assert plan(_snapshot(0, [PLACEHOLDER]), policy).launch_count == 3  # standby dominates min here
    policy = replace(POLICY, min_agents=4, standby_agents=1)
    assert plan(_snapshot(0, [PLACEHOLDER]), policy).launch_count == 4


def test_idle_agent_past_timeout_is_drained_busy_never() -> None:
    idle_task, busy_task = _task(_tid(1), 900), _task(_tid(2), 900)
    agents = [PLACEHOLDER, _agent(2, _tid(1), idle_s=400), _agent(3, _tid(2), busy=True, idle_s=4000)]
    decision = plan(_snapshot(0, agents, [idle_task, busy_task]), POLICY)
    assert [d.agent_id for d in decision.drain] == [2]
    assert decision.drain[0].task_arn == idle_task.task_arn
    assert decision.stop == () and decision.delete == ()


def test_idle_agent_within_timeout_or_needed_is_kept() -> None:
    task = _task(_tid(1), 900)
    fresh = [PLACEHOLDER, _agent(2, _tid(1), idle_s=100)]
    assert plan(_snapshot(0, fresh, [task]), POLICY).drain == ()
    old = [PLACEHOLDER, _agent(2, _tid(1), idle_s=1000)]
    assert plan(_snapshot(0, old, [task]), replace(POLICY, standby_agents=1)).drain == ()
    assert plan(_snapshot(0, old, [task]), replace(POLICY, min_agents=1)).drain == ()


def test_stalled_task_is_stopped() -> None:
    decision = plan(_snapshot(0, [PLACEHOLDER], [_task(_tid(9), 700)]), POLICY)
    assert [s.task_arn for s in decision.stop] == [_task(_tid(9), 0).task_arn]
    assert "did not come online within 600 s" in decision.stop[0].reason


def test_dead_registrations_deleted_placeholder_and_foreign_agents_kept() -> None:
    agents = [
        PLACEHOLDER,
        _agent(2, _tid(1), online=False),  # its task is gone
        _agent(3, _tid(2), online=False),  # its task stopped
        _agent(4, "build-server-7", online=False),  # not a name adoscale makes
        _agent(5, _tid(3), online=False),  # task still starting: config.sh registered it offline
    ]
    tasks = [_task(_tid(2), 100, TaskStatus.STOPPED), _task(_tid(3), 10)]
    decision = plan(_snapshot(0, agents, tasks), POLICY)
    assert sorted(d.agent_id for d in decision.delete) == [2, 3]


def test_without_placeholder_the_last_registration_stays_and_a_warning_says_so() -> None:
    agents = [_agent(2, _tid(1), online=False), _agent(3, _tid(2), online=False)]
    decision = plan(_snapshot(0, agents), POLICY)
    assert len(decision.delete) == 1
    assert any("no placeholder" in w for w in decision.warnings)


def test_interrupted_drain_is_finished_or_undone() -> None:
    task = _task(_tid(1), 900)
    disabled = [PLACEHOLDER, _agent(2, _tid(1), enabled=False, idle_s=50)]
    assert [d.agent_id for d in plan(_snapshot(0, disabled, [task]), POLICY).drain] == [2]
    needed = plan(_snapshot(1, disabled, [task]), POLICY)
    assert [e.agent_id for e in needed.enable] == [2]
    assert needed.launch_count == 0


def test_an_interrupted_drain_that_min_agents_needs_is_undone_not_replaced() -> None:
    """Found by `test_a_second_pass_launches_nothing_more`: finishing the drain and launching a replacement
    for `min_agents` would start again what is already running."""
    task = _task(_tid(1), 900)
    disabled = [PLACEHOLDER, _agent(2, _tid(1), enabled=False, idle_s=50)]
    decision = plan(_snapshot(0, disabled, [task]), replace(POLICY, min_agents=1))
    assert [(e.agent_id, e.reason) for e in decision.enable] == [(2, "needed for min_agents")]
    assert not decision.drain and decision.launch is None


# -- properties ---------------------------------------------------------------------------------------


@st.composite
def worlds(draw: st.DrawFn) -> tuple[PoolSnapshot, PoolPolicy]:
    min_agents = draw(st.integers(0, 5))
    max_agents = draw(st.integers(max(1, min_agents), 30))
    policy = PoolPolicy(
        min_agents=min_agents,
        max_agents=max_agents,
        standby_agents=draw(st.integers(0, max_agents)),
        idle_timeout_seconds=draw(st.integers(1, 900)),
        startup_timeout_seconds=draw(st.integers(1, 900)),
        agent_name_prefix=draw(st.sampled_from(["", "ado-"])),
    )
    n_tasks = draw(st.integers(0, 40))
    tasks = []
    for i in range(n_tasks):
        status = draw(st.sampled_from(list(TaskStatus)))
        tasks.append(
            TaskView(f"arn:task/{i}", _tid(i + 1), status, NOW - timedelta(seconds=draw(st.integers(0, 2000))))
        )
    agents = []
    if draw(st.booleans()):
        agents.append(_agent(10_000, policy.agent_name_prefix + "adoscale-placeholder", online=False))
    for i in range(draw(st.integers(0, 40))):
        paired = draw(st.booleans()) and n_tasks > 0
        name = policy.agent_name_prefix + (
            _tid(draw(st.integers(1, n_tasks))) if paired else draw(st.sampled_from([_tid(500 + i), f"static-{i}"]))
        )
        if any(a.name == name for a in agents):
            continue
        agents.append(
            AgentView(
                agent_id=i + 1,
                name=name,
                online=draw(st.booleans()),
                enabled=draw(st.booleans()),
                busy=draw(st.booleans()),
                status_changed_on=NOW - timedelta(seconds=draw(st.integers(0, 3000))),
            )
        )
    capacity = draw(st.none() | st.integers(0, 40))
    snapshot = PoolSnapshot("p", NOW, draw(st.integers(0, 60)), 0, tuple(agents), tuple(tasks), capacity)
    return snapshot, policy


@given(worlds())
def test_never_touches_a_busy_agent(world: tuple[PoolSnapshot, PoolPolicy]) -> None:
    snapshot, policy = world
    decision = plan(snapshot, policy)
    busy_ids = {a.agent_id for a in snapshot.agents if a.busy}
    busy_tasks = {
        t.task_arn
        for t in snapshot.tasks
        for a in snapshot.agents
        if a.busy and a.name == policy.agent_name_prefix + t.task_id
    }
    assert not busy_ids & {d.agent_id for d in decision.drain}
    assert not busy_ids & {d.agent_id for d in decision.delete}
    assert not busy_tasks & {s.task_arn for s in decision.stop}
    assert not busy_tasks & {d.task_arn for d in decision.drain}


@given(worlds())
def test_never_above_max_agents_or_parallel_capacity(world: tuple[PoolSnapshot, PoolPolicy]) -> None:
    snapshot, policy = world
    decision = plan(snapshot, policy)
    live = sum(1 for t in snapshot.tasks if t.status.live)
    if decision.launch_count:
        assert live + decision.launch_count <= policy.max_agents
        if snapshot.parallel_capacity is not None:
            assert live + decision.launch_count <= snapshot.parallel_capacity


@given(worlds())
def test_a_second_pass_launches_nothing_more(world: tuple[PoolSnapshot, PoolPolicy]) -> None:
    snapshot, policy = world
    first = plan(snapshot, policy)
    new = tuple(
        TaskView(f"arn:new/{i}", _tid(90_000 + i), TaskStatus.PROVISIONING, NOW) for i in range(first.launch_count)
    )
    second = plan(replace(snapshot, tasks=snapshot.tasks + new), policy)
    assert second.launch_count == 0


@given(worlds())
def test_enough_starting_tasks_means_no_launch(world: tuple[PoolSnapshot, PoolPolicy]) -> None:
    snapshot, policy = world
    c = classify(snapshot, policy)
    if len(c.starting) >= snapshot.queued + policy.standby_agents + policy.min_agents:
        assert plan(snapshot, policy).launch_count == 0


@given(worlds())
def test_drains_respect_min_agents(world: tuple[PoolSnapshot, PoolPolicy]) -> None:
    snapshot, policy = world
    decision = plan(snapshot, policy)
    c = classify(snapshot, policy)
    total = len(c.busy) + len(c.idle) + len(c.starting)
    live = len(c.live_tasks)
    drained_idle = sum(1 for d in decision.drain if d.reason != "completing an interrupted drain")
    if live <= policy.max_agents and drained_idle:
        assert total - drained_idle >= policy.min_agents


@given(worlds())
def test_placeholder_online_agents_and_last_registration_survive(world: tuple[PoolSnapshot, PoolPolicy]) -> None:
    snapshot, policy = world
    decision = plan(snapshot, policy)
    deleted = {d.agent_id for d in decision.delete}
    by_id = {a.agent_id: a for a in snapshot.agents}
    for agent_id in deleted:
        agent = by_id[agent_id]
        assert not agent.online
        assert "placeholder" not in agent.name
    if snapshot.agents:
        assert len(deleted) < len(snapshot.agents)


@given(worlds())
def test_plans_are_deterministic(world: tuple[PoolSnapshot, PoolPolicy]) -> None:
    snapshot, policy = world
    assert plan(snapshot, policy) == plan(snapshot, policy)
