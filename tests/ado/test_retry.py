"""Properties of the retry policy."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from adoscale.ado.retry import RetryPolicy, parse_retry_after

policies = st.builds(
    RetryPolicy,
    deadline_s=st.floats(0.1, 120),
    base_s=st.floats(0.01, 5),
    cap_s=st.floats(0.05, 30),
)
statuses = st.sampled_from([None, 429, 500, 502, 503, 504])


@given(policies, st.integers(0, 30), st.floats(0, 200), statuses, st.none() | st.floats(0, 60), st.integers())
def test_never_schedules_past_the_deadline(
    policy: RetryPolicy, attempt: int, elapsed: float, status: int | None, retry_after: float | None, seed: int
) -> None:
    delay = policy.next_delay(attempt, elapsed=elapsed, rng=random.Random(seed), status=status, retry_after=retry_after)
    if delay is not None:
        assert elapsed + delay <= policy.deadline_s


@given(policies, st.integers(0, 30), st.floats(0, 5), st.floats(0, 60), st.integers())
def test_always_waits_at_least_retry_after(
    policy: RetryPolicy, attempt: int, elapsed: float, retry_after: float, seed: int
) -> None:
    delay = policy.next_delay(attempt, elapsed=elapsed, rng=random.Random(seed), status=429, retry_after=retry_after)
    if delay is not None:
        assert delay >= retry_after


@given(policies, st.integers(0, 30), st.sampled_from([400, 401, 403, 404, 405, 409, 410, 412, 422]))
def test_gives_up_at_once_on_4xx_other_than_429(policy: RetryPolicy, attempt: int, status: int) -> None:
    assert policy.next_delay(attempt, elapsed=0.0, rng=random.Random(0), status=status) is None


@given(policies, st.integers(0, 20), st.integers())
def test_backoff_is_capped(policy: RetryPolicy, attempt: int, seed: int) -> None:
    delay = policy.next_delay(attempt, elapsed=0.0, rng=random.Random(seed), status=503)
    if delay is not None:
        assert delay <= min(policy.cap_s, policy.base_s * 2**attempt)


def test_simulated_call_stays_inside_its_deadline() -> None:
    """Drive the policy like the client does, against a service that always fails: total time ≤ deadline."""
    policy = RetryPolicy(deadline_s=10.0, base_s=0.5, cap_s=4.0)
    rng = random.Random(3)
    elapsed, attempt = 0.0, 0
    while (delay := policy.next_delay(attempt, elapsed=elapsed, rng=rng, status=503)) is not None:
        elapsed += delay
        attempt += 1
    assert elapsed <= 10.0
    assert attempt > 3


def test_parse_retry_after() -> None:
    assert parse_retry_after("1") == 1.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
