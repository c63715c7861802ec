"""A pool's failing-pass incident, kept between passes (`adoscale.control.incidents` decides; this only stores).

In the lease table, the item `incident#<pool>` beside the pool's lease and `history#<pool>`: one GetItem to
read, one conditional PutItem to change (actions the pass function is already granted). The writers are not
the lease holder (the workflow records a failure after the pass has given its lease back), so every write is
conditional on the `version` read: two failures recorded at once open one incident, and the loser reads again
(`save` answers False). A closed incident leaves the item with its version only. `expires_at` (the table's
TTL attribute) is set a week after the newest failure (or the close), so the item of a pool taken out of the
configuration goes by itself.

The workflow's other incidents (`adoscale.control.incidents.IncidentKind`) live the same way under their own
prefix (`prefix=`): `incident-round` (the deployment's failing rounds, one item) and `incident-wait#<pool>` (a
pool's failing task waits). Prefixes that no `incident#<pool>` key can equal, so a pool's incidents of one kind
never read another's (a pool named `round` has `incident#round`, not `incident-round`).

Without a lease table (`serve` alone, a Lambda without one), the record is the process's (`MemoryIncidents`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from adoscale.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PREFIX = "incident#"
CONDITIONAL_FAILED = "ConditionalCheckFailedException"
KEEP_AFTER_LAST_FAILURE = timedelta(days=7)


class IncidentCorruptError(ValueError):
    """The stored incident cannot be read back: treated as none (an alert too many beats none)."""


@dataclass(frozen=True, slots=True)
class PassIncident:
    """The pool's passes fail: since when, how many in a row, the newest reason (one line, redacted), and when
    the operator was last told (the opening alert or the latest reminder)."""

    opened_at: datetime
    failures: int
    reason: str
    last_failure_at: datetime
    alerted_at: datetime


class IncidentStore(Protocol):
    def load(self, pool: str) -> tuple[PassIncident | None, int]:
        """The pool's incident (None: none open) and its version (0: no item)."""
        ...

    def save(self, pool: str, incident: PassIncident | None, version: int) -> bool:
        """Write `incident` (None: close it) if the stored version is still `version`; False when another
        writer came first (read again and decide again)."""
        ...


class MemoryIncidents:
    """For one process (`serve`, a Lambda container without a lease table)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[PassIncident | None, int]] = {}

    def load(self, pool: str) -> tuple[PassIncident | None, int]:
        incident, version = self._items.get(pool, (None, 0))
        return incident, version

    def save(self, pool: str, incident: PassIncident | None, version: int) -> bool:
        if self._items.get(pool, (None, 0))[1] != version:
            return False
        self._items[pool] = (incident, version + 1)
        return True


def _epoch(at: datetime) -> dict[str, str]:
    return {"N": f"{at.timestamp():.3f}"}


def _at(item: dict[str, Any], name: str) -> datetime:
    return datetime.fromtimestamp(float(item[name]["N"]), UTC)


class DynamoIncidents:
    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        prefix: str = PREFIX,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._now = clock  # only for a closed item's expiry
        self._prefix = prefix

    def load(self, pool: str) -> tuple[PassIncident | None, int]:
        # Strongly consistent: a failure recorded a moment ago by another round must be seen, or it would open
        # a second incident (and alert twice).
        key = {"pool": {"S": self._prefix + pool}}
        item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        if not item:
            return None, 0
        try:
            version = int(item["version"]["N"])
        except (KeyError, TypeError, ValueError) as exc:
            raise IncidentCorruptError(
                f"incident item {self._prefix}{pool} is unreadable ({type(exc).__name__})"
            ) from None
        if "opened_at" not in item:
            return None, version  # closed
        try:
            incident = PassIncident(
                opened_at=_at(item, "opened_at"),
                failures=int(item["failures"]["N"]),
                reason=str(item["reason"]["S"]),
                last_failure_at=_at(item, "last_failure_at"),
                alerted_at=_at(item, "alerted_at"),
            )
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            return None, version  # damaged: read as closed, so the next failure opens (and alerts) afresh
        return incident, version

    def save(self, pool: str, incident: PassIncident | None, version: int) -> bool:
        from botocore.exceptions import ClientError

        key: dict[str, Any] = {"pool": {"S": self._prefix + pool}}
        # Closing keeps the item (without an incident) and every write raises its version, so a version is never
        # seen twice while the item lives: a writer that read an incident since closed and reopened cannot
        # overwrite the new one.
        item: dict[str, Any] = {**key, "version": {"N": str(version + 1)}}
        if incident is not None:
            item |= {
                "opened_at": _epoch(incident.opened_at),
                "failures": {"N": str(incident.failures)},
                "reason": {"S": incident.reason},
                "last_failure_at": _epoch(incident.last_failure_at),
                "alerted_at": _epoch(incident.alerted_at),
            }
        expires = (incident.last_failure_at if incident is not None else self._now()) + KEEP_AFTER_LAST_FAILURE
        item["expires_at"] = {"N": str(int(expires.timestamp()))}
        try:
            if version == 0:
                if incident is None:
                    return True  # nothing stored, nothing to close
                self._db.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(#p)",
                    ExpressionAttributeNames={"#p": "pool"},
                )
            else:
                self._db.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="#v = :v",
                    ExpressionAttributeNames={"#v": "version"},
                    ExpressionAttributeValues={":v": {"N": str(version)}},
                )
        except ClientError as exc:
            if error_code(exc) == CONDITIONAL_FAILED:
                return False
            raise
        return True
