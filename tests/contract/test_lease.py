"""The `Lease` port's contract, run against every implementation.

`DynamoLease` (moto, with DynamoDB's atomic conditional writes, which conftest gives every test) and
`MemoryLease` coordinate: one owner per pool until it releases or its expiry passes. `Unleased` is the
no-coordination implementation, for a lone controller with no lease table: it promises only that every
acquire succeeds and that release never fails, and is tested for exactly that.

Both coordinating implementations take an injected clock, so expiry is tested by moving it, never by
waiting. Times are whole seconds: DynamoLease keeps expiries in whole epoch seconds (rounded up).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from adoscale.lease import DynamoLease, Lease, LeaseHeld, MemoryLease, Unleased
from tests.aws import create_lease_table
from tests.clock import Clock

TABLE = "adoscale-leases"
TTL = 60.0
START = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Leases:
    lease: Lease
    clock: Clock


def _build(kind: str) -> Iterator[Leases]:
    clock = Clock(START)
    if kind == "DynamoLease-moto":
        with mock_aws():
            dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
            yield Leases(DynamoLease(dynamodb, TABLE, clock=clock), clock)
    elif kind == "MemoryLease":
        yield Leases(MemoryLease(clock), clock)
    else:
        yield Leases(Unleased(), clock)


@pytest.fixture(params=["DynamoLease-moto", "MemoryLease"])
def leases(request: pytest.FixtureRequest) -> Iterator[Leases]:
    """The implementations that coordinate."""
    yield from _build(request.param)


@pytest.fixture(params=["DynamoLease-moto", "MemoryLease", "Unleased"])
def any_lease(request: pytest.FixtureRequest) -> Iterator[Leases]:
    """Every implementation, for what every lease promises."""
    yield from _build(request.param)


# -- what every implementation promises -------------------------------------------------------------------


def test_a_free_pool_is_taken(any_lease: Leases) -> None:
    assert any_lease.lease.acquire("linux", "a", TTL) is None


def test_releasing_a_lease_never_taken_is_no_error(any_lease: Leases) -> None:
    any_lease.lease.release("linux", "a")
    assert any_lease.lease.acquire("linux", "b", TTL) is None


# -- coordination: DynamoLease and MemoryLease ---------------------------------------------------------------


def _held(leases: Leases, pool: str, owner: str) -> LeaseHeld:
    held = leases.lease.acquire(pool, owner, TTL)
    assert held is not None, f"{owner} took {pool}'s lease, which should be held"
    return held


def test_a_second_owner_is_refused_and_told_who_holds_it_until_when(leases: Leases) -> None:
    assert leases.lease.acquire("linux", "a", TTL) is None
    held = _held(leases, "linux", "b")
    assert held == LeaseHeld("a", START + timedelta(seconds=TTL))
    assert held.describe() == "another pass holds the lease (a until 2026-01-05T09:01:00+00:00)"


def test_pools_are_leased_independently(leases: Leases) -> None:
    assert leases.lease.acquire("linux", "a", TTL) is None
    assert leases.lease.acquire("windows", "b", TTL) is None
    assert _held(leases, "linux", "b").owner == "a"
    assert _held(leases, "windows", "a").owner == "b"


def test_the_holder_takes_it_again_and_its_expiry_moves_on(leases: Leases) -> None:
    """Both implementations let the owner re-acquire (a retried pass with the same id) and extend the expiry
    from the new acquire: the owner's condition is part of the conditional write (DynamoDB) and of the
    check (memory)."""
    assert leases.lease.acquire("linux", "a", TTL) is None
    leases.clock.advance(30)
    assert leases.lease.acquire("linux", "a", TTL) is None
    assert _held(leases, "linux", "b") == LeaseHeld("a", START + timedelta(seconds=30 + TTL))
    leases.clock.advance(TTL - 1)  # past the first expiry, before the second
    assert _held(leases, "linux", "b").owner == "a"


def test_release_by_another_owner_leaves_it_held(leases: Leases) -> None:
    assert leases.lease.acquire("linux", "a", TTL) is None
    leases.lease.release("linux", "b")
    assert _held(leases, "linux", "b") == LeaseHeld("a", START + timedelta(seconds=TTL))


def test_release_by_the_owner_frees_it(leases: Leases) -> None:
    assert leases.lease.acquire("linux", "a", TTL) is None
    leases.lease.release("linux", "a")
    assert leases.lease.acquire("linux", "b", TTL) is None
    assert _held(leases, "linux", "a").owner == "b"


def test_after_its_ttl_the_lease_is_taken_by_another_and_the_old_owner_cannot_free_it(leases: Leases) -> None:
    assert leases.lease.acquire("linux", "crashed", TTL) is None
    leases.clock.advance(TTL - 1)
    assert _held(leases, "linux", "b").owner == "crashed"
    leases.clock.advance(1)  # the expiry itself: held until then and not a second longer
    assert leases.lease.acquire("linux", "b", TTL) is None
    leases.lease.release("linux", "crashed")  # the crashed pass wakes up late
    assert _held(leases, "linux", "c") == LeaseHeld("b", START + timedelta(seconds=2 * TTL))


# -- Unleased: no coordination --------------------------------------------------------------------------------


def test_renew_extends_the_owners_lease_and_fails_once_another_took_it_over(leases: Leases) -> None:
    lease, clock = leases.lease, leases.clock
    assert lease.acquire("linux", "a", TTL) is None
    clock.advance(TTL - 10)
    assert lease.renew("linux", "a", TTL) is True  # the fencing check: still ours, for TTL from now
    clock.advance(TTL - 10)
    held = lease.acquire("linux", "b", TTL)
    assert held is not None and held.owner == "a"  # the renewal kept it past its first expiry
    assert lease.renew("linux", "b", TTL) is False  # not b's to renew
    clock.advance(TTL + 1)
    assert lease.acquire("linux", "b", TTL) is None
    assert lease.renew("linux", "a", TTL) is False  # taken over: a may no longer act


def test_with_a_skew_margin_an_expired_lease_is_taken_only_after_the_margin() -> None:
    with mock_aws():
        dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        for margin in (0.0, 90.0):
            clock = Clock(START)
            kinds: list[Lease] = [
                DynamoLease(dynamodb, TABLE, clock=clock, skew_margin_s=margin),
                MemoryLease(clock, skew_margin_s=margin),
            ]
            for n, lease in enumerate(kinds):
                pool = f"pool-{margin}-{n}"
                assert lease.acquire(pool, "a", TTL) is None
                clock.advance(TTL + 1)
                assert (lease.acquire(pool, "b", TTL) is None) is (margin == 0.0)
                clock.advance(margin)
                assert lease.acquire(pool, "b", TTL) is None
                clock.now = START


def test_unleased_lets_every_acquire_succeed() -> None:
    lease = Unleased()
    assert lease.acquire("linux", "a", TTL) is None
    assert lease.acquire("linux", "b", TTL) is None  # held by a, anywhere else: not here
    lease.release("linux", "c")
    assert lease.acquire("linux", "a", TTL) is None
