"""The emulator's rules, on the model directly."""

from __future__ import annotations

import pytest

from adoscale_lab.emulator import AdoModel, EmulatorError


def test_fifo_assignment_to_matching_idle_agents(model: AdoModel) -> None:
    pool = model.create_pool("linux")
    model.register_agent(pool, "placeholder", {"docker": "", "java": ""}, online=False)  # jobs wait, not fail
    first = model.queue_job(pool, ["docker"])
    second = model.queue_job(pool, ["java"])
    third = model.queue_job(pool, ["docker"])
    agent = model.register_agent(pool, "a1", {"docker": ""})
    assert model.job(first).reserved_agent == agent  # oldest matching job first
    assert model.job(second).reserved_agent is None  # demands not met
    assert model.job(third).reserved_agent is None  # the agent is busy
    model.finish_job(first)
    assert model.job(third).reserved_agent == agent
    assert model.job(second).reserved_agent is None


def test_offline_or_disabled_agents_get_no_job(model: AdoModel) -> None:
    pool = model.create_pool("linux")
    offline = model.register_agent(pool, "off", {}, online=False)
    disabled = model.register_agent(pool, "dis", {}, enabled=False)
    job = model.queue_job(pool)
    assert model.job(job).reserved_agent is None
    model.set_agent_enabled(pool, disabled, True)
    assert model.job(job).reserved_agent == disabled
    assert model.agent(pool, offline).assigned_request is None


def test_busy_agent_cannot_be_deleted(model: AdoModel) -> None:
    pool = model.create_pool("linux")
    agent = model.register_agent(pool, "a1")
    job = model.queue_job(pool)
    with pytest.raises(EmulatorError, match="is running a job") as caught:
        model.remove_agent(pool, agent)
    assert caught.value.status == 400
    model.finish_job(job)
    model.remove_agent(pool, agent)
    assert model.agents(pool) == []


def test_auto_start_off_keeps_assigned_state(model: AdoModel) -> None:
    quiet = AdoModel(org="x", auto_start=False)
    pool = quiet.create_pool("p")
    quiet.register_agent(pool, "a")
    job = quiet.queue_job(pool)
    assert quiet.job(job).assign_time is not None and quiet.job(job).receive_time is None
    quiet.start_job(job)
    assert quiet.job(job).receive_time is not None
    auto = model.create_pool("p2")
    model.register_agent(auto, "b")
    assert model.job(model.queue_job(auto)).receive_time is not None


def test_run_once_agents_go_offline_after_their_job(model: AdoModel) -> None:
    pool = model.create_pool("linux")
    agent = model.register_agent(pool, "once", once=True)
    first = model.queue_job(pool)
    second = model.queue_job(pool)
    model.finish_job(first)
    assert not model.agent(pool, agent).online
    assert model.job(second).reserved_agent is None  # it did not take a second job


def test_vm_resources_and_agents_have_separate_ids(model: AdoModel) -> None:
    model.create_project("proj")
    env = model.create_environment("proj", "prod")
    resource, agent = model.register_vm(env, "i-0abc", ["web"])
    assert resource != agent
    pool_id = model.environments("proj", "prod")[0].pool_id
    model.delete_vm_resource(env, resource)
    # Deleting the resource leaves its agent in the deployment pool, as the real service does.
    assert [a.id for a in model.agents(pool_id)] == [agent]


def test_jobs_with_a_duration_finish_when_it_has_run_out() -> None:
    from datetime import UTC, datetime, timedelta

    now = [datetime(2025, 6, 2, 8, 0, tzinfo=UTC)]
    model = AdoModel(clock=lambda: now[0])
    pool = model.create_pool("linux")
    model.register_agent(pool, "placeholder", online=False)  # jobs wait for an agent, not fail
    job = model.queue_job(pool, duration_s=30)
    untimed = model.queue_job(pool)
    now[0] += timedelta(seconds=60)
    assert model.tick() == []  # not started: a queued job's duration has not begun
    model.register_agent(pool, "a1")  # takes the first job, which starts now
    now[0] += timedelta(seconds=29)
    assert model.tick() == []
    now[0] += timedelta(seconds=1)
    assert model.tick() == [job]
    assert model.job(job).result == "succeeded"
    assert model.job(untimed).reserved_agent is not None  # the agent went on to the next job
    now[0] += timedelta(hours=1)
    assert model.tick() == []  # a job without a duration runs until finished
