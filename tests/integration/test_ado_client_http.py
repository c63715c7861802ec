"""The client against the emulator over real HTTP on 127.0.0.1: the issue's acceptance."""

from __future__ import annotations

import time

import pytest

from adoscale.ado import AdoAuthError, AdoClient, JobState, RetryPolicy, count_queued_for, count_running
from adoscale_lab.emulator import AdoModel, FaultRule, Faults
from tests.conftest import PAT


def test_thousand_finished_and_three_queued_yield_three_queued(model: AdoModel, org_url: str) -> None:
    pool = model.create_pool("linux")
    model.add_finished_jobs(pool, 1000)
    model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)  # jobs wait, not fail
    for _ in range(3):
        model.queue_job(pool, ["docker"])
    model.register_agent(pool, "busy-one", {"docker": ""})  # takes the oldest job: it runs
    model.queue_job(pool, ["docker"])  # so three are still queued
    with AdoClient(org_url, PAT) as client:
        pool_id = client.get_pool("linux").id
        jobs = client.list_job_requests(pool_id)
    assert count_queued_for(jobs, {"docker": ""}) == 3
    assert count_running(jobs) == 1
    assert [j.state for j in jobs].count(JobState.RUNNING) == 1
    assert all(j.state is not JobState.FINISHED for j in jobs)


def test_bad_pat_fails_in_under_a_second_without_retry(model: AdoModel, org_url: str) -> None:
    model.create_pool("linux")
    started = time.monotonic()
    with AdoClient(org_url, "not-the-pat-at-all") as client, pytest.raises(AdoAuthError) as caught:
        client.get_pool("linux")
    elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert client.stats.requests == 1 and client.stats.retries == 0
    assert "PAT" in str(caught.value) and "invalid, expired" in str(caught.value)
    assert "not-the-pat-at-all" not in str(caught.value)


@pytest.mark.background  # mostly the emulator's Retry-After of 1 s: about 18 s of waiting for 3 s of CPU
def test_hundred_calls_succeed_through_5xx_and_429(model: AdoModel, faults: Faults, org_url: str) -> None:
    pool = model.create_pool("linux")
    model.register_agent(pool, "a1", {"docker": ""})
    faults.rules = [FaultRule(route="/_apis/", error_5xx=0.2, throttle_429=0.1, retry_after_s=1)]
    policy = RetryPolicy(deadline_s=30.0, base_s=0.05, cap_s=0.5)
    started = time.monotonic()
    with AdoClient(org_url, PAT, retry=policy) as client:
        for i in range(100):
            call_started = time.monotonic()
            if i % 2:
                assert len(client.list_agents(pool)) == 1
            else:
                assert client.list_job_requests(pool) == []
            assert time.monotonic() - call_started <= policy.deadline_s
    injected = model.stats.faults["5xx"] + model.stats.faults["429"]
    print(
        f"\n100 calls: {client.stats.retries} retries for {model.stats.faults['5xx']} injected 5xx and "
        f"{model.stats.faults['429']} injected 429 in {time.monotonic() - started:.1f} s"
    )
    assert client.stats.calls == 100
    assert client.stats.retries == injected > 0
