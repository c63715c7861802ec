"""The failing-pass incident: the pure decision (`adoscale.control.incidents`) with exact values, and its store in
the lease table (`adoscale.history.incidents.DynamoIncidents`) against moto, including two writers at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adoscale.control.incidents import (
    PASSES,
    ROUNDS,
    WAITS,
    PassIncidents,
    Transition,
    failed,
    one_line_reason,
    record,
    succeeded,
)
from adoscale.history.incidents import DynamoIncidents, MemoryIncidents, PassIncident
from adoscale.secrets import register_secret
from tests.aws import create_lease_table

T0 = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
REASON = "ClusterNotFoundException: Cluster not found."


def test_the_first_failure_opens_an_incident_and_alerts_naming_the_pool_and_reason() -> None:
    change = failed("linux", None, REASON, T0)
    assert change == Transition(
        PassIncident(opened_at=T0, failures=1, reason=REASON, last_failure_at=T0, alerted_at=T0),
        "opened",
        f"pool linux: its passes fail (one alert until a pass succeeds; a reminder every 24 h): {REASON}",
    )
    assert change.alert and change.subject == "adoscale: a pool's passes fail"


def test_later_failures_say_nothing_until_a_reminder_is_due() -> None:
    incident = failed("linux", None, REASON, T0).incident
    said = []
    for minute in range(1, 24 * 60 + 1):  # one failed pass a minute for a day
        change = failed("linux", incident, "AdoNotFoundError: pool linux", T0 + timedelta(minutes=minute))
        incident = change.incident
        said.append((minute, change.notice))
    assert [s for s in said if s[1]] == [(24 * 60, "reminder")]
    assert incident is not None and incident.failures == 24 * 60 + 1
    assert incident.opened_at == T0 and incident.alerted_at == T0 + timedelta(hours=24)
    assert incident.reason == "AdoNotFoundError: pool linux"  # the newest reason


def test_the_reminder_names_how_long_and_how_many() -> None:
    incident = PassIncident(opened_at=T0, failures=99, reason=REASON, last_failure_at=T0, alerted_at=T0)
    change = failed("linux", incident, REASON, T0 + timedelta(hours=25, minutes=3))
    assert change.notice == "reminder"
    assert change.message == (
        f"pool linux: its passes still fail, for 25 h 3 min (100 failed passes since 2026-12-05T06:00:00+00:00): "
        f"{REASON}"
    )


def test_no_reminder_when_switched_off() -> None:
    incident = failed("linux", None, REASON, T0, None).incident
    assert "reminder" not in failed("linux", None, REASON, T0, None).message
    assert failed("linux", incident, REASON, T0 + timedelta(days=30), None).notice == ""


def test_a_success_closes_the_incident_once_and_the_next_failure_opens_a_new_one() -> None:
    incident = failed("linux", None, REASON, T0).incident
    incident = failed("linux", incident, REASON, T0 + timedelta(minutes=1)).incident
    closed = succeeded("linux", incident, T0 + timedelta(minutes=61))
    assert closed == Transition(
        None,
        "closed",
        f"pool linux: its passes succeed again, after 1 h 1 min and 2 failed passes (the last: {REASON})",
    )
    assert succeeded("linux", None, T0) == Transition(None)  # nothing open: nothing said
    assert failed("linux", closed.incident, REASON, T0 + timedelta(minutes=62)).notice == "opened"


def test_the_reason_is_one_line_bounded_and_never_a_secret() -> None:
    register_secret("s3cr3t-pat-value-0123456789")
    reason = one_line_reason("AdoAuthError: 401\nfor token s3cr3t-pat-value-0123456789\n" + "x" * 1000)
    assert "\n" not in reason and "s3cr3t-pat-value" not in reason
    assert len(reason) == 300 and reason.endswith("...")


class Racing:
    """A store whose first `load` is answered, then another writer opens the incident before this one saves."""

    def __init__(self) -> None:
        self.inner = MemoryIncidents()
        self.raced = False

    def load(self, pool: str) -> tuple[PassIncident | None, int]:
        return self.inner.load(pool)

    def save(self, pool: str, incident: PassIncident | None, version: int) -> bool:
        if not self.raced:
            self.raced = True
            assert self.inner.save(pool, failed(pool, None, "the other", T0).incident, version)
        return self.inner.save(pool, incident, version)


def test_two_failures_at_once_open_one_incident() -> None:
    store = Racing()
    change = record(store, "linux", lambda cur: failed("linux", cur, REASON, T0))
    assert change.notice == ""  # the other writer opened it (and alerted): this one reads again, says nothing
    assert store.load("linux")[0] == PassIncident(T0, 2, REASON, T0, T0)


def test_serve_keeps_the_incident_per_organization_and_pool() -> None:
    incidents = PassIncidents()
    a, b = ("https://dev.azure.com/a", "linux"), ("https://dev.azure.com/b", "linux")
    assert incidents.failed(a, REASON, T0).notice == "opened"
    assert incidents.failed(b, REASON, T0).notice == "opened"
    assert incidents.failed(a, REASON, T0).notice == ""
    assert incidents.succeeded(a, T0).notice == "closed"
    assert incidents.succeeded(a, T0).notice == ""
    assert incidents.failed(b, REASON, T0).notice == ""


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        create_lease_table(db, "leases")
        yield db


def test_the_lease_table_keeps_the_incident_beside_the_lease(table: Any) -> None:
    store = DynamoIncidents(table, "leases", clock=lambda: T0)
    assert store.load("linux") == (None, 0)
    opened = record(store, "linux", lambda cur: failed("linux", cur, REASON, T0))
    again = record(store, "linux", lambda cur: failed("linux", cur, REASON, T0 + timedelta(minutes=1)))
    assert (opened.notice, again.notice) == ("opened", "")
    incident, version = store.load("linux")
    assert version == 2 and incident == PassIncident(T0, 2, REASON, T0 + timedelta(minutes=1), T0)
    item = table.get_item(TableName="leases", Key={"pool": {"S": "incident#linux"}})["Item"]
    assert item["expires_at"] == {"N": str(int((T0 + timedelta(days=7, minutes=1)).timestamp()))}
    # A stale writer (it read version 1) is refused; the lease item of the pool is not touched.
    assert store.save("linux", None, 1) is False
    assert "Item" not in table.get_item(TableName="leases", Key={"pool": {"S": "linux"}})
    closed = record(store, "linux", lambda cur: succeeded("linux", cur, T0 + timedelta(minutes=2)))
    assert closed.notice == "closed"
    assert store.load("linux") == (None, 3)  # closed; the version keeps growing, so no stale read matches again
    assert record(store, "linux", lambda cur: failed("linux", cur, REASON, T0)).notice == "opened"


def test_a_damaged_incident_item_reads_as_none_open(table: Any) -> None:
    table.put_item(
        TableName="leases", Item={"pool": {"S": "incident#linux"}, "version": {"N": "4"}, "opened_at": {"S": "x"}}
    )
    store = DynamoIncidents(table, "leases")
    assert store.load("linux") == (None, 4)
    assert record(store, "linux", lambda cur: failed("linux", cur, REASON, T0)).notice == "opened"


def test_rounds_and_task_waits_have_their_own_words() -> None:
    """The same decision for the workflow's other incidents (H7): the deployment's failing rounds (no pool) and
    a pool's failing task waits, each message naming what fails and what ends it."""
    opened = failed("", None, "AdoAuthError: 401", T0, kind=ROUNDS)
    assert (opened.notice, opened.subject) == ("opened", "adoscale: rounds fail")
    assert opened.message == (
        "rounds fail, no pool is observed (one alert until a round succeeds; a reminder every 24 h): AdoAuthError: 401"
    )
    reminder = failed("", opened.incident, "AdoAuthError: 401", T0 + timedelta(hours=24), kind=ROUNDS)
    assert (reminder.notice, reminder.subject) == ("reminder", "adoscale: rounds still fail")
    assert reminder.message == (
        "rounds still fail, no pool is observed, for 24 h 0 min (2 failed rounds since 2026-12-05T06:00:00+00:00): "
        "AdoAuthError: 401"
    )
    closed = succeeded("", reminder.incident, T0 + timedelta(hours=25), ROUNDS)
    assert (closed.notice, closed.subject) == ("closed", "adoscale: rounds succeed again")
    assert closed.message == "rounds succeed again, after 25 h 0 min and 2 failed rounds (the last: AdoAuthError: 401)"

    wait = failed("linux", None, "RuntimeError: x", T0, None, WAITS)
    assert (wait.subject, wait.message) == (
        "adoscale: a pool's task wait fails",
        "pool linux: the wait for its launched tasks fails (one alert until a wait succeeds): RuntimeError: x",
    )
    assert failed("linux", wait.incident, "RuntimeError: y", T0 + timedelta(days=9), None, WAITS).notice == ""
    assert succeeded("linux", wait.incident, T0 + timedelta(minutes=5), WAITS).message == (
        "pool linux: the wait for its launched tasks succeeds again, after 5 min and 1 failed waits "
        "(the last: RuntimeError: x)"
    )
    assert succeeded("linux", None, T0, WAITS) == Transition(None, kind=WAITS)


def test_each_kind_of_incident_has_its_own_item(table: Any) -> None:
    """A pool named `round` or `wait#linux` cannot read another kind's incident: each kind's prefix differs from
    `incident#`, and from each other."""
    stores = {kind: DynamoIncidents(table, "leases", prefix=kind.prefix) for kind in (PASSES, ROUNDS, WAITS)}
    assert record(stores[ROUNDS], "", lambda cur: failed("", cur, REASON, T0, kind=ROUNDS)).notice == "opened"
    assert record(stores[WAITS], "linux", lambda cur: failed("linux", cur, REASON, T0, kind=WAITS)).notice == "opened"
    assert stores[PASSES].load("round") == (None, 0)
    assert stores[PASSES].load("linux") == (None, 0)
    items = table.scan(TableName="leases")["Items"]
    assert sorted(item["pool"]["S"] for item in items) == ["incident-round", "incident-wait#linux"]
