"""A lease table that fails (throttled, unavailable, access denied) costs its pool's pass, not the controller:
the pass is skipped (or, when the release fails, its lease left to expire) with the error in that pool's report,
the other pools are served, `serve` goes on looping; the Lambda still gets the error (the report's `failure`) to raise,
so the workflow's retry sees a transient one by name.

DynamoDB is moto; the failure is injected in the client the lease uses, for one pool's item only, as the
error response botocore would raise (`DynamoLease` classifies it as in production)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from adoscale.control import PoolReport, Reconciler, serve_loop
from adoscale.hooks.server import PendingPools
from adoscale.lease import DynamoLease
from adoscale.transient import AwsUnavailableError
from tests.aws import create_lease_table
from tests.clock import Clock
from tests.reconcile.test_lease_interrupted import CONFIG, NOW, FakeAdo, FakeCompute, World

TABLE = "adoscale-leases"
TWO_POOLS = CONFIG.model_copy(
    update={"pools": [CONFIG.pools[0], CONFIG.pools[0].model_copy(update={"name": "windows"})]}
)
FAILURES = {
    # (operation, error code): what the table answers for the pool `linux`
    "throttled-acquire": ("PutItem", "ProvisionedThroughputExceededException"),
    "access-denied-acquire": ("PutItem", "AccessDeniedException"),
    "unavailable-release": ("DeleteItem", "ServiceUnavailable"),
}


class FailingForLinux:
    """The DynamoDB client, answering `code` to `operation` on the `linux` item."""

    def __init__(self, client: Any, operation: str, code: str) -> None:
        self._client = client
        self._operation = operation
        self._code = code
        self.failed = 0

    def _call(self, operation: str, method: Any, kwargs: dict[str, Any]) -> Any:
        if operation == self._operation and (kwargs.get("Item") or kwargs.get("Key"))["pool"]["S"] == "linux":
            self.failed += 1
            raise ClientError({"Error": {"Code": self._code, "Message": "injected"}}, operation)
        return method(**kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        return self._call("PutItem", self._client.put_item, kwargs)

    def delete_item(self, **kwargs: Any) -> Any:
        return self._call("DeleteItem", self._client.delete_item, kwargs)


def _reconciler(lease: DynamoLease) -> Reconciler:
    world = World("launch")
    return Reconciler(TWO_POOLS, FakeAdo(world), FakeCompute(world), Clock(NOW), lease=lease)


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_serve_keeps_serving_the_other_pools_when_the_lease_table_fails_for_one(failure: str) -> None:
    operation, code = FAILURES[failure]
    with mock_aws():
        dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        client = FailingForLinux(dynamodb, operation, code)
        reconciler = _reconciler(DynamoLease(client, TABLE, clock=Clock(NOW)))
        stop, pending = threading.Event(), PendingPools()
        reports: list[PoolReport] = []
        changed = threading.Condition()

        def on_report(report: PoolReport) -> None:
            with changed:
                reports.append(report)
                changed.notify_all()

        ended = threading.Event()

        def serve() -> None:
            try:
                serve_loop(reconciler, interval=0.01, stop=stop, pending=pending, on_report=on_report)
            finally:
                with changed:  # a loop that died must end the wait below at once
                    ended.set()
                    changed.notify_all()

        loop = threading.Thread(target=serve, daemon=True)
        loop.start()
        with changed:  # two scheduled passes over both pools: serve is still looping after the failures
            assert changed.wait_for(lambda: len(reports) >= 4 or ended.is_set(), timeout=20), reports
        stop.set()
        pending.wake()
        loop.join(timeout=10)
        assert not loop.is_alive()
        left = {item["pool"]["S"] for item in dynamodb.scan(TableName=TABLE)["Items"]}
    error = f"ClientError: An error occurred ({code}) when calling the {operation} operation: injected"
    if code == "ProvisionedThroughputExceededException":  # transient: named as the workflow's Retry knows it
        error = f"AwsUnavailableError: lease table {TABLE}: {code}"
    linux = [r for r in reports if r.pool == "linux"]
    windows = [r for r in reports if r.pool == "windows"]
    assert len(linux) >= 2 and len(windows) >= 2
    if operation == "PutItem":
        assert client.failed == len(linux)
        for report in linux:
            assert report.errors == [f"lease table: {error}; pass skipped"] and not report.plan, report
            assert code in error
    else:
        # The first pass did its work and could not give the lease back; the next ones find it held (until
        # it expires: the clock stands still here) and skip, as for any other holder.
        first, *later = linux
        assert first.errors == [f"lease table: {error}; lease not given back (it expires by itself)"]
        assert first.plan and code in error
        assert all(r.skipped and first.pass_id in r.skipped and not r.errors for r in later), later
    for report in windows:
        assert not report.errors and not report.skipped and report.plan, report
    # The windows lease was given back each time; the linux one only where the table refused its release.
    assert left == ({"linux"} if operation == "DeleteItem" else set())


def test_the_lambda_still_gets_a_transient_lease_failure_raised_for_the_workflows_retry() -> None:
    with mock_aws():
        dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        client = FailingForLinux(dynamodb, "PutItem", "ThrottlingException")
        reconciler = _reconciler(DynamoLease(client, TABLE, clock=Clock(NOW)))
        failed = reconciler.run_pool(TWO_POOLS.pools[0])
        assert isinstance(failed.failure, AwsUnavailableError) and TABLE in str(failed.failure)
        served = reconciler.run_pool(TWO_POOLS.pools[1])
        assert served.errors == [] and served.failure is None
