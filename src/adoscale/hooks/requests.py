"""How the hook Lambda hands a pool's pass on without running it: the endpoint answers at once, and a pass
runs later in an asynchronous invocation of the same function.

A burst of hooks for one pool becomes one pass (issue 22, hook floods), and no hook costs an Azure DevOps
call while the pool's lease is held. Both are decided with the lease table only (the table the pass takes
its lease in), before anything is queued:

- the pool's lease item (`pool`) is held and unexpired: a pass is under way; nothing is queued (the
  schedule's next round covers a job that pass observed too early);
- else one conditional PutItem of `hook#<pool>` (beside the lease and `history#<pool>` items) with a short
  expiry: the first hook of a window queues the pass, every other hook of that window is coalesced into
  it (the queued pass has not observed yet when they arrive, so it sees their jobs too).

Without a lease table nothing is shared between containers: every valid hook queues a pass, and the pass
itself (single flight by its lease) is the only coalescing. The worker checks the lease again before its
first Azure DevOps call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from adoscale.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PREFIX = "hook#"
COALESCE_S = 3.0
CONDITIONAL_FAILED = "ConditionalCheckFailedException"
# The key of the asynchronous event the hook function sends itself (`adoscale.handlers.hook`).
QUEUED_PASS = "adoscale_hook_pass"  # noqa: S105 - an event key, not a secret


class Invoker(Protocol):
    """The part of a boto3 Lambda client used here (`boto3-stubs` has no Lambda stubs installed)."""

    def invoke(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Queued:
    """What became of one valid hook: `queued` a pass, or not, and why (`coalesced`, `lease held`)."""

    queued: bool
    reason: str


class PassRequests(Protocol):
    def request(self, pool: str, event_id: str | None) -> Queued: ...


def lease_held(dynamodb: DynamoDBClient, table: str, pool: str, now: datetime) -> str | None:
    """Who holds `pool`'s lease, if anyone does until after `now` (one strongly consistent GetItem)."""
    item = dynamodb.get_item(TableName=table, Key={"pool": {"S": pool}}, ConsistentRead=True).get("Item")
    if not item:
        return None
    expires = item.get("expires_at", {}).get("N")
    if expires is None or float(expires) <= now.timestamp():
        return None
    return str(item.get("owner", {}).get("S", "unknown"))


class LambdaPassRequests:
    """Queues a pass as an asynchronous invocation (`InvocationType=Event`) of `function_arn`, coalesced per
    pool through the lease table when there is one."""

    def __init__(
        self,
        invoker: Invoker,
        function_arn: str,
        clock: Callable[[], datetime],
        *,
        dynamodb: DynamoDBClient | None = None,
        table: str | None = None,
        window_s: float = COALESCE_S,
    ) -> None:
        self._invoker = invoker
        self._function_arn = function_arn
        self._clock = clock
        self._db = dynamodb
        self._table = table
        self._window_s = window_s

    def request(self, pool: str, event_id: str | None) -> Queued:
        if self._db is not None and self._table:
            now = self._clock()
            holder = lease_held(self._db, self._table, pool, now)
            if holder is not None:
                return Queued(False, f"lease held by {holder}: a pass is under way")
            if not self._first_in_window(self._db, self._table, pool, now):
                return Queued(False, "coalesced into a pass queued moments ago")
        payload = {QUEUED_PASS: {"pool": pool, "event_id": event_id}}
        self._invoker.invoke(FunctionName=self._function_arn, InvocationType="Event", Payload=json.dumps(payload))
        return Queued(True, "pass queued")

    def _first_in_window(self, db: DynamoDBClient, table: str, pool: str, now: datetime) -> bool:
        from botocore.exceptions import ClientError

        stamp = now.timestamp()
        try:
            db.put_item(
                TableName=table,
                Item={"pool": {"S": PREFIX + pool}, "expires_at": {"N": str(math.ceil(stamp + self._window_s))}},
                ConditionExpression="attribute_not_exists(#p) OR #e <= :now",
                ExpressionAttributeNames={"#p": "pool", "#e": "expires_at"},
                ExpressionAttributeValues={":now": {"N": str(math.floor(stamp))}},
            )
        except ClientError as exc:
            if error_code(exc) == CONDITIONAL_FAILED:
                return False
            raise
        return True
