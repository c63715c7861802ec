"""The one emulated agent that the demo and the simulator both drive: its lifecycle against the ADO model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adoscale_lab.emulator import AdoModel
from adoscale_lab.sim.agent import AgentState, AgentStats, EmulatedAgent

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> datetime:
        self.now = T0 + timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def world() -> tuple[AdoModel, int, Clock]:
    clock = Clock()
    model = AdoModel(org="o", pat="p", clock=clock)
    pool_id = model.create_pool("linux")
    # The service fails a job no registered agent meets: the placeholder keeps docker jobs waiting.
    model.register_agent(pool_id, PLACEHOLDER, {"docker": ""}, online=False)
    return model, pool_id, clock


PLACEHOLDER = "adoscale-placeholder"


def _ours(model: AdoModel, pool_id: int) -> list[Any]:
    """The pool's agents but the placeholder."""
    return [a for a in model.agents(pool_id) if a.name != PLACEHOLDER]


def _agent(model: AdoModel, pool_id: int, stats: AgentStats, job_s: float = 60.0) -> EmulatedAgent:
    return EmulatedAgent(
        model,
        pool_id,
        "task0001",
        created_at=T0,
        online_at=T0 + timedelta(seconds=10),
        capabilities={"docker": ""},
        job_seconds=lambda _request_id: job_s,
        stats=stats,
        name_prefix="ado-",
    )


def test_registers_at_online_time_runs_one_job_and_removes_itself(world: tuple[AdoModel, int, Clock]) -> None:
    model, pool_id, clock = world
    stats = AgentStats()
    agent = _agent(model, pool_id, stats)
    assert agent.advance(clock.at(5)) == T0 + timedelta(seconds=10)  # not started yet: wake me at 10 s
    assert _ours(model, pool_id) == []
    assert agent.advance(clock.at(10)) is None  # online, nothing assigned: waits for the service
    assert [a.name for a in _ours(model, pool_id)] == ["ado-task0001"] and agent.state is AgentState.IDLE
    clock.at(20)
    request = model.queue_job(pool_id, ["docker"])
    assert agent.advance(clock.at(21)) == T0 + timedelta(seconds=81)  # took it: ends 60 s later
    assert agent.state is AgentState.BUSY and agent.request_id == request and stats.waits == [0.0]
    assert agent.advance(clock.at(50)) == T0 + timedelta(seconds=81)
    assert agent.advance(clock.at(81)) is None
    assert agent.state is AgentState.EXITED and agent.done
    assert model.job(request).result == "succeeded" and _ours(model, pool_id) == []
    assert (stats.registered, stats.jobs_run, stats.exited, stats.busy_killed) == (1, 1, 1, 0)
    assert stats.agent_seconds == 81.0 and agent.took_job and agent.job_seconds == 60.0
    assert agent.advance(clock.at(200)) is None and stats.jobs_run == 1  # an exited agent does nothing more


def test_stopped_while_busy_kills_the_job_and_counts_it(world: tuple[AdoModel, int, Clock]) -> None:
    model, pool_id, clock = world
    stats = AgentStats()
    agent = _agent(model, pool_id, stats)
    request = model.queue_job(pool_id, ["docker"])
    agent.advance(clock.at(10))
    assert agent.state is AgentState.BUSY and stats.waits == [10.0]
    assert agent.stopped(clock.at(30)) is True
    assert stats.busy_killed == 1 and model.job(request).result == "abandoned"
    assert _ours(model, pool_id) == [] and agent.state is AgentState.GONE
    assert agent.stopped(clock.at(31)) is False and stats.busy_killed == 1


def test_stopped_after_its_job_ended_is_no_kill(world: tuple[AdoModel, int, Clock]) -> None:
    model, pool_id, clock = world
    stats = AgentStats()
    agent = _agent(model, pool_id, stats, job_s=5.0)
    request = model.queue_job(pool_id, ["docker"])
    agent.advance(clock.at(10))
    assert agent.stopped(clock.at(16)) is False  # the job had ended before the stop reached the agent
    assert model.job(request).result == "succeeded" and stats.jobs_run == 1 and stats.busy_killed == 0


def test_stopped_while_idle_or_starting_only_removes_the_registration(world: tuple[AdoModel, int, Clock]) -> None:
    model, pool_id, clock = world
    stats = AgentStats()
    idle, starting = _agent(model, pool_id, stats), _agent(model, pool_id, stats)
    idle.advance(clock.at(10))
    assert idle.stopped(clock.at(12)) is False and starting.stopped(clock.at(12)) is False
    assert _ours(model, pool_id) == [] and stats.busy_killed == 0 and stats.registered == 1


def test_spot_interruption_requeues_the_job_apart_from_kills(world: tuple[AdoModel, int, Clock]) -> None:
    model, pool_id, clock = world
    stats = AgentStats()
    agent = _agent(model, pool_id, stats)
    request = model.queue_job(pool_id, ["docker"])
    agent.advance(clock.at(10))
    requeued = agent.interrupted(clock.at(20))
    assert requeued is not None and requeued != request
    assert model.job(request).result == "abandoned"
    assert model.job(requeued).demands == ["docker"] and model.job(requeued).result is None
    assert stats.spot_interrupted == 1 and stats.busy_killed == 0 and _ours(model, pool_id) == []
    assert agent.interrupted(clock.at(21)) is None and stats.spot_interrupted == 1
