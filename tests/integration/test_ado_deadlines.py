"""Every call ends within its deadline, whatever the service does: drip, hang, loop, cut short.

The emulator injects each fault over a real socket on 127.0.0.1; the client must raise the right error
within the call's deadline (or the enclosing `bounded` block's), never hang.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from adoscale.ado import AdoClient, AdoError, AdoThrottledError, AdoTimeoutError, AdoUnavailableError, RetryPolicy
from adoscale_lab.emulator import AdoModel, FaultRule, Faults, make_app, serve
from tests.conftest import ORG, PAT

SLACK_S = 0.5  # scheduling and teardown on a loaded 2-core machine; far below any fault's own time


@pytest.fixture
def pool(model: AdoModel) -> int:
    pool_id = model.create_pool("linux")
    model.register_agent(pool_id, "a1", {"docker": ""})
    return pool_id


@pytest.fixture
def client(org_url: str) -> Iterator[AdoClient]:
    with AdoClient(org_url, PAT, retry=RetryPolicy(deadline_s=1.5, base_s=0.05, cap_s=0.2)) as ado:
        yield ado


def _timed(call: object) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()  # type: ignore[operator]
    except BaseException as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


def test_dripping_body_ends_at_the_deadline(faults: Faults, pool: int, client: AdoClient) -> None:
    faults.rules = [FaultRule(route="/agents", drip_interval_s=5.0)]
    elapsed, error = _timed(lambda: client.list_agents(pool))
    assert isinstance(error, AdoTimeoutError), error
    assert "agents" in str(error) and "1.5 s" in str(error)
    assert 1.4 <= elapsed <= 1.5 + SLACK_S


def test_fast_drip_still_ends_at_the_deadline(faults: Faults, pool: int, client: AdoClient) -> None:
    # A byte every 50 ms never trips a read timeout: only the total deadline stops it.
    faults.rules = [FaultRule(route="/agents", drip_interval_s=0.05)]
    elapsed, error = _timed(lambda: client.list_agents(pool))
    assert isinstance(error, AdoTimeoutError), error
    assert elapsed <= 1.5 + SLACK_S


def test_hanging_answer_ends_at_the_deadline(faults: Faults, pool: int, client: AdoClient) -> None:
    faults.rules = [FaultRule(route="/agents", hang=True)]
    elapsed, error = _timed(lambda: client.list_agents(pool))
    assert isinstance(error, AdoTimeoutError) and isinstance(error, AdoUnavailableError), error
    assert elapsed <= 1.5 + SLACK_S


def test_repeated_continuation_token_is_an_error_not_a_loop(
    model: AdoModel, faults: Faults, pool: int, client: AdoClient
) -> None:
    faults.rules = [FaultRule(route="/agents", repeat_continuation_token=True)]
    with pytest.raises(AdoError, match="repeated continuation token"):
        client.list_agents(pool)
    assert model.stats.faults["repeat_token"] == 2  # the first page, then the repeat: nothing more


def test_endless_pages_are_bounded(monkeypatch: pytest.MonkeyPatch, faults: Faults, pool: int, org_url: str) -> None:
    import adoscale.ado.client as client_module

    monkeypatch.setattr(client_module, "MAX_PAGES", 3)
    calls = iter(range(100))
    # A different token every page, forever: the page bound stops it.
    faults.rules = [FaultRule(route="/agents", repeat_continuation_token=True)]
    with AdoClient(org_url, PAT) as ado:
        original = ado._call

        def fresh_token(*args: object, **kwargs: object) -> object:
            response = original(*args, **kwargs)  # type: ignore[arg-type]
            response.headers["x-ms-continuationtoken"] = f"t{next(calls)}"
            return response

        monkeypatch.setattr(ado, "_call", fresh_token)
        with pytest.raises(AdoError, match="more than 3 pages"):
            ado.list_agents(pool)


def test_truncated_body_is_retried_then_unavailable(
    model: AdoModel, faults: Faults, pool: int, client: AdoClient
) -> None:
    faults.rules = [FaultRule(route="/agents", truncated_body=True)]
    elapsed, error = _timed(lambda: client.list_agents(pool))
    assert isinstance(error, AdoUnavailableError), error
    assert model.stats.faults["truncated"] >= 2  # retried: a cut connection is transient
    assert elapsed <= 1.5 + SLACK_S


def test_bounded_block_cuts_every_call_and_refuses_when_time_is_up(
    model: AdoModel, faults: Faults, pool: int, org_url: str
) -> None:
    faults.rules = [FaultRule(route="/agents", hang=True)]
    with AdoClient(org_url, PAT, retry=RetryPolicy(deadline_s=30)) as ado:
        with ado.bounded(0.8):
            elapsed, error = _timed(lambda: ado.list_agents(pool))
            assert isinstance(error, AdoTimeoutError), error
            assert elapsed <= 0.8 + SLACK_S
            served = model.stats.total
            elapsed, error = _timed(lambda: ado.list_agents(pool))
            assert isinstance(error, AdoTimeoutError) and "already up" in str(error)
            assert elapsed < 0.05
            assert model.stats.total == served  # refused without a request
        # Nested: the earlier end wins.
        with ado.bounded(10), ado.bounded(0.3):
            elapsed, _ = _timed(lambda: ado.list_agents(pool))
            assert elapsed <= 0.3 + SLACK_S


def test_bounded_block_cuts_retry_waits(model: AdoModel, faults: Faults, pool: int, org_url: str) -> None:
    faults.rules = [FaultRule(route="/agents", throttle_429=1.0, retry_after_s=5)]
    with AdoClient(org_url, PAT, retry=RetryPolicy(deadline_s=30)) as ado, ado.bounded(1.0):
        elapsed, error = _timed(lambda: ado.list_agents(pool))
    assert isinstance(error, AdoThrottledError), error
    assert elapsed < 1.0  # a 5 s Retry-After that would outlive the block is not slept


def test_retry_after_on_a_200_delays_the_next_call(model: AdoModel, faults: Faults, pool: int, org_url: str) -> None:
    faults.rules = [FaultRule(route="/agents", rate_limit_delay=1.0)]  # 200 + Retry-After: 1 + remaining 0
    with AdoClient(org_url, PAT) as ado:
        ado.list_agents(pool)
        started = time.monotonic()
        ado.list_agents(pool)
        waited = time.monotonic() - started
    assert waited >= 0.95


def test_retry_after_past_the_deadline_fails_fast(model: AdoModel, faults: Faults, pool: int, org_url: str) -> None:
    faults.rules = [FaultRule(route="/agents", rate_limit_delay=1.0)]
    with AdoClient(org_url, PAT) as ado:
        ado.list_agents(pool)
        with ado.bounded(0.3):
            elapsed, error = _timed(lambda: ado.list_agents(pool))
    assert isinstance(error, AdoThrottledError) and "asked to wait" in str(error), error
    assert elapsed < 0.1


def test_shutdown_does_not_wait_for_a_hanging_or_dripping_answer(model: AdoModel) -> None:
    import threading

    import httpx

    pool_id = model.create_pool("linux")
    faults = Faults(rules=[FaultRule(route="/agents", hang=True), FaultRule(route="/pools", drip_interval_s=5)])
    outcomes: list[str] = []

    def fetch(url: str) -> None:
        try:
            httpx.get(url, auth=("", PAT), timeout=30)
        except httpx.HTTPError as exc:  # the server went away mid-answer: expected here
            outcomes.append(type(exc).__name__)

    threads = []
    with serve(make_app(model, faults)) as server:
        for path in (f"/pools/{pool_id}/agents", "/pools"):
            thread = threading.Thread(target=fetch, args=(f"{server.url}/{ORG}/_apis/distributedtask{path}",))
            thread.start()
            threads.append(thread)
        time.sleep(0.3)  # let both requests reach the server before it stops
        started = time.monotonic()
    assert time.monotonic() - started < 2.0
    for thread in threads:
        thread.join(timeout=5)
    assert len(outcomes) == 2  # both clients saw the connection end, neither got an answer
