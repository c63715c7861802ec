"""The lease port's rules, the same for both adapters: DynamoDB (in moto) and memory.

acquire takes a free pool, refuses a held one (naming the holder and its expiry), lets the holder take it
again (extending it), and takes over an expired one; release gives it back only for its owner.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from adoscale.lease import DynamoLease, Lease, MemoryLease
from adoscale.transient import AwsUnavailableError
from adoscale_lab.moto_rules.dynamodb import DYNAMODB_WRITES
from tests.aws import create_lease_table
from tests.clock import Clock

TABLE = "adoscale-leases"
TTL = 60.0


# A whole second, so that expiries (whole seconds in DynamoDB) are exact.
START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _table() -> Any:
    return create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)


@pytest.fixture(params=["dynamodb", "memory"])
def lease(request: pytest.FixtureRequest) -> Iterator[tuple[Lease, Clock]]:
    clock = Clock(START)
    if request.param == "memory":
        yield MemoryLease(clock), clock
        return
    with mock_aws():
        yield DynamoLease(_table(), TABLE, clock=clock), clock


def test_acquire_refuse_and_the_holder_may_take_it_again(lease: tuple[Lease, Clock]) -> None:
    leases, clock = lease
    assert leases.acquire("linux", "a", TTL) is None
    held = leases.acquire("linux", "b", TTL)
    assert held is not None and held.owner == "a"
    assert held.expires_at == clock.now + timedelta(seconds=TTL)
    assert "a until 2026-01-01T12:01:00" in held.describe()
    # Pools are independent.
    assert leases.acquire("windows", "b", TTL) is None
    # The holder again (a retried pass with the same id): taken, and the expiry moves on.
    clock.advance(30)
    assert leases.acquire("linux", "a", TTL) is None
    clock.advance(45)  # past the first expiry, within the second
    held = leases.acquire("linux", "b", TTL)
    assert held is not None and held.owner == "a"


def test_release_only_by_the_owner(lease: tuple[Lease, Clock]) -> None:
    leases, _clock = lease
    assert leases.acquire("linux", "a", TTL) is None
    leases.release("linux", "b")  # not b's to give back
    held = leases.acquire("linux", "b", TTL)
    assert held is not None and held.owner == "a"
    leases.release("linux", "a")
    assert leases.acquire("linux", "b", TTL) is None
    leases.release("nobody-holds-this", "a")  # releasing a free pool is harmless


def test_an_expired_lease_is_taken_over_at_its_expiry_and_the_old_owner_cannot_release_it(
    lease: tuple[Lease, Clock],
) -> None:
    leases, clock = lease
    assert leases.acquire("linux", "crashed", TTL) is None
    clock.advance(TTL - 1)
    held = leases.acquire("linux", "b", TTL)
    assert held is not None and held.owner == "crashed"
    clock.advance(1)  # exactly the expiry: no longer held
    assert leases.acquire("linux", "b", TTL) is None
    leases.release("linux", "crashed")  # the crashed pass wakes up late: must not free b's lease
    held = leases.acquire("linux", "c", TTL)
    assert held is not None and held.owner == "b"


def test_dynamodb_throttling_is_transient_and_other_errors_are_not() -> None:
    with mock_aws():
        dynamodb = _table()
        lease = DynamoLease(dynamodb, TABLE, clock=Clock(START))
        with Stubber(dynamodb) as stub:
            stub.add_client_error("put_item", service_error_code="ProvisionedThroughputExceededException")
            with pytest.raises(AwsUnavailableError, match=TABLE):
                lease.acquire("linux", "a", TTL)
            stub.add_client_error("put_item", service_error_code="ResourceNotFoundException")
            with pytest.raises(Exception, match="ResourceNotFoundException"):
                lease.acquire("linux", "a", TTL)


def test_memory_lease_counts_and_reports_the_holder() -> None:
    clock = Clock(START)
    lease = MemoryLease(clock)
    assert lease.acquire("linux", "a", TTL) is None
    assert lease.acquire("linux", "b", TTL) is not None
    assert (lease.acquired, lease.refused, lease.holder("linux")) == (1, 1, "a")
    clock.advance(TTL)
    assert lease.holder("linux") is None


@pytest.mark.parametrize("atomic", [True, False])
def test_two_acquirers_that_check_together_get_one_lease_only_where_writes_are_atomic(
    monkeypatch: pytest.MonkeyPatch, atomic: bool
) -> None:
    """Why every test runs with DynamoDB's atomic conditional writes (conftest's `_atomic_dynamodb_writes`):
    two passes forced to evaluate the lease's condition together, before either writes, both take the lease
    in bare moto, and exactly one does under the service's rule. The barrier makes the interleaving certain;
    where the writes are atomic the first writer is alone there and goes on after its bound."""
    import threading

    import moto.dynamodb.models.table as moto_table
    from moto.dynamodb.models import DynamoDBBackend

    if not atomic:  # undo the autouse rule: moto as it ships
        for name in DYNAMODB_WRITES:
            if hasattr(getattr(DynamoDBBackend, name, None), "__wrapped__"):
                monkeypatch.setattr(DynamoDBBackend, name, getattr(DynamoDBBackend, name).__wrapped__)
    both_checked = threading.Barrier(2)
    original_filter = moto_table.get_filter_expression

    def condition_evaluated_together(*args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait(timeout=1.0)
        return original_filter(*args, **kwargs)

    monkeypatch.setattr(moto_table, "get_filter_expression", condition_evaluated_together)
    with mock_aws():
        leases = DynamoLease(_table(), TABLE, clock=Clock(START))
        refusals: dict[str, object] = {}

        def take(owner: str) -> None:
            refusals[owner] = leases.acquire("linux", owner, TTL)

        threads = [threading.Thread(target=take, args=(owner,)) for owner in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    winners = sorted(owner for owner, held in refusals.items() if held is None)
    assert len(refusals) == 2
    assert len(winners) == (1 if atomic else 2)
